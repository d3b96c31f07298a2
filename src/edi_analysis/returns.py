"""The figures a trust types into its statutory returns, taken from the metric rows.

- **Gender pay gap** (Equality Act 2010 (Specific Duties and Public Authorities)
  Regulations 2017, Schedule 1): one row per trust with the fields of the GOV.UK
  gender pay gap service's published dataset, named as it names them, each to one
  decimal place as the service asks, and the service's own integrity checks.
- **WRES** and **WDES**: one row per trust, indicator, breakdown and group, in the
  order of the standards' indicators, with the counts behind each figure.

Every figure comes from a metric row (the same functions as ``metrics.csv``),
computed without the disclosure rule: a return needs the exact figure. Where the
published report hides one, the return still gives it and its ``note`` says so.
Nothing here reads or writes files except :func:`write_returns`.
docs/returns.md lists the sources and what could not be verified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

#: The GOV.UK gender pay gap service's published fields, in its order
#: (gender-pay-gap.service.gov.uk, "Download data": column names of the CSV files).
GPG_FIELDS = (
    "DiffMeanHourlyPercent", "DiffMedianHourlyPercent", "DiffMeanBonusPercent",
    "DiffMedianBonusPercent", "MaleBonusPercent", "FemaleBonusPercent",
    "MaleLowerQuartile", "FemaleLowerQuartile", "MaleLowerMiddleQuartile",
    "FemaleLowerMiddleQuartile", "MaleUpperMiddleQuartile", "FemaleUpperMiddleQuartile",
    "MaleTopQuartile", "FemaleTopQuartile",
)
#: field -> (metric id, breakdown, group)
_GPG_SOURCE = {
    "DiffMeanHourlyPercent": ("pay.gender.mean_gap", "", "Female"),
    "DiffMedianHourlyPercent": ("pay.gender.median_gap", "", "Female"),
    "DiffMeanBonusPercent": ("pay.gender.bonus_mean_gap", "", "Female"),
    "DiffMedianBonusPercent": ("pay.gender.bonus_median_gap", "", "Female"),
    "MaleBonusPercent": ("pay.gender.bonus_share", "", "Male"),
    "FemaleBonusPercent": ("pay.gender.bonus_share", "", "Female"),
    **{f"{sex}{name}Quartile": ("pay.gender.quartile_share", f"quartile={band}", sex)
       for name, band in (("Lower", "Lower"), ("LowerMiddle", "Lower middle"),
                          ("UpperMiddle", "Upper middle"), ("Top", "Upper"))
       for sex in ("Male", "Female")},
}
_QUARTILE_PAIRS = (("MaleLowerQuartile", "FemaleLowerQuartile"),
                   ("MaleLowerMiddleQuartile", "FemaleLowerMiddleQuartile"),
                   ("MaleUpperMiddleQuartile", "FemaleUpperMiddleQuartile"),
                   ("MaleTopQuartile", "FemaleTopQuartile"))

#: The WRES and WDES indicators as the returns number them: (indicator, metric ids,
#: breakdown filter, source of the figure).
_BY_INDICATOR = {
    "wres": (
        ("1", ("wres.1.share",), None, "ESR"),
        ("2", ("wres.2.appointment_rate", "wres.2.relative_likelihood"), None, "recruitment"),
        ("3", ("wres.3.rate", "wres.3.relative_likelihood"), None, "HR case records"),
        ("4", ("wres.4.access_rate", "wres.4.relative_likelihood"), None, "ESR / L&D"),
        ("5", ("wres.5",), "", "NHS Staff Survey"),
        ("6", ("wres.6",), "", "NHS Staff Survey"),
        ("7", ("wres.7",), "", "NHS Staff Survey"),
        ("8", ("wres.8",), "", "NHS Staff Survey"),
        ("9", ("wres.9.board_gap",), None, "board records"),
    ),
    "wdes": (
        ("1", ("wdes.1.share",), None, "ESR"),
        ("2", ("wdes.2.appointment_rate", "wdes.2.relative_likelihood"), None, "recruitment"),
        ("3", ("wdes.3.rate", "wdes.3.relative_likelihood"), None, "HR case records"),
        ("4a(i)", ("wdes.4a.public",), "", "NHS Staff Survey"),
        ("4a(ii)", ("wdes.4a.manager",), "", "NHS Staff Survey"),
        ("4a(iii)", ("wdes.4a.colleague",), "", "NHS Staff Survey"),
        ("4b", ("wdes.4b",), "", "NHS Staff Survey"),
        ("5", ("wdes.5",), "", "NHS Staff Survey"),
        ("6", ("wdes.6",), "", "NHS Staff Survey"),
        ("7", ("wdes.7",), "", "NHS Staff Survey"),
        ("8", ("wdes.8",), "", "NHS Staff Survey"),
        ("9a", ("wdes.9a",), "", "NHS Staff Survey"),
        ("10", ("wdes.10.board_gap",), None, "board records"),
    ),
}
_GROUP_ORDER = {"White": 0, "BME": 1, "Non-disabled": 0, "Disabled": 1, "Unknown": 2, "All": 3}
#: Decimal places of a return figure by unit (WRES/WDES reports: rates to 1 dp,
#: relative likelihoods to 2 dp; our convention where the forms are not public).
_PLACES = {"percent": 1, "pp": 1, "ratio": 2, "score": 2}
STANDARD_COLUMNS = ("trust_code", "period", "indicator", "metric_id", "breakdown", "group",
                    "reference_group", "count", "denominator", "value", "unit", "source",
                    "note")

HIDDEN_GPG = ("our disclosure rule hides this figure in the published report (it rests on "
              "fewer than {min_count} people), but the regulations require it to be published: "
              "it is given here")
HIDDEN_STANDARD = ("hidden in the published report (fewer than {min_count} people or "
                   "{min_survey} survey answers); the return needs it, so it is given here: do "
                   "not publish this file")
SURVEY_NOTE = ("provided to NHS England from the NHS Staff Survey; trusts check it, they do "
               "not enter it")


class ReturnIntegrityError(ValueError):
    """The figures fail the return's own checks; ``problems`` lists each (nothing written)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def round_half_up(value: float, places: int = 1) -> float | None:
    """``value`` to ``places`` decimals, halves away from zero on the shortest decimal form
    (12.25 -> 12.3, as a person rounding the shown figure would; Python's round gives 12.2)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return None
    q = Decimal(1).scaleb(-places)
    return float(Decimal(repr(float(value))).quantize(q, rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------ gender pay gap

def gender_pay_gap(raw: pd.DataFrame, published: pd.DataFrame | None = None,
                   min_count: int = 8) -> pd.DataFrame:
    """One row per trust and period: ``trust_code, snapshot_date`` and the GOV.UK fields,
    each its metric's value rounded to one decimal place; ``note`` says which figures the
    published report hides. Raises :class:`ReturnIntegrityError` when a row fails the
    service's checks (:func:`check_gender_pay_gap`)."""
    rows = []
    hidden = _hidden_keys(published)
    for (trust, period), g in raw.groupby(["trust_code", "period"], sort=True):
        lookup = {(r.metric_id, r.breakdown, r.group): r.value for r in g.itertuples()}
        row = {"trust_code": trust, "snapshot_date": period}
        notes = []
        for name in GPG_FIELDS:
            key = _GPG_SOURCE[name]
            row[name] = round_half_up(_number(lookup.get(key)), 1)
            if (trust, period, *key) in hidden and row[name] is not None:
                notes.append(name)
        _pair_quartiles(row)
        row["note"] = (HIDDEN_GPG.format(min_count=min_count) + f" ({', '.join(notes)})"
                       if notes else "")
        rows.append(row)
    out = pd.DataFrame(rows, columns=["trust_code", "snapshot_date", *GPG_FIELDS, "note"])
    problems = check_gender_pay_gap(out)
    if problems:
        raise ReturnIntegrityError(problems)
    return out


