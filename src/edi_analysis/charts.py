"""Accessible charts and tables from metric rows.

- Colours: the Government Analysis Function categorical palette (dark blue,
  turquoise, dark pink, orange, dark grey, light purple), designed to be
  distinguishable with the common colour vision deficiencies (Analysis
  Function, *Data visualisation: colours*, 2023). Colour is never the only
  cue: groups are also named on the axis.
- Every chart carries alt text generated from the same rows as the chart
  (what the data say, not how the chart looks), and is emitted as an HTML
  ``<img alt=…>`` holding a base64 PNG so the alt text survives nbconvert's
  HTML export (the default template drops ``Image(alt=…)``).
- PNGs are deterministic: fixed size and dpi, no software/date metadata.
- Tables are real HTML tables with a caption and ``scope`` on headers.
  Numbers are rounded for display only, by ``narrative.fmt_value``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from edi_analysis.narrative import (NON_ADVERSE_HIGH, NON_ADVERSE_LOW, SECONDARY_NOTE,
                                    breakdown_phrase,
                                    fmt_count, fmt_value, is_blank, rounded)

#: Analysis Function categorical palette, in the order it should be used.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
HIGHLIGHT, MUTED = "#12436D", "#BFBFBF"
DPI = 100
WIDTH_IN = 7.0


@dataclass(frozen=True)
class Chart:
    """A rendered chart: PNG bytes, alt text and a caption, displayable in Jupyter."""

    png: bytes
    alt: str
    caption: str = ""

    def html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return (f'<figure class="edi-chart"><img alt="{html.escape(self.alt, quote=True)}" '
                f'src="data:image/png;base64,{data}" style="max-width:100%"/>{cap}</figure>')

    def _repr_html_(self) -> str:
        return self.html()


def _mpl():
    """Import matplotlib with a non-interactive backend (kept lazy: imports cost kernel time)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=list(PALETTE),
                  rc={"font.family": "DejaVu Sans", "svg.hashsalt": "edi-analysis"})
    return plt, sns


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # metadata Software=None: no matplotlib version string, so the bytes depend on the data only
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


UNIT_AXIS = {"percent": "%", "ratio": "Relative likelihood", "pp": "Percentage points",
             "gbp": "£", "score": "Score", "days": "Days"}


def _wrap(text: str, width: int = 80) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def row_label(row: pd.Series) -> str:
    """Axis label of a row: its group, plus the breakdown when there is one."""
    where = breakdown_phrase(row.get("breakdown", "") or "")
    group = row.get("group", "") or "All"
    return f"{group} {where}".strip() if where else group


def _denominator_text(row: pd.Series) -> str:
    d = row.get("denominator")
    return "" if is_blank(d) else f"n = {fmt_count(d)}"


def describe(rows: pd.DataFrame, label: str, unit: str) -> str:
    """Alt text: every figure the chart shows, with intervals, and what was suppressed."""
    parts, suppressed, secondary, blank = [], [], [], []
    for _, r in rows.iterrows():
        name = row_label(r)
        if bool(r.get("suppressed", False)) is True:
            (secondary if str(r.get("note", "")) == SECONDARY_NOTE else suppressed).append(name)
        elif is_blank(r.get("value")):
            blank.append(name)
        else:
            text = f"{name}: {fmt_value(r['value'], unit)}"
            if not is_blank(r.get("ci_lower")) and not is_blank(r.get("ci_upper")):
                text += (f" (95% CI {fmt_value(r['ci_lower'], unit)} to "
                         f"{fmt_value(r['ci_upper'], unit)})")
            d = _denominator_text(r)
            if d:
                text += f", {d}"
            parts.append(text)
    out = f"Chart of {label}. " + ("; ".join(parts) + "." if parts else "No figures to show.")
    if suppressed:
        out += f" Suppressed (too few people): {', '.join(suppressed)}."
    if secondary:
        out += f" Suppressed ({SECONDARY_NOTE}): {', '.join(secondary)}."
    if blank:
        out += f" No figure: {', '.join(blank)}."
    return out


def _plot_rows(rows: pd.DataFrame) -> pd.DataFrame:
    ok = rows[~rows["suppressed"].astype(bool) & rows["value"].notna()].copy()
    ok["value"] = pd.to_numeric(ok["value"], errors="coerce")
    ok = ok[ok["value"].notna()]
    ok["_label"] = [row_label(r) + (f"\n{_denominator_text(r)}" if _denominator_text(r) else "")
                    for _, r in ok.iterrows()]
    return ok


