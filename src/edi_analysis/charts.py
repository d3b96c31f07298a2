"""Accessible charts and tables from metric rows.

- Colours: the Government Analysis Function categorical palette (dark blue,
  turquoise, dark pink, orange, dark grey, light purple), designed to be
  distinguishable with the common colour vision deficiencies (Analysis
  Function, *Data visualisation: colours*, 2023). **One colour per group on
  every chart** (:data:`GROUP_COLOURS`): a reference group (White,
  non-disabled, men, domestic recruits) is always dark blue and the group
  compared with it always orange, whatever order the rows come in. Colour is
  never the only cue: groups are named on the axis.
- **Contrast** (WCAG 2.2 SC 1.4.11, 3:1 for graphical objects): every data
  colour has at least 3:1 against the white background; interval whiskers are
  black with a white outline, so a whisker has at least 3:1 against any bar
  and against the background (:func:`contrast` computes the ratios, the
  tests check them); peer dots are a mid grey of 5:1.
- Legends sit above the plot, never over the data. Breakdowns with an order
  (pay quartiles, pay clusters, age bands) are plotted in that order.
- A trend joins only figures counted on the same basis; a change of basis
  (12-month to two-year rolling) is drawn as a break, marked and said in the
  alt text.
- Bar labels show a count ("n = 1,083") only where the denominator is a
  count of people or cases (the registry's ``counts``), never for £ or days.
- Every chart carries alt text generated from the same rows as the chart
  (what the data say, not how the chart looks), and is emitted as an HTML
  ``<img alt=…>`` holding a base64 PNG so the alt text survives nbconvert's
  HTML export (the default template drops ``Image(alt=…)``).
- PNGs are deterministic: fixed size and dpi, no software/date metadata.
- **One layout pass**: each chart's margins are fitted once from the extents of its own
  text (tick labels, axis labels, key, title) and the figure is rendered once at that size;
  no ``tight_layout`` and no tight bounding box on saving (each was a further layout or
  render of the whole figure). The figure is 7 inches wide unless its text needs more.
- Tables are real HTML tables with a caption and ``scope`` on headers, in a
  region that scrolls on its own when wider than the page. Numbers are
  rounded for display only, by ``narrative.fmt_value``.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from edi_analysis.narrative import (NON_ADVERSE_HIGH, NON_ADVERSE_LOW, SECONDARY_NOTE,
                                    breakdown_phrase,
                                    fmt_count, fmt_value, is_blank, rounded)

#: Analysis Function categorical palette, in the order it should be used.
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
BACKGROUND = "#FFFFFF"
#: One colour per group on every chart: reference groups dark blue, compared groups orange.
GROUP_COLOURS = {
    "White": PALETTE[0], "White British": PALETTE[0], "Non-disabled": PALETTE[0],
    "Male": PALETTE[0], "Domestic": PALETTE[0],
    "BME": PALETTE[3], "Disabled": PALETTE[3], "Female": PALETTE[3], "International": PALETTE[3],
    "Mixed": PALETTE[2], "Asian": PALETTE[1], "Black": PALETTE[5], "Other": PALETTE[4],
    "All": PALETTE[4], "": PALETTE[4], "Unknown": "#707070",
}
#: Interval whiskers: a black line with a white outline (≥ 3:1 against any bar and the page).
WHISKER, WHISKER_HALO = "#000000", "#FFFFFF"
REFERENCE_LINE = PALETTE[4]
#: Peers: other trusts mid grey (5:1 on white), this trust dark blue and a larger diamond.
PEER_DOT, HIGHLIGHT = "#707070", PALETTE[0]
#: The England figure: a dashed dark pink line, named in the legend.
NATIONAL_LINE = PALETTE[2]
BAND_COLOUR = PALETTE[1]
MUTED = PEER_DOT  # kept for callers of the old name
DPI = 100
WIDTH_IN = 7.0

_BASIS_MARKERS = {"two-year rolling": "o", "12-month": "s", "": "o"}
#: Breakdown values with a natural order (everything else keeps the rows' order).
_ORDERS = {
    "quartile": ("Lower", "Lower middle", "Upper middle", "Upper"),
    "age_band": ("<25", "25-34", "35-44", "45-54", "55+"),
    "pay_cluster": tuple(str(i) for i in range(1, 8)),
}


def _luminance(colour: str) -> float:
    h = colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two colours (``#RRGGBB``): (L1 + 0.05) ÷ (L2 + 0.05)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def group_colour(group: str) -> str:
    """The colour of a group on every chart (a group not in the map gets a palette colour
    chosen from its name, so it too is the same on every chart)."""
    if group in GROUP_COLOURS:
        return GROUP_COLOURS[group]
    return PALETTE[sum(map(ord, str(group))) % len(PALETTE)]


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
                f'src="data:image/png;base64,{data}" style="max-width:100%;height:auto"/>'
                f'{cap}</figure>')

    def _repr_html_(self) -> str:
        return self.html()


def _mpl():
    """Import matplotlib with a non-interactive backend (kept lazy: imports cost kernel time)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=list(PALETTE),
                  rc={"font.family": "DejaVu Sans", "svg.hashsalt": "edi-analysis",
                      "axes.facecolor": BACKGROUND, "figure.facecolor": BACKGROUND})
    return plt, sns