def _pair_quartiles(values: dict) -> None:
    """Complementary shares can both round up (22.45 / 77.55): the service wants pairs that
    sum to 100, so the male figure becomes 100 minus the female one (in place; a pair with
    a figure missing is left as it is)."""
    for male, female in _QUARTILE_PAIRS:
        m, f = values.get(male), values.get(female)
        if m is not None and f is not None and round(m + f, 1) != 100.0 and \
                abs(m + f - 100.0) <= 0.1 + 1e-9:
            values[male] = round(100.0 - f, 1)


def check_gender_pay_gap(frame: pd.DataFrame) -> list[str]:
    """The GOV.UK service's integrity checks, one message per failure:
    each quartile's male and female figures sum to 100; no bonus gap when no woman or
    no man is paid a bonus; shares lie in 0-100; a gap is at most 100 (men's pay minus
    women's cannot exceed men's pay)."""
    problems = []
    for r in frame.to_dict("records"):
        who = f"{r['trust_code']} {r['snapshot_date']}"
        for male, female in _QUARTILE_PAIRS:
            m, f = r.get(male), r.get(female)
            if m is None or f is None or pd.isna(m) or pd.isna(f):
                problems.append(f"{who}: {male}/{female} missing (each quartile needs both)")
            elif round(m + f, 1) != 100.0:
                problems.append(f"{who}: {male} {m} + {female} {f} = {round(m + f, 1)}, not 100")
        for sex in ("Male", "Female"):
            share = r.get(f"{sex}BonusPercent")
            if share is not None and not pd.isna(share) and share == 0:
                for gap in ("DiffMeanBonusPercent", "DiffMedianBonusPercent"):
                    if r.get(gap) is not None and not pd.isna(r.get(gap)):
                        problems.append(f"{who}: {gap} is {r[gap]} but no "
                                        f"{'man' if sex == 'Male' else 'woman'} was paid a "
                                        "bonus (the service allows no bonus gap then)")
        for name in GPG_FIELDS:
            v = r.get(name)
            if v is None or pd.isna(v):
                continue
            if name.startswith("Diff") and v > 100:
                problems.append(f"{who}: {name} is {v}, more than 100")
            if not name.startswith("Diff") and not 0 <= v <= 100:
                problems.append(f"{who}: {name} is {v}, not a percentage from 0 to 100")
    return problems


