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


#: Worker processes for the decisions of a many-trust call (None: the usable cores).
JOBS: int | None = None
#: Fewest trusts for which the decisions are shared out among worker processes.
PARALLEL_MIN_TRUSTS = 4


def suppress(rows: pd.DataFrame, ctx, min_count: int, min_survey_responses: int, *,
             periods: Iterable | None = None, jobs: int | None = None) -> pd.DataFrame:
    """CONTRACT.md §4.8 on unsuppressed rows computed on ``ctx``: one decision per trust.

    ``periods``: the periods asked for (default ``ctx.periods``); each trust's
    decision covers its snapshots and these. ``rows`` must hold every row of
    every linked family for those periods (``metrics.compute`` makes them).

    Each trust's decision depends on that trust's rows and records only, so with several
    trusts (at least :data:`PARALLEL_MIN_TRUSTS`) they are shared out among ``jobs`` worker
    processes (default :data:`JOBS`, else the usable cores), each deciding a group of whole
    trusts on a context narrowed to them; the rows come back in their order, the same as
    one process gives (``tests/test_disclosure.py``).
    """
    rows = rows.reset_index(drop=True)
    trusts = np.unique(rows["trust_code"].to_numpy(dtype=object))
    infos = infos_for(ctx, periods, trusts=trusts)
    groups = _trust_groups(rows, trusts, _jobs(jobs, len(trusts)))
    if len(groups) > 1:
        return _suppress_in_workers(rows, ctx, infos, groups, min_count, min_survey_responses)
    decision = decide(rows, ctx, infos, min_count, min_survey_responses)
    return apply(rows, decision, min_count, min_survey_responses)


def _jobs(jobs: int | None, n_trusts: int) -> int:
    import multiprocessing
    import os

    if n_trusts < PARALLEL_MIN_TRUSTS or multiprocessing.current_process().daemon:
        return 1  # a pool's worker (daemonic) cannot start processes of its own
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    want = jobs if jobs is not None else JOBS
    if want is None:
        want = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(int(want or 1), n_trusts))


def _trust_groups(rows: pd.DataFrame, trusts, n: int) -> list[list[str]]:
    """``trusts`` in ``n`` groups of about equal work (rows as the measure): largest first,
    each to the group with the fewest rows so far."""
    if n <= 1:
        return [list(trusts)]
    sizes = rows["trust_code"].value_counts()
    load = [0] * n
    out: list[list[str]] = [[] for _ in range(n)]
    for t in sorted(trusts, key=lambda t: (-int(sizes.get(t, 0)), t)):
        i = load.index(min(load))
        out[i].append(t)
        load[i] += int(sizes.get(t, 0))
    return [sorted(g) for g in out if g]


#: What the forked workers read (set in the parent just before the fork; never pickled).
_SHARED: dict = {}


def _narrowed(ctx, trusts: list[str]):
    """``ctx`` with every table restricted to ``trusts`` (tables already carry their groups)."""
    keep = set(trusts)
    tables = {name: (df[df["trust_code"].isin(keep)] if "trust_code" in df else df)
              for name, df in ctx.tables.items()}
    return replace(ctx, tables=tables, trusts=tuple(sorted(keep)))


def _decide_group(i: int) -> tuple[np.ndarray, pd.DataFrame]:
    rows, ctx, infos, groups, min_count, min_survey = (
        _SHARED[k] for k in ("rows", "ctx", "infos", "groups", "min_count", "min_survey"))
    trusts = groups[i]
    where = np.flatnonzero(rows["trust_code"].isin(trusts).to_numpy())
    part = rows.iloc[where].reset_index(drop=True)
    sub = _narrowed(ctx, trusts)
    decision = decide(part, sub, {t: infos[t] for t in trusts}, min_count, min_survey)
    return where, apply(part, decision, min_count, min_survey)


def _worker_start(parent: int) -> None:
    from edi_analysis.procs import die_with_parent

    die_with_parent(parent)


def _suppress_in_workers(rows, ctx, infos, groups, min_count, min_survey) -> pd.DataFrame:
    import multiprocessing
    import os

    _SHARED.update(rows=rows, ctx=ctx, infos=infos, groups=groups, min_count=min_count,
                   min_survey=min_survey)
    try:
        with multiprocessing.get_context("fork").Pool(
                len(groups), initializer=_worker_start, initargs=(os.getpid(),)) as pool:
            parts = pool.map(_decide_group, range(len(groups)), chunksize=1)
    finally:
        _SHARED.clear()
    order = np.concatenate([where for where, _ in parts])
    out = pd.concat([part for _, part in parts], ignore_index=True)
    out.index = order
    return out.sort_index().reset_index(drop=True)
