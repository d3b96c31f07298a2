"""The notebook-facing API: one call per section of a report notebook.

A report notebook is thin: a ``parameters`` cell, ``r = report.load(...)``,
then one ``r.section(label)`` per headline. A *section* is

    metric id(s) → this trust's rows for the period → plain-English sentence(s)
    → figure with 95% CI and denominators → accessible chart → table
    → trend over earlier periods → position among the trusts in the run,

all from the rows that :func:`edi_analysis.metrics.compute` returns — the
same function and arguments that write ``metrics.csv`` — so the report and
``metrics.csv`` cannot disagree (``tests/test_notebooks.py`` checks it).
Each section also emits its rows as machine-readable JSON (MIME type
:data:`ROWS_MIME`) for that check and for the publisher.

Sections are declared in :data:`SECTIONS` by metric id patterns and resolved
against the metric registry at run time, so a metric registered in the
package appears in its notebook without editing the notebook; every other
metric of an action area is listed in that notebook's "other measures" table.

The stable labels in :data:`HEADLINES` (``#| label:`` comment + cell tag) let
the publisher pick cells, e.g. Quarto ``{{< embed 06_hia6_bullying_disciplinary.ipynb#hl-wres3 >}}``.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from edi_analysis import narrative

#: MIME type of the metric rows a section shows (JSON list of metrics.csv records).
ROWS_MIME = "application/vnd.edi-analysis.metrics+json"
#: MIME type of the board paper's dashboard, asks and action plan (``board.BoardSummary``).
BOARD_MIME = "application/vnd.edi-analysis.board+json"
#: Outputs that are data for the publisher and the tests, not for readers' pages.
DATA_MIMES = (ROWS_MIME, BOARD_MIME)
SLICE_MARKER = "slice.json"
PROVENANCE_FILE = "provenance.json"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Section:
    """One headline section: a stable label, a title, the metric id patterns it shows."""

    label: str
    notebook: str
    title: str
    metrics: tuple[str, ...]
    intro: str = ""


NOTEBOOKS = {
    "00_overview": ("Overview", None),
    "01_hia1_board": ("High impact action 1: board accountability", "hia1"),
    "02_hia2_recruitment": ("High impact action 2: recruitment, talent and representation", "hia2"),
    "03_hia3_pay": ("High impact action 3: pay gaps and flexible working", "hia3"),
    "04_hia4_health": ("High impact action 4: health inequalities in the workforce", "hia4"),
    "05_hia5_international": ("High impact action 5: internationally recruited staff", "hia5"),
    "06_hia6_bullying_disciplinary": (
        "High impact action 6: bullying, harassment and disciplinary consistency", "hia6"),
    "07_people_plan": ("NHS People Plan priorities", "people_plan"),
}

_S = Section
SECTIONS: tuple[Section, ...] = (
    _S("hl-board", "00_overview", "Summary for the board: dashboard and asks",
       ("actions.status", "wres.1.share", "wres.2.relative_likelihood",
        "wres.3.relative_likelihood", "wres.4.relative_likelihood", "wres.5", "wres.6", "wres.7", "wres.8", "wres.9.board_gap",
        "wdes.1.share", "wdes.2.relative_likelihood", "wdes.3.relative_likelihood", "wdes.4*",
        "wdes.5", "wdes.6", "wdes.7", "wdes.8", "wdes.9a", "wdes.10.board_gap",
        "pay.gender.mean_gap", "pay.gender.median_gap", "pay.ethnicity.mean_gap",
        "pay.ethnicity.median_gap", "pay.disability.mean_gap", "pay.disability.median_gap",
        "pay.medical.gender_mean_gap", "hia1.*", "hia2.representation_ratio",
        "hia2.shortlisting_rate", "hia4.sickness_absence_rate", "hia4.org_action_hwb",
        "hia5.training_relative_likelihood", "hia5.belonging", "hia5.harassment_manager_team",
        "hia6.harassment_manager_team", "hia6.adjusted_rate_ratio", "hia6.disparity",
        "hia6.disability.disparity", "hia2.shortlisted_share", "pp.leaver_rate")),
    _S("hl-actions", "00_overview", "Action plan: owners, due dates and status",
       ("actions.status",)),
    # HIA1
    _S("hl-wres9", "01_hia1_board", "Board ethnicity compared with the workforce (WRES 9)",
       ("wres.9.board_gap",)),
    _S("hl-wdes10", "01_hia1_board", "Board disability compared with the workforce (WDES 10)",
       ("wdes.10.board_gap",)),
    _S("hl-hia1-objectives", "01_hia1_board", "Board members' EDI objectives",
       ("hia1.smart_objectives_share", "hia1.appraised_share")),
    # HIA2
    _S("hl-wres2", "02_hia2_recruitment", "Appointment from shortlisting by ethnicity (WRES 2)",
       ("wres.2.relative_likelihood", "wres.2.appointment_rate")),
    _S("hl-wdes2", "02_hia2_recruitment", "Appointment from shortlisting by disability (WDES 2)",
       ("wdes.2.relative_likelihood", "wdes.2.appointment_rate")),
    _S("hl-sex2", "02_hia2_recruitment", "Appointment from shortlisting by sex",
       ("sex.2.relative_likelihood", "sex.2.appointment_rate")),
    _S("hl-shortlisting", "02_hia2_recruitment",
       "Shortlisting: the shortlisting rate and the diversity of shortlisted candidates",
       ("hia2.shortlisting_rate", "hia2.shortlisted_share"),
       intro="Success metric 2e of the EDI Improvement Plan is the diversity of shortlisted "
             "candidates: the share of the shortlist from each group, shown after the rate at "
             "which each group's applicants are shortlisted."),
    _S("hl-wres4", "02_hia2_recruitment", "Non-mandatory training and CPD (WRES 4)",
       ("wres.4.relative_likelihood", "wres.4.access_rate")),
    _S("hl-wres1", "02_hia2_recruitment", "Workforce by ethnicity (WRES 1)", ("wres.1.share",)),
    _S("hl-wdes1", "02_hia2_recruitment", "Workforce by disability (WDES 1)", ("wdes.1.share",)),
    _S("hl-senior", "02_hia2_recruitment", "Senior leadership", ("hia2.senior_share",)),
    _S("hl-model-employer", "02_hia2_recruitment", "Model Employer: representation by pay cluster",
       ("hia2.representation_ratio",)),
    _S("hl-career", "02_hia2_recruitment", "Equal opportunities for career progression (survey)",
       ("wres.7", "wdes.5")),
    # HIA3
    _S("hl-pay-gender", "03_hia3_pay", "Gender pay gap",
       ("pay.gender.mean_gap", "pay.gender.median_gap")),
    _S("hl-pay-bonus", "03_hia3_pay", "Gender bonus gap",
       ("pay.gender.bonus_mean_gap", "pay.gender.bonus_median_gap", "pay.gender.bonus_share")),
    _S("hl-pay-quartiles", "03_hia3_pay", "Women and men in each pay quartile",
       ("pay.gender.quartile_share",)),
    _S("hl-pay-ethnicity", "03_hia3_pay", "Ethnicity pay gap",
       ("pay.ethnicity.mean_gap", "pay.ethnicity.median_gap")),
    _S("hl-pay-disability", "03_hia3_pay", "Disability pay gap",
       ("pay.disability.mean_gap", "pay.disability.median_gap")),
    _S("hl-mend-the-gap", "03_hia3_pay", "Mend the Gap: doctors' gender pay gap",
       ("pay.medical.*",)),
    _S("hl-flexible", "03_hia3_pay", "Flexible working", ("hia3.flexible_working_share",)),
    # HIA4
    _S("hl-sickness", "04_hia4_health", "Sickness absence", ("hia4.sickness_absence_rate",)),
    _S("hl-hwb-action", "04_hia4_health", "Positive action on health and wellbeing (survey)",
       ("hia4.org_action_hwb",)),
    _S("hl-presenteeism", "04_hia4_health", "Pressure to work when unwell (WDES 6)", ("wdes.6",)),
    _S("hl-adjustments", "04_hia4_health", "Reasonable adjustments (WDES 8)", ("wdes.8",)),
    # HIA5
    _S("hl-hia5-training", "05_hia5_international", "Training for international recruits",
       ("hia5.training_relative_likelihood",)),
    _S("hl-hia5-retention", "05_hia5_international", "Retention of international recruits",
       ("hia5.retention_12m",)),
    _S("hl-hia5-belonging", "05_hia5_international", "Sense of belonging (survey)",
       ("hia5.belonging",)),
    _S("hl-hia5-harassment", "05_hia5_international",
       "Bullying or harassment from line managers or the team (survey)",
       ("hia5.harassment_manager_team",)),
    # HIA6
    _S("hl-wres3", "06_hia6_bullying_disciplinary",
       "Entering the formal disciplinary process by ethnicity (WRES 3)",
       ("wres.3.relative_likelihood", "wres.3.rate")),
    _S("hl-wdes3", "06_hia6_bullying_disciplinary",
       "Entering the formal capability process by disability (WDES 3)",
       ("wdes.3.relative_likelihood", "wdes.3.rate")),
    _S("hl-sex3", "06_hia6_bullying_disciplinary", "Entering the formal disciplinary process by sex",
       ("sex.3.relative_likelihood", "sex.3.rate")),
    _S("hl-hia6-model", "06_hia6_bullying_disciplinary",
       "Disparity after adjusting for staff group and pay band",
       ("hia6.adjusted_rate_ratio", "hia6.disparity", "hia6.crude_rate_ratio",
        "hia6.rate_ratio_staff_group", "hia6.*.adjusted_rate_ratio", "hia6.*.disparity",
        "hia6.*.crude_rate_ratio", "hia6.*.rate_ratio_staff_group"),
       intro="The unadjusted figures above are the published WRES and WDES measures. Here each "
             "is shown three ways, side by side: with no adjustment, comparing staff in the "
             "same staff group, and comparing staff in the same staff group and pay band, so "
             "you can see how much of the difference comes from where staff work. Two cautions. "
             "Pay band may itself be part of the problem: if staff are held back from "
             "promotion, adjusting for band hides some of a real disparity. And no comparison "
             "of rates can show whether anyone was treated unfairly: it shows where to look, "
             "not why."),
    _S("hl-hia6-cells", "06_hia6_bullying_disciplinary",
       "Does the disparity differ between staff groups?",
       ("hia6.staff_group_difference", "hia6.*.staff_group_difference",
        "hia6.staff_group_rate_ratio", "hia6.*.staff_group_rate_ratio"),
       intro="Figures for single staff groups rest on few people and vary by chance, so they "
             "are not compared by eye: a formal test says first whether the disparity differs "
             "between staff groups at all. The chart by staff group is shown only where it "
             "does."),
    _S("hl-hia6-funnel", "06_hia6_bullying_disciplinary",
       "Compared with the other trusts in this run: funnel plot", ()),
    _S("hl-er-outcomes", "06_hia6_bullying_disciplinary", "Outcomes and time to close",
       ("er.*",)),
    _S("hl-harassment", "06_hia6_bullying_disciplinary", "Harassment, bullying and abuse (survey)",
       ("wres.5", "wres.6", "wdes.4*", "hia6.harassment_manager_team")),
    _S("hl-discrimination", "06_hia6_bullying_disciplinary", "Discrimination at work (survey)",
       ("wres.8", "hia6.discrimination_colleague")),
    # People Plan
    _S("hl-leavers", "07_people_plan", "Leavers", ("pp.leaver_rate",)),
    _S("hl-pp-hwb", "07_people_plan", "Health and wellbeing support", ("pp.hwb.*",)),
    _S("hl-valued", "07_people_plan", "Feeling valued (WDES 7)", ("wdes.7",)),
    _S("hl-engagement", "07_people_plan", "Staff engagement (WDES 9a)", ("wdes.9a",)),
)

#: label → section; the publisher and tests read this.
HEADLINES: dict[str, Section] = {s.label: s for s in SECTIONS}

#: Metrics the contract defines only by breakdown: the breakdown that is their headline
#: (WRES 9 / WDES 10 are defined on the board's voting membership).
HEADLINE_BREAKDOWN = {"wres.9.board_gap": "board=voting", "wdes.10.board_gap": "board=voting"}

#: The section whose first headline sentence represents each area in the overview.
OVERVIEW_HEADLINES = {
    "hia1": "hl-wres9", "hia2": "hl-wres2", "hia3": "hl-pay-gender", "hia4": "hl-sickness",
    "hia5": "hl-hia5-training", "hia6": "hl-wres3", "people_plan": "hl-leavers",
}


def other_label(notebook: str) -> str:
    """Label of a notebook's "other measures" table (every registered metric of its area not
    shown in a section)."""
    return f"tbl-{notebook.split('_', 1)[1].split('_')[0]}-other"


def sections_for(notebook: str) -> list[Section]:
    return [s for s in SECTIONS if s.notebook == notebook]


def labels_for(notebook: str) -> list[str]:
    """Every stable label a notebook carries, in order."""
    out = [s.label for s in sections_for(notebook)]
    if notebook == "00_overview":
        out += [f"hl-overview-{a}" for a in OVERVIEW_HEADLINES]
    elif NOTEBOOKS.get(notebook, (None, None))[1]:
        out.append(other_label(notebook))
    return out


def resolve(patterns: Sequence[str], registry=None) -> list[str]:
    """Registered metric ids matching the patterns (glob), in pattern then registry order."""
    if registry is None:
        from edi_analysis.metrics import REGISTRY as registry
    out: list[str] = []
    for p in patterns:
        for mid in registry:
            if fnmatch.fnmatchcase(mid, p) and mid not in out:
                out.append(mid)
    return out


def shown_ids(registry=None) -> set[str]:
    return {m for s in SECTIONS for m in resolve(s.metrics, registry)}


def other_ids(area: str, registry=None) -> list[str]:
    if registry is None:
        from edi_analysis.metrics import REGISTRY as registry
    shown = shown_ids(registry)
    return [m for m, sp in registry.items() if sp.area == area and m not in shown]


# --- data ------------------------------------------------------------------------------------

def resolve_data(data: str | Path) -> Path:
    """The data folder: as given, else relative to the project (so defaults work under nbval)."""
    p = Path(data)
    if p.exists() or p.is_absolute():
        return p
    for base in (PROJECT_ROOT / "notebooks", PROJECT_ROOT):
        if (base / p).exists():
            return (base / p).resolve()
    return p


class SliceError(ValueError):
    """A prepared slice file that cannot be read (truncated, corrupt or missing)."""


def _read_slice_table(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow's messages do not always name the file
        raise SliceError(f"cannot read the prepared slice {path}: {type(exc).__name__}: {exc}. "
                         "Run the notebooks again with `edi-analysis run`, which prepares it "
                         "afresh.") from None


#: In a prepared slice: this trust's published rows per report period (see :func:`write_rows`).
ROWS_DIR = "metrics"


def trend_ids(notebook: str) -> list[str]:
    """The metrics a notebook needs for earlier periods: the first metric of each of its
    sections (its trend charts); for the overview, every metric of the dashboard (its
    previous-period column)."""
    if notebook == "00_overview":
        return [m for m in resolve(HEADLINES["hl-board"].metrics) if m != "actions.status"]
    return [ids[0] for s in sections_for(notebook) if (ids := resolve(s.metrics))]


def all_trend_ids() -> list[str]:
    return list(dict.fromkeys(m for nb in NOTEBOOKS for m in trend_ids(nb)))


def write_rows(path: Path, rows: pd.DataFrame) -> None:
    """Published rows as Parquet. ``value`` holds numbers and, for flags, text labels; Parquet
    needs one type per column, so labels go to ``value_label`` and come back in :func:`read_rows`."""
    from edi_analysis.metrics.rows import PUBLISHED

    out = rows[PUBLISHED].copy()
    value = out["value"].astype("object")
    is_label = value.map(lambda v: isinstance(v, str)).astype(bool)
    out["value_label"] = value.where(is_label, "").astype("str")
    out["value"] = pd.to_numeric(value.where(~is_label), errors="coerce").astype("float64")
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)


def read_rows(path: Path) -> pd.DataFrame:
    """Rows written by :func:`write_rows`, exactly as ``metrics.compute`` returned them."""
    from edi_analysis.metrics.rows import PUBLISHED

    out = _read_slice_table(path)
    value = out["value"].astype("object")
    is_label = out["value_label"].ne("")
    value[is_label] = out.loc[is_label, "value_label"]
    out["value"] = value
    return out[PUBLISHED]


def prepared_settings(min_count: int, min_survey_responses: int, seed: int) -> dict:
    """The parameters prepared rows depend on, as recorded in ``slice.json`` (and passed on
    to ``metrics.compute`` by the runner): rows are used only when these match the report's."""
    return {"min_count": int(min_count), "min_survey_responses": int(min_survey_responses),
            "seed": int(seed)}