# ------------------------------------------------------------------ WRES / WDES

def standard_return(raw: pd.DataFrame, standard: str, published: pd.DataFrame | None = None,
                    min_count: int = 8, min_survey_responses: int = 11) -> pd.DataFrame:
    """The WRES (``standard="wres"``) or WDES return figures, one row per trust, period,
    indicator, breakdown and group, in indicator order; counts are the metric's numerator
    and denominator, values rounded (:data:`_PLACES`)."""
    hidden = _hidden_keys(published)
    parts = []
    for order, (indicator, ids, breakdown, source) in enumerate(_BY_INDICATOR[standard]):
        part = raw[raw["metric_id"].isin(ids)]
        if breakdown is not None:
            part = part[part["breakdown"] == breakdown]
        part = part.assign(indicator=indicator, source=source, _order=order,
                           _id=part["metric_id"].map({m: i for i, m in enumerate(ids)}))
        parts.append(part)
    rows = pd.concat(parts, ignore_index=True) if parts else raw.iloc[:0]
    rows = rows.assign(_g=rows["group"].map(_GROUP_ORDER).fillna(9))
    rows = rows.sort_values(["trust_code", "period", "_order", "_id", "breakdown", "_g"],
                            kind="stable")
    out = pd.DataFrame({
        "trust_code": rows["trust_code"], "period": rows["period"],
        "indicator": rows["indicator"], "metric_id": rows["metric_id"],
        "breakdown": rows["breakdown"], "group": rows["group"],
        "reference_group": rows["reference_group"],
        "count": pd.array([_count(v) for v in rows["numerator"]], dtype=object),
        "denominator": pd.array([_count(v) for v in rows["denominator"]], dtype=object),
        "value": [round_half_up(_number(v), _PLACES.get(u, 1))
                  for v, u in zip(rows["value"], rows["unit"])],
        "unit": rows["unit"], "source": rows["source"],
    }).reset_index(drop=True)
    notes = []
    for r, original in zip(out.itertuples(), rows["note"].tolist()):
        n = [original] if original else []
        if r.source == "NHS Staff Survey":
            n.append(SURVEY_NOTE)
        if (r.trust_code, r.period, r.metric_id, r.breakdown, r.group) in hidden:
            n.append(HIDDEN_STANDARD.format(min_count=min_count, min_survey=min_survey_responses))
        notes.append("; ".join(n))
    out["note"] = notes
    return out[list(STANDARD_COLUMNS)]


