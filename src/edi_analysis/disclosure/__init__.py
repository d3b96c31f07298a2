"""Statistical disclosure control by population cell (CONTRACT.md §4.8).

Every count a metric row publishes or is built from is a *cell*: a set of
records of one trust (workforce rows, applications, cases, survey
respondents, quartile pay bands) defined by conditions on their columns
(``declarations``). Cells that hold the same records are one count and get
one decision wherever they appear, in every family and period. The decision
is made per trust over every snapshot in the data (``scope``), so a 2023
headcount published in 2023's WRES 1 and inside 2024's two-year WRES 3
denominator is hidden or shown in both. Secondary suppression hides more
published cells until no protected count of 1 to threshold − 1 can be worked
out by adding and subtracting published ones (``decision``, ``structure``,
``linear``).

    rows = disclosure.suppress(raw_rows, ctx, min_count=8, min_survey_responses=11)

The metrics engine calls this (``metrics.compute``); the audit reuses the
same cells and algebra on published files (``disclosure.audit``). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from edi_analysis.disclosure.cells import TrustInfo, trust_infos
from edi_analysis.disclosure.decision import SECONDARY, Decision, decide
from edi_analysis.disclosure.declarations import DECLARATIONS, NO_CELLS, declaration
from edi_analysis.narrative import SECONDARY_NOTE  # the same wording in notes and sentences

__all__ = ["suppress", "decide", "scope", "infos_for", "note_for", "Decision", "TrustInfo",
           "DECLARATIONS", "NO_CELLS", "declaration", "has_cells", "SECONDARY_NOTE"]

BLANKED = ("numerator", "denominator", "value", "ci_lower", "ci_upper")


def has_cells(metric_id: str) -> bool:
    """Whether a metric's rows carry cells (and so take part in the linked decision)."""
    return metric_id in DECLARATIONS


def snapshots(ctx) -> dict[str, list[pd.Timestamp]]:
    """Each trust's workforce snapshot dates (every trust of the context, possibly none)."""
    wf = ctx.table("workforce")
    out: dict[str, list[pd.Timestamp]] = {t: [] for t in ctx.trust_codes}
    if wf is not None and not wf.empty:
        for t, dates in wf.groupby("trust_code")["snapshot_date"]:
            out[t] = sorted(pd.Timestamp(d) for d in dates.unique())
    return out


def infos_for(ctx, periods: Iterable | None = None, trusts: Iterable[str] = ()) -> dict[str, TrustInfo]:
    """Per trust: its snapshots and the periods decided together (its snapshots ∪ ``periods``)."""
    snaps = snapshots(ctx)
    for t in trusts:
        snaps.setdefault(t, [])
    return trust_infos(snaps, ctx.periods if periods is None else periods)


def scope(ctx):
    """The context over which a decision is made: every snapshot of the data and ``ctx``'s periods."""
    snaps = snapshots(ctx)
    periods = sorted({p for ps in snaps.values() for p in ps} | set(ctx.periods))
    return replace(ctx, periods=tuple(periods))


def note_for(reason: str, basis: str, min_count: int, min_survey_responses: int) -> str:
    """A suppressed row's note: only that it is suppressed, and whether for its own small count."""
    if reason == SECONDARY:
        return SECONDARY_NOTE
    if basis == "survey":
        return f"suppressed: based on fewer than {min_survey_responses} answers"
    return f"suppressed: based on fewer than {min_count} people"


def apply(rows: pd.DataFrame, decision: Decision, min_count: int,
          min_survey_responses: int) -> pd.DataFrame:
    """Rows with ``suppressed`` set, figures and labels blanked, and the suppression note."""
    out = rows.copy()
    mask = decision.suppressed
    out["suppressed"] = mask
    for col in BLANKED:
        out[col] = out[col].astype("float64").mask(mask)
    if "label" in out:
        out["label"] = out["label"].mask(mask, "")
    notes = [note_for(r, b, min_count, min_survey_responses)
             for r, b in zip(decision.reason[mask], out["basis"].to_numpy()[mask])]
    note = out["note"].to_numpy(dtype=object).copy()
    note[mask] = notes
    out["note"] = pd.Series(note, index=out.index, dtype="str")
    return out


def suppress(rows: pd.DataFrame, ctx, min_count: int, min_survey_responses: int, *,
             periods: Iterable | None = None) -> pd.DataFrame:
    """CONTRACT.md §4.8 on unsuppressed rows computed on ``ctx``: one decision per trust.

    ``periods``: the periods asked for (default ``ctx.periods``); each trust's
    decision covers its snapshots and these. ``rows`` must hold every row of
    every linked family for those periods (``metrics.compute`` makes them).
    """
    rows = rows.reset_index(drop=True)
    infos = infos_for(ctx, periods, trusts=np.unique(rows["trust_code"].to_numpy(dtype=object)))
    decision = decide(rows, ctx, infos, min_count, min_survey_responses)
    return apply(rows, decision, min_count, min_survey_responses)