def bar_chart(rows: pd.DataFrame, label: str, unit: str, *, reference: float | None = None,
              non_adverse_band: bool = False, caption: str = "") -> Chart | None:
    """Horizontal bars (points for ratios) with 95% CI error bars and denominators in the labels.

    ``reference`` draws a line (1.0 for relative likelihoods, 0 for gaps);
    ``non_adverse_band`` shades 0.80–1.25 (NHS England, *A fair experience for all*).
    Returns None when no row has a figure to plot.
    """
    data = _plot_rows(rows)
    if data.empty:
        return None
    plt, sns = _mpl()
    height = 1.2 + 0.55 * len(data)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    y = list(range(len(data)))
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(data))]
    values = data["value"].to_numpy(dtype=float)
    lo = pd.to_numeric(data["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(data["ci_upper"], errors="coerce").to_numpy(dtype=float)
    if unit == "ratio":
        if non_adverse_band:
            ax.axvspan(float(NON_ADVERSE_LOW), float(NON_ADVERSE_HIGH), color=PALETTE[1],
                       alpha=0.15, label="Non-adverse range (0.80 to 1.25)")
        ax.scatter(values, y, color=colours, s=60, zorder=3)
    else:
        sns.barplot(x=values, y=[str(i) for i in y], hue=[str(i) for i in y],
                    palette=colours, orient="h", ax=ax, legend=False)
    has_ci = ~(pd.isna(lo) | pd.isna(hi))
    if has_ci.any():
        import numpy as np

        yy = np.array(y)[has_ci]
        ax.errorbar(values[has_ci], yy, xerr=[values[has_ci] - lo[has_ci], hi[has_ci] - values[has_ci]],
                    fmt="none", ecolor=PALETTE[4], elinewidth=1.5, capsize=4, zorder=4,
                    label="95% confidence interval")
    if reference is not None:
        ax.axvline(reference, color=PALETTE[4], linewidth=1, linestyle="--", zorder=2)
    ax.set_yticks(y, list(data["_label"]))
    ax.invert_yaxis()
    ax.set_ylabel("")
    ax.set_xlabel(_wrap(label if unit != "percent" else f"{label} (%)"))
    if has_ci.any() or non_adverse_band:
        ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    return Chart(_png(fig), describe(rows, label, unit), caption)


def trend_chart(rows: pd.DataFrame, label: str, unit: str, caption: str = "") -> Chart | None:
    """The headline over the periods in the data: one line per group, CIs as error bars."""
    data = _plot_rows(rows)
    if data.empty or data["period"].nunique() < 2:
        return None
    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.2))
    for i, (name, g) in enumerate(data.groupby("group", sort=True)):
        g = g.sort_values("period")
        lo = pd.to_numeric(g["ci_lower"], errors="coerce")
        hi = pd.to_numeric(g["ci_upper"], errors="coerce")
        colour = PALETTE[i % len(PALETTE)]
        ax.errorbar(g["period"], g["value"], yerr=[(g["value"] - lo).fillna(0),
                                                   (hi - g["value"]).fillna(0)],
                    color=colour, marker="o", capsize=4, label=name)
    if unit == "ratio":
        ax.axhline(1.0, color=PALETTE[4], linewidth=1, linestyle="--")
    # The metric's label is long: it goes above the plot, wrapped; the axis names the unit.
    ax.set_title(_wrap(label), fontsize=10, loc="left")
    ax.set_ylabel(UNIT_AXIS.get(unit, ""))
    ax.set_xlabel("Period (snapshot date)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    named = rows.sort_values(["group", "period"]).assign(
        group=lambda d: d["group"] + ", " + d["period"], breakdown="")
    alt = describe(named, f"{label} by period", unit)
    return Chart(_png(fig), alt, caption)


#: Up to this many trusts, the peers chart names every trust on its own row; above it (a
#: regional or national run) it shows the spread of all trusts on one line.
PEERS_LISTED = 30