# ------------------------------------------------------------------ for a trust

@dataclass
class ReturnFigures:
    """The three returns of one or more trusts and a period."""

    gender_pay_gap: pd.DataFrame
    wres: pd.DataFrame
    wdes: pd.DataFrame
    settings: dict = field(default_factory=dict)


def return_figures(dataset, period: str, trusts=None, *, min_count: int = 8,
                   min_survey_responses: int = 11, seed: int = 20240331) -> ReturnFigures:
    """The return figures of ``trusts`` (default all) for ``period``, from a validated
    dataset: what ``edi-analysis returns`` writes, for the site and the pack to show.

    The metrics are computed twice: without the disclosure rule (the figures) and with
    it (to say in ``note`` which of them the published report hides).
    """
    from edi_analysis.pipeline import compute_metrics

    raw = compute_metrics(dataset, [period], trusts, min_count=1, min_survey_responses=1,
                          seed=seed)
    published = compute_metrics(dataset, [period], trusts, min_count=min_count,
                                min_survey_responses=min_survey_responses, seed=seed)
    return ReturnFigures(
        gender_pay_gap=gender_pay_gap(raw, published, min_count),
        wres=standard_return(raw, "wres", published, min_count, min_survey_responses),
        wdes=standard_return(raw, "wdes", published, min_count, min_survey_responses),
        settings={"min_count": min_count, "min_survey_responses": min_survey_responses,
                  "seed": seed},
    )


def trust_return_figures(dataset, trust: str, period: str, **kw) -> ReturnFigures:
    """One trust's return figures for one period (see :func:`return_figures`)."""
    return return_figures(dataset, period, [trust], **kw)


# ------------------------------------------------------------------ files

