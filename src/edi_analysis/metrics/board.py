"""Board EDI objectives (CONTRACT.md §4.6; EDI Improvement Plan high impact action 1).

Population: the trust's board members at the period's snapshot (``board``
table, ``snapshot_date`` = period). Headline group ``All`` (every member),
with breakdowns ``board=voting`` and ``board=executive`` as for WRES 9 /
WDES 10, and ``board=chair_chief_executive`` (role chair or chief_executive):
the plan's success metric 1a is "annual Chair/CEO appraisals on EDI
objectives via Board Assurance Framework (BAF)". Denominator: every member in the subset; a member whose flag is
blank has no recorded evidence and counts as not meeting it (the plan asks
that *every* member has SMART EDI objectives), and the note says how many
such members there were. Board membership is public, so these rows are not
suppressed (basis ``board``; CONTRACT.md §4.8). The board is a census — every
member is counted — so the shares carry no confidence interval: there is no
sampling error to describe (CONTRACT.md §4.6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

KEYS = ["trust_code", "period"]
_LETTER = (
    "NHS England letter PRN01002: every board and executive team member must have SMART EDI "
    "objectives, assessed during their annual appraisal, by March 2024"
)
_PLAN = "NHS England, NHS equality, diversity and inclusion improvement plan (June 2023)"
_SUBSETS = ("", "board=voting", "board=executive", "board=chair_chief_executive")
CHAIR_CEO_ROLES = ("chair", "chief_executive")

SPECS = [
    MetricSpec(
        id="hia1.smart_objectives_share",
        area="hia1",
        unit="percent",
        label="Board members with SMART EDI objectives",
        definition=(
            "Board members at the snapshot with `has_smart_edi_objectives` = Y ÷ board members "
            "× 100 (blank counts as not evidenced). Group All; breakdowns `board=voting`, "
            "`board=executive`, `board=chair_chief_executive`. A census of the board: no "
            "confidence interval. Not suppressed (board membership is public)."
        ),
        source=f"{_PLAN}, high impact action 1; {_LETTER}",
        breakdowns=_SUBSETS[1:],
        counts=(),  # board membership is public: not suppressed (§4.8)
    ),
    MetricSpec(
        id="hia1.appraised_share",
        area="hia1",
        unit="percent",
        label="Board members appraised against their EDI objectives",
        definition=(
            "Board members at the snapshot with `appraised_on_edi_objectives` = Y ÷ board "
            "members × 100 (blank counts as not evidenced). Group All; breakdowns "
            "`board=voting`, `board=executive` and `board=chair_chief_executive` (success "
            "metric 1a names the chair's and chief executive's appraisals). A census of the "
            "board: no confidence interval. Not suppressed."
        ),
        source=(f"{_PLAN}, high impact action 1, success metric 1a (\"annual Chair/CEO appraisals "
                f"on EDI objectives via Board Assurance Framework (BAF)\"); {_LETTER}"),
        breakdowns=_SUBSETS[1:],
        counts=(),  # board membership is public: not suppressed (§4.8)
    ),
]

_FLAGS = {
    "hia1.smart_objectives_share": "has_smart_edi_objectives",
    "hia1.appraised_share": "appraised_on_edi_objectives",
}


@family("board", SPECS, tables=("board",))
def board_objectives(ctx) -> pd.DataFrame:
    """HIA1 shares of board members with SMART EDI objectives and appraised on them."""
    board = ctx.table("board")
    if board is None or board.empty or not ctx.periods:
        return empty_rows()
    board = board.loc[board["snapshot_date"].isin(pd.DatetimeIndex(ctx.periods))]
    if board.empty:
        return empty_rows()
    board = board.assign(period=board["snapshot_date"].dt.strftime("%Y-%m-%d").astype("str"))
    stacked = pd.concat(
        [
            board.assign(breakdown=""),
            board.loc[board["voting"].fillna(False).astype(bool)].assign(breakdown="board=voting"),
            board.loc[board["executive"].fillna(False).astype(bool)].assign(
                breakdown="board=executive"
            ),
            board.loc[board["role"].isin(CHAIR_CEO_ROLES)].assign(
                breakdown="board=chair_chief_executive"
            ),
        ],
        ignore_index=True,
    )
    # Every trust and period with a board return gets all three subsets, even an empty one,
    # so a missing figure shows with its reason.
    frame = (
        board[KEYS]
        .drop_duplicates()
        .merge(pd.DataFrame({"breakdown": list(_SUBSETS)}), how="cross")
    )
    keys = KEYS + ["breakdown"]
    parts = []
    for metric_id, col in _FLAGS.items():
        agg = (
            stacked.assign(
                k=stacked[col].eq(True).fillna(False).astype("float64"),
                blank=stacked[col].isna().astype("float64"),
                n=1.0,
            )
            .groupby(keys, sort=False)[["k", "n", "blank"]]
            .sum()
            .reset_index()
        )
        t = frame.merge(agg, on=keys, how="left").fillna({"k": 0.0, "n": 0.0, "blank": 0.0})
        k, n, blank = t["k"].to_numpy(), t["n"].to_numpy(), t["blank"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(n > 0, 100 * k / n, np.nan)
        blank_note = (
            pd.Series(blank).astype("int64").astype("str")
            + " member(s) with no record counted as not evidenced"
        )
        note = np.where(
            n == 0, "no board members of this kind", np.where(blank > 0, blank_note, "")
        )
        parts.append(
            make_rows(
                trust_code=t["trust_code"],
                period=t["period"],
                metric_id=metric_id,
                breakdown=t["breakdown"],
                group="All",
                numerator=k,
                denominator=n,
                value=value,
                note=note,
                basis="board",
            )
        )
    return pd.concat(parts, ignore_index=True)