def peers_chart(rows: pd.DataFrame, trust: str, label: str, unit: str,
                caption: str = "") -> Chart | None:
    """This trust's figure among the trusts in the run (dots; this trust highlighted).

    Up to :data:`PEERS_LISTED` trusts, one named row per trust; more than that
    (e.g. all of England, 215 trusts), a strip of fixed size: every trust a
    dot on one line, this trust highlighted and named, and alt text that gives
    the range, median and this trust's rank instead of 215 figures.
    """
    data = _plot_rows(rows)
    if data.empty or data["trust_code"].nunique() < 2:
        return None
    data = data.sort_values(["value", "trust_code"])
    if len(data) > PEERS_LISTED:
        return _peers_strip(data, trust, label, unit, caption)
    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.2 + 0.3 * len(data)))
    colours = [HIGHLIGHT if t == trust else MUTED for t in data["trust_code"]]
    ax.scatter(data["value"], range(len(data)), color=colours, s=50, zorder=3)
    ax.set_yticks(range(len(data)),
                  [f"{t} (this trust)" if t == trust else t for t in data["trust_code"]])
    if unit == "ratio":
        ax.axvline(1.0, color=PALETTE[4], linewidth=1, linestyle="--")
    ax.set_xlabel(_wrap(label if unit != "percent" else f"{label} (%)"))
    fig.tight_layout()
    rank = list(data["trust_code"]).index(trust) + 1 if trust in set(data["trust_code"]) else None
    alt = describe(data.assign(group=data["trust_code"], breakdown=""), label, unit)
    if rank:
        alt += f" This trust ({trust}) is {rank} of {len(data)} from lowest to highest."
    return Chart(_png(fig), alt, caption)