def snapshot_dates(workforce: pd.DataFrame) -> list[str]:
    """The workforce snapshot dates in a table, ``YYYY-MM-DD``, oldest first."""
    return sorted({pd.Timestamp(d).strftime("%Y-%m-%d")
                   for d in workforce["snapshot_date"].unique()})


def load_prepared(data: str | Path, period: str, *, min_count: int, min_survey_responses: int,
                  seed: int) -> dict[str, pd.DataFrame] | None:
    """The runner's prepared rows of a slice for ``period`` (``{"rows", "trend"}``), or None.

    None when ``data`` is not a slice, has no rows for the period, or they were
    computed with other settings (the report then computes its rows itself).
    """
    folder = resolve_data(data)
    marker = folder / SLICE_MARKER
    if not marker.exists():
        return None
    meta = json.loads(marker.read_text(encoding="utf-8"))
    prepared = meta.get("metrics", {})
    entry = prepared.get("periods", {}).get(str(period))
    if entry is None or prepared.get("settings") != prepared_settings(
            min_count, min_survey_responses, seed):
        return None
    return {kind: read_rows(folder / entry[kind]) for kind in ("rows", "trend")}


class InputChanged(ValueError):
    """A dataset file that differs from the one the report was run on (its recorded sha256)."""


def check_inputs(folder: Path, inputs: dict, found: dict | None = None) -> None:
    """Refuse data that are not the run's: each file named in ``inputs`` (file name → sha256)
    must be in ``folder`` with that hash; ``found`` (the validated dataset's own hashes, when
    known) must name no other file. Raises :class:`InputChanged` naming the file."""
    from edi_analysis.io import sha256_file

    fix = ("restore the file the report was run on, or run the report again on the new data "
           "(`edi-analysis run`)")
    for name, want in sorted(inputs.items()):
        path = folder / name
        got = (found or {}).get(name)
        if got is None and path.is_file():
            got = sha256_file(path)
        if got is None:
            raise InputChanged(f"{path}: missing; the report was run on a file of this name "
                               f"(sha256 {want}); {fix}")
        if got != want:
            raise InputChanged(f"{path}: changed since the report was run (sha256 recorded in "
                               f"its manifest {want}, now {got}); {fix}")
    extra = sorted(set(found or {}) - set(inputs))
    if extra:
        raise InputChanged(f"{folder / extra[0]}: not among the files the report was run on "
                           f"({', '.join(sorted(inputs))}); {fix}")