#: Space between the chart's outermost text and the image's edge, in pixels.
EDGE_PX = 8


def _extent(artist, renderer):
    return artist.get_window_extent(renderer)


#: The narrowest plot area, in pixels (long trust names make the figure wider instead).
MIN_PLOT_PX = 280


def _fit(fig, ax, *, above: Sequence = (), above_gap_px: float = 0.0) -> None:
    """Fixed margins from the extents of the chart's own text, measured once (no layout pass
    over the whole figure, no tight bounding box on saving): the widest y tick label and the
    y label on the left; x tick labels and the (wrapped) x label below; ``above`` (a legend
    above the plot, a title, the England label) on top, stacked, with ``above_gap_px`` between
    the plot and the first of them. The figure is :data:`WIDTH_IN` wide unless its text needs
    more (a long trust name, an x label wider than the plot): then it is as wide as the text,
    as a tight bounding box would have made it."""
    import matplotlib as mpl

    renderer = fig.canvas.get_renderer()
    dpi = fig.dpi
    pt = dpi / 72.0

    def gap(axis: str) -> float:
        return (mpl.rcParams[f"{axis}tick.major.pad"] + mpl.rcParams[f"{axis}tick.major.size"]) * pt

    height_px = fig.get_figheight() * dpi
    ylabels = [t for t in ax.get_yticklabels() if t.get_text()]
    left = EDGE_PX + (max(_extent(t, renderer).width for t in ylabels) + gap("y") if ylabels else 0)
    if ax.get_ylabel():
        left += _extent(ax.yaxis.label, renderer).width + ax.yaxis.labelpad * pt
    xlabels = [t for t in ax.get_xticklabels() if t.get_text()]
    xext = [_extent(t, renderer) for t in xlabels]
    bottom = EDGE_PX + (max(e.height for e in xext) + gap("x") if xext else 0)
    xlabel_w = 0.0
    if ax.get_xlabel():
        ext = _extent(ax.xaxis.label, renderer)
        bottom += ext.height + ax.xaxis.labelpad * pt
        xlabel_w = ext.width
    # the last x tick label is centred on the plot's right edge: half of it overhangs
    right = EDGE_PX + (xext[-1].width / 2 if xext else 0)
    exts = [_extent(a, renderer) for a in above]
    top = EDGE_PX + sum(e.height for e in exts) + (above_gap_px if above else 0)
    # The x label is centred under the plot and may overhang it on both sides; the key and
    # the title start at its left edge. The plot is as wide as the standard width allows
    # with all of that inside the image (at least MIN_PLOT_PX: then the image is wider).
    def margins(plot: float) -> tuple[float, float]:
        overhang = EDGE_PX + (xlabel_w - plot) / 2
        return (max(left, overhang),
                max(right, overhang, *(e.width - plot + EDGE_PX for e in exts)))

    def total(plot: float) -> float:
        lm, rm = margins(plot)
        return lm + plot + rm

    lo_p, hi_p = float(MIN_PLOT_PX), WIDTH_IN * dpi
    if total(lo_p) < WIDTH_IN * dpi:  # total() never decreases as the plot widens: bisect
        for _ in range(30):
            mid = (lo_p + hi_p) / 2
            lo_p, hi_p = (mid, hi_p) if total(mid) <= WIDTH_IN * dpi else (lo_p, mid)
    left, right = margins(lo_p)
    width_px = float(max(round(left + lo_p + right), round(WIDTH_IN * dpi)))  # whole pixels
    fig.set_size_inches(width_px / dpi, height_px / dpi)
    fig.subplots_adjust(left=left / width_px, right=1 - right / width_px,
                        bottom=min(bottom / height_px, 0.6), top=1 - min(top / height_px, 0.6))


