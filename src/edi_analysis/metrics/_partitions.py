"""Group splits shared by the survey and wellbeing families (CONTRACT.md §3, §8).

A *slot* is one way of splitting a population into the rows of a metric:
everyone (group ``All``), one reporting characteristic (groups such as
White/BME/Unknown under breakdown ``characteristic=ethnicity``) or a
variable shown as a breakdown (``age_band=55+``, group ``All``). The helpers
here turn person-level rows into one row per (keys, breakdown, group) on a
complete grid, so a group with nobody in it still has its row (count 0,
value blank, suppressed by the engine) instead of silently disappearing.
Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from edi_analysis import groups

#: Reporting characteristics: (column added by ``groups.add_groups``, labels in display order).
CHARACTERISTICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ethnicity": ("ethnicity", groups.ETHNICITY_LABELS),
    "disability": ("disability_group", groups.DISABILITY_LABELS),
    "sex": ("sex_group", groups.SEX_LABELS),
    "international_recruit": ("recruit_type", (groups.INTERNATIONAL, groups.DOMESTIC)),
}


@dataclass(frozen=True)
class Slot:
    """One split of a population into metric rows.

    ``column`` None means everyone (group ``All``). With ``by_breakdown`` the
    column's values become the breakdown (``"<breakdown>=<value>"``) and the
    group is ``All``.
    """

    breakdown: str = ""
    column: str | None = None
    labels: tuple[str, ...] = (groups.ALL,)
    by_breakdown: bool = False


def everyone(breakdown: str = "") -> Slot:
    """The whole population as group ``All``."""
    return Slot(breakdown=breakdown)


def characteristic(
    name: str, *, headline: bool = False, labels: Sequence[str] | None = None
) -> Slot:
    """Every group of a characteristic; on the headline (empty breakdown) or under
    ``characteristic=<name>``.
    """
    column, all_labels = CHARACTERISTICS[name]
    return Slot(
        breakdown="" if headline else f"characteristic={name}",
        column=column,
        labels=tuple(labels) if labels is not None else all_labels,
    )


def as_breakdown(column: str, labels: Sequence[str]) -> Slot:
    """Each value of ``column`` as its own breakdown ``column=value``, group ``All``.

    A person whose value is not one of ``labels`` is left out (see :func:`expand`).
    """
    return Slot(breakdown=column, column=column, labels=tuple(labels), by_breakdown=True)


def _label_frame(slot: Slot) -> pd.DataFrame:
    return pd.DataFrame({"_label": pd.Series(slot.labels, dtype="str")})


def _finish(frame: pd.DataFrame, slot: Slot) -> pd.DataFrame:
    if slot.by_breakdown:
        frame["breakdown"] = slot.breakdown + "=" + frame["_label"]
        frame["group"] = groups.ALL
    else:
        frame["breakdown"] = slot.breakdown
        frame["group"] = frame["_label"]
    return frame.drop(columns="_label")


def grid(present: pd.DataFrame, slots: Sequence[Slot]) -> pd.DataFrame:
    """Every (key row of ``present``) × (breakdown, group) of ``slots``."""
    parts = [_finish(present.merge(_label_frame(s), how="cross"), s) for s in slots]
    return pd.concat(parts, ignore_index=True)


def expand(
    df: pd.DataFrame, keys: Sequence[str], slots: Sequence[Slot], columns: Sequence[str]
) -> pd.DataFrame:
    """Person-level rows repeated once per slot they fall in, with ``breakdown`` and ``group``.

    A person whose value of a slot's column is not one of its labels (e.g. a
    missing age band) is left out of that slot only.
    """
    keep = list(keys) + list(columns)
    parts = []
    for s in slots:
        if s.column is None:
            part = df[keep].assign(_label=groups.ALL)
        else:
            part = df[keep].assign(_label=df[s.column].astype("str"))
            part = part[part["_label"].isin(s.labels)]
        parts.append(_finish(part.copy(), s))
    return pd.concat(parts, ignore_index=True)


def tally(
    df: pd.DataFrame,
    keys: Sequence[str],
    present: pd.DataFrame,
    slots: Sequence[Slot],
    values: Sequence[str],
) -> pd.DataFrame:
    """Sums of ``values`` for every slot group on the complete grid (absent groups sum to 0).

    ``present`` holds the key combinations (e.g. trust_code, period) that get
    rows; ``df`` holds one row per person or per pre-aggregated cell.
    """
    keys, values = list(keys), list(values)
    sums = (
        expand(df, keys, slots, values)
        .groupby(keys + ["breakdown", "group"], sort=False, observed=True)[values]
        .sum()
        .reset_index()
    )
    out = grid(present[keys].drop_duplicates(), slots).merge(
        sums, on=keys + ["breakdown", "group"], how="left"
    )
    out[values] = out[values].fillna(0.0).astype("float64")
    return out
