"""Staff survey metrics: WRES 5–8, WDES 4–9 and the EDI Improvement Plan survey measures (CONTRACT.md §4.6).

Input: the trust's NHS Staff Survey local data (``staff_survey``), one row per
respondent, each answer a bool (Y = the answer the indicator counts, N = any
other answer, blank = not answered). The survey used for a period is the
survey of the calendar year before the snapshot (snapshot 2024-03-31 →
``survey_year`` 2023; CONTRACT.md §1).

Result: % answering Y of those who answered (blank answers are excluded from
both sides), with a Wilson 95% interval; ``wdes.9a`` is a mean score with a
t interval. Rows are protected on the number of answers (``basis`` survey,
``n_values`` = answers; CONTRACT.md §4.8: fewer than 11 answers suppressed).

Row scheme (Convention):

- Headline rows (empty breakdown): group ``All`` (every respondent) and every
  group of the standard's own characteristic — ethnicity (White, BME,
  Unknown) for WRES 5–8 and the HIA4/HIA6 measures, disability (Disabled,
  Non-disabled, Unknown) for WDES 4–9, recruit type (International,
  Domestic) for the HIA5 measures.
- The other characteristics under ``characteristic=ethnicity``,
  ``characteristic=disability``, ``characteristic=international_recruit``.
  A characteristic appears once per metric, so each split of the
  respondents is shown once.
- ``wdes.8`` is asked of Disabled staff only: its population is Disabled
  respondents; headline group ``Disabled``, breakdowns by ethnicity and
  recruit type within it.

Action areas (Convention, by what each question measures): harassment,
bullying, reporting and discrimination (WRES 5, 6, 8; WDES 4a, 4b) → hia6;
career progression (WRES 7, WDES 5; plan success metric 2b) → hia2;
pressure to work when unwell and reasonable adjustments (WDES 6, 8) → hia4,
health inequalities within the workforce; feeling valued and engagement
(WDES 7, 9a) → people_plan, which has no narrower home in the EDI plan.

Question numbers are those of the NHS Staff Survey 2023 core questionnaire
as used by the WRES and WDES technical guidance; numbering can change
between survey years. The trust's extract supplies each answer already coded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edi_analysis import groups, stats
from edi_analysis.metrics import _partitions as part
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

KEYS = ["trust_code", "period"]
CELL = ["ethnicity", "disability_group", "recruit_type"]
#: Characteristics every survey result is shown by (CONTRACT.md §4.6).
SURVEY_CHARACTERISTICS = ("ethnicity", "disability", "international_recruit")

_WRES = "NHS England, Workforce Race Equality Standard (WRES) technical guidance"
_WDES = "NHS England, Workforce Disability Equality Standard (WDES) technical guidance"
_PLAN = "NHS England, NHS equality, diversity and inclusion improvement plan (June 2023)"
_NSS = "NHS Staff Survey 2023"


@dataclass(frozen=True)
class SurveyItem:
    """One survey metric: which answer it counts and whose comparison is its headline."""

    id: str
    answer: str  # a staff_survey column, or WRES6 for the combined harassment-from-staff answer
    headline: str  # characteristic shown on the headline rows
    area: str
    label: str
    definition: str
    source: str
    population: str | None = None  # a disability group the question is asked of (WDES 8)


WRES6 = "harassment_from_staff"
#: The metric counting that answer first (an aggregated-results item of its own).
WRES6_ID = "wres.6"

ITEMS: tuple[SurveyItem, ...] = (
    SurveyItem(
        "wres.5",
        "harassment_public",
        "ethnicity",
        "hia6",
        "Harassment, bullying or abuse from patients, relatives or the public",
        "% of respondents answering the question who experienced harassment, bullying or abuse "
        "from patients/service users, their relatives or other members of the public in the "
        "last 12 months (answer `harassment_public` = Y).",
        f"{_WRES}, indicator 5; {_NSS} Q14a",
    ),
    SurveyItem(
        "wres.6",
        WRES6,
        "ethnicity",
        "hia6",
        "Harassment, bullying or abuse from staff",
        "% experiencing harassment, bullying or abuse from staff in the last 12 months: Y when "
        "`harassment_manager` or `harassment_colleague` is Y, N when both are N, otherwise not "
        "answered (excluded).",
        f"{_WRES}, indicator 6; {_NSS} Q14b and Q14c combined",
    ),
    SurveyItem(
        "wres.7",
        "equal_opportunities",
        "ethnicity",
        "hia2",
        "Believe the organisation provides equal opportunities for career progression",
        "% of respondents answering the question who believe the organisation acts fairly with "
        "regard to career progression or promotion (answer `equal_opportunities` = Y).",
        f"{_WRES}, indicator 7; {_NSS} Q15; EDI Improvement Plan success metric 2b",
    ),
    SurveyItem(
        "wres.8",
        "discrimination_colleague",
        "ethnicity",
        "hia6",
        "Discrimination from a manager, team leader or colleague",
        "% of respondents answering the question who personally experienced discrimination at "
        "work from a manager, team leader or other colleagues in the last 12 months "
        "(answer `discrimination_colleague` = Y).",
        f"{_WRES}, indicator 8; {_NSS} Q16b",
    ),
    SurveyItem(
        "wdes.4a.public",
        "harassment_public",
        "disability",
        "hia6",
        "Harassment, bullying or abuse from patients, relatives or the public",
        "% of respondents answering the question who experienced harassment, bullying or abuse "
        "from patients/service users, their relatives or the public in the last 12 months.",
        f"{_WDES}, metric 4a (i); {_NSS} Q14a",
    ),
    SurveyItem(
        "wdes.4a.manager",
        "harassment_manager",
        "disability",
        "hia6",
        "Harassment, bullying or abuse from managers",
        "% of respondents answering the question who experienced harassment, bullying or abuse "
        "from managers in the last 12 months.",
        f"{_WDES}, metric 4a (ii); {_NSS} Q14b",
    ),
    SurveyItem(
        "wdes.4a.colleague",
        "harassment_colleague",
        "disability",
        "hia6",
        "Harassment, bullying or abuse from other colleagues",
        "% of respondents answering the question who experienced harassment, bullying or abuse "
        "from other colleagues in the last 12 months.",
        f"{_WDES}, metric 4a (iii); {_NSS} Q14c",
    ),
    SurveyItem(
        "wdes.4b",
        "reported_harassment",
        "disability",
        "hia6",
        "Reported the last experience of harassment, bullying or abuse",
        "% of respondents answering the question who said that they or a colleague reported "
        "the last time they experienced harassment, bullying or abuse at work.",
        f"{_WDES}, metric 4b; {_NSS} Q14d",
    ),
    SurveyItem(
        "wdes.5",
        "equal_opportunities",
        "disability",
        "hia2",
        "Believe the organisation provides equal opportunities for career progression",
        "% of respondents answering the question who believe the organisation acts fairly with "
        "regard to career progression or promotion.",
        f"{_WDES}, metric 5; {_NSS} Q15; EDI Improvement Plan success metric 2b",
    ),
    SurveyItem(
        "wdes.6",
        "pressure_unwell",
        "disability",
        "hia4",
        "Felt pressure from their manager to come to work when not well enough",
        "% of respondents answering the question who felt pressure from their manager to come "
        "to work despite not feeling well enough to perform their duties.",
        f"{_WDES}, metric 6; {_NSS} Q11e",
    ),
    SurveyItem(
        "wdes.7",
        "valued_by_org",
        "disability",
        "people_plan",
        "Satisfied with the extent to which the organisation values their work",
        "% of respondents answering the question who are satisfied with the extent to which "
        "their organisation values their work.",
        f"{_WDES}, metric 7; {_NSS} Q4b",
    ),
    SurveyItem(
        "wdes.8",
        "adjustments_made",
        "disability",
        "hia4",
        "Employer has made adequate reasonable adjustments (Disabled staff)",
        "% of Disabled respondents answering the question who say their employer has made "
        "adequate adjustment(s) to enable them to carry out their work. Asked of Disabled "
        "staff only, so there is no comparison group.",
        f"{_WDES}, metric 8; {_NSS} Q31b",
        population=groups.DISABLED,
    ),
    SurveyItem(
        "hia4.org_action_hwb",
        "org_action_health_wellbeing",
        "ethnicity",
        "hia4",
        "Organisation takes positive action on health and wellbeing",
        "% of respondents answering the question who say their organisation takes positive "
        "action on health and well-being.",
        f"{_PLAN}, high impact action 4, success metric 4a; {_NSS} Q11a",
    ),
    SurveyItem(
        "hia5.belonging",
        "belonging",
        "international_recruit",
        "hia5",
        "Sense of belonging (international recruits compared with domestic staff)",
        "% of respondents answering the belonging question who gave the positive answer "
        "(answer `belonging` = Y); the headline compares international recruits with "
        "domestic staff.",
        f"{_PLAN}, high impact action 5, success metric 5a",
    ),
    SurveyItem(
        "hia5.harassment_manager_team",
        WRES6,
        "international_recruit",
        "hia5",
        "Bullying or harassment from line managers or the team (international recruits)",
        "% experiencing harassment, bullying or abuse from managers or other colleagues (the "
        "plan's \"team/line manager\") in the last 12 months: Y when `harassment_manager` or "
        "`harassment_colleague` is Y, N when both are N, otherwise not answered (excluded), as "
        "WRES 6; the headline compares international recruits with domestic staff.",
        f"{_PLAN}, high impact action 5, success metric 5b (\"NSS Q on bullying, harassment from "
        f"team/line manager for IR staff\"); {_NSS} Q14b and Q14c combined",
    ),
    SurveyItem(
        "hia6.harassment_manager_team",
        WRES6,
        "ethnicity",
        "hia6",
        "Bullying or harassment from line managers or the team (all staff)",
        "% of all staff (group All) and of each group experiencing harassment, bullying or abuse "
        "from managers or other colleagues in the last 12 months: Y when `harassment_manager` or "
        "`harassment_colleague` is Y, N when both are N, otherwise not answered (excluded) — "
        "the same answer as WRES 6, shown as the plan's success metric.",
        f"{_PLAN}, high impact action 6, success metric 6a (\"improvement in staff survey results "
        f"on bullying / harassment from line managers/teams (ALL staff)\"); {_NSS} Q14b and Q14c "
        "combined",
    ),
    SurveyItem(
        "hia6.discrimination_colleague",
        "discrimination_colleague",
        "ethnicity",
        "hia6",
        "Discrimination from a manager, team leader or colleague",
        "% of respondents answering the question who experienced discrimination from a "
        "manager, team leader or other colleagues in the last 12 months, by protected "
        "characteristic.",
        f"{_PLAN}, high impact action 6, success metric 6b (\"improvement in staff survey results "
        f"on discrimination from line managers/teams (ALL staff)\"); {_NSS} Q16b",
    ),
)

ENGAGEMENT = MetricSpec(
    id="wdes.9a",
    area="people_plan",
    label="Staff engagement score",
    unit="score",
    source=f"{_WDES}, metric 9a; {_NSS} staff engagement theme score (0–10)",
    definition=(
        "Mean staff engagement score (0–10) of respondents with a score, with a Student t 95% "
        "interval. Headline rows: the organisation's overall score (group All) and every "
        "disability group; other characteristics under `characteristic=…`. Survey of the "
        "calendar year before the snapshot."
    ),
    breakdowns=("characteristic=ethnicity", "characteristic=international_recruit"),
    counts=("denominator",),  # respondents with a score
    count_rule="min_survey_responses",
)

_ROW_SCHEME = (
    " Headline rows: group All and every {headline} group; other characteristics under "
    "`characteristic=…`. Survey of the calendar year before the snapshot."
)


def _spec(item: SurveyItem) -> MetricSpec:
    others = [c for c in SURVEY_CHARACTERISTICS if c != item.headline]
    if item.population:
        scheme = (
            f" Headline row: group {item.population} only; the ethnicity and recruit type of "
            "those respondents under `characteristic=…`. Survey of the calendar year before the "
            "snapshot."
        )
    else:
        scheme = _ROW_SCHEME.format(headline=item.headline)
    return MetricSpec(
        id=item.id,
        area=item.area,
        label=item.label,
        unit="percent",
        source=item.source,
        definition=item.definition + scheme + " Wilson 95% interval.",
        breakdowns=tuple(f"characteristic={c}" for c in others),
        # numerator = Y answers, denominator = answers: §4.8 protects a survey result on
        # its number of answers (a result with 11+ answers is published whatever its Y count).
        counts=("denominator",),
        count_rule="min_survey_responses",
    )


def slots_for(headline: str, population: str | None = None) -> list[part.Slot]:
    """Row slots of a survey metric (see the module docstring for the scheme)."""
    if population is not None:
        # One group only: nothing to partition on the headline.
        column = part.CHARACTERISTICS[headline][0]
        head = [part.Slot(breakdown="", column=column, labels=(population,))]
    else:
        head = [part.everyone(), part.characteristic(headline, headline=True)]
    others = [part.characteristic(c) for c in SURVEY_CHARACTERISTICS if c != headline]
    return head + others


def answered_yes(df: pd.DataFrame, answer: str) -> tuple[pd.Series, pd.Series]:
    """(Y, answered) boolean Series for one answer; WRES6 combines the two harassment-from-staff items.

    WRES indicator 6 (CONTRACT.md §4.6): Y if harassment_manager or
    harassment_colleague is Y; N if both are N; otherwise not answered.
    """
    if answer == WRES6:
        m, c = df["harassment_manager"], df["harassment_colleague"]
        yes = m.eq(True).fillna(False) | c.eq(True).fillna(False)
        no = m.eq(False).fillna(False) & c.eq(False).fillna(False)
        return yes.astype(bool), (yes | no).astype(bool)
    col = df[answer]
    answered = col.notna().astype(bool)
    return (col.eq(True).fillna(False).astype(bool) & answered), answered


def survey_year(period: pd.Timestamp) -> int:
    """The NHS Staff Survey used for a period: the calendar year before the snapshot (CONTRACT.md §1)."""
    return pd.Timestamp(period).year - 1


def respondents(ctx) -> pd.DataFrame | None:
    """Survey rows of the reported trusts, each tagged with the ``period`` it serves."""
    sv = ctx.table("staff_survey")
    if sv is None or sv.empty or not ctx.periods:
        return None
    per = pd.DataFrame(
        {
            "period": [p.strftime("%Y-%m-%d") for p in ctx.periods],
            "survey_year": np.array([survey_year(p) for p in ctx.periods], dtype="int64"),
        }
    )
    df = sv.merge(per, on="survey_year", how="inner")
    trusts = ctx.trust_codes
    if trusts:
        df = df[df["trust_code"].isin(trusts)]
    return df if not df.empty else None


def _notes(frame: pd.DataFrame) -> pd.Series:
    """Which survey each row comes from, e.g. "NHS Staff Survey 2023"."""
    names = {
        p: f"NHS Staff Survey {survey_year(pd.Timestamp(p))}" for p in frame["period"].unique()
    }
    return frame["period"].map(names)


@family(
    "survey",
    [_spec(item) for item in ITEMS] + [ENGAGEMENT],
    tables=("staff_survey", "staff_survey_results"),
)
def survey_metrics(ctx) -> pd.DataFrame:
    """WRES 5–8, WDES 4–9 and EDI plan survey measures for every trust and period (CONTRACT.md §4.6)."""
    df = respondents(ctx)
    # A trust may hold its survey by group, not by respondent: for every trust without
    # respondent rows, the same tallies from the aggregated results (staff_survey_results).
    long = results_tally(ctx, exclude=set(df["trust_code"]) if df is not None else set())
    aggregated = ([] if long is None else
                  [_share_rows(long), _engagement_unavailable(long)])
    if df is None:
        return pd.concat(aggregated, ignore_index=True) if aggregated else empty_rows()
    present = df[KEYS].drop_duplicates()

    # Tally every answer once per respondent cell, then sum cells into each slot:
    # a national file has ~600k respondents but only a few thousand cells.
    answers = {}
    for item in ITEMS:
        yes, answered = answered_yes(df, item.answer)
        if item.population is not None:
            in_pop = df["disability_group"].eq(item.population)
            yes, answered = yes & in_pop, answered & in_pop
        answers[f"y_{item.id}"] = yes.astype("float64")
        answers[f"n_{item.id}"] = answered.astype("float64")
    cells = (
        pd.concat(
            [df[KEYS + CELL].reset_index(drop=True), pd.DataFrame(answers).reset_index(drop=True)],
            axis=1,
        )
        .groupby(KEYS + CELL, sort=False, observed=True)
        .sum()
        .reset_index()
    )

    # One tally per row scheme (headline characteristic, population) covers all its items.
    schemes: dict[tuple[str, str | None], list[SurveyItem]] = {}
    for item in ITEMS:
        schemes.setdefault((item.headline, item.population), []).append(item)
    long = []
    for (headline, population), items in schemes.items():
        values = [f"{c}_{item.id}" for item in items for c in ("y", "n")]
        t = part.tally(cells, KEYS, present, slots_for(headline, population), values)
        frame = t[KEYS + ["breakdown", "group"]]
        long += [
            frame.assign(metric_id=item.id, y=t[f"y_{item.id}"], n=t[f"n_{item.id}"])
            for item in items
        ]
    return pd.concat(
        [_share_rows(pd.concat(long, ignore_index=True)), _engagement(df, present), *aggregated],
        ignore_index=True,
    )


def _share_rows(t: pd.DataFrame) -> pd.DataFrame:
    """% answering Y (``y``) of those answering (``n``), Wilson 95% interval (CONTRACT.md §4.6, §4.7)."""
    y, n = t["y"].to_numpy(), t["n"].to_numpy()
    lo, hi = stats.wilson_interval(y, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n > 0, y / n * 100, np.nan)
    # One call for every item (all are percentages): row building dominates the run time.
    return make_rows(
        trust_code=t["trust_code"],
        period=t["period"],
        metric_id=t["metric_id"],
        breakdown=t["breakdown"],
        group=t["group"],
        numerator=y,
        denominator=n,
        value=value,
        ci_lower=lo * 100,
        ci_upper=hi * 100,
        unit="percent",
        basis="survey",
        n_values=n,
        note=_notes(t),
    )


def _engagement(df: pd.DataFrame, present: pd.DataFrame) -> pd.DataFrame:
    """WDES 9a: mean engagement score with a t interval, per slot (WDES technical guidance, metric 9a)."""
    slots = slots_for("disability")
    long = part.expand(df, KEYS, slots, ["engagement_score"])
    means = stats.grouped_mean_t(long, KEYS + ["breakdown", "group"], "engagement_score")
    t = part.grid(present, slots).merge(means, on=KEYS + ["breakdown", "group"], how="left")
    n = t["n"].fillna(0).astype("float64")
    return make_rows(
        trust_code=t["trust_code"],
        period=t["period"],
        metric_id=ENGAGEMENT.id,
        breakdown=t["breakdown"],
        group=t["group"],
        denominator=n,
        value=t["mean"],
        ci_lower=t["lo"],
        ci_upper=t["hi"],
        basis="survey",
        n_values=n,
        note=_notes(t),
    )


#: The survey characteristic a partition slot's column stands for.
_CHARACTERISTIC_OF = {column: name for name, (column, _) in part.CHARACTERISTICS.items()}


def results_tally(ctx, exclude: set[str] = frozenset()) -> pd.DataFrame | None:
    """The survey family's tallies (Y answers ``y`` and answers ``n`` per trust, period,
    metric, breakdown and group) from aggregated results, or None when there are none.

    Each metric takes the rows whose ``item`` is its id, else those whose ``item`` is the
    answer it counts: for the metrics counting WRES 6's combined answer (harassment from
    managers or colleagues: ``hia5.harassment_manager_team``, ``hia6.harassment_manager_team``)
    the ``wres.6`` rows; ``wres.6`` itself (two questions combined) and ``wdes.8`` (asked of
    Disabled staff only) need their own rows. A group with no row has no answers.
    The result is what the respondent-level path tallies, so the rows built from it are
    the same (tests/test_survey_results.py).
    """
    res = ctx.table("staff_survey_results")
    if res is None or res.empty or not ctx.periods:
        return None
    per = pd.DataFrame({
        "period": [p.strftime("%Y-%m-%d") for p in ctx.periods],
        "survey_year": np.array([survey_year(p) for p in ctx.periods], dtype="int64"),
    })
    res = res.merge(per, on="survey_year", how="inner")
    if ctx.trust_codes:
        res = res[res["trust_code"].isin(ctx.trust_codes)]
    res = res[~res["trust_code"].isin(exclude)]
    if res.empty:
        return None
    present = res[KEYS].drop_duplicates()
    long = []
    for item in ITEMS:
        rows = res[res["item"] == item.id]
        if rows.empty and item.population is None and item.id != WRES6_ID:
            rows = res[res["item"] == (WRES6_ID if item.answer == WRES6 else item.answer)]
        counts = rows.assign(characteristic=rows["characteristic"].astype("str"))[
            KEYS + ["characteristic", "group", "positive", "responses"]]
        for slot in slots_for(item.headline, item.population):
            g = part.grid(present, [slot])
            g["characteristic"] = ("all" if slot.column is None
                                   else _CHARACTERISTIC_OF[slot.column])
            g = g.merge(counts, on=KEYS + ["characteristic", "group"], how="left")
            long.append(pd.DataFrame({
                "trust_code": g["trust_code"], "period": g["period"],
                "breakdown": g["breakdown"], "group": g["group"],
                "metric_id": item.id,
                "y": g["positive"].fillna(0).astype("float64"),
                "n": g["responses"].fillna(0).astype("float64"),
            }))
    return pd.concat(long, ignore_index=True)


def _engagement_unavailable(long: pd.DataFrame) -> pd.DataFrame:
    """WDES 9a rows when only aggregated results exist: a mean score cannot be rebuilt
    from counts, so the rows are there with no answers and a note saying why."""
    present = long[KEYS].drop_duplicates()
    t = part.grid(present, slots_for("disability"))
    n = np.zeros(len(t))
    return make_rows(
        trust_code=t["trust_code"], period=t["period"], metric_id=ENGAGEMENT.id,
        breakdown=t["breakdown"], group=t["group"], denominator=n, value=np.nan,
        ci_lower=np.nan, ci_upper=np.nan, basis="survey", n_values=n,
        note="not available: the aggregated survey results hold no engagement scores",
    )