#: An indexed-colour PNG is used when no pixel's colour moves by more than this (of 255)
#: in any channel; otherwise the chart is stored as an RGB PNG.
PALETTE_TOLERANCE = 2


def _png(fig) -> bytes:
    """The figure as a PNG, rendered once at its own size (the margins were fitted by
    :func:`_fit`). A chart in the palette colours has a few hundred distinct colours (the
    antialiased edges included), so it is stored as an indexed-colour PNG of 256 colours
    (maximum-coverage quantisation, no dithering): every pixel within
    :data:`PALETTE_TOLERANCE` of 255 of its colour in each channel, so the solid colours,
    and their contrast, are as drawn, in less than half the bytes. A chart the palette cannot
    hold that closely is stored as an ordinary RGB PNG. No metadata (no software name, no
    date), so the bytes depend on the data only."""
    import numpy as np
    from PIL import Image

    fig.canvas.draw()
    pixels = np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    import matplotlib.pyplot as plt

    plt.close(fig)
    rgb = Image.fromarray(pixels)
    out = rgb
    indexed = rgb.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE,
                           dither=Image.Dither.NONE)
    back = np.asarray(indexed.convert("RGB"))
    if int(np.abs(back.astype(np.int16) - pixels).max()) <= PALETTE_TOLERANCE:
        out = indexed
    buf = io.BytesIO()
    out.save(buf, format="PNG", dpi=(DPI, DPI))
    return buf.getvalue()


UNIT_AXIS = {"percent": "%", "ratio": "Relative likelihood", "pp": "Percentage points",
             "gbp": "£", "score": "Score", "days": "Days"}


def _wrap(text: str, width: int = 80) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def row_label(row: pd.Series) -> str:
    """Axis label of a row: its group (and the group it is compared with, for a ratio or gap),
    plus the breakdown when there is one."""
    where = breakdown_phrase(row.get("breakdown", "") or "")
    group = row.get("group", "") or "All"
    ref = row.get("reference_group", "")
    if isinstance(ref, str) and ref and ref != "All":
        group = f"{group} v {ref}"
    return f"{group} {where}".strip() if where else group


def _counts_shown(metric_id) -> bool:
    """Whether a metric's denominator is a count of people or cases (registry ``counts``)."""
    if is_blank(metric_id):
        return False
    from edi_analysis.metrics import REGISTRY

    spec = REGISTRY.get(str(metric_id))
    return spec is not None and "denominator" in spec.counts


def _denominator_text(row: pd.Series) -> str:
    d = row.get("denominator")
    if is_blank(d) or not _counts_shown(row.get("metric_id")):
        return ""
    return f"n = {fmt_count(d)}"


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


def _order_key(breakdown: str) -> tuple:
    key = []
    for piece in str(breakdown or "").split(";"):
        k, _, v = piece.partition("=")
        order = _ORDERS.get(k)
        key.append((k, order.index(v) if order and v in order else 99, v))
    return tuple(key)


def ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in display order: breakdowns with a natural order (quartiles lower to upper, pay
    clusters, age bands) in that order, each breakdown's groups as they come."""
    if rows.empty or "breakdown" not in rows:
        return rows
    keys = [_order_key(b) for b in rows["breakdown"]]
    idx = sorted(range(len(rows)), key=lambda i: (keys[i], i))
    return rows.iloc[idx]


def _plot_rows(rows: pd.DataFrame) -> pd.DataFrame:
    ok = rows[~rows["suppressed"].astype(bool) & rows["value"].notna()].copy()
    ok["value"] = pd.to_numeric(ok["value"], errors="coerce")
    ok = ok[ok["value"].notna()]
    ok = ordered(ok)
    ok["_label"] = [row_label(r) + (f"\n{_denominator_text(r)}" if _denominator_text(r) else "")
                    for _, r in ok.iterrows()]
    return ok