def load_tables(data: str | Path, trust: str | None = None, *, inputs: dict | None = None,
                mapping: str | None = None,
                settings: dict | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """Validated tables of one trust: from a prepared slice (Parquet, fast) or a dataset folder.

    A slice folder (written by the runner) holds ``slice.json`` and one
    Parquet file per table, already validated and typed. Any other folder is
    validated here (CONTRACT.md §6, read through ``mapping`` when given),
    checked against ``inputs`` (:func:`check_inputs`) and restricted to ``trust``.
    Returns (tables, provenance).
    """
    folder = resolve_data(data)
    marker = folder / SLICE_MARKER
    if marker.exists():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        tables = {name: _read_slice_table(folder / f"{name}.parquet") for name in meta["tables"]}
        prov_file = folder / PROVENANCE_FILE
        prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.exists() else {}
        return tables, prov
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such data folder (the `data` parameter)")
    from edi_analysis.contract import validate_dataset

    if inputs:
        check_inputs(folder, dict(inputs))  # before validating: name the changed file
    rep = validate_dataset(folder, mapping=mapping, settings=dict(settings) if settings else None)
    if not rep.ok:
        raise ValueError(f"{folder}: the data are not valid; run `edi-analysis validate {folder}`")
    if inputs:
        check_inputs(folder, dict(inputs), dict(rep.dataset.sha256))
    tables = {k: v for k, v in rep.dataset.tables.items() if v is not None}
    if trust is not None:
        tables = {k: (v[v["trust_code"] == trust] if "trust_code" in v else v)
                  for k, v in tables.items()}
    from edi_analysis.provenance import git_commit, package_versions

    return tables, {"inputs": dict(sorted(rep.dataset.sha256.items())),
                    "versions": package_versions(), "git_commit": git_commit()}


def _records(rows: pd.DataFrame) -> list[dict]:
    out = []
    for rec in rows.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            clean[k] = v
        out.append(clean)
    return out


def _display(bundle: dict) -> None:
    from IPython.display import display

    display(bundle, raw=True)


def _md(text: str) -> None:
    _display({"text/markdown": text, "text/plain": text})


def _html(html_text: str, plain: str) -> None:
    _display({"text/html": html_text, "text/plain": plain})


# --- parameters ------------------------------------------------------------------------------

#: The parameters every report notebook's ``parameters`` cell defines (tests/test_notebooks.py
#: checks each template), in that cell's order. A name papermill injects that is not one of
#: these fails the run (:func:`parameters`): papermill itself only warns.
PARAMETERS = ("trust", "period", "data", "peers", "min_count", "min_survey_responses", "seed",
              "inputs", "mapping", "settings", "trust_names", "prepared")
#: Names IPython puts in a kernel's namespace (not parameters).
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_LITERALS = (str, int, float, bool, type(None), list, dict, tuple)


class ParameterError(ValueError):
    """A notebook run with a parameter it does not have, or without a trust it needs."""


def parameters(namespace: dict) -> dict:
    """The notebook's parameters from its namespace (``globals()``), for :func:`load`.

    Fails on any other literal-valued name defined there before this call: a name
    injected by papermill that the parameters cell does not define (papermill only
    warns "Passed unknown parameter", and the report would quietly use a default),
    e.g. ``-p trust_code ZZ003`` instead of ``-p trust ZZ003``.
    """
    import difflib

    unknown = sorted(k for k, v in namespace.items()
                     if not k.startswith("_") and k not in PARAMETERS and k not in _IPYTHON_NAMES
                     and isinstance(v, _LITERALS))
    if unknown:
        hints = []
        for name in unknown:
            # "trust_code" → "trust": a parameter that is the name's first word, else the closest
            close = ([p for p in PARAMETERS if p == name.split("_")[0]]
                     or difflib.get_close_matches(name, PARAMETERS, n=1))
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(
            f"unknown parameter{'s' * (len(unknown) != 1)} {', '.join(hints)}: this notebook's "
            f"parameters are {', '.join(PARAMETERS)}")
    return {k: namespace.get(k) for k in PARAMETERS}


# --- audit trail ------------------------------------------------------------------------------

def computed_by(metric_id: str) -> str:
    """Qualified name of the package function that computes a metric (its family's function)."""
    from edi_analysis.metrics import FAMILIES, REGISTRY, families_for

    families_for([metric_id])  # loads every family module
    func = FAMILIES[REGISTRY[metric_id].family].func
    return f"{func.__module__}.{func.__qualname__}"


#: The columns of a section's rows a reviewer reads (metrics.csv's, CONTRACT.md §5).
_TRAIL_COLUMNS = ("metric_id", "breakdown", "group", "numerator", "denominator", "value",
                  "ci_lower", "ci_upper", "suppressed")


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def audit_trail(ids: Sequence[str], rows: pd.DataFrame) -> tuple[str, str, str]:
    """A section's metric ids, the function that computed each, its registry definition and the
    section's rows, as (HTML, Markdown, plain text): what a reviewer checks a figure against."""
    import html

    from edi_analysis.metrics import REGISTRY

    esc = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    defs = [(m, computed_by(m), REGISTRY[m].definition, REGISTRY[m].source) for m in ids]
    cols = [c for c in _TRAIL_COLUMNS if c in rows.columns]
    recs = [[_cell(r[c]) for c in cols] for r in rows.to_dict(orient="records")]
    n = len(recs)
    head = f"Audit trail: {len(ids)} metric{'s' * (len(ids) != 1)}, {n} row{'s' * (n != 1)}"
    h = [f'<div class="edi-audit-trail"><p><strong>{esc(head)}</strong> '
         "(computed by the <code>edi_analysis</code> package; nothing is computed in this "
         "notebook)</p>",
         f'<table class="edi-table"><caption>Metrics of this section: the function that '
         'computed each and its definition</caption><thead><tr><th scope="col">Metric id</th>'
         '<th scope="col">Computed by</th><th scope="col">Definition</th>'
         '<th scope="col">Source</th></tr></thead><tbody>']
    h += [f"<tr><th scope=\"row\"><code>{esc(m)}</code></th><td><code>{esc(f)}</code></td>"
          f"<td>{esc(d)}</td><td>{esc(src)}</td></tr>" for m, f, d, src in defs]
    h.append("</tbody></table>")
    if recs:
        h.append('<table class="edi-table"><caption>The rows shown, as metrics.csv holds them'
                 '</caption><thead><tr>'
                 + "".join(f'<th scope="col">{esc(c)}</th>' for c in cols) + "</tr></thead><tbody>")
        h += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in rec) + "</tr>" for rec in recs]
        h.append("</tbody></table>")
    h.append("</div>")

    def md_row(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    md = [f"**{head}** (computed by the `edi_analysis` package)", "",
          md_row(["Metric id", "Computed by", "Definition", "Source"]), md_row(["---"] * 4)]
    md += [md_row([f"`{m}`", f"`{f}`", d, src]) for m, f, d, src in defs]
    if recs:
        md += ["", md_row(cols), md_row(["---"] * len(cols))] + [md_row(r) for r in recs]
    plain = [head] + [f"  {m}: {f}" for m, f, _, _ in defs]
    if recs:
        widths = [max(len(c), *(len(r[i]) for r in recs)) for i, c in enumerate(cols)]
        plain.append("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        plain += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in recs]
    return "".join(h), "\n".join(md), "\n".join(plain)


# --- the report ------------------------------------------------------------------------------

@dataclass
class Report:
    """One trust's report for one period: computes the rows once, shows them section by section."""

    trust: str | None
    period: str
    data: str | Path
    notebook: str
    min_count: int = 8
    min_survey_responses: int = 11
    seed: int = 20240331
    peers: str | Path | None = None
    tables: dict = field(default_factory=dict, repr=False)
    provenance: dict = field(default_factory=dict, repr=False)
    #: the runner's rows for this trust and period (``{"rows", "trend"}``, computed for every
    #: trust at once by the same ``metrics.compute``); None: computed here
    prepared: dict | None = field(default=None, repr=False)
    #: ODS code → trust name of the trusts in the run (the params file's ``trust_names``)
    trust_names: dict = field(default_factory=dict, repr=False)
    #: sentences already on this notebook's page, and terms already explained on it
    _said: set = field(default_factory=set, repr=False)
    _explained: set = field(default_factory=set, repr=False)

    @property
    def trust_name(self) -> str:
        return self.trust_names.get(self.trust, self.trust)

    @property
    def display_name(self) -> str:
        """"Name (CODE)", or the code alone when no name is given."""
        name = self.trust_name
        return name if name == self.trust else f"{name} ({self.trust})"

    @property
    def period_label(self) -> str:
        p = pd.Timestamp(self.period)
        end = p.year if (p.month, p.day) <= (3, 31) else p.year + 1
        return f"{end - 1}/{str(end)[2:]}"

    @property
    def earlier_periods(self) -> list[str]:
        """Snapshots in the trust's data before this period (for trends)."""
        wf = self.tables.get("workforce")
        if wf is None or wf.empty:
            return []
        return [p for p in snapshot_dates(wf) if p < self.period]

    def ids(self) -> list[str]:
        """Every metric id this notebook shows (sections plus the area's other measures)."""
        if self.notebook == "00_overview":
            pats = [p for s in sections_for(self.notebook) for p in s.metrics]
            pats += [p for lab in OVERVIEW_HEADLINES.values() for p in HEADLINES[lab].metrics]
            return resolve(pats)
        out = resolve([p for s in sections_for(self.notebook) for p in s.metrics])
        area = NOTEBOOKS.get(self.notebook, (None, None))[1]
        return out + [m for m in other_ids(area) if m not in out] if area else out

    def _compute(self, ctx, ids: list[str]) -> pd.DataFrame:
        from edi_analysis.metrics import compute
        from edi_analysis.metrics.rows import PUBLISHED

        if not ids:
            return pd.DataFrame(columns=PUBLISHED)
        return compute(ctx, ids, min_count=self.min_count,
                       min_survey_responses=self.min_survey_responses)

    @staticmethod
    def _select(rows: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
        # compute(ctx, ids) is compute(ctx) narrowed to ids (metrics.compute), in the same order
        return rows[rows["metric_id"].isin(ids)].reset_index(drop=True)

    @cached_property
    def _computed(self) -> pd.DataFrame:
        """This period's and the earlier snapshots' rows of this notebook's metrics, in one call.

        ``metrics.compute`` decides suppression over every snapshot of the trust's data
        whichever periods are asked for, so these are the rows of ``compute`` for the
        period alone and for the earlier periods alone.
        """
        from edi_analysis.metrics import MetricContext

        periods = [*self.earlier_periods, self.period] if trend_ids(self.notebook) else [self.period]
        ctx = MetricContext.from_tables(self.tables, periods, trusts=[self.trust], seed=self.seed)
        return self._compute(ctx, list(dict.fromkeys([*self.ids(), *trend_ids(self.notebook)])))

    @cached_property
    def rows(self) -> pd.DataFrame:
        """This trust's published rows for the period: the same call that writes metrics.csv."""
        if self.prepared is not None:
            return self._select(self.prepared["rows"], self.ids())
        computed = self._computed
        return self._select(computed[computed["period"] == self.period], self.ids())

    @cached_property
    def trend_rows(self) -> pd.DataFrame:
        """Published rows for the earlier periods in the data (headlines only are shown)."""
        earlier, ids = self.earlier_periods, trend_ids(self.notebook)
        if not earlier or not ids:
            return self.rows.iloc[0:0]
        if self.prepared is not None:
            return self._select(self.prepared["trend"], ids)
        computed = self._computed
        return self._select(computed[computed["period"].isin(earlier)], ids)

    @cached_property
    def peer_rows(self) -> pd.DataFrame:
        """Headline rows of every trust in the run for this period (written once by the runner)."""
        if not self.peers:
            return self.rows.iloc[0:0]
        p = Path(self.peers)
        if not p.exists():
            return self.rows.iloc[0:0]
        return pd.read_parquet(p)

    # -- display ---------------------------------------------------------------------------
    def heading(self) -> None:
        """The notebook's opening: title, trust, period, thresholds."""
        title = NOTEBOOKS.get(self.notebook, (self.notebook, None))[0]
        p = pd.Timestamp(self.period)
        _md(f"# {title}\n\n**Trust:** {self.display_name} · **Period:** {self.period_label} "
            f"(snapshot {p.day} {p:%B %Y})\n\nFigures based on fewer than {self.min_count} people "
            f"(or fewer than {self.min_survey_responses} survey responses) are suppressed to "
            f"protect confidentiality.")

    def _is_survey(self, mid: str) -> bool:
        from edi_analysis.metrics import FAMILIES, REGISTRY

        fam = FAMILIES.get(REGISTRY[mid].family)
        return fam is not None and "staff_survey" in fam.tables

    def _say(self, sentences: list[str]) -> None:
        """Sentences as one paragraph: none already on this page, terms explained at first use."""
        fresh = [x for x in dict.fromkeys(sentences) if x not in self._said]
        if not fresh:
            return
        self._said.update(fresh)
        _md(narrative.explain_terms(" ".join(fresh), self._explained))

    def _one_sentence(self, r) -> str:
        from edi_analysis.metrics import REGISTRY

        return narrative.sentence(r, label=REGISTRY[r["metric_id"]].label,
                                  survey=self._is_survey(r["metric_id"]),
                                  min_count=self.min_count,
                                  min_survey_responses=self.min_survey_responses)

    def sentences(self, rows: pd.DataFrame, *, derived_ratio: bool = True,
                  ids: Sequence[str] | None = None) -> list[str]:
        """Sentences for a set of rows, the inequality first.

        A metric published per group (a rate, a survey percentage, a mean score) is
        described by comparing each group with its reference group ("35.3% of BME staff …,
        against 29.4% of White staff"), with the ratio of the two and its interval
        (``board.mover_ratio``) unless ``derived_ratio`` is False (a section that shows the
        official relative likelihood beside the rates); a group with no comparison (WDES 8,
        asked of disabled staff only) and every other metric gets one sentence per headline
        row (no breakdown, known group).
        """
        out = []
        present = list(dict.fromkeys(rows["metric_id"]))
        order = present if ids is None else [m for m in ids if m in set(present)]
        for mid in order:
            mrows = rows[rows["metric_id"] == mid]
            w = narrative.wording(mid)
            if w.kind in _PER_GROUP and not mrows["reference_group"].fillna("").any():
                said = self._comparisons(mrows, derived_ratio)
                if said:
                    out += said
                    continue
            for _, r in mrows.iterrows():
                if r["breakdown"] != HEADLINE_BREAKDOWN.get(mid, "") or r["group"] == "Unknown":
                    continue
                if w.kind in _PER_GROUP and r["group"] == "All" and len(mrows) > 1:
                    continue  # the all-staff figure hides the inequality: the pairs say it
                out.append(self._one_sentence(r))
        return out

    def _comparisons(self, mrows: pd.DataFrame, derived_ratio: bool) -> list[str]:
        """Pairwise comparisons of a per-group metric, the headline breakdown first. Where the
        headline breakdown holds no pair (WDES 8 is asked of disabled staff only), its own
        groups are stated first, then the pairs within it."""
        from edi_analysis import board

        out = []
        for breakdown in _PAIR_BREAKDOWNS:
            part = mrows[mrows["breakdown"] == breakdown]
            pairs = 0
            for group, ref in _PAIRS:
                a, b = part[part["group"] == group], part[part["group"] == ref]
                if a.empty or b.empty:
                    continue
                pairs += 1
                a, b = a.iloc[0].to_dict(), b.iloc[0].to_dict()
                hidden = [r for r in (a, b) if str(r.get("suppressed")).lower() == "true"
                          or narrative.is_blank(r.get("value"))]
                if hidden:
                    out += [self._one_sentence(r) for r in hidden]
                    continue
                ratio = None
                if derived_ratio and narrative.wording(a["metric_id"]).kind != "score":
                    ratio = board.mover_ratio(a["value"], a.get("ci_lower"), a.get("ci_upper"),
                                              b["value"], b.get("ci_lower"), b.get("ci_upper"))
                out.append(narrative.comparison_sentence(a, b, ratio))
            if breakdown == "" and not pairs:
                out += [self._one_sentence(r) for _, r in part.iterrows()
                        if r["group"] not in ("All", "Unknown")]
        return out

    def _caption(self, label: str) -> str:
        return f"{label}, {self.display_name}, {self.period_label}"

    def section(self, label: str) -> pd.DataFrame:
        """Show one headline section; returns the rows shown (also emitted as JSON)."""
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY

        sec = HEADLINES[label]
        if label == "hl-hia6-funnel":
            return self._funnel(sec)
        ids = resolve(sec.metrics)
        rows = self.rows[self.rows["metric_id"].isin(ids)]
        if sec.intro:
            _md(sec.intro)
        if rows.empty:
            _md(f"No figures for *{sec.title.lower()}* in this period: the data needed "
                "are not in this trust's extract.")
            self._emit(rows, ids)
            return rows
        if label == "hl-actions":
            return self.action_plan()
        if label == "hl-board":
            return self.board_summary()
        if label == "hl-hia6-model":
            return self._model(ids, rows)
        if label == "hl-hia6-cells":
            return self._staff_groups(ids, rows)
        official = any(narrative.wording(m).kind == "likelihood" for m in ids)
        self._say(self.sentences(rows, derived_ratio=not official, ids=ids))
        for mid in ids:
            mrows = rows[rows["metric_id"] == mid]
            if mrows.empty:
                continue
            sp = REGISTRY[mid]
            if sp.unit != "flag":
                plot = mrows if len(mrows) <= 12 else mrows[mrows["breakdown"] == ""]
                ch = charts.bar_chart(plot, sp.label, sp.unit,
                                      reference=1.0 if sp.unit == "ratio" else None,
                                      non_adverse_band=narrative.wording(mid).non_adverse_range)
                if ch is not None:
                    _html(ch.html(), ch.alt)
            _html(charts.table_html(mrows, self._caption(sp.label)), f"Table: {sp.label}")
        self._trend(ids[0])
        self._peers(ids[0])
        self._emit(rows, ids)
        return rows

    # -- HIA6: the disparity model ----------------------------------------------------------

    def _sentence(self, r: pd.Series) -> str:
        from edi_analysis.metrics import REGISTRY

        return narrative.sentence(r, label=REGISTRY[r["metric_id"]].label, survey=False,
                                  min_count=self.min_count,
                                  min_survey_responses=self.min_survey_responses)

    def _model(self, ids: list[str], rows: pd.DataFrame) -> pd.DataFrame:
        """Per characteristic: the label and its sentence, then the three figures side by side
        (no adjustment, staff group, staff group and pay band) in one chart and one table."""
        from edi_analysis import charts
        from edi_analysis.metrics.disciplinary_model import (
            ADJUSTMENT_METRIC, ADJUSTMENT_TEXT, CHARACTERISTICS)

        for char in CHARACTERISTICS.values():
            order = [char.metric(ADJUSTMENT_METRIC[a]) for a in ADJUSTMENT_METRIC]
            figs = rows[rows["metric_id"].isin(order) & (rows["breakdown"] == "")]
            flag = rows[(rows["metric_id"] == char.metric("disparity")) & (rows["breakdown"] == "")]
            if figs.empty and flag.empty:
                continue
            figs = figs.set_index("metric_id").reindex(order).dropna(how="all").reset_index()
            words = [self._sentence(r) for _, r in flag.iterrows()]
            words += [self._sentence(r) for _, r in figs.iterrows()]
            _md(f"### {char.compared} compared with {char.reference} staff: formal "
                f"{char.process} process\n\n" + "\n\n".join(words))
            side = figs.assign(group=[ADJUSTMENT_TEXT[a].capitalize() for a, m in
                                      ADJUSTMENT_METRIC.items() if char.metric(m) in set(figs["metric_id"])],
                               breakdown="")
            label = (f"Rate ratio, {char.compared} vs {char.reference} (formal {char.process} "
                     "process)")
            # the denominators are expected counts, not people: kept out of the chart's labels
            ch = charts.bar_chart(side.assign(denominator=float("nan")), label, "ratio",
                                  reference=1.0, non_adverse_band=True,
                                  caption="The same comparison with no adjustment, within staff "
                                          "group, and within staff group and pay band")
            if ch is not None:
                _html(ch.html(), ch.alt)
            _html(charts.table_html(side, f"{label}: three adjustments, {self.trust}, {self.period}",
                                    columns=(("group", "Adjusted for"), ("value", "Rate ratio"),
                                             ("ci", "95% CI"), ("numerator", "Observed"),
                                             ("denominator", "Expected"), ("note", "Note"))),
                  f"Table: {label}")
        self._trend(ids[0])
        self._peers(ids[0])
        self._emit(rows)
        return rows

    def _staff_groups(self, ids: list[str], rows: pd.DataFrame) -> pd.DataFrame:
        """The interaction test first; the chart by staff group only where it finds a difference."""
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY
        from edi_analysis.metrics.disciplinary_model import CHARACTERISTICS, DIFFERS

        for char in CHARACTERISTICS.values():
            flag = rows[(rows["metric_id"] == char.metric("staff_group_difference"))
                        & (rows["breakdown"] == "")]
            groups_ = rows[rows["metric_id"] == char.metric("staff_group_rate_ratio")]
            if flag.empty and groups_.empty:
                continue
            _md("\n\n".join(self._sentence(r) for _, r in flag.iterrows()))
            if groups_.empty:
                continue
            sp = REGISTRY[char.metric("staff_group_rate_ratio")]
            differs = (not flag.empty) and str(flag["value"].iloc[0]) == DIFFERS
            if differs:
                ch = charts.bar_chart(groups_.assign(denominator=float("nan")), sp.label,
                                      "ratio", reference=1.0, non_adverse_band=True)
                if ch is not None:
                    _html(ch.html(), ch.alt)
            caption = sp.label + ("" if differs else
                                  " — for reviewers: no difference between staff groups was "
                                  "shown, so these figures do not say where a disparity sits")
            _html(charts.table_html(groups_, f"{caption}, {self.trust}, {self.period}"),
                  f"Table: {sp.label}")
        self._emit(rows)
        return rows

    #: A funnel plot needs this many trusts with a figure (a national or ICS run).
    FUNNEL_MIN_TRUSTS = 3

    def _funnel(self, sec: Section) -> pd.DataFrame:
        """The adjusted ratios of every trust in the run against their expected counts, with
        95% and 99.8% limits around the run's pooled ratio — shown only when the run has at
        least :attr:`FUNNEL_MIN_TRUSTS` trusts with a figure."""
        import numpy as np

        from edi_analysis import charts
        from edi_analysis.metrics.disciplinary_model import (
            CHARACTERISTICS, funnel_limits, funnel_points)

        peers = self.peer_rows
        shown = self.rows.iloc[0:0]
        if peers.empty:
            self._emit(shown)
            return shown
        parts = []
        headed = False

        def heading() -> None:
            nonlocal headed
            if not headed:
                headed = True
                _md(f"## {sec.title}\n\nEach dot is a trust: its ratio after adjusting for "
                    "staff group and pay band, against how many of its staff would have "
                    "entered the process at the reference group's rates. The funnel shows how "
                    "far a trust's ratio can stray from the run's pooled ratio by chance alone "
                    "(95% and 99.8% limits, exact Poisson; Spiegelhalter, 2005): a trust "
                    "outside the funnel differs from the other trusts by more than chance. "
                    "Inside the funnel is not the same as fair: the pooled ratio itself may be "
                    "above 1.")

        for char in CHARACTERISTICS.values():
            mid = char.metric("adjusted_rate_ratio")
            pts = funnel_points(peers, mid)
            if len(pts) < self.FUNNEL_MIN_TRUSTS:
                continue
            target = float(pts["target"].iloc[0])
            if not target > 0:
                # no case of the group in any trust with a figure: nothing to place on a funnel
                heading()
                _md(f"**{char.compared} compared with {char.reference} staff.** None of the "
                    f"{len(pts)} trusts in this run with a published figure had a case in this "
                    "group, so the pooled ratio is 0 and there is no funnel to draw.")
                parts.append(self.rows[(self.rows["metric_id"] == mid)
                                       & (self.rows["breakdown"] == "")])
                continue
            grid = np.geomspace(max(pts["expected"].min() / 2, 0.1), pts["expected"].max() * 2, 200)
            lim = funnel_limits(grid, target)
            label = f"Adjusted rate ratio, {char.compared} vs {char.reference}"
            ch = charts.funnel_chart(pts, lim, self.trust, label, target=target,
                                     caption=f"Trusts in this run, {self.period}")
            if ch is None:
                continue
            heading()
            mine = pts[pts["trust_code"] == self.trust]
            text = f"**{char.compared} compared with {char.reference} staff.** "
            if mine.empty:
                text += f"No published figure for {self.trust}, so it is not on the plot."
            else:
                r = mine.iloc[0]
                pos = r["position_95"]
                text += (f"{self.trust}'s ratio, {narrative.fmt_value(r['ratio'], 'ratio')}, is "
                         + ("inside the 95% limits around the pooled ratio of "
                            f"{narrative.fmt_value(target, 'ratio')}: it does not stand out from "
                            "the other trusts in this run." if pos == "within" else
                            f"{pos} the 95% limits around the pooled ratio of "
                            f"{narrative.fmt_value(target, 'ratio')}"
                            + (f" and {r['position_99.8']} the 99.8% limits" if r["position_99.8"] != "within"
                               else ", though inside the 99.8% limits")
                            + ": it stands out from the other trusts by more than chance."))
                if not r["ratio"] > 0:
                    text += (f" {self.trust} had no case, and a ratio of 0 cannot be drawn on the "
                             "plot's log scale, so it is not on the plot.")
            _md(text)
            _html(ch.html(), ch.alt)
            # this trust's own row (the other trusts' figures are on the chart, from the run's
            # published peers file)
            parts.append(self.rows[(self.rows["metric_id"] == mid) & (self.rows["breakdown"] == "")])
        rows = pd.concat(parts, ignore_index=True) if parts else shown
        self._emit(rows)
        return rows

    def _emit(self, rows: pd.DataFrame, ids: Sequence[str] | None = None) -> None:
        """The section's rows: JSON for the publisher and the tests (:data:`ROWS_MIME`), and for
        a reviewer, in Jupyter and nbconvert, a table of the metric ids with the package
        function that computed each and its registry definition, then the rows themselves
        (:func:`audit_trail`). The site's pages drop this output (``publish.content.DATA_MIMES``)."""
        ids = list(dict.fromkeys(ids if ids is not None else rows["metric_id"]))
        html_text, md_text, plain = audit_trail(ids, rows)
        _display({ROWS_MIME: _records(rows), "text/html": html_text, "text/markdown": md_text,
                  "text/plain": plain})

    def _basis(self, mid: str, period: str) -> str:
        from edi_analysis.metrics.disciplinary import counting_basis

        wf = self.tables.get("workforce")
        snaps = snapshot_dates(wf) if wf is not None and not wf.empty else [self.period]
        return counting_basis(mid, period, snaps)

    def _trend(self, mid: str) -> None:
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY

        if not self.earlier_periods:
            return
        sp = REGISTRY[mid]
        both = pd.concat([self.trend_rows, self.rows], ignore_index=True)
        both = both[(both["metric_id"] == mid) & (both["breakdown"] == "")
                    & (both["group"] != "Unknown")]
        if both["period"].nunique() < 2:
            return
        both = both.sort_values(["group", "period"])
        both = both.assign(basis=[self._basis(mid, p) for p in both["period"]])
        ch = charts.trend_chart(both, sp.label, sp.unit)
        if ch is not None:
            _html(ch.html(), ch.alt)
        table = both.assign(group=both["group"] + ", " + both["period"] + [
            f" ({b} basis)" if b else "" for b in both["basis"]])
        _html(charts.table_html(table, f"Trend: {sp.label}, {self.display_name}"),
              f"Trend table: {sp.label}")

    def _national(self, mid: str, group: str) -> float | None:
        from edi_analysis.board import NATIONAL_PREFIX

        ext = self.tables.get("external_indicators")
        if ext is None or ext.empty:
            return None
        when = pd.to_datetime(ext["period"]).dt.strftime("%Y-%m-%d")
        sel = ext[(ext["indicator_id"] == NATIONAL_PREFIX + mid) & (when == self.period)]
        sel = sel[sel["group"].isin([group, "All", ""])] if group else sel
        vals = pd.to_numeric(sel["value"], errors="coerce").dropna()
        return float(vals.iloc[0]) if len(vals) else None

    def _peers(self, mid: str) -> None:
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY

        sp = REGISTRY[mid]
        peers = self.peer_rows
        mine = self.rows[(self.rows["metric_id"] == mid) & (self.rows["breakdown"] == "")]
        sel = peers[(peers["metric_id"] == mid) & (peers["breakdown"] == "")] \
            if not peers.empty else mine
        groups = [g for g in sel["group"].unique() if g != "Unknown"]
        if len(groups) != 1:
            return  # positions are shown for single-figure headlines (ratios, gaps)
        national = self._national(mid, groups[0])
        if sel["trust_code"].nunique() < 2 and national is None:
            return
        ch = charts.peers_chart(sel[sel["group"] == groups[0]], self.trust, sp.label, sp.unit,
                                caption=f"Trusts in this run, {self.period_label}"
                                + (" (dashed line: England)" if national is not None else ""),
                                national=national, names=self.trust_names)
        if ch is not None:
            _html(ch.html(), ch.alt)

    # -- the board paper: dashboard, asks, action plan ----------------------------------------
    @cached_property
    def board(self):
        """The dashboard, asks and action plan of this trust and period (``board.summarise``)."""
        from edi_analysis import board

        wf = self.tables.get("workforce")
        snaps = snapshot_dates(wf) if wf is not None and not wf.empty else [self.period]
        peers = self.peer_rows if not self.peer_rows.empty else self.rows
        return board.summarise(self.rows, trust=self.trust, period=self.period,
                               previous_rows=self.trend_rows, peers=peers,
                               external=self.tables.get("external_indicators"),
                               actions=self.tables.get("actions"), snapshots=snaps,
                               min_count=self.min_count,
                               min_survey_responses=self.min_survey_responses)

    def board_summary(self) -> pd.DataFrame:
        """The dashboard (every WRES and WDES indicator, the pay gaps, the plan's success
        measures, rated) and the asks, as a table and list; the same as data for the
        publisher (:data:`BOARD_MIME`)."""
        from edi_analysis import board

        s = self.board
        data = s.as_json()
        data.update(trust_name=self.trust_name, period_label=self.period_label)
        counts = s.counts
        _md(f"**Ratings:** {counts['red']} red, {counts['amber']} amber, {counts['green']} green; "
            f"{counts['none']} not rated. " + " ".join(board.RULE))
        _html(_dashboard_html(s, self.display_name, self.period_label), "Table: dashboard")
        # the same as data for the publisher (never shown on a page)
        _display({BOARD_MIME: data, "text/plain": ""})
        if s.asks:
            items = "\n".join(f"{i}. {a.text} *Due: {a.due}.*" for i, a in enumerate(s.asks, 1))
            _md(f"**The Board is asked to:**\n\n{items}")
        else:
            _md("No indicator is rated red and no plan action is overdue: the Board is asked to "
                "note the report.")
        rows = self.rows[self.rows["metric_id"].isin(resolve(HEADLINES["hl-board"].metrics))]
        self._emit(rows)
        return rows

    def action_plan(self) -> pd.DataFrame:
        """The trust's action plan: action, owner, due date, status, evidence, RAG and checks."""
        rows = self.rows[self.rows["metric_id"] == "actions.status"]
        plan = self.board.plan
        national = sum(1 for a in _catalogue() if a.owner_level == "national")
        summary = narrative.rag_summary([p.rag for p in plan]).replace(
            "plan actions,", "plan actions the trust owns,", 1).replace(
            "plan action,", "plan action the trust owns,", 1)
        _md(summary + " An action past its due date and not complete is red; a check is shown "
            "where the figures contradict the record." + (
                f" The plans' other {national} actions are NHS England's own and are not listed."
                if national else ""))
        _html(_plan_html(plan, f"Action plan, {self.display_name}, {self.period_label}"),
              "Table: action plan")
        self._emit(rows)
        return rows

    def overview(self, area: str) -> pd.DataFrame:
        """The overview's headline for one action area: the sentence of its most adverse
        dashboard line (red before amber; the inequality, not the all-staff figure)."""
        from edi_analysis import board

        title = NOTEBOOKS[next(n for n in NOTEBOOKS if NOTEBOOKS[n][1] == area)][0]
        line = board.area_summary(self.board.rows).get(area)
        if line is None:
            _md(f"**{title}.** No headline figure for this period.")
            rows = self.rows.iloc[0:0]
        else:
            text = narrative.explain_terms(line.sentence, self._explained)
            _md(f"**{title}.** {text} *Rated {line.rating_label.lower()}.*")
            rows = self.rows[self.rows["metric_id"] == line.metric]
        self._emit(rows)
        return rows

    def other_measures(self) -> pd.DataFrame:
        """Every other registered metric of this notebook's area, as one table."""
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY

        area = NOTEBOOKS.get(self.notebook, (None, None))[1]
        ids = other_ids(area) if area else []
        rows = self.rows[self.rows["metric_id"].isin(ids)]
        if rows.empty:
            _md("Every measure of this action area is shown above.")
        for mid in ids:
            mrows = rows[rows["metric_id"] == mid]
            if not mrows.empty:
                _html(charts.table_html(mrows, self._caption(REGISTRY[mid].label)),
                      f"Table: {REGISTRY[mid].label}")
        self._emit(rows, ids)
        return rows

    def methodology(self) -> None:
        """For reviewers: definitions and sources from the registry, thresholds, input hashes."""
        from edi_analysis import charts
        from edi_analysis.metrics import REGISTRY

        ids = self.ids()
        defs = pd.DataFrame([{"Metric": REGISTRY[m].label, "Definition": REGISTRY[m].definition,
                              "Source": REGISTRY[m].source} for m in ids])
        _md("## Methodology\n\nEvery figure above is computed by the `edi_analysis` package "
            "(`edi_analysis.metrics.compute`), the same function that writes `metrics.csv`; "
            "nothing is computed in this notebook. Relative likelihoods use the log (Katz) "
            "95% interval, proportions the Wilson interval, mean pay gaps the delta method on the "
            "log ratio of the two means (Friedrich et al., 2008), median pay gaps a percentile "
            f"bootstrap with seed {self.seed}; a comparison of two groups' percentages is their "
            "ratio with the MOVER interval from the two published intervals (Donner and Zou, "
            "2012). Board figures are a census of the board and carry no interval.\n\n"
            f"**Suppression.** A count of 1 to {self.min_count - 1}, or a figure built from one, "
            f"is suppressed; survey results with fewer than {self.min_survey_responses} answers "
            "are suppressed; where a breakdown shows its total and one cell is suppressed, the "
            "next smallest is too (CONTRACT.md §4.8).")
        if not defs.empty:
            _html(charts.simple_table_html(defs, "Definitions and sources"),
                  "Table: definitions and sources")
        inputs = self.provenance.get("inputs", {})
        if inputs:
            hashes = pd.DataFrame({"Input file": list(inputs), "SHA-256": list(inputs.values())})
            _html(charts.simple_table_html(hashes, "Input files and their SHA-256 hashes"),
                  "Table: input file hashes")
        meta = {k: self.provenance[k] for k in ("git_commit", "versions") if k in self.provenance}
        if meta:
            commit = meta.get("git_commit") or "not a git checkout"
            vers = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
            _md(f"**Provenance.** Project commit: `{commit}`. Package versions: {vers}.")


def _catalogue():
    from edi_analysis.catalogue import load_actions

    return load_actions()


#: Wording kinds published per group (compared group by group, not against a reference).
_PER_GROUP = ("rate", "absence", "score")
#: Breakdowns whose groups are compared pairwise, and the pairs (compared, reference).
_PAIR_BREAKDOWNS = ("", "characteristic=ethnicity", "characteristic=disability",
                    "characteristic=international_recruit", "characteristic=sex")
_PAIRS = (("BME", "White"), ("Disabled", "Non-disabled"), ("International", "Domestic"),
          ("Female", "Male"))


def _esc(text) -> str:
    import html

    return html.escape(str(text), quote=True)


def _rating_cell(key: str, label: str, shape: str, reason: str = "") -> str:
    title = f' title="{_esc(reason)}"' if reason else ""
    return (f'<td class="rating rating-{_esc(key)}"{title}><span aria-hidden="true">'
            f'{_esc(shape)}</span> {_esc(label)}</td>')


def _dashboard_html(summary, trust: str, period_label: str) -> str:
    """The dashboard as an accessible HTML table (the notebook's own view of it)."""
    from edi_analysis import board

    head = ("<tr><th scope=\"col\">Indicator</th><th scope=\"col\">This period (95% CI)</th>"
            "<th scope=\"col\">Groups</th><th scope=\"col\">Previous period</th>"
            "<th scope=\"col\">Change</th><th scope=\"col\">Among trusts</th>"
            "<th scope=\"col\">England</th><th scope=\"col\">Rating</th></tr>")
    bodies = []
    for key, title in board.SECTIONS:
        rows = [r for r in summary.rows if r.section == key]
        if not rows:
            continue
        trs = [f'<tr><th scope="colgroup" colspan="8">{_esc(title)}</th></tr>']
        for r in rows:
            fig = r.figure + (f" ({r.interval})" if r.interval else "")
            change = r.travel_label + (f" ({r.travel_note})" if r.travel_note else "")
            trs.append(
                f'<tr><th scope="row">{_esc(r.code)}: {_esc(r.label)}</th><td>{_esc(fig)}</td>'
                f"<td>{_esc(r.groups or '—')}</td><td>{_esc(r.previous)}</td>"
                f"<td>{_esc(change)}</td><td>{_esc(r.peers)}</td><td>{_esc(r.england)}</td>"
                + _rating_cell(r.rating, r.rating_label, r.rating_shape, r.reason) + "</tr>")
        bodies.append("<tbody>" + "".join(trs) + "</tbody>")
    caption = f"Dashboard, {trust}, {period_label}"
    table = (f'<table class="edi-table dashboard"><caption>{_esc(caption)}</caption><thead>'
             f"{head}</thead>{''.join(bodies)}</table>")
    return (f'<div class="table-scroll" role="region" tabindex="0" aria-label="{_esc(caption)}">'
            f"{table}</div>")


def _plan_html(plan, caption: str) -> str:
    head = ("<tr><th scope=\"col\">Action</th><th scope=\"col\">Owner</th>"
            "<th scope=\"col\">Due</th><th scope=\"col\">Status</th>"
            "<th scope=\"col\">Evidence</th><th scope=\"col\">Rating</th>"
            "<th scope=\"col\">Checks</th></tr>")
    trs = []
    for p in plan:
        checks = "; ".join(p.flags) or "—"
        trs.append(f'<tr><th scope="row">{_esc(p.title)}</th><td>{_esc(p.owner)}</td>'
                   f"<td>{_esc(p.due)}</td><td>{_esc(p.status)}</td><td>{_esc(p.evidence)}</td>"
                   + _rating_cell(p.rag, p.rag_label, p.rag_shape)
                   + f"<td>{_esc(checks)}</td></tr>")
    table = (f'<table class="edi-table plan"><caption>{_esc(caption)}</caption><thead>{head}'
             f"</thead><tbody>{''.join(trs)}</tbody></table>")
    return (f'<div class="table-scroll" role="region" tabindex="0" aria-label="{_esc(caption)}">'
            f"{table}</div>")


def load(notebook: str, trust: str | None, period: str, data: str | Path, *,
         min_count: int = 8, min_survey_responses: int = 11, seed: int = 20240331,
         peers: str | Path | None = None, inputs: dict | None = None, mapping: str | None = None,
         settings: dict | None = None, trust_names: dict | None = None,
         prepared: str | Path | None = None) -> Report:
    """Load the trust's tables and make its report.

    ``data``: the dataset folder (or a prepared slice). ``inputs`` (file name → sha256,
    as the run's manifest records them): the report refuses data whose files differ
    (:class:`InputChanged`). ``mapping``/``settings``: the params file's mapping profile
    and its values, to read a trust's own exports. ``prepared``: the runner's temporary
    slice of this trust (validated tables and the rows the runner computed for every
    trust at once: the same rows, ``tests/test_prepared_rows.py``); used when it exists
    and was made from ``inputs``, else the report reads ``data`` itself: an executed
    notebook re-runs from the dataset after the slice is gone. ``trust``: required when
    the data hold several trusts (:class:`ParameterError` lists them).
    """
    source = data
    if prepared is not None and (resolve_data(prepared) / SLICE_MARKER).exists():
        prov_file = resolve_data(prepared) / PROVENANCE_FILE
        prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.exists() else {}
        if inputs is None or dict(prov.get("inputs") or {}) == dict(inputs):
            source = prepared
    tables, prov = load_tables(source, trust, inputs=inputs, mapping=mapping, settings=settings)
    if trust is None:
        wf = tables["workforce"]
        found = sorted(wf["trust_code"].unique())
        if len(found) != 1:
            listed = ", ".join(found) if found else "none"
            raise ParameterError(
                f"{resolve_data(source)} holds {len(found)} trusts ({listed}) and the notebook "
                "was given no trust: set the `trust` parameter, e.g. "
                f"`papermill NOTEBOOK OUT.ipynb -p trust {found[0] if found else 'ODS_CODE'}`")
        trust = found[0]
    known = sorted(tables["workforce"]["trust_code"].unique())
    if trust not in known:
        raise ParameterError(f"trust {trust!r} is not in {resolve_data(source)} (it holds "
                             f"{', '.join(known) or 'no trust'})")
    tables = {k: (v[v["trust_code"] == trust] if "trust_code" in v else v)
              for k, v in tables.items()}
    rows = load_prepared(source, str(period), min_count=min_count,
                         min_survey_responses=min_survey_responses, seed=seed)
    if rows is not None:  # a slice holds one trust: its rows are that trust's
        trusts = set(rows["rows"]["trust_code"]) | set(rows["trend"]["trust_code"])
        if trusts - {trust}:
            raise SliceError(f"{resolve_data(source)}: prepared rows of {sorted(trusts)} in the "
                             f"slice of {trust}")
    names = {**slice_trust_names(source), **{str(k): str(v) for k, v in (trust_names or {}).items()}}
    return Report(trust=trust, period=str(period), data=data, notebook=notebook,
                  min_count=int(min_count), min_survey_responses=int(min_survey_responses),
                  seed=int(seed), peers=peers or None, tables=tables, provenance=prov,
                  prepared=rows, trust_names=names)


def slice_trust_names(data: str | Path) -> dict[str, str]:
    """ODS code → trust name, as the runner recorded them in a slice (``{}`` for a dataset)."""
    marker = resolve_data(data) / SLICE_MARKER
    if not marker.exists():
        return {}
    names = json.loads(marker.read_text(encoding="utf-8")).get("trust_names") or {}
    return {str(k): str(v) for k, v in names.items()}


def preload() -> None:
    """Import what the sections need, so a notebook's timing separates imports from work."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import seaborn  # noqa: F401

    from edi_analysis import charts, metrics  # noqa: F401
