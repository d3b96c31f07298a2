"""Progress on plan actions as RAG status (CONTRACT.md §2.6, §4.6 ``actions.status``).

One row per catalogue action (``edi_analysis.catalogue``) per trust and
period: breakdown ``action=<id>``, group ``All``, ``area`` = the action's own
area, ``label`` = the RAG status, ``note`` = due date and recorded status.

Rules (CONTRACT.md §4.6; the not-applicable case is our Convention):

- ``complete`` → green;
- ``in_progress`` and not past due → amber;
- ``not_started``, or past due and not complete → red;
- no record for the action → grey;
- ``not_applicable`` → grey, the note saying the trust recorded it as not
  applicable (it is neither progress nor a gap, so it takes no colour).

*Past due* means the reference date is after the due date (an action due
2024-03-31 is on time on 2024-03-31 itself). The reference date is
``ctx.as_of`` when given, else the period date, so a re-run gives the same
status. An action without a due date is never past due. Where a trust has
several records for an action, the one with the latest ``updated_on`` counts
(the table holds the trust's current record; it is not filtered by date).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edi_analysis import groups
from edi_analysis.catalogue import load_actions
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"

SPECS = [
    MetricSpec(
        id="actions.status",
        area="hia1",
        unit="flag",
        label="Progress on plan actions (RAG)",
        definition=(
            "One row per action of the package's action catalogue (breakdown `action=<id>`; "
            "the row's area is the action's area), labelled from the trust's `actions` table: "
            "complete = green; in progress and not past due = amber; not started, or past due "
            "and not complete = red; no record = grey; not applicable = grey with a note "
            "(Convention). Past due: the reference date (the run's as-of date, else the period "
            "date) is after the due date. The note gives the due date and the recorded status."
        ),
        source=(
            "NHS England, NHS equality, diversity and inclusion improvement plan (June 2023) "
            "high impact action 1: progress monitored via the Board Assurance Framework; "
            "NHS England letter PRN01002; NHS People Plan priority actions"
        ),
        counts=(),  # a RAG label
    ),
]


def rag(status, due, reference) -> np.ndarray:
    """RAG label per action from recorded status (NaN = no record), due date and reference date."""
    status = pd.Series(status, dtype="object")
    due = pd.to_datetime(pd.Series(due))
    reference = pd.to_datetime(pd.Series(reference))
    past_due = (reference.to_numpy() > due.to_numpy()) & due.notna().to_numpy()
    s = status.to_numpy()
    return np.select(
        [
            pd.isna(s) | (s == "not_applicable"),
            s == "complete",
            (s == "in_progress") & ~past_due,
        ],
        [GREY, GREEN, AMBER],
        default=RED,
    )


def _latest_records(table: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["trust_code", "action_id", "status", "updated_on"]
    if table is None or table.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="str") for c in cols[:3]}
            | {"updated_on": pd.Series(dtype="datetime64[ns]")}
        )
    t = table[cols].copy()
    # Undated records sort first, so a dated record wins; equal dates keep file order.
    t = t.sort_values("updated_on", kind="stable", na_position="first")
    return t.drop_duplicates(["trust_code", "action_id"], keep="last")


def _note(due: pd.Series, status: pd.Series, updated: pd.Series) -> np.ndarray:
    due_txt = np.where(due.notna(), "due " + due.dt.strftime("%Y-%m-%d").fillna(""), "no due date")
    upd = np.where(
        updated.notna(), " (updated " + updated.dt.strftime("%Y-%m-%d").fillna("") + ")", ""
    )
    recorded = np.where(
        status.isna(),
        "no status recorded",
        np.where(
            status.eq("not_applicable").fillna(False),
            "recorded as not applicable",
            "recorded status " + status.fillna("").astype("str"),
        )
        + upd,
    )
    return (pd.Series(due_txt) + "; " + pd.Series(recorded)).to_numpy()


@family("actions", SPECS, tables=("actions",))
def action_status(ctx) -> pd.DataFrame:
    """RAG status of every catalogue action for every trust and period (CONTRACT.md §4.6)."""
    catalogue = load_actions()
    trusts = ctx.trust_codes
    if not trusts:
        table = ctx.table("actions")
        trusts = (
            sorted(table["trust_code"].unique()) if table is not None and not table.empty else []
        )
    if not trusts or not ctx.periods or not catalogue:
        return empty_rows()
    acts = pd.DataFrame(
        {
            "action_id": [a.id for a in catalogue],
            "action_area": [a.area for a in catalogue],
            "due": pd.to_datetime(pd.Series([a.due for a in catalogue], dtype="object")),
        }
    )
    per = pd.DataFrame({"period_ts": list(ctx.periods)})
    frame = pd.DataFrame({"trust_code": trusts}).merge(per, how="cross").merge(acts, how="cross")
    frame = frame.merge(
        _latest_records(ctx.table("actions")), on=["trust_code", "action_id"], how="left"
    )
    reference = pd.Series(
        pd.Timestamp(ctx.as_of) if ctx.as_of is not None else pd.NaT, index=frame.index
    ).fillna(frame["period_ts"])
    labels = rag(frame["status"], frame["due"], reference)
    rows = make_rows(
        trust_code=frame["trust_code"],
        period=frame["period_ts"].dt.strftime("%Y-%m-%d"),
        metric_id="actions.status",
        breakdown="action=" + frame["action_id"],
        group=groups.ALL,
        value=np.full(len(frame), np.nan),
        label=labels,
        basis="label",
        note=_note(frame["due"], frame["status"], frame["updated_on"]),
    )
    rows["area"] = frame["action_area"].to_numpy()
    return rows