def csv_bytes(frame: pd.DataFrame, what: str) -> bytes:
    from edi_analysis.io import check_finite

    numeric = [c for c in frame.columns if c not in ("trust_code", "snapshot_date", "period",
                                                       "indicator", "metric_id", "breakdown",
                                                       "group", "reference_group", "unit",
                                                       "source", "note")]
    check_finite(frame, numeric, what, label=[c for c in ("trust_code", "indicator", "group")
                                              if c in frame])
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_returns(figures: ReturnFigures, out_dir: str | os.PathLike, period: str) -> list[Path]:
    """``gender-pay-gap.csv``, ``wres.csv``, ``wdes.csv`` and an accessible ``.xlsx`` of each
    into ``out_dir``, all or nothing: written to a folder beside it, then moved in."""
    import shutil
    import tempfile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".returns-", dir=out))
    names = {"gender-pay-gap": figures.gender_pay_gap, "wres": figures.wres,
             "wdes": figures.wdes}
    written = []
    try:
        for name, frame in names.items():
            (stage / f"{name}.csv").write_bytes(csv_bytes(frame, f"{name}.csv"))
            _write_xlsx(stage / f"{name}.xlsx", name, frame, period, figures.settings)
        for name in names:
            for suffix in (".csv", ".xlsx"):
                os.replace(stage / f"{name}{suffix}", out / f"{name}{suffix}")
                written.append(out / f"{name}{suffix}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return written


_TITLES = {
    "gender-pay-gap": ("Gender pay gap figures for the GOV.UK service",
                       "Equality Act 2010 (Specific Duties and Public Authorities) Regulations "
                       "2017, Schedule 1; field names as in the service's published data"),
    "wres": ("Workforce Race Equality Standard (WRES) return figures",
             "NHS England, WRES technical guidance; indicators 5 to 8 come from the NHS Staff "
             "Survey"),
    "wdes": ("Workforce Disability Equality Standard (WDES) return figures",
             "NHS England, WDES 2023 technical guidance; metrics 4 to 9a come from the NHS "
             "Staff Survey"),
}


def _write_xlsx(path: Path, name: str, frame: pd.DataFrame, period: str, settings: dict) -> None:
    """An accessible workbook (Analysis Function guidance, via gptables): a cover sheet,
    a contents sheet, one table per sheet with a title, no merged cells, blank cells
    marked ``[x]`` with a note rather than left empty."""
    import gptables as gpt

    import warnings

    title, source = _TITLES[name]
    table = frame.copy()
    if "breakdown" in table:
        table["breakdown"] = table["breakdown"].replace("", "all staff")
    # Analysis Function symbols: [x] not available, [z] not applicable; no empty cells.
    for col in table.columns:
        values = table[col].astype(object)
        empty = values.isna() | (values == "")
        symbol = "[z]" if col in ("note", "reference_group") else "[x]"
        table[col] = values.where(~empty, symbol)
    sheet = gpt.GPTable(
        table=table, table_name=name.replace("-", "_"),
        title=f"{title}, period ending {period}",
        subtitles=[f"One row per {'trust' if name == 'gender-pay-gap' else 'trust, indicator '}"
                   f"{'' if name == 'gender-pay-gap' else 'and group'}."],
        instructions="This worksheet contains one table.",
        legend=["[x] = not available (the note column says why)", "[z] = not applicable"],
        source=f"Source: {source}. Computed by edi-analysis from the trust's validated extracts.",
    )
    cover = gpt.Cover(
        title=title,
        intro=[f"Figures for the period ending {period}, for typing into the return.",
               "Every figure is rounded as the return asks; the note column says where our "
               "published report hides a figure that the return needs."],
        about=[f"Disclosure thresholds of the published report: fewer than "
               f"{settings.get('min_count', 8)} people, or fewer than "
               f"{settings.get('min_survey_responses', 11)} survey answers.",
               "Method and sources: docs/returns.md of edi-analysis."],
    )
    with warnings.catch_warnings():  # "no notes sheet": our notes are a column of the table
        warnings.simplefilter("ignore")  # and its pandas deprecation warnings
        gpt.write_workbook(filename=str(path), sheets={name[:31]: sheet}, cover=cover,
                           contentsheet_options={"additional_elements": []}, auto_width=True)


def _hidden_keys(published: pd.DataFrame | None) -> set[tuple]:
    if published is None or published.empty:
        return set()
    s = published[published["suppressed"].astype(bool)]
    return set(zip(s["trust_code"], s["period"], s["metric_id"], s["breakdown"], s["group"]))


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def _count(v):
    """A count as a whole number where it is one; fractional counts (tied quartile ranks)
    kept to two decimals."""
    f = _number(v)
    if f is None:
        return None
    return int(f) if float(f).is_integer() else round(f, 2)


# ------------------------------------------------------------------ on the site and in the pack

#: The GOV.UK fields in words, for readers of the trust page and the board pack.
GPG_LABELS = {
    "DiffMeanHourlyPercent": "Mean gender pay gap in hourly pay",
    "DiffMedianHourlyPercent": "Median gender pay gap in hourly pay",
    "DiffMeanBonusPercent": "Mean gender gap in bonus pay",
    "DiffMedianBonusPercent": "Median gender gap in bonus pay",
    "MaleBonusPercent": "Men paid a bonus",
    "FemaleBonusPercent": "Women paid a bonus",
    "MaleLowerQuartile": "Men in the lower pay quarter",
    "FemaleLowerQuartile": "Women in the lower pay quarter",
    "MaleLowerMiddleQuartile": "Men in the lower middle pay quarter",
    "FemaleLowerMiddleQuartile": "Women in the lower middle pay quarter",
    "MaleUpperMiddleQuartile": "Men in the upper middle pay quarter",
    "FemaleUpperMiddleQuartile": "Women in the upper middle pay quarter",
    "MaleTopQuartile": "Men in the top pay quarter",
    "FemaleTopQuartile": "Women in the top pay quarter",
}
#: What a page says where the published report hides a figure a return needs: suppression
#: never applies to a return figure silently.
NOT_SHOWN = ("Figures marked \u201cnot shown\u201d are hidden in the published report (the note "
             "says why); the statutory return needs them, so the trust's return file, written by "
             "edi-analysis returns and not for publication, gives them.")


@dataclass(frozen=True)
class ReturnTable:
    """One return as a table a person reads: rows of text, a first column of row headers."""

    key: str  # "gender-pay-gap", "wres", "wdes"
    title: str
    source: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: figures the return needs that this page does not show (the rows say so)
    hidden: int = 0
    extra_note: str = ""

    @property
    def footnote(self) -> str:
        """Said under the table (what is said once for all the returns is :data:`NOT_SHOWN`)."""
        return self.extra_note


def published_tables(rows: pd.DataFrame, *, min_count: int = 8,
                     min_survey_responses: int = 11) -> tuple[ReturnTable, ...]:
    """The three returns of one report, from its **published** metric rows (a report's
    ``metrics.csv``, suppression applied): what the trust page and the board pack's
    appendix show. Nothing is computed here and nothing hidden is revealed: a figure the
    published report hides stays hidden, and its row says that the return file gives it
    (:data:`NOT_SHOWN`). Values are rounded as the returns round them (:data:`_PLACES`)."""
    pub = _typed(rows)
    if pub.empty:
        return ()
    people = f"based on fewer than {min_count} people"
    answers = f"based on fewer than {min_survey_responses} survey answers"
    tables = [_gpg_table(pub, people)]
    for standard in ("wres", "wdes"):
        tables.append(_standard_table(pub, standard, people, answers))
    return tuple(t for t in tables if t.rows)


def _typed(rows: pd.DataFrame) -> pd.DataFrame:
    """metrics.csv rows (read as text or typed) with numbers as floats and ``suppressed``
    as a boolean."""
    if rows is None or rows.empty:
        return pd.DataFrame()
    out = rows.copy()
    for col in ("numerator", "denominator", "value"):
        out[col] = pd.to_numeric(out[col].replace("", np.nan), errors="coerce")
    sup = out["suppressed"]
    out["suppressed"] = sup if sup.dtype == bool else \
        sup.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))
    for col in ("breakdown", "group", "reference_group", "note", "unit"):
        out[col] = out[col].fillna("").astype(str)
    return out