def _peers_strip(data: pd.DataFrame, trust: str, label: str, unit: str, caption: str) -> Chart:
    """The peers chart of a large run: all trusts on one line, this trust marked."""
    import numpy as np

    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.0))
    values = data["value"].to_numpy(dtype=float)
    mine = (data["trust_code"] == trust).to_numpy()
    ax.scatter(values[~mine], np.zeros((~mine).sum()), color=MUTED, s=40, alpha=0.7, zorder=3,
               label="Other trusts in this run")
    if mine.any():
        ax.scatter(values[mine], [0.0], color=HIGHLIGHT, s=120, zorder=4,
                   label=f"{trust} (this trust)")
        ax.annotate(f"{trust} (this trust)", (values[mine][0], 0.0), xytext=(0, 12),
                    textcoords="offset points", ha="center", fontsize=9, color=HIGHLIGHT)
    if unit == "ratio":
        ax.axvline(1.0, color=PALETTE[4], linewidth=1, linestyle="--")
    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    ax.set_xlabel(_wrap(label if unit != "percent" else f"{label} (%)"))
    # one row under the dots (they are all at y = 0), so the key never hides a trust
    ax.legend(loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    n = len(data)
    alt = (f"Chart of {label} for the {n} trusts in this run with a figure: from "
           f"{fmt_value(values.min(), unit)} to {fmt_value(values.max(), unit)}, median "
           f"{fmt_value(float(np.median(values)), unit)}.")
    if mine.any():
        rank = int(np.flatnonzero(mine)[0]) + 1
        alt += (f" This trust ({trust}): {fmt_value(values[mine][0], unit)}, {rank} of {n} "
                "from lowest to highest.")
    return Chart(_png(fig), alt, caption)


def funnel_chart(points: pd.DataFrame, limits: pd.DataFrame, trust: str, label: str, *,
                 target: float, caption: str = "") -> Chart | None:
    """Funnel plot: each trust's ratio against its expected count, with 95% and 99.8% limits.

    ``points`` (``disciplinary_model.funnel_points``): trust_code, ratio, expected, and
    ``position_95`` / ``position_99.8`` ("above", "below" or "within"); ``limits``
    (``disciplinary_model.funnel_limits``) on a grid of expected counts around ``target``
    (Spiegelhalter, *Statistics in Medicine* 24, 2005). Both axes on a log scale, so ratios
    of 2 and 0.5 sit equally far from 1. This trust is highlighted and named; the alt text
    says where it lies. None when fewer than two trusts have a figure.
    """
    if points.empty or points["trust_code"].nunique() < 2:
        return None
    import numpy as np

    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    E = limits["expected"].to_numpy(dtype=float)
    for level, style in (("99.8", "-"), ("95", "--")):
        for side in ("lower", "upper"):
            y = limits[f"{side}_{level}"].to_numpy(dtype=float)
            ok = y > 0
            ax.plot(E[ok], y[ok], color=PALETTE[4], linestyle=style, linewidth=1,
                    label=f"{level}% limits" if side == "upper" else None)
    ax.axhline(target, color=PALETTE[1], linewidth=1.2,
               label=f"All trusts in this run: {fmt_value(target, 'ratio')}")
    ax.axhline(1.0, color=PALETTE[4], linewidth=0.8, linestyle=":", label="Equal rates (1.00)")
    mine = (points["trust_code"] == trust).to_numpy()
    x, r = points["expected"].to_numpy(dtype=float), points["ratio"].to_numpy(dtype=float)
    r_plot = np.where(r > 0, r, np.nan)
    ax.scatter(x[~mine], r_plot[~mine], color=MUTED, s=30, zorder=3, label="Other trusts")
    if mine.any():
        ax.scatter(x[mine], r_plot[mine], color=HIGHLIGHT, s=90, zorder=4, label=f"{trust} (this trust)")
        ax.annotate(f"{trust}", (x[mine][0], r_plot[mine][0]), xytext=(6, 6),
                    textcoords="offset points", fontsize=9, color=HIGHLIGHT)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Expected number entering the process at the reference group's rates")
    ax.set_ylabel(_wrap(label, 45))
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    fig.tight_layout()
    n = len(points)
    out95 = int((points["position_95"] != "within").sum())
    out998 = int((points["position_99.8"] != "within").sum())
    alt = (f"Chart of {label} for the {n} trusts in this run with a figure, against the number "
           f"expected (a funnel plot); the run's pooled ratio is {fmt_value(target, 'ratio')}. "
           f"{out95} of {n} trusts lie outside the 95% limits and {out998} outside the 99.8% limits.")
    if mine.any():
        row = points[mine].iloc[0]
        where = ("inside both sets of limits" if row["position_95"] == "within" else
                 f"{row['position_95']} the 95% limits" + (
                     f" and {row['position_99.8']} the 99.8% limits"
                     if row["position_99.8"] != "within" else " but inside the 99.8% limits"))
        alt += (f" This trust ({trust}): ratio {fmt_value(row['ratio'], 'ratio')} with "
                f"{fmt_value(row['expected'], 'ratio')} expected, {where}.")
    return Chart(_png(fig), alt, caption)


# --- tables --------------------------------------------------------------------------------

TABLE_COLUMNS = (("group", "Group"), ("breakdown", "Breakdown"), ("value", "Figure"),
                 ("ci", "95% CI"), ("numerator", "Numerator"), ("denominator", "Denominator"),
                 ("note", "Note"))


def table_rows(rows: pd.DataFrame, unit: str | None = None) -> list[dict[str, str]]:
    """Display strings for each row (rounded for display only)."""
    out = []
    for _, r in rows.iterrows():
        u = unit or r.get("unit", "")
        if bool(r.get("suppressed", False)) is True:
            value, ci, num, den = "suppressed", "", "", ""
        else:
            value = fmt_value(r.get("value"), u)
            ci = ("" if is_blank(r.get("ci_lower")) or is_blank(r.get("ci_upper")) else
                  f"{fmt_value(r['ci_lower'], u)} to {fmt_value(r['ci_upper'], u)}")
            num, den = fmt_count(r.get("numerator")), fmt_count(r.get("denominator"))
        out.append({"group": r.get("group", "") or "All",
                    "breakdown": breakdown_phrase(r.get("breakdown", "") or ""),
                    "value": value, "ci": ci, "numerator": num, "denominator": den,
                    "note": "" if is_blank(r.get("note")) else str(r.get("note"))})
    return out


def table_html(rows: pd.DataFrame, caption: str, columns: Sequence[tuple[str, str]] = TABLE_COLUMNS,
               unit: str | None = None) -> str:
    """An accessible HTML table of metric rows: caption, ``scope`` headers, empty columns dropped."""
    body = table_rows(rows, unit)
    cols = [(k, h) for k, h in columns if k in ("group", "value") or any(b[k] for b in body)]
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for _, h in cols)
    trs = []
    for b in body:
        cells = []
        for i, (k, _) in enumerate(cols):
            text = html.escape(b[k])
            cells.append(f'<th scope="row">{text}</th>' if i == 0 else f"<td>{text}</td>")
        trs.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="edi-table"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>")


def simple_table_html(frame: pd.DataFrame, caption: str) -> str:
    """An accessible HTML table of an already formatted frame (strings shown as they are)."""
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    trs = []
    for _, r in frame.iterrows():
        cells = [f'<th scope="row">{html.escape(str(r.iloc[0]))}</th>'] + \
            [f"<td>{html.escape('' if is_blank(v) else str(v))}</td>" for v in r.iloc[1:]]
        trs.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="edi-table"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>")


__all__ = ["PALETTE", "Chart", "bar_chart", "trend_chart", "peers_chart", "funnel_chart", "describe",
           "table_html", "table_rows", "simple_table_html", "row_label", "rounded"]
