"""Staff survey metrics (CONTRACT.md §4.6): WRES 5–8, WDES 4–9, EDI plan survey measures.

Six respondents of trust T1 in the 2023 survey (used for period 2024-03-31),
one in 2022 and one in 2024 (used for no 2024-03-31 figure). Expected values
are counted by hand from the table below; intervals are checked against
statsmodels (Wilson) and scipy (t).

    id  eth  dis  intl  h_public h_mgr h_col  eq_opp  discr  adj  engage
    r1  A    N    N     Y        Y     N      Y       N      -    7
    r2  A    Y    N     N        N     -      Y       -      Y    5
    r3  M    Y    Y     Y        -     Y      N       Y      N    6
    r4  H    N    Y     -        N     N      N       N      -    -
    r5  Z    U    -     N        -     -      Y       N      -    8
    r6  C    Y    N     Y        N     N      -       Y      Y    9

Groups: White r1 r2 r6; BME r3 r4; Unknown r5. Disabled r2 r3 r6;
Non-disabled r1 r4; Unknown r5. International r3 r4; Domestic r1 r2 r5 r6
(blank international_recruit → Domestic, groups.add_groups).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from edi_analysis.metrics import REGISTRY, MetricContext, compute
from edi_analysis.metrics.survey import ITEMS, survey_metrics, survey_year

Y, N, _ = True, False, None
ANSWERS = [
    "harassment_public",
    "harassment_manager",
    "harassment_colleague",
    "reported_harassment",
    "equal_opportunities",
    "discrimination_colleague",
    "pressure_unwell",
    "valued_by_org",
    "adjustments_made",
    "org_action_health_wellbeing",
    "belonging",
]


def survey_table(rows: list[dict]) -> pd.DataFrame:
    """A validated-shape staff_survey table; unspecified answers are blank."""
    df = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "respondent_id": pd.array(df["id"], dtype="str"),
            "trust_code": pd.array(
                df.get("trust", pd.Series([None] * len(df))).fillna("T1"), dtype="str"
            ),
            "survey_year": df["year"].astype("int64"),
            "ethnic_category": pd.array(df["eth"], dtype="str"),
            "disability": pd.array(df["dis"], dtype="str"),
            "sex": pd.array(["F"] * len(df), dtype="str"),
            "staff_group": pd.array(["Nursing and Midwifery Registered"] * len(df), dtype="str"),
            "international_recruit": pd.array(df["intl"], dtype="boolean"),
        }
    )
    for col in ANSWERS:
        vals = df[col] if col in df else [None] * len(df)
        out[col] = pd.array(list(vals), dtype="boolean")
    out["engagement_score"] = pd.to_numeric(df.get("engagement_score"), errors="coerce").astype(
        "float64"
    )
    return out


def _r(id, eth, dis, intl, hp, hm, hc, eq, disc, adj, eng, year=2023, **kw):
    return dict(
        id=id,
        eth=eth,
        dis=dis,
        intl=intl,
        harassment_public=hp,
        harassment_manager=hm,
        harassment_colleague=hc,
        equal_opportunities=eq,
        discrimination_colleague=disc,
        adjustments_made=adj,
        engagement_score=eng,
        year=year,
        **kw,
    )


RESPONDENTS = [
    _r("r1", "A", "N", N, Y, Y, N, Y, N, _, 7.0),
    _r("r2", "A", "Y", N, N, N, _, Y, _, Y, 5.0),
    _r("r3", "M", "Y", Y, Y, _, Y, N, Y, N, 6.0),
    _r("r4", "H", "N", Y, _, N, N, N, N, _, None),
    _r("r5", "Z", "U", _, N, _, _, Y, N, _, 8.0),
    _r("r6", "C", "Y", N, Y, N, N, _, Y, Y, 9.0),
    # Other survey years: 2022 serves period 2023-03-31 only; 2024 serves no period here.
    _r("r7", "A", "N", N, Y, Y, Y, Y, Y, Y, 1.0, year=2022),
    _r("r8", "A", "N", N, Y, Y, Y, Y, Y, Y, 1.0, year=2024),
]


def context(rows=RESPONDENTS, periods=("2024-03-31",), **kw) -> MetricContext:
    return MetricContext.from_tables({"staff_survey": survey_table(rows)}, periods, **kw)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return survey_metrics(context())


def pick(rows, metric, breakdown="", group="All", period="2024-03-31"):
    sel = rows[
        (rows.metric_id == metric)
        & (rows.breakdown == breakdown)
        & (rows.group == group)
        & (rows.period == period)
    ]
    assert len(sel) == 1, f"{metric} {breakdown!r} {group}: {len(sel)} rows"
    return sel.iloc[0]


def assert_share(row, k, n):
    assert row.numerator == k and row.denominator == n and row.n_values == n
    if n == 0:
        assert np.isnan(row.value)
        return
    assert row.value == pytest.approx(100 * k / n)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert row.ci_lower == pytest.approx(100 * lo) and row.ci_upper == pytest.approx(100 * hi)


def test_every_survey_metric_is_registered_with_the_contract_id():
    ids = {
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
    }
    assert ids <= set(REGISTRY)
    assert {REGISTRY[i].family for i in ids} == {"survey"}
    assert REGISTRY["wdes.9a"].unit == "score"
    assert {REGISTRY[i].unit for i in ids - {"wdes.9a"}} == {"percent"}
    # Question numbers are cited for every WRES/WDES survey indicator.
    assert all("Q" in REGISTRY[i].source for i in ids if i.startswith(("wres", "wdes.4", "wdes.5")))


def test_survey_year_is_the_calendar_year_before_the_snapshot():
    assert survey_year(pd.Timestamp("2024-03-31")) == 2023
    assert survey_year(pd.Timestamp("2023-03-31")) == 2022
    rows = survey_metrics(context(periods=("2023-03-31", "2024-03-31")))
    # 2023-03-31 → survey 2022: only r7 (harassment_public Y) → 1/1.
    assert_share(pick(rows, "wres.5", period="2023-03-31"), 1, 1)
    # 2024-03-31 → survey 2023: r7 (2022) and r8 (2024) are not counted (see test below: 3/5).
    assert_share(pick(rows, "wres.5"), 3, 5)
    assert set(rows.note[rows.period == "2023-03-31"]) == {"NHS Staff Survey 2022"}
    assert set(rows.note[rows.period == "2024-03-31"]) == {"NHS Staff Survey 2023"}


def test_wres5_headline_is_ethnicity_and_other_characteristics_are_breakdowns(raw):
    # harassment_public answered by r1 Y, r2 N, r3 Y, r5 N, r6 Y (r4 blank, excluded): 3/5.
    assert_share(pick(raw, "wres.5"), 3, 5)
    assert_share(pick(raw, "wres.5", "", "White"), 2, 3)  # r1 Y, r2 N, r6 Y
    assert_share(pick(raw, "wres.5", "", "BME"), 1, 1)  # r3 Y (r4 blank)
    assert_share(pick(raw, "wres.5", "", "Unknown"), 0, 1)  # r5 N
    bd = "characteristic=disability"
    assert_share(pick(raw, "wres.5", bd, "Disabled"), 2, 3)  # r2 N, r3 Y, r6 Y
    assert_share(pick(raw, "wres.5", bd, "Non-disabled"), 1, 1)  # r1 Y (r4 blank)
    assert_share(pick(raw, "wres.5", bd, "Unknown"), 0, 1)  # r5 N
    bi = "characteristic=international_recruit"
    assert_share(pick(raw, "wres.5", bi, "International"), 1, 1)  # r3 Y (r4 blank)
    assert_share(pick(raw, "wres.5", bi, "Domestic"), 2, 4)  # r1 Y, r2 N, r5 N, r6 Y
    w5 = raw[raw.metric_id == "wres.5"]
    # Ethnicity is the headline, so it is not repeated as a breakdown.
    assert set(w5.breakdown) == {"", bd, bi}
    assert set(w5.basis) == {"survey"}


def test_wres6_combines_manager_and_colleague_answers(raw):
    # Y if either is Y; N if both N; otherwise not answered:
    # r1 (Y,N)→Y; r2 (N,-)→not answered; r3 (-,Y)→Y; r4 (N,N)→N; r5 (-,-)→no; r6 (N,N)→N.
    assert_share(pick(raw, "wres.6"), 2, 4)
    assert_share(pick(raw, "wres.6", "", "White"), 1, 2)  # r1 Y, r6 N
    assert_share(pick(raw, "wres.6", "", "BME"), 1, 2)  # r3 Y, r4 N
    assert_share(pick(raw, "wres.6", "", "Unknown"), 0, 0)  # r5 not answered
    assert_share(pick(raw, "wres.6", "characteristic=disability", "Disabled"), 1, 2)  # r3 Y, r6 N


def test_wres7_wres8_and_wdes_headline_by_disability(raw):
    # equal_opportunities: r1 Y, r2 Y, r3 N, r4 N, r5 Y (r6 blank) → 3/5.
    assert_share(pick(raw, "wres.7"), 3, 5)
    assert_share(pick(raw, "wres.7", "", "BME"), 0, 2)
    # discrimination_colleague: r1 N, r3 Y, r4 N, r5 N, r6 Y (r2 blank) → 2/5; White r1 N, r6 Y.
    assert_share(pick(raw, "wres.8"), 2, 5)
    assert_share(pick(raw, "wres.8", "", "White"), 1, 2)
    # WDES 5 = same answer, disability headline: Disabled r2 Y, r3 N (r6 blank) → 1/2.
    assert_share(pick(raw, "wdes.5", "", "Disabled"), 1, 2)
    assert_share(pick(raw, "wdes.5", "", "Non-disabled"), 1, 2)  # r1 Y, r4 N
    assert_share(pick(raw, "wdes.5", "characteristic=ethnicity", "White"), 2, 2)  # r1 Y, r2 Y
    # WDES 4a by source: managers r1 Y, r2 N, r4 N, r6 N → Disabled (r2, r6) 0/2, Non-disabled 1/2.
    assert_share(pick(raw, "wdes.4a.manager", "", "Disabled"), 0, 2)
    assert_share(pick(raw, "wdes.4a.manager", "", "Non-disabled"), 1, 2)
    # colleagues r1 N, r3 Y, r4 N, r6 N → Disabled (r3, r6) 1/2.
    assert_share(pick(raw, "wdes.4a.colleague", "", "Disabled"), 1, 2)
    assert_share(pick(raw, "wdes.4a.public", "", "Disabled"), 2, 3)  # r2 N, r3 Y, r6 Y
    w = raw[raw.metric_id == "wdes.4a.public"]
    assert set(w.breakdown) == {
        "",
        "characteristic=ethnicity",
        "characteristic=international_recruit",
    }


def test_success_metrics_5b_and_6a_count_harassment_from_managers_or_the_team(raw):
    """EDI plan 5b ("bullying, harassment from team/line manager for IR staff") and 6a
    ("bullying / harassment from line managers/teams (ALL staff)"): managers (Q14b) or other
    colleagues (Q14c), combined as in WRES 6 — not managers alone, as before."""
    # Combined answer: r1 (Y, N) → Y; r2 (N, blank) → not answered; r3 (blank, Y) → Y;
    # r4 (N, N) → N; r5 (blank, blank) → not answered; r6 (N, N) → N.
    # International r3 Y, r4 N → 1/2 (managers alone: r3 blank, r4 N → 0/1).
    assert_share(pick(raw, "hia5.harassment_manager_team", "", "International"), 1, 2)
    # Domestic r1 Y, r6 N (r2, r5 not answered) → 1/2 (managers alone: 1/3).
    assert_share(pick(raw, "hia5.harassment_manager_team", "", "Domestic"), 1, 2)
    # 6a, all staff: r1 Y, r3 Y, r4 N, r6 N → 2/4; White r1 Y, r6 N → 1/2 (managers alone: 1/3).
    assert_share(pick(raw, "hia6.harassment_manager_team", "", "All"), 2, 4)
    assert_share(pick(raw, "hia6.harassment_manager_team", "", "White"), 1, 2)
    # The same answer as WRES 6, shown as the plan's success metric.
    for g in ("All", "White", "BME"):
        assert pick(raw, "hia6.harassment_manager_team", "", g).value == pytest.approx(
            pick(raw, "wres.6", "", g).value, nan_ok=True)
    assert "success metric 6a" in REGISTRY["hia6.harassment_manager_team"].source
    assert "team/line manager" in REGISTRY["hia5.harassment_manager_team"].source


def test_wdes8_is_asked_of_disabled_staff_only(raw):
    w = raw[raw.metric_id == "wdes.8"]
    # Headline: Disabled only (no All, no Non-disabled, no Unknown).
    assert set(w[w.breakdown == ""].group) == {"Disabled"}
    assert "characteristic=disability" not in set(w.breakdown)
    # Disabled respondents r2 Y, r3 N, r6 Y → 2/3; r1 and r4 (Non-disabled) are never counted.
    assert_share(pick(raw, "wdes.8", "", "Disabled"), 2, 3)
    assert_share(pick(raw, "wdes.8", "characteristic=ethnicity", "White"), 2, 2)  # r2, r6
    assert_share(pick(raw, "wdes.8", "characteristic=ethnicity", "BME"), 1 - 1, 1)  # r3 N
    assert_share(pick(raw, "wdes.8", "characteristic=ethnicity", "Unknown"), 0, 0)
    assert_share(pick(raw, "wdes.8", "characteristic=international_recruit", "Domestic"), 2, 2)


def test_wdes9a_mean_engagement_with_t_interval_matches_scipy(raw):
    scores = np.array([7.0, 5.0, 6.0, 8.0, 9.0])  # r4 has no score
    row = pick(raw, "wdes.9a")
    assert row.value == pytest.approx(7.0)  # 35 / 5
    assert row.n_values == 5 and row.basis == "survey"
    lo, hi = sps.t.interval(0.95, df=4, loc=scores.mean(), scale=sps.sem(scores))
    assert row.ci_lower == pytest.approx(lo) and row.ci_upper == pytest.approx(hi)
    dis = pick(raw, "wdes.9a", "", "Disabled")  # r2 5, r3 6, r6 9 → 20/3
    assert dis.value == pytest.approx(20 / 3) and dis.n_values == 3
    one = pick(raw, "wdes.9a", "", "Non-disabled")  # r1 only: no interval from one value
    assert one.value == 7.0 and one.n_values == 1 and np.isnan(one.ci_lower)


def test_survey_rows_are_suppressed_below_min_survey_responses():
    out = compute(context(), ["wres.5", "wdes.9a"], min_survey_responses=5)
    # All answered by 5 respondents (≥ 5) is shown; every group has fewer answers.
    shown = out[~out.suppressed]
    assert set(zip(shown.metric_id, shown.group, shown.breakdown)) == {
        ("wres.5", "All", ""),
        ("wdes.9a", "All", ""),
    }
    assert out[out.suppressed].value.isna().all()


def test_groups_without_respondents_keep_a_row_and_other_trusts_are_separate():
    rows = RESPONDENTS + [
        _r("t2a", "A", "N", N, N, N, N, N, N, _, 4.0, trust="T2"),
    ]
    out = survey_metrics(context(rows))
    t2 = out[(out.trust_code == "T2") & (out.metric_id == "wres.5")]
    # All, White, BME, Unknown + 3 disability + 2 international groups = 9 rows.
    assert len(t2) == 9
    assert t2.set_index(["breakdown", "group"]).loc[("", "BME"), "n_values"] == 0
    # Trust T1's figures are unchanged by T2's respondent: all trusts at once = trust by trust.
    assert_share(pick(out[out.trust_code == "T1"], "wres.5"), 3, 5)
    for trust in ("T1", "T2"):
        alone = survey_metrics(context(rows, trusts=[trust]))
        together = out[out.trust_code == trust]
        key = ["metric_id", "breakdown", "group", "period"]
        pd.testing.assert_frame_equal(
            alone.sort_values(key, ignore_index=True), together.sort_values(key, ignore_index=True)
        )


def test_no_survey_for_the_period_gives_no_rows():
    out = survey_metrics(context(periods=("2021-03-31",)))
    assert out.empty
    assert len(ITEMS) == 17
