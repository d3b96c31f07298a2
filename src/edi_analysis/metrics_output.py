"""The published rows of a validated dataset and their ``metrics.csv`` bytes (CONTRACT.md §5)."""

from __future__ import annotations

import io as _stdio

import pandas as pd


#: The numeric columns of metrics.csv (``value`` also holds labels for unit ``flag``).
METRIC_NUMBER_COLUMNS = ("numerator", "denominator", "value", "ci_lower", "ci_upper")


def metrics_csv_bytes(rows: pd.DataFrame) -> bytes:
    """metrics.csv as bytes: CONTRACT.md §5 columns, unrounded numbers, deterministic.

    Raises :class:`edi_analysis.io.NonFiniteValueError` rather than write ``inf``
    (or ``nan`` as text) into the file.
    """
    from edi_analysis.io import check_finite

    check_finite(rows, METRIC_NUMBER_COLUMNS, "metrics.csv",
                 label=("trust_code", "period", "metric_id", "breakdown", "group"))
    out = rows.copy()
    out["suppressed"] = out["suppressed"].map({True: "true", False: "false"})
    buf = _stdio.StringIO()
    # repr-precision floats (shortest round-trip) so values are unrounded and stable
    out.to_csv(buf, index=False, lineterminator="\n", float_format=None)
    return buf.getvalue().encode("utf-8")


def compute_metrics(dataset, periods, trusts=None, *, min_count=8, min_survey_responses=11,
                    seed=20240331, metric_ids=None) -> pd.DataFrame:
    """Published metric rows for a validated dataset: the numbers of metrics.csv."""
    from edi_analysis.metrics import MetricContext, compute

    ctx = MetricContext.from_tables(dataset.tables, periods, trusts=trusts, seed=seed)
    return compute(ctx, metric_ids, min_count=min_count, min_survey_responses=min_survey_responses)


