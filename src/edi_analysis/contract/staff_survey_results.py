"""``staff_survey_results``: NHS Staff Survey results aggregated by group; optional, used
when ``staff_survey`` (one row per respondent) is absent. Issue 15; docs/contract.md §2.8.

A trust receives its survey results by group, with the number of responses, not
respondent-level data. One row per trust, survey year, item, characteristic and group:
``responses`` answered the question, ``positive`` gave the answer the indicator counts.

- ``item``: a survey metric id (``wres.5``, ``wdes.4b``, ...) for that metric alone, or an
  answer of the ``staff_survey`` table (``harassment_public``, ...) for every metric that
  counts that answer. ``wres.6`` (harassment from staff, two questions combined) and
  ``wdes.8`` (asked of Disabled staff only) can only be given by their metric id; the
  success metrics counting WRES 6's answer (``hia5.harassment_manager_team``,
  ``hia6.harassment_manager_team``) use the ``wres.6`` rows unless given their own.
- ``characteristic``: ``all`` (group ``All``), ``ethnicity`` (White, BME, Unknown),
  ``disability`` (Disabled, Non-disabled, Unknown) or ``international_recruit``
  (International, Domestic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import Plausible, code, ods_code, text, whole_number
from edi_analysis.contract.parsing import TableData
from edi_analysis.contract.report import Issue
from edi_analysis.contract.rules import NotAbove, UniqueWithin
from edi_analysis.contract.staff_survey import ANSWERS
from edi_analysis.contract.table import TableContract

#: Metric ids a row may name (the survey family's items; engagement is a mean score and
#: cannot be given as counts).
METRIC_ITEMS = (
    "wres.5", "wres.6", "wres.7", "wres.8", "wdes.4a.public", "wdes.4a.manager",
    "wdes.4a.colleague", "wdes.4b", "wdes.5", "wdes.6", "wdes.7", "wdes.8",
    "hia4.org_action_hwb", "hia5.belonging", "hia5.harassment_manager_team",
    "hia6.harassment_manager_team", "hia6.discrimination_colleague",
)
ITEMS = METRIC_ITEMS + tuple(ANSWERS)
CHARACTERISTIC_GROUPS = {
    "all": (groups.ALL,),
    "ethnicity": groups.ETHNICITY_LABELS,
    "disability": groups.DISABILITY_LABELS,
    "international_recruit": (groups.INTERNATIONAL, groups.DOMESTIC),
}

SCHEMA = pa.DataFrameSchema(
    {
        "trust_code": ods_code(),
        "survey_year": whole_number(description="calendar year of the survey",
                                    plausible=Plausible(low=2003, high=2100, why=(
                                        "a calendar year of the NHS Staff Survey, which "
                                        "began in 2003"))),
        "item": code(ITEMS, description="survey metric id or staff_survey answer"),
        "characteristic": code(tuple(CHARACTERISTIC_GROUPS)),
        "group": text(blank=False, description="a group of the characteristic"),
        "responses": whole_number(ge=0, description="respondents who answered"),
        "positive": whole_number(ge=0, description="of them, gave the counted answer"),
    },
    name="staff_survey_results",
)


@dataclass(frozen=True)
class GroupOfCharacteristic:
    """``group`` must be a group of the row's ``characteristic``."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ("characteristic", "group")

    def describe(self) -> str:
        return "`group` is a group of `characteristic` (" + "; ".join(
            f"{c}: {', '.join(g)}" for c, g in CHARACTERISTIC_GROUPS.items()) + ")"

    def check(self, t: TableData) -> list[Issue]:
        ch = t.frame["characteristic"].to_numpy(dtype=object)
        gr = t.frame["group"].to_numpy(dtype=object)
        wrong = np.array([isinstance(c, str) and isinstance(g, str)
                          and g not in CHARACTERISTIC_GROUPS.get(c, (g,))
                          for c, g in zip(ch, gr)], dtype=bool)
        pos = np.flatnonzero(wrong)
        return t.issues("group", pos, [
            f"{v} is not a group of characteristic {ch[p]} (groups: "
            f"{', '.join(CHARACTERISTIC_GROUPS[ch[p]])})"
            for v, p in zip(t.shown("group", pos), pos)])


@dataclass(frozen=True)
class GroupsWithinAll:
    """An item's groups cannot hold more responses than its all-staff row: each group's
    ``responses`` and each characteristic's total are at most the ``all`` row's."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ("trust_code", "survey_year", "item", "characteristic", "responses")

    def describe(self) -> str:
        return ("the `responses` of an item's groups, and their total per characteristic, are "
                "at most the item's `all` row")

    def check(self, t: TableData) -> list[Issue]:
        f = t.frame[list(self.columns)].copy()
        f["_pos"] = np.arange(len(f))
        f = f.dropna()
        if f.empty:
            return []
        key = ["trust_code", "survey_year", "item"]
        total = f[f["characteristic"] == "all"].groupby(key)["responses"].max().rename("_all")
        g = f[f["characteristic"] != "all"].merge(total.reset_index(), on=key, how="inner")
        if g.empty:
            return []
        out = []
        over = g[g["responses"] > g["_all"]]
        out += t.issues("responses", over["_pos"].to_numpy(dtype=np.int64), [
            f"{n} responses in one group is more than the item's all-staff {whole}"
            for n, whole in zip(over["responses"], over["_all"])])
        sums = g.groupby([*key, "characteristic"]).agg(
            total=("responses", "sum"), whole=("_all", "first"), _pos=("_pos", "max")).reset_index()
        bad = sums[sums["total"] > sums["whole"]]
        out += t.issues("responses", bad["_pos"].to_numpy(dtype=np.int64), [
            f"the {r.characteristic} groups of {r.item} hold {r.total} responses, more than the "
            f"item's all-staff {r.whole}" for r in bad.itertuples()])
        return out


RULES = (
    UniqueWithin("group", within=("trust_code", "survey_year", "item", "characteristic")),
    NotAbove("positive", "responses"),
    GroupOfCharacteristic(),
    GroupsWithinAll(),
)

TABLE = TableContract("staff_survey_results", required=False, schema=SCHEMA, rules=RULES,
                      section="2.8")
