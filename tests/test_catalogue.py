"""The action catalogue (package data) and ``actions.status`` RAG rules (CONTRACT.md §2.6, §4.6).

Expected texts are copied from the reference documents (NHS England letter
PRN01002; NHS People Plan prioritised actions) so the test does not depend
on where those files live.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from edi_analysis.catalogue import CatalogueError, load_actions, parse_actions, unregistered_metrics
from edi_analysis.metrics import MetricContext, compute
from edi_analysis.metrics.actions import action_status, rag

LETTER = {
    "hia1": [
        "Every board and executive team member must have EDI objectives that are specific, "
        "measurable, achievable, relevant, and timebound (SMART) to be assessed during their "
        "annual appraisal.",
        "NHS boards must review relevant data to establish areas of concern and prioritise "
        "action, with progress monitored via the Board Assurance Framework.",
    ],
    "hia3": [
        "Implement the Mend the Gap review recommendations for medical staff and develop a plan "
        "to apply those recommendations to other senior colleagues.",
        "Analyse data to understand pay gaps by protected characteristic and put in place an "
        "improvement plan for sex and race.",
        "Implement a flexible working policy including advertising options in recruitment campaigns.",
    ],
    "hia5": [
        "Ensure international recruits receive clear communication, guidance and support on "
        "conditions of employment, including immigration policy, conditions for accompanying "
        "family members, financial commitment, and future career options before they join.",
        "Create comprehensive onboarding programmes for international recruits, drawing on best practice.",
        "Give international recruits access to the same training, development and career "
        "progression opportunities as the wider workforce.",
    ],
    "hia6": [
        "Review data by protected characteristic on bullying, harassment, discrimination and "
        "violence, with reduction targets set and plans to improve staff experience in place.",
        "Review disciplinary and employee relations processes. Where the data shows inconsistency "
        "around protected characteristics immediate steps must be taken to improve this.",
    ],
}
PP_BY_MARCH = [
    "Ongoing risk assessments",
    "COVID-19 (and flu) vaccination",
    "Access to psychological and physical support",
    "Encourage health and wellbeing conversations",
    "Staff networks prominent in contributing to and informing decision-making processes (e.g. on "
    "COVID-19 vaccination and health and wellbeing of staff at greatest risk)",
    "Safe deployment and CPD investment to support critical care capability and COVID-19 "
    "vaccination programme",
    "Develop workforce sharing agreements locally to enable rapid deployment of our people across "
    "localities",
    "Develop system-level models of recruitment and retention",
]
PP_BY_JUNE = [
    "Embed health and wellbeing conversations (including training and support to line managers "
    "and a means of tracking delivery)",
    "Delivering against Model Employer goals",
    "Eliminating the ethnicity gap in formal disciplinary processes",
    "Overhaul of recruitment practices",
    "Digital and remote working plans including technology-enhanced learning",
    "Develop competency-based workforce modelling and planning",
]
PP_SUPPORTING_NATIONAL = [
    "Maintain national HWB offer",
    "Mental health hubs",
    "Enhanced OH&WB offer",
    "Extend support to HWB Guardians and line managers",
    "EDI Inside – resources and support to priority actions",
    "Senior systems leader support offer and increase in digitally delivered training",
    "COVID-19 vaccination programme",
    "National support for safe deployment in critical care (and other settings under particular pressure)",
    "Workforce planning",
    "Digital passports",
    "Growing the numbers of clinical support workers",
    "Retention initiatives focused on ‘at risk’ cohorts (e.g. over 50s)",
]
SIX_NATIONAL = [
    "Ensure Executive Senior Managers own the agenda",
    "Introduce a system of ‘comply or explain’",
    "Organise talent panels",
    "Enhance equality, diversity, and inclusion support.",
    "Overhaul interview processes",
    "Adopt resources, guides, and tools for productive conversations about race",
]

# Metric ids defined in CONTRACT.md §4 (the catalogue may cite only these).
CONTRACT_METRICS = {
    "wres.1.share",
    "wdes.1.share",
    "hia2.senior_share",
    "hia2.representation_ratio",
    "wres.9.board_gap",
    "wdes.10.board_gap",
    "wres.2.appointment_rate",
    "wres.2.relative_likelihood",
    "wdes.2.relative_likelihood",
    "sex.2.relative_likelihood",
    "hia2.shortlisting_rate",
    "hia2.shortlisted_share",
    "wres.4.relative_likelihood",
    "wres.3.relative_likelihood",
    "wdes.3.relative_likelihood",
    "er.outcome_share",
    "er.days_to_close_median",
    "hia6.crude_rate_ratio",
    "hia6.rate_ratio_staff_group",
    "hia6.adjusted_rate_ratio",
    "hia6.disparity",
    "hia6.staff_group_rate_ratio",
    "hia6.staff_group_difference",
    "hia6.disability.adjusted_rate_ratio",
    "hia6.disability.disparity",
    "pay.gender.mean_gap",
    "pay.gender.median_gap",
    "pay.gender.bonus_mean_gap",
    "pay.gender.bonus_median_gap",
    "pay.gender.bonus_share",
    "pay.gender.quartile_share",
    "pay.ethnicity.mean_gap",
    "pay.ethnicity.median_gap",
    "pay.disability.mean_gap",
    "pay.disability.median_gap",
    "pay.medical.gender_mean_gap",
    "pay.medical.gender_median_gap",
    "pay.medical.adjusted_gender_gap",
    "hia3.flexible_working_share",
    "hia4.sickness_absence_rate",
    "pp.hwb.risk_assessment_completed_rate",
    "pp.hwb.flu_vaccinated_rate",
    "pp.hwb.wellbeing_conversation_rate",
    "pp.leaver_rate",
    "hia5.training_relative_likelihood",
    "hia5.retention_12m",
    "wres.5",
    "wres.6",
    "wres.7",
    "wres.8",
    "wdes.4a.public",
    "wdes.4a.manager",
    "wdes.4a.colleague",
    "wdes.4b",
    "wdes.5",
    "wdes.6",
    "wdes.7",
    "wdes.8",
    "wdes.9a",
    "hia4.org_action_hwb",
    "hia5.belonging",
    "hia5.harassment_manager_team",
    "hia6.harassment_manager_team",
    "hia6.discrimination_colleague",
    "hia1.smart_objectives_share",
    "hia1.appraised_share",
    "actions.status",
}


@pytest.fixture(scope="module")
def actions():
    return load_actions()


def by_text(actions):
    return {a.text: a for a in actions}


# --- Completeness against the reference documents ------------------------------------------------


def test_every_prn01002_deliverable_is_present_verbatim_due_march_2024(actions):
    texts = by_text(actions)
    for area, items in LETTER.items():
        for text in items:
            a = texts[text]
            assert (a.area, a.due) == (area, dt.date(2024, 3, 31)), text
    assert sum(len(v) for v in LETTER.values()) == 10
    assert [a.owner_level for a in actions if a.area == "hia1"] == ["board", "board"]


#: High impact actions 2 and 4 as the plan itself words and dates them (NHS England, NHS
#: equality, diversity and inclusion improvement plan, June 2023); the catalogue used to give
#: each HIA one action due 2025-03-31, from a summary.
PLAN_HIA2_HIA4 = {
    "Create and implement a talent management plan to improve the diversity of executive and "
    "senior leadership teams.": ("hia2", dt.date(2024, 6, 30)),
    "Evidence progress of implementation of the talent management plan to improve the "
    "diversity of executive and senior leadership teams.": ("hia2", dt.date(2025, 6, 30)),
    "Implement a plan to widen recruitment opportunities within local communities, aligned to "
    "the NHS Long Term Workforce Plan. This should include the creation of career pathways into "
    "the NHS such as apprenticeship programmes and graduate management training schemes. "
    "Impact should be measured in terms of social mobility across the integrated care system "
    "(ICS) footprint.": ("hia2", dt.date(2024, 10, 31)),
    "Develop and implement an improvement plan to address health inequalities within the "
    "workforce.": ("hia4", None),
    "Line managers and supervisors should have regular effective wellbeing conversations with "
    "their teams, utilising resources such as the national NHS health and wellbeing "
    "framework.": ("hia4", dt.date(2023, 10, 31)),
    "Work in partnership with community organisations, facilitated by ICBs working with NHS "
    "organisations and arm's length bodies, such as the NHS Race and Health Observatory. For "
    "example, local educational and voluntary sector partners can support social mobility and "
    "improve employment opportunities across healthcare.": ("hia4", dt.date(2025, 4, 30)),
}


def test_high_impact_actions_2_and_4_as_the_plan_dates_them(actions):
    hia24 = {a.text: (a.area, a.due) for a in actions if a.area in ("hia2", "hia4")}
    assert hia24 == PLAN_HIA2_HIA4
    # no HIA2/HIA4 action is due 2025-03-31: that date came from a summary, not the plan
    assert dt.date(2025, 3, 31) not in {d for _, d in hia24.values()}
    for a in actions:
        if a.area in ("hia2", "hia4") and a.due is not None:
            assert "improvement plan (June 2023), high impact action" in a.source
            assert f"by {a.due:%B %Y}" in a.source, a.source  # the plan's own words cited


def test_people_plan_employer_actions_and_due_dates(actions):
    employer = [
        a for a in actions if a.area == "people_plan" and a.owner_level == "employer_system"
    ]
    # 8 by end March 2021 + 6 by end June 2021 = 14 employer/system actions.
    assert len(employer) == 14
    assert Counter(a.due for a in employer) == {dt.date(2021, 3, 31): 8, dt.date(2021, 6, 30): 6}
    texts = by_text(actions)
    assert all(texts[t].due == dt.date(2021, 3, 31) for t in PP_BY_MARCH)
    assert all(texts[t].due == dt.date(2021, 6, 30) for t in PP_BY_JUNE)


def test_supporting_and_six_national_actions_are_national_and_undated(actions):
    texts = by_text(actions)
    national = [a for a in actions if a.owner_level == "national"]
    assert len(national) == 12 + 6
    for t in PP_SUPPORTING_NATIONAL + SIX_NATIONAL:
        assert (texts[t].owner_level, texts[t].due, texts[t].area) == (
            "national",
            None,
            "people_plan",
        ), t
    assert texts["Organise talent panels"].id == "pp.national.talent_panels"
    six = [a for a in actions if "six national actions" in a.source]
    assert [a.text for a in six] == SIX_NATIONAL


def test_catalogue_holds_exactly_the_reference_actions(actions):
    expected = (
        [t for v in LETTER.values() for t in v]
        + PP_BY_MARCH
        + PP_BY_JUNE
        + PP_SUPPORTING_NATIONAL
        + SIX_NATIONAL
        + list(PLAN_HIA2_HIA4)
    )
    assert sorted(a.text for a in actions) == sorted(expected)
    assert len({a.id for a in actions}) == len(actions) == 48


def test_metric_references_are_contract_ids_and_registered(actions):
    cited = {m for a in actions for m in a.metrics}
    assert cited <= CONTRACT_METRICS, sorted(cited - CONTRACT_METRICS)
    missing = unregistered_metrics(actions)
    assert not missing, f"catalogue cites metric ids not in the registry: {missing}"
    # The People Plan wellbeing actions are evidenced by their own measures.
    ids = {a.id: a for a in actions}
    assert ids["pp.hwb.risk_assessments"].metrics == ("pp.hwb.risk_assessment_completed_rate",)


# --- Loader validation ---------------------------------------------------------------------


def _entry(**kw):
    base = dict(
        id="edi.hia1.x",
        text="Do it.",
        area="hia1",
        owner_level="board",
        due="2024-03-31",
        source="letter",
        metrics=[],
    )
    return {**base, **kw}


def test_loader_reports_every_problem_at_once():
    bad = {
        "actions": [
            _entry(),
            _entry(),  # duplicate id
            _entry(id="edi.hia1.y", area="hia9"),
            _entry(id="edi.hia1.z", due="March 2024"),
            _entry(id="edi.hia1.w", owner_level="trust", colour="red"),
            _entry(id="Bad Id"),
        ]
    }
    with pytest.raises(CatalogueError) as err:
        parse_actions(bad)
    msg = str(err.value)
    for fragment in (
        "duplicate id",
        "area 'hia9'",
        "due 'March 2024'",
        "owner_level 'trust'",
        "unknown field(s) colour",
        "dotted lower-case slug",
    ):
        assert fragment in msg


def test_loader_accepts_dates_and_null():
    acts = parse_actions(
        {"actions": [_entry(due=dt.date(2024, 3, 31)), _entry(id="pp.a.b", due=None)]}
    )
    assert [a.due for a in acts] == [dt.date(2024, 3, 31), None]


# --- RAG rules ------------------------------------------------------------------------------


def test_rag_rules_and_due_date_boundary():
    due = pd.Timestamp("2024-03-31")
    cases = [
        # (status, due, reference date, expected)
        ("complete", due, "2025-01-01", "green"),  # complete counts even when late
        ("in_progress", due, "2024-03-31", "amber"),  # on the due date: not yet past due
        ("in_progress", due, "2024-04-01", "red"),  # a day later: past due
        ("in_progress", pd.NaT, "2030-01-01", "amber"),  # no due date: never past due
        ("not_started", due, "2023-01-01", "red"),  # not started is red even before due
        (np.nan, due, "2023-01-01", "grey"),  # no record
        ("not_applicable", due, "2025-01-01", "grey"),  # Convention
    ]
    status, dues, refs, expected = zip(*cases)
    assert list(rag(list(status), list(dues), [pd.Timestamp(r) for r in refs])) == list(expected)


def actions_table(records) -> pd.DataFrame:
    df = pd.DataFrame(records, columns=["trust_code", "action_id", "status", "updated_on"])
    for c in ("trust_code", "action_id", "status"):
        df[c] = df[c].astype("str")
    df["updated_on"] = pd.to_datetime(df["updated_on"])
    df["owner"] = pd.array(["Chief People Officer"] * len(df), dtype="str")
    df["evidence"] = pd.array([None] * len(df), dtype="str")
    return df


def test_action_status_rows_for_every_catalogue_action_trust_and_period(actions):
    table = actions_table(
        [
            ("T1", "edi.hia1.smart_objectives", "complete", "2024-02-01"),
            ("T1", "edi.hia3.mend_the_gap", "not_started", "2023-12-01"),
            ("T1", "edi.hia3.mend_the_gap", "in_progress", "2024-03-01"),  # latest record wins
            ("T1", "edi.hia2.talent_management", "not_applicable", "2024-01-10"),
        ]
    )
    periods = ["2024-03-31", "2024-06-30"]
    ctx = MetricContext.from_tables({"actions": table}, periods, trusts=["T1", "T2"])
    out = compute(ctx, ["actions.status"])
    assert len(out) == len(actions) * 2 * 2  # every action × 2 trusts × 2 periods
    assert not out.suppressed.any()

    def get(trust, period, action):
        sel = out[
            (out.trust_code == trust)
            & (out.period == period)
            & (out.breakdown == f"action={action}")
        ]
        assert len(sel) == 1
        return sel.iloc[0]

    r = get("T1", "2024-03-31", "edi.hia3.mend_the_gap")
    assert (r.value, r.area, r.group) == ("amber", "hia3", "All")  # in progress, due 2024-03-31
    assert r.note == "due 2024-03-31; recorded status in_progress (updated 2024-03-01)"
    assert get("T1", "2024-06-30", "edi.hia3.mend_the_gap").value == "red"  # now past due
    assert get("T1", "2024-06-30", "edi.hia1.smart_objectives").value == "green"
    na = get("T1", "2024-03-31", "edi.hia2.talent_management")
    assert na.value == "grey" and "not applicable" in na.note and na.area == "hia2"
    none = get("T2", "2024-03-31", "pp.national.talent_panels")
    assert none.value == "grey" and none.note == "no due date; no status recorded"
    assert none.area == "people_plan"


@pytest.mark.parametrize(
    "period, as_of, expected",
    [
        ("2024-03-31", "2024-04-01", "red"),  # as_of a day after the due date: past due
        ("2024-06-30", "2024-03-31", "amber"),  # as_of on the due date wins over a later period
        ("2024-03-31", None, "amber"),  # no as_of: the period date (= due date) is used
    ],
)
def test_action_status_judges_due_dates_against_as_of_when_given(period, as_of, expected):
    # edi.hia3.mend_the_gap is due 2024-03-31 (PRN01002).
    table = actions_table([("T1", "edi.hia3.mend_the_gap", "in_progress", "2024-03-01")])
    ctx = MetricContext.from_tables(
        {"actions": table}, [period], trusts=["T1"],
        as_of=pd.Timestamp(as_of) if as_of else None,
    )
    rows = action_status(ctx)
    r = rows[rows.breakdown == "action=edi.hia3.mend_the_gap"].iloc[0]
    assert r.label == expected and r.basis == "label"


def test_no_actions_table_gives_all_grey(actions):
    rows = action_status(MetricContext.from_tables({}, ["2024-03-31"], trusts=["T1"]))
    assert len(rows) == len(actions) and set(rows.label) == {"grey"}
    assert set(rows.area) == {a.area for a in actions}
