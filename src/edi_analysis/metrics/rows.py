"""The one shape every metric function returns (CONTRACT.md §5).

Published columns (metrics.csv order) plus internal columns that suppression
reads and the writer drops:

- ``basis``: how the row is protected (see ``stats.BASES``).
- ``min_cell``: smallest positive count the figure is built from (NaN: none).
- ``n_values``: values behind a mean/median, or answers behind a survey result.
- ``total_shown``: the row is a cell of a partition whose total is shown
  (e.g. shares of one headcount) → secondary suppression applies.
- ``partition``: which partitions the row is a cell of, as names joined by
  ``|`` (a cell may add up to two shown totals, e.g. an outcome share within
  its group and within its outcome). Blank with ``total_shown``: the default,
  the rows of its own (metric, breakdown), named ``<metric_id>:<breakdown>``
  (``stats.default_partition``). Names are shared within a trust and period,
  so a family may name a partition spanning breakdowns (``pp.leaver_rate``
  by age band) or link two metrics that publish the same count. A non-blank
  ``partition`` implies ``total_shown``.
- ``derived_from``: partition names (``|``-joined) whose cells the figure is
  computed from; the row is suppressed whenever any of those cells is
  (a ratio would otherwise let a reader undo their suppression).
- ``label``: the text value of a ``flag`` metric (RAG status, inconsistency).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PUBLISHED = [
    "trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
    "numerator", "denominator", "value", "ci_lower", "ci_upper", "unit", "suppressed", "note",
]
INTERNAL = ["basis", "min_cell", "n_values", "total_shown", "partition", "derived_from", "label"]
KEYS = ["trust_code", "period", "metric_id", "breakdown", "group"]
NUMERIC = ["numerator", "denominator", "value", "ci_lower", "ci_upper", "min_cell", "n_values"]
TEXT = ["trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
        "unit", "note", "basis", "partition", "derived_from", "label"]


def make_rows(
    *,
    trust_code,
    period,
    metric_id: str,
    value,
    group="All",
    breakdown="",
    reference_group="",
    numerator=np.nan,
    denominator=np.nan,
    ci_lower=np.nan,
    ci_upper=np.nan,
    unit: str | None = None,
    note="",
    basis: str = "rate",
    min_cell=np.nan,
    n_values=np.nan,
    total_shown=False,
    partition="",
    derived_from="",
    label="",
) -> pd.DataFrame:
    """Build metric rows from scalars or aligned arrays/Series (broadcast like a DataFrame).

    ``unit`` defaults to the registry's unit for ``metric_id``; ``area`` is
    always filled from the registry by the engine.
    """
    if unit is None:
        from edi_analysis.metrics.registry import spec

        unit = spec(metric_id).unit
    cols = dict(
        trust_code=trust_code, period=period, area="", metric_id=metric_id,
        breakdown=breakdown, group=group, reference_group=reference_group,
        numerator=numerator, denominator=denominator, value=value,
        ci_lower=ci_lower, ci_upper=ci_upper, unit=unit, suppressed=False, note=note,
        basis=basis, min_cell=min_cell, n_values=n_values, total_shown=total_shown,
        partition=partition, derived_from=derived_from, label=label,
    )
    cols = {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in cols.items()}
    lengths = {len(v) for v in cols.values() if isinstance(v, (np.ndarray, list))}
    if not lengths:
        cols = {k: [v] for k, v in cols.items()}
    return normalise(pd.DataFrame(cols))


def empty_rows() -> pd.DataFrame:
    return normalise(pd.DataFrame({c: [] for c in PUBLISHED + INTERNAL}))


def normalise(rows: pd.DataFrame) -> pd.DataFrame:
    """Coerce dtypes so rows from every family concatenate cleanly."""
    rows = rows.reindex(columns=PUBLISHED + INTERNAL)
    for c in NUMERIC:
        rows[c] = pd.to_numeric(rows[c], errors="coerce").astype("float64")
    for c in TEXT:
        rows[c] = rows[c].astype("str").where(rows[c].notna(), "").astype("str")
        rows[c] = rows[c].replace({"nan": "", "None": "", "<NA>": ""})
    rows["suppressed"] = rows["suppressed"].fillna(False).astype(bool)
    rows["total_shown"] = rows["total_shown"].fillna(False).astype(bool) | rows["partition"].ne("")
    return rows


def min_positive(*counts) -> np.ndarray:
    """Smallest positive count among aligned count arrays (NaN where none is positive)."""
    arr = np.vstack([np.asarray(c, dtype="float64") for c in counts])
    arr = np.where(arr > 0, arr, np.inf)
    m = arr.min(axis=0)
    return np.where(np.isfinite(m), m, np.nan)