def _gpg_table(pub: pd.DataFrame, people: str) -> ReturnTable:
    lookup = {(r.metric_id, r.breakdown, r.group): r for r in pub.itertuples()}
    values, hidden = {}, {}
    for name in GPG_FIELDS:
        r = lookup.get(_GPG_SOURCE[name])
        if r is None:
            continue
        if r.suppressed:
            hidden[name] = _reason(r.note, people)
        values[name] = round_half_up(_number(r.value), 1)
    _pair_quartiles(values)  # the same pairing rule as the return file
    out = []
    for name in GPG_FIELDS:
        if name not in values and name not in hidden:
            continue
        v = values.get(name)
        shown = "not shown" if name in hidden or v is None else f"{v:.1f}%"
        note = hidden.get(name, "" if v is not None else "not available")
        out.append((GPG_LABELS[name], name, shown, note))
    title, source = _TITLES["gender-pay-gap"]
    return ReturnTable("gender-pay-gap", title, source,
                       ("Figure", "GOV.UK field", "Value", "Note"), tuple(out), len(hidden))


_COLUMNS = {"wres": ("White", "BME", "Unknown", "All"),
            "wdes": ("Non-disabled", "Disabled", "Unknown", "All")}
_SURVEY_FOOTNOTE = {
    "wres": "Indicators 5 to 8 come from the NHS Staff Survey: NHS England receives them from "
            "the survey and the trust checks them.",
    "wdes": "Metrics 4 to 9a come from the NHS Staff Survey: NHS England receives them from "
            "the survey and the trust checks them.",
}


