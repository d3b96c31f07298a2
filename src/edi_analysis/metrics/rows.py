"""The one shape every metric function returns (CONTRACT.md §5).

Published columns (metrics.csv order) plus internal columns that suppression
reads and the writer drops:

- ``basis``: how the row is protected (see ``stats.BASES``): its own rule
  (a mean or median of too few values, a survey result of too few answers);
  the counts it is built from are declared as cells, keyed by metric id, in
  ``edi_analysis.disclosure.declarations`` and decided together there.
- ``n_values``: values behind a mean/median, or answers behind a survey result.
- ``label``: the text value of a ``flag`` metric (RAG status, inconsistency).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PUBLISHED = [
    "trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
    "numerator", "denominator", "value", "ci_lower", "ci_upper", "unit", "suppressed", "note",
]
INTERNAL = ["basis", "n_values", "label"]
KEYS = ["trust_code", "period", "metric_id", "breakdown", "group"]
NUMERIC = ["numerator", "denominator", "value", "ci_lower", "ci_upper", "n_values"]
TEXT = ["trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
        "unit", "note", "basis", "label"]


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
    n_values=np.nan,
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
        basis=basis, n_values=n_values, label=label,
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
    return rows