def _whiskers(ax, x, y, xerr=None, yerr=None, zorder=4, outline: bool = True):
    """Interval whiskers: black, outlined in white (``outline``) so they show on any bar; on
    a chart with nothing behind them but the page (trends, peers) the outline is not needed
    (black on white is 21:1) and is left out, which keeps those charts as quick to draw."""
    cont = ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=WHISKER, elinewidth=1.5,
                       capsize=4, capthick=1.5, zorder=zorder, label="95% confidence interval")
    if outline:
        import matplotlib.patheffects as pe

        halo = [pe.Stroke(linewidth=4.5, foreground=WHISKER_HALO), pe.Normal()]
        for artist in itertools.chain(cont.lines[1], cont.lines[2]):
            artist.set_path_effects(halo)
    return cont


def _legend_above(ax):
    """The key above the plot (outside the axes), so it never covers data; None without one."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        return ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3,
                         fontsize=8, frameon=False, borderaxespad=0.0)
    return None


def bar_figure(rows: pd.DataFrame, label: str, unit: str, *, reference: float | None = None,
               non_adverse_band: bool = False):
    """The figure of :func:`bar_chart` (for tests of its colours and layout); None when no row
    has a figure."""
    data = _plot_rows(rows)
    if data.empty:
        return None
    plt, sns = _mpl()
    height = 1.2 + 0.55 * len(data)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), dpi=DPI)
    y = list(range(len(data)))
    colours = [group_colour(g) for g in data["group"].fillna("")]
    values = data["value"].to_numpy(dtype=float)
    lo = pd.to_numeric(data["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(data["ci_upper"], errors="coerce").to_numpy(dtype=float)
    if unit == "ratio":
        if non_adverse_band:
            ax.axvspan(float(NON_ADVERSE_LOW), float(NON_ADVERSE_HIGH), color=BAND_COLOUR,
                       alpha=0.15, lw=0, label="Non-adverse range (0.80 to 1.25)")
            for edge in (NON_ADVERSE_LOW, NON_ADVERSE_HIGH):
                ax.axvline(float(edge), color=BAND_COLOUR, linewidth=1, zorder=2)
        # the point above its whisker, so the figure itself is never hidden by its interval
        ax.scatter(values, y, color=colours, s=80, zorder=5, edgecolors=WHISKER_HALO,
                   linewidths=1.0)
    else:
        ax.barh(y, values, color=colours, height=0.7, zorder=2)
    has_ci = ~(pd.isna(lo) | pd.isna(hi))
    if has_ci.any():
        import numpy as np

        yy = np.array(y)[has_ci]
        _whiskers(ax, values[has_ci], yy,
                  xerr=[values[has_ci] - lo[has_ci], hi[has_ci] - values[has_ci]])
    if reference is not None:
        ax.axvline(reference, color=REFERENCE_LINE, linewidth=1, linestyle="--", zorder=2)
    ax.set_yticks(y, list(data["_label"]))
    ax.invert_yaxis()
    ax.set_ylabel("")
    ax.set_xlabel(_wrap(label if unit != "percent" else f"{label} (%)"))
    key = _legend_above(ax) if has_ci.any() or non_adverse_band else None
    _fit(fig, ax, above=[key] if key is not None else [],
         above_gap_px=0.01 * ax.get_position().height * fig.get_figheight() * fig.dpi)
    return fig


def bar_chart(rows: pd.DataFrame, label: str, unit: str, *, reference: float | None = None,
              non_adverse_band: bool = False, caption: str = "") -> Chart | None:
    """Horizontal bars (points for ratios) with 95% CI whiskers and counts in the labels.

    ``reference`` draws a line (1.0 for relative likelihoods, 0 for gaps);
    ``non_adverse_band`` shades 0.80–1.25 (NHS England, *A fair experience for all*).
    Returns None when no row has a figure to plot.
    """
    fig = bar_figure(rows, label, unit, reference=reference, non_adverse_band=non_adverse_band)
    if fig is None:
        return None
    return Chart(_png(fig), describe(ordered(rows), label, unit), caption)


def trend_figure(rows: pd.DataFrame, label: str, unit: str):
    """The figure of :func:`trend_chart`; None with fewer than two periods to show."""
    data = _plot_rows(rows)
    if data.empty or data["period"].nunique() < 2:
        return None
    if "basis" not in data:
        data = data.assign(basis="")
    data["basis"] = data["basis"].fillna("").astype(str)
    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.2), dpi=DPI)
    periods = sorted(data["period"].unique())
    xpos = {p: i for i, p in enumerate(periods)}
    changes = set()
    for name, g in data.groupby("group", sort=True):
        g = g.sort_values("period")
        colour = group_colour(name)
        x = [xpos[p] for p in g["period"]]
        v = g["value"].to_numpy(dtype=float)
        lo = pd.to_numeric(g["ci_lower"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(g["ci_upper"], errors="coerce").to_numpy(dtype=float)
        bases = list(g["basis"])
        # a line joins two figures only when they are counted on the same basis: one line
        # (with its markers) per run of figures on one basis
        start, first = 0, True
        for i in range(1, len(x) + 1):
            if i == len(x) or bases[i] != bases[start]:
                ax.plot(x[start:i], v[start:i], color=colour, linewidth=2, zorder=3,
                        marker=_BASIS_MARKERS.get(bases[start], "o"), markersize=7,
                        markeredgecolor=WHISKER_HALO, label=name if first else None)
                first = False
                if i < len(x):
                    changes.add((periods[x[i - 1]], periods[x[i]]))
                start = i
        ok = ~(pd.isna(lo) | pd.isna(hi))
        if ok.any():
            import numpy as np

            xs = np.array(x, dtype=float)[ok]
            _whiskers(ax, xs, v[ok], yerr=[v[ok] - lo[ok], hi[ok] - v[ok]], zorder=5,
                      outline=False)
    for a, b in sorted(changes):
        mid = (xpos[a] + xpos[b]) / 2
        ax.axvline(mid, color=REFERENCE_LINE, linewidth=1, linestyle=":", zorder=1,
                   label="Counting basis changed (not joined)")
    if unit == "ratio":
        ax.axhline(1.0, color=REFERENCE_LINE, linewidth=1, linestyle="--")
    ax.set_xticks(range(len(periods)), periods)
    # The metric's label is long: it goes above the plot, wrapped; the axis names the unit.
    title = ax.set_title(_wrap(label), fontsize=10, loc="left", pad=28)
    ax.set_ylabel(UNIT_AXIS.get(unit, ""))
    ax.set_xlabel("Period (snapshot date)")
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))  # one key entry per label
    ax.legend(list(seen.values()), list(seen), loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=4, fontsize=8, frameon=False, borderaxespad=0.0)
    # the title sits 28 points above the plot, the key in that gap
    _fit(fig, ax, above=[title], above_gap_px=28 * fig.dpi / 72)
    return fig, sorted(changes)


def trend_chart(rows: pd.DataFrame, label: str, unit: str, caption: str = "") -> Chart | None:
    """The headline over the periods in the data: one line per group, CIs as whiskers.

    A ``basis`` column (``metrics.disciplinary.counting_basis``) breaks the line where the
    counting basis changes: figures on different bases are shown, not joined.
    """
    made = trend_figure(rows, label, unit)
    if made is None:
        return None
    fig, changes = made
    named = rows.sort_values(["group", "period"]).assign(reference_group="").assign(
        group=lambda d: d["group"] + ", " + d["period"] + (
            (" (" + d["basis"].fillna("") + " basis)").where(d["basis"].fillna("") != "", "")
            if "basis" in d else ""), breakdown="")
    alt = describe(named, f"{label} by period", unit)
    for a, b in changes:
        alt += (f" The counting basis changed between {a} and {b}, so those figures are not "
                "joined by a line.")
    return Chart(_png(fig), alt, caption)


#: Up to this many trusts, the peers chart names every trust on its own row; above it (a
#: regional or national run) it shows the spread of all trusts on one line.
PEERS_LISTED = 30


def _trust_label(code: str, names: Mapping[str, str] | None) -> str:
    name = (names or {}).get(code, code)
    return name if name == code else f"{name} ({code})"


def peers_figure(rows: pd.DataFrame, trust: str, label: str, unit: str, *,
                 national: float | None = None, names: Mapping[str, str] | None = None):
    """The figure of :func:`peers_chart` for up to :data:`PEERS_LISTED` trusts."""
    data = _plot_rows(rows).sort_values(["value", "trust_code"])
    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.4 + 0.32 * len(data)), dpi=DPI)
    y = list(range(len(data)))
    mine = (data["trust_code"] == trust).to_numpy()
    values = data["value"].to_numpy(dtype=float)
    import numpy as np

    ya = np.array(y, dtype=float)
    ax.scatter(values[~mine], ya[~mine], color=PEER_DOT, s=50, zorder=3, marker="o",
               label="Other trusts in this run")
    ax.scatter(values[mine], ya[mine], color=HIGHLIGHT, s=110, zorder=4, marker="D",
               label="This trust")
    lo = pd.to_numeric(data["ci_lower"], errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(data["ci_upper"], errors="coerce").to_numpy(dtype=float)
    ok = ~(np.isnan(lo) | np.isnan(hi))
    if ok.any():  # plain lines (no caps): the quickest interval to draw, black on white
        ax.hlines(ya[ok], lo[ok], hi[ok], colors=WHISKER, linewidth=1.5, zorder=2)
    above = []
    if national is not None:
        # named on the chart itself (a key would cost a legend's layout on every chart)
        ax.axvline(national, color=NATIONAL_LINE, linewidth=1.5, linestyle="--", zorder=2,
                   label=f"England: {fmt_value(national, unit)}")
        above.append(ax.text(national, -0.55, f" England {fmt_value(national, unit)}",
                             color=NATIONAL_LINE, fontsize=8, va="bottom", ha="left"))
    if unit == "ratio":
        ax.axvline(1.0, color=REFERENCE_LINE, linewidth=1, linestyle=":", zorder=1)
    ax.set_yticks(y, [f"{_trust_label(t, names)} (this trust)" if t == trust
                      else _trust_label(t, names) for t in data["trust_code"]])
    ax.set_ylim(len(data) - 0.5, -0.5)
    ax.set_xlabel(_wrap((label if unit != "percent" else f"{label} (%)")
                        + ": each trust's figure and 95% confidence interval"))
    _fit(fig, ax, above=above)
    return fig


def peers_chart(rows: pd.DataFrame, trust: str, label: str, unit: str, caption: str = "", *,
                national: float | None = None,
                names: Mapping[str, str] | None = None) -> Chart | None:
    """This trust's figure among the trusts in the run, with 95% CIs and the England figure.

    Up to :data:`PEERS_LISTED` trusts, one named row per trust (``names``: ODS code →
    trust name); more than that (e.g. all of England, 215 trusts), a strip of fixed
    size: every trust a dot on one line, this trust highlighted and named, and alt text
    that gives the range, median and this trust's rank instead of 215 figures.
    ``national`` draws the England figure as a reference line; a run of one trust
    still shows it (there is then no other trust to compare with).
    """
    data = _plot_rows(rows)
    if data.empty or (data["trust_code"].nunique() < 2 and national is None):
        return None
    data = data.sort_values(["value", "trust_code"])
    if len(data) > PEERS_LISTED:
        return _peers_strip(data, trust, label, unit, caption, national=national, names=names)
    fig = peers_figure(data, trust, label, unit, national=national, names=names)
    rank = list(data["trust_code"]).index(trust) + 1 if trust in set(data["trust_code"]) else None
    alt = describe(data.assign(group=[_trust_label(t, names) for t in data["trust_code"]],
                               breakdown="", metric_id="", reference_group=""), label, unit)
    if rank and len(data) > 1:
        alt += f" This trust ({trust}) is {rank} of {len(data)} from lowest to highest."
    if national is not None:
        alt += f" The England figure is {fmt_value(national, unit)}."
    return Chart(_png(fig), alt, caption)


def _peers_strip(data: pd.DataFrame, trust: str, label: str, unit: str, caption: str, *,
                 national: float | None = None,
                 names: Mapping[str, str] | None = None) -> Chart:
    """The peers chart of a large run: all trusts on one line, this trust marked."""
    import numpy as np

    plt, sns = _mpl()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.0), dpi=DPI)
    values = data["value"].to_numpy(dtype=float)
    mine = (data["trust_code"] == trust).to_numpy()
    ax.scatter(values[~mine], np.zeros((~mine).sum()), color=PEER_DOT, s=40, alpha=0.8,
               zorder=3, label="Other trusts in this run")
    if mine.any():
        ax.scatter(values[mine], [0.0], color=HIGHLIGHT, s=120, zorder=4, marker="D",
                   label=f"{trust} (this trust)")
        ax.annotate(f"{_trust_label(trust, names)} (this trust)", (values[mine][0], 0.0),
                    xytext=(0, 12), textcoords="offset points", ha="center", fontsize=9,
                    color=HIGHLIGHT)
    if national is not None:
        ax.axvline(national, color=NATIONAL_LINE, linewidth=1.5, linestyle="--", zorder=2,
                   label=f"England: {fmt_value(national, unit)}")
    if unit == "ratio":
        ax.axvline(1.0, color=REFERENCE_LINE, linewidth=1, linestyle=":")
    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    ax.set_xlabel(_wrap(label if unit != "percent" else f"{label} (%)"))
    # one row under the dots (they are all at y = 0), so the key never hides a trust
    ax.legend(loc="lower center", ncol=3, fontsize=8, frameon=False)
    # the name of this trust is annotated above its dot, inside the plot
    _fit(fig, ax)
    n = len(data)
    alt = (f"Chart of {label} for the {n} trusts in this run with a figure: from "
           f"{fmt_value(values.min(), unit)} to {fmt_value(values.max(), unit)}, median "
           f"{fmt_value(float(np.median(values)), unit)}.")
    if mine.any():
        rank = int(np.flatnonzero(mine)[0]) + 1
        alt += (f" This trust ({trust}): {fmt_value(values[mine][0], unit)}, {rank} of {n} "
                "from lowest to highest.")
    if national is not None:
        alt += f" The England figure is {fmt_value(national, unit)}."
    return Chart(_png(fig), alt, caption)


def funnel_chart(points: pd.DataFrame, limits: pd.DataFrame, trust: str, label: str, *,
                 target: float, caption: str = "") -> Chart | None:
    """Funnel plot: each trust's ratio against its expected count, with 95% and 99.8% limits.

    ``points`` (``disciplinary_model.funnel_points``): trust_code, ratio, expected, and
    ``position_95`` / ``position_99.8`` ("above", "below" or "within"); ``limits``
    (``disciplinary_model.funnel_limits``) on a grid of expected counts around ``target``
    (Spiegelhalter, *Statistics in Medicine* 24, 2005). Both axes on a log scale, so ratios
    of 2 and 0.5 sit equally far from 1. This trust is highlighted and named; the alt text
    says where it lies. None when fewer than two trusts have a figure, or when no trust's ratio
    is above 0 (no trust had a case: a pooled ratio of 0 has no funnel, and a ratio of 0 has
    no place on a log scale). A trust whose ratio is 0 among others above it is not drawn;
    the alt text says how many.
    """
    if points.empty or points["trust_code"].nunique() < 2:
        return None
    if not target > 0 or not (points["ratio"].to_numpy(dtype=float) > 0).any():
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
    zero = int((r <= 0).sum())
    if zero:
        alt += (f" {zero} of them had no case (a ratio of 0), which a log scale cannot show: "
                "they are not drawn.")
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
    for _, r in ordered(rows).iterrows():
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


def _scroll(table: str, caption: str) -> str:
    """A table in a region of its own that scrolls sideways when the table is wider than the
    page (WCAG 2.2 SC 1.4.10): focusable and named, so keyboard users can scroll it too."""
    return (f'<div class="table-scroll" role="region" tabindex="0" '
            f'aria-label="{html.escape(caption, quote=True)}">{table}</div>')


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
    return _scroll(f'<table class="edi-table"><caption>{html.escape(caption)}</caption>'
                   f"<thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>",
                   caption)


def simple_table_html(frame: pd.DataFrame, caption: str) -> str:
    """An accessible HTML table of an already formatted frame (strings shown as they are)."""
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    trs = []
    for _, r in frame.iterrows():
        cells = [f'<th scope="row">{html.escape(str(r.iloc[0]))}</th>'] + \
            [f"<td>{html.escape('' if is_blank(v) else str(v))}</td>" for v in r.iloc[1:]]
        trs.append("<tr>" + "".join(cells) + "</tr>")
    return _scroll(f'<table class="edi-table"><caption>{html.escape(caption)}</caption>'
                   f"<thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>",
                   caption)


__all__ = ["PALETTE", "GROUP_COLOURS", "Chart", "bar_chart", "trend_chart", "peers_chart",
           "funnel_chart", "describe", "table_html", "table_rows", "simple_table_html",
           "row_label", "rounded", "contrast", "group_colour", "ordered"]