def _standard_table(pub: pd.DataFrame, standard: str, people: str, answers: str) -> ReturnTable:
    """One row per indicator, measure and breakdown, one column per group, as the
    standards' own reports lay them out; a cell is the figure and its count."""
    from edi_analysis.metrics import REGISTRY

    frame = standard_return(pub, standard)
    sup = pub[pub["suppressed"]]
    hidden_notes = {(m, b, g): n for m, b, g, n in zip(sup["metric_id"], sup["breakdown"],
                                                       sup["group"], sup["note"])}
    groups = [g for g in _COLUMNS[standard] if (frame["group"] == g).any()]
    out, hidden, order = {}, 0, []
    for r in frame.itertuples():
        key = (r.indicator, r.metric_id, r.breakdown)
        if key not in out:
            spec = REGISTRY.get(r.metric_id)
            measure = spec.label if spec is not None else r.metric_id
            words = _breakdown_words(r.breakdown)
            measure += f", {words}" if words else ""
            if r.reference_group and "compared" not in measure:
                measure += f" (compared with {r.reference_group})"
            out[key] = {"measure": measure, "cells": {}, "notes": []}
            order.append(key)
        row = out[key]
        cell_key = (r.metric_id, r.breakdown, r.group)
        if cell_key in hidden_notes:
            hidden += 1
            row["cells"][r.group] = "not shown"
            reason = _reason(hidden_notes[cell_key],
                             answers if r.source == "NHS Staff Survey" else people)
            row["notes"].append(f"{r.group}: {reason}")
            continue
        count = (f" ({_thousands(r.count)} of {_thousands(r.denominator)})"
                 if r.count is not None and r.denominator is not None and r.unit != "ratio"
                 else "")
        row["cells"][r.group] = _shown(r.value, r.unit) + count
        for n in (r.note or "").replace(SURVEY_NOTE, "").split("; "):
            n = n.strip()
            if n and not n.startswith("NHS Staff Survey") and n not in row["notes"]:
                row["notes"].append(n)
    rows = []
    for key in order:
        row = out[key]
        notes = row["notes"]
        # one reason for every hidden group of a row, said once
        reasons = {n.split(": ", 1)[1] for n in notes if ": " in n and n.split(": ", 1)[0] in groups}
        if len(reasons) == 1 and sum(n.split(": ", 1)[0] in groups for n in notes) > 1:
            named = [n.split(": ", 1)[0] for n in notes if n.split(": ", 1)[0] in groups]
            notes = [f"{', '.join(named)}: {reasons.pop()}"] + \
                [n for n in notes if n.split(": ", 1)[0] not in groups]
        rows.append((key[0], row["measure"], *[row["cells"].get(g, "\u2014") for g in groups],
                     "; ".join(notes)))
    title, source = _TITLES[standard]
    return ReturnTable(standard, title, source, ("Indicator", "Measure", *groups, "Note"),
                       tuple(rows), hidden, _SURVEY_FOOTNOTE[standard])


def _reason(note: str, default: str) -> str:
    """Why a row is hidden, from the suppression's own note (primary or secondary)."""
    for part in (note or "").split("; "):
        if part.startswith("suppressed: "):
            return part[len("suppressed: "):]
        if part.startswith("hidden so that"):
            return part
    return default


def _shown(value, unit: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "not available"
    places = _PLACES.get(unit, 1)
    text = f"{value:.{places}f}".replace("-", "\u2212")
    return {"percent": f"{text}%", "pp": f"{text} points"}.get(unit, text)


def _thousands(v) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"


_BREAKDOWN_WORDS = {("clinical", "Y"): "clinical staff", ("clinical", "N"): "non-clinical staff",
                    ("board", "voting"): "voting members", ("board", "executive"):
                    "executive members", ("board", "all"): "all members"}


def _breakdown_words(breakdown: str) -> str:
    """``clinical=N;pay_cluster=3`` -> ``non-clinical staff, cluster 3``."""
    parts = []
    for item in (breakdown or "").split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if (key, value) in _BREAKDOWN_WORDS:
            parts.append(_BREAKDOWN_WORDS[(key, value)])
        elif key == "pay_cluster":
            parts.append(f"cluster {value}")
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)
