"""Wellbeing, retention, international recruits and board EDI objectives (CONTRACT.md §4.6).

Small hand-made tables; the expected values are counted by hand with the
arithmetic in comments, intervals checked against statsmodels or an
independent per-person computation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from edi_analysis.metrics import REGISTRY, MetricContext, compute
from edi_analysis.metrics.board import board_objectives
from edi_analysis.metrics.wellbeing import ratio_interval, wellbeing

from disclosure_support import declared

Z = 1.959963984540054
EARLIER, LATER = "2023-03-31", "2024-03-31"


def staff(
    sid,
    snap,
    *,
    trust="T1",
    eth="A",
    dis="N",
    sex="F",
    contract="permanent",
    start="2015-01-01",
    age="35-44",
    intl=False,
    training=True,
    sick=5.0,
    avail=220.0,
    **opt,
):
    return dict(
        staff_id=sid,
        trust_code=trust,
        snapshot_date=snap,
        ethnic_category=eth,
        sex=sex,
        disability=dis,
        staff_group="Nursing and Midwifery Registered",
        pay_band="Band 5",
        contract_type=contract,
        fte=1.0,
        start_date=start,
        age_band=age,
        hourly_pay=20.0,
        full_pay_relevant=True,
        bonus_pay_12m=0.0,
        accessed_nonmandatory_training=training,
        flexible_working=False,
        international_recruit=intl,
        sickness_days_12m=sick,
        available_days_12m=avail,
        **opt,
    )


BOOL = [
    "full_pay_relevant",
    "accessed_nonmandatory_training",
    "flexible_working",
    "international_recruit",
    "risk_assessment_completed",
    "flu_vaccinated",
    "wellbeing_conversation",
]


def workforce(rows: list[dict]) -> pd.DataFrame:
    """A validated-shape workforce table from dicts (see CONTRACT.md §2.1)."""
    df = pd.DataFrame(rows)
    for c in df.columns:
        if c in BOOL:
            df[c] = pd.array(df[c].astype("object").where(df[c].notna(), None), dtype="boolean")
        elif c in ("snapshot_date", "start_date"):
            df[c] = pd.to_datetime(df[c])
        elif c in ("fte", "hourly_pay", "bonus_pay_12m", "sickness_days_12m", "available_days_12m"):
            df[c] = df[c].astype("float64")
        else:
            df[c] = df[c].astype("str")
    return df


def ctx_for(rows, periods=(LATER,), **kw) -> MetricContext:
    return MetricContext.from_tables({"workforce": workforce(rows)}, periods, **kw)


def pick(rows, metric, breakdown="", group="All", period=LATER, trust="T1"):
    sel = rows[
        (rows.metric_id == metric)
        & (rows.breakdown == breakdown)
        & (rows.group == group)
        & (rows.period == period)
        & (rows.trust_code == trust)
    ]
    assert len(sel) == 1, f"{metric} {breakdown!r} {group}: {len(sel)} rows"
    return sel.iloc[0]


def assert_rate(row, k, n):
    assert (row.numerator, row.denominator) == (k, n)
    assert row.value == pytest.approx(100 * k / n)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert row.ci_lower == pytest.approx(100 * lo) and row.ci_upper == pytest.approx(100 * hi)


def test_ids_registered_exactly_as_in_the_contract():
    ids = {
        "hia4.sickness_absence_rate",
        "pp.hwb.risk_assessment_completed_rate",
        "pp.hwb.flu_vaccinated_rate",
        "pp.hwb.wellbeing_conversation_rate",
        "pp.leaver_rate",
        "hia5.training_relative_likelihood",
        "hia5.retention_12m",
        "hia1.smart_objectives_share",
        "hia1.appraised_share",
    }
    assert ids <= set(REGISTRY)
    assert REGISTRY["hia5.training_relative_likelihood"].unit == "ratio"
    assert {REGISTRY[i].area for i in ids if i.startswith("pp.")} == {"people_plan"}


# --- Leavers and 12-month retention ------------------------------------------------------

# Earlier snapshot (2023-03-31): s1–s6 in scope, s7 bank (out of scope).
# Later snapshot (2024-03-31): s1, s2 present; s4 present on a bank contract (still
# employed, so not a leaver); s8 a new joiner (not in the earlier denominator).
# Leavers: s3 (White, 55+), s5 (Unknown, 55+), s6 (White, <25); s7 left but is bank.
YEAR_ROWS = [
    staff("s1", EARLIER, eth="A", age="55+"),
    staff("s2", EARLIER, eth="M", age="25-34", start="2022-06-01", intl=True),
    staff("s3", EARLIER, eth="A", age="55+", start="2023-03-31"),
    staff("s4", EARLIER, eth="H", age="35-44"),
    staff("s5", EARLIER, eth="Z", age="55+", start="2022-04-01", intl=True),
    staff("s6", EARLIER, eth="B", age="<25", start="2022-03-31"),
    staff("s7", EARLIER, eth="A", age="55+", contract="bank"),
    staff("s1", LATER, eth="A", age="55+"),
    staff("s2", LATER, eth="M", age="25-34", intl=True),
    staff("s4", LATER, eth="H", age="35-44", contract="bank"),
    staff("s8", LATER, eth="A", age="<25", start="2023-09-01"),
]


@pytest.fixture(scope="module")
def year_rows() -> pd.DataFrame:
    return wellbeing(ctx_for(YEAR_ROWS))


def test_leaver_rate_counts_earlier_in_scope_staff_absent_later(year_rows):
    # 3 leavers (s3, s5, s6) of 6 in-scope staff at the earlier snapshot = 50%.
    assert_rate(pick(year_rows, "pp.leaver_rate"), 3, 6)
    eth = "characteristic=ethnicity"
    assert_rate(pick(year_rows, "pp.leaver_rate", eth, "White"), 2, 3)  # s1 stays; s3, s6 leave
    assert_rate(pick(year_rows, "pp.leaver_rate", eth, "BME"), 0, 2)  # s2 stays; s4 on bank
    assert_rate(pick(year_rows, "pp.leaver_rate", eth, "Unknown"), 1, 1)  # s5 leaves
    assert_rate(pick(year_rows, "pp.leaver_rate", "age_band=55+"), 2, 3)  # s1 stays; s3, s5 leave
    assert_rate(pick(year_rows, "pp.leaver_rate", "age_band=<25"), 1, 1)  # s6 (s8 joined later)
    empty = pick(year_rows, "pp.leaver_rate", "age_band=45-54")
    assert empty.denominator == 0 and np.isnan(empty.value) and "no in-scope staff" in empty.note
    assert set(year_rows[year_rows.metric_id == "pp.leaver_rate"].breakdown) == {
        "",
        "characteristic=ethnicity",
        "characteristic=disability",
        "characteristic=sex",
        "age_band=<25",
        "age_band=25-34",
        "age_band=35-44",
        "age_band=45-54",
        "age_band=55+",
    }


def test_retention_cohort_is_starters_in_the_year_before_the_earlier_snapshot(year_rows):
    # Cohort: start in (2022-03-31, 2023-03-31] → s2 (2022-06-01), s3 (2023-03-31, the
    # boundary is in), s5 (2022-04-01); s6 started 2022-03-31 (boundary out).
    # Retained at 2024-03-31: s2 only → 1/3; International s2, s5 → 1/2; Domestic s3 → 0/1.
    assert_rate(pick(year_rows, "hia5.retention_12m"), 1, 3)
    assert_rate(pick(year_rows, "hia5.retention_12m", "", "International"), 1, 2)
    assert_rate(pick(year_rows, "hia5.retention_12m", "", "Domestic"), 0, 1)


def test_missing_earlier_snapshot_gives_one_note_row_per_measure():
    rows = wellbeing(ctx_for(YEAR_ROWS, periods=(EARLIER, LATER)))
    for metric in ("pp.leaver_rate", "hia5.retention_12m"):
        early = rows[(rows.metric_id == metric) & (rows.period == EARLIER)]
        assert len(early) == 1
        r = early.iloc[0]
        assert r.group == "All" and r.breakdown == "" and np.isnan(r.value)
        assert r.note.startswith("no workforce snapshot on 2022-03-31")
    # The published row is blank with its note, not suppressed.
    out = compute(ctx_for(YEAR_ROWS, periods=(EARLIER,)), ["pp.leaver_rate"])
    assert len(out) == 1 and not out.suppressed.iloc[0] and "2022-03-31" in out.note.iloc[0]


# --- Training relative likelihood ----------------------------------------------------------


def test_training_relative_likelihood_domestic_over_international():
    # Domestic: 10 staff, 6 accessed (one blank record counts as not accessed) → 0.6.
    # International: 5 staff, 2 accessed → 0.4. RL = 0.6 / 0.4 = 1.5.
    rows = (
        [staff(f"d{i}", LATER, training=i < 6) for i in range(9)]
        + [staff("d9", LATER, training=None)]
        + [staff(f"i{i}", LATER, intl=True, training=i < 2) for i in range(5)]
    )
    ctx = ctx_for(rows)
    out = wellbeing(ctx)
    r = pick(out, "hia5.training_relative_likelihood", group="Domestic")
    assert r.reference_group == "International"
    assert r.value == pytest.approx(1.5)
    # Katz: SE = √(1/6 − 1/10 + 1/2 − 1/5) = √0.366667 = 0.605530.
    se = math.sqrt(1 / 6 - 1 / 10 + 1 / 2 - 1 / 5)
    assert r.ci_lower == pytest.approx(math.exp(math.log(1.5) - Z * se))  # 0.4578
    assert r.ci_upper == pytest.approx(math.exp(math.log(1.5) + Z * se))  # 4.9146
    # Its cells (edi_analysis.disclosure): domestic 6 accessed of 10, international 2 of 5.
    cells = declared(out, ctx)
    assert sorted(cells.loc[cells["row"] == out.index.get_loc(r.name), "count"]) == [2, 5, 6, 10]


def test_training_relative_likelihood_blank_when_no_international_recruit_trained():
    rows = [staff(f"d{i}", LATER) for i in range(10)] + [
        staff(f"i{i}", LATER, intl=True, training=False) for i in range(10)
    ]
    r = pick(wellbeing(ctx_for(rows)), "hia5.training_relative_likelihood", group="Domestic")
    assert np.isnan(r.value) and "reference group (International)" in r.note


# --- Sickness absence ----------------------------------------------------------------------

SICK_ROWS = [
    staff("a", LATER, eth="A", dis="Y", sick=10.0, avail=200.0),
    staff("b", LATER, eth="A", dis="N", sick=0.0, avail=100.0),
    staff("c", LATER, eth="M", dis="N", sex="M", sick=30.0, avail=300.0),
    staff("d", LATER, eth="M", dis="N", sick=None, avail=250.0),  # no record: excluded
    staff("e", LATER, eth="A", contract="bank", sick=100.0, avail=100.0),  # out of scope
]


def test_sickness_absence_rate_is_days_lost_over_days_available():
    ctx = ctx_for(SICK_ROWS)
    rows = wellbeing(ctx)
    cells = declared(rows, ctx)

    def headcount(r):  # its one cell: the people behind the days, which it does not show
        c = cells[cells["row"] == rows.index.get_loc(r.name)]
        assert not c["shown"].any()
        return c["count"].tolist()

    r = pick(rows, "hia4.sickness_absence_rate")
    # (10 + 0 + 30) ÷ (200 + 100 + 300) × 100 = 40/600 × 100 = 6.6667%.
    assert (r.numerator, r.denominator) == (40.0, 600.0)
    assert r.value == pytest.approx(100 * 40 / 600)
    # Ratio-estimator interval, people as the unit: R = 1/15; residuals yᵢ − R·xᵢ =
    # 10 − 13.333 = −3.333, 0 − 6.667 = −6.667, 30 − 20 = 10; Σe² = 11.111 + 44.444 + 100
    # = 155.556; Var = 3/2 · 155.556 / 600² = 6.4815e-4; SE = 0.025459.
    se = math.sqrt(3 / 2 * (100 / 9 + 400 / 9 + 100) / 600**2)
    assert se == pytest.approx(0.025459, abs=1e-6)
    assert r.ci_lower == pytest.approx(100 * (1 / 15 - Z * se))  # 1.677%
    assert r.ci_upper == pytest.approx(100 * (1 / 15 + Z * se))  # 11.657%
    assert headcount(r) == [3] and r.basis == "rate"  # protected on the headcount, not the days
    assert "excluded" in r.note
    white = pick(rows, "hia4.sickness_absence_rate", "characteristic=ethnicity", "White")
    assert white.value == pytest.approx(100 * 10 / 300) and headcount(white) == [2]
    single = pick(rows, "hia4.sickness_absence_rate", "characteristic=sex", "Male")
    assert single.value == pytest.approx(10.0) and np.isnan(single.ci_lower)  # one person
    # Suppressed on the headcount (3 people < 8) even though 600 days are behind it; a group
    # with nobody in it (0 is not a small count) is published, with no figure.
    out = compute(ctx_for(SICK_ROWS), ["hia4.sickness_absence_rate"])
    assert out.loc[out["suppressed"], "note"].eq("suppressed: based on fewer than 8 people").all()
    empty = out[~out["suppressed"]]
    assert len(empty) == 2 and (empty["denominator"] == 0).all() and empty["value"].isna().all()
    assert set(empty["group"]) == {"Unknown"}  # ethnicity and disability Unknown: no one


def test_ratio_interval_matches_a_per_person_computation():
    rng = np.random.default_rng(7)
    x = rng.uniform(50, 250, 40)
    y = rng.gamma(1.0, 6.0, 40)
    r, lo, hi = ratio_interval(y.sum(), x.sum(), (y**2).sum(), (x**2).sum(), (x * y).sum(), 40)
    ratio = y.sum() / x.sum()
    se = math.sqrt(40 / 39 * ((y - ratio * x) ** 2).sum()) / x.sum()
    assert float(r) == pytest.approx(ratio)
    assert float(lo) == pytest.approx(ratio - Z * se) and float(hi) == pytest.approx(ratio + Z * se)


# --- People Plan health and wellbeing columns ---------------------------------------------------


def test_hwb_rates_per_ethnicity_only_for_columns_and_trusts_with_records():
    rows = [
        staff("a", LATER, eth="A", flu_vaccinated=True),
        staff("b", LATER, eth="A", flu_vaccinated=False),
        staff("c", LATER, eth="M", flu_vaccinated=None),  # no record: counts as not vaccinated
        staff("d", LATER, eth="M", flu_vaccinated=True),
        staff("x", LATER, trust="T2", flu_vaccinated=None),  # T2 holds no flu records at all
    ]
    out = wellbeing(ctx_for(rows))
    flu = out[out.metric_id == "pp.hwb.flu_vaccinated_rate"]
    assert set(flu.trust_code) == {"T1"}
    assert set(flu.group) == {"All", "White", "BME", "Unknown"}
    assert_rate(pick(out, "pp.hwb.flu_vaccinated_rate"), 2, 4)  # a, d of 4
    assert_rate(pick(out, "pp.hwb.flu_vaccinated_rate", "", "White"), 1, 2)
    bme = pick(out, "pp.hwb.flu_vaccinated_rate", "", "BME")
    assert_rate(bme, 1, 2)
    assert "no record" in bme.note
    # risk_assessment_completed / wellbeing_conversation columns absent → no rows.
    assert not out.metric_id.isin(
        ["pp.hwb.risk_assessment_completed_rate", "pp.hwb.wellbeing_conversation_rate"]
    ).any()


# --- Board ---------------------------------------------------------------------------------------


def board_table() -> pd.DataFrame:
    # member, role, voting, executive, smart objectives, appraised
    data = [
        ("m1", "chair", True, False, True, True),
        ("m2", "chief_executive", True, True, True, False),
        ("m3", "executive", True, True, False, None),
        ("m4", "non_executive", True, False, None, None),
        ("m5", "other", False, True, True, True),
    ]
    df = pd.DataFrame(
        data,
        columns=[
            "member_id",
            "role",
            "voting",
            "executive",
            "has_smart_edi_objectives",
            "appraised_on_edi_objectives",
        ],
    )
    df = pd.concat(
        [
            df.assign(snapshot_date=LATER),
            df.iloc[[0]].assign(snapshot_date=EARLIER, has_smart_edi_objectives=False),
        ]
    )
    df["trust_code"] = "T1"
    for c in ("voting", "executive", "has_smart_edi_objectives", "appraised_on_edi_objectives"):
        df[c] = pd.array(df[c].astype("object").where(df[c].notna(), None), dtype="boolean")
    for c in ("member_id", "role", "trust_code"):
        df[c] = df[c].astype("str")
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    df["ethnic_category"] = pd.array(["A"] * len(df), dtype="str")
    df["disability"] = pd.array(["N"] * len(df), dtype="str")
    df["sex"] = pd.array(["F"] * len(df), dtype="str")
    return df.reset_index(drop=True)


def assert_census_share(row, k, n):
    """A share of the board: every member counted, so no confidence interval (a census)."""
    assert (row.numerator, row.denominator) == (k, n)
    assert row.value == pytest.approx(100 * k / n)
    assert pd.isna(row.ci_lower) and pd.isna(row.ci_upper)


def test_board_shares_of_members_at_the_snapshot():
    ctx = MetricContext.from_tables({"board": board_table()}, [LATER])
    rows = board_objectives(ctx)
    # SMART objectives: m1, m2, m5 of 5 members = 60%; m4 has no record (counted as not).
    smart = pick(rows, "hia1.smart_objectives_share")
    assert_census_share(smart, 3, 5)
    assert smart.note == "1 member(s) with no record counted as not evidenced"
    assert_census_share(pick(rows, "hia1.smart_objectives_share", "board=voting"), 2, 4)  # m1, m2 of m1–m4
    assert_census_share(
        pick(rows, "hia1.smart_objectives_share", "board=executive"), 2, 3
    )  # m2, m5 of m2, m3, m5
    # Appraised: m1, m5 of 5 = 40%; m3, m4 blank.
    appraised = pick(rows, "hia1.appraised_share")
    assert_census_share(appraised, 2, 5)
    assert appraised.note.startswith("2 member(s)")
    assert set(rows.basis) == {"board"}
    # Success metric 1a names the chair's and chief executive's appraisals: m1 (chair) appraised,
    # m2 (chief executive) not → 1 of 2; both have SMART objectives → 2 of 2.
    assert_census_share(pick(rows, "hia1.appraised_share", "board=chair_chief_executive"), 1, 2)
    assert_census_share(pick(rows, "hia1.smart_objectives_share", "board=chair_chief_executive"), 2, 2)
    # Board figures are never suppressed, however small (CONTRACT.md §4.8).
    out = compute(ctx, ["hia1.smart_objectives_share", "hia1.appraised_share"])
    assert len(out) == 8 and not out.suppressed.any()


def test_board_uses_the_periods_own_snapshot():
    ctx = MetricContext.from_tables({"board": board_table()}, [EARLIER])
    # Only m1 at 2023-03-31, without SMART objectives: 0/1.
    assert_census_share(pick(board_objectives(ctx), "hia1.smart_objectives_share", period=EARLIER), 0, 1)


# --- All trusts at once = trust by trust ------------------------------------------------------


def test_all_trusts_at_once_equal_trust_by_trust():
    # Two trusts with different staff: the vectorised pass must not mix their figures.
    t2 = [
        dict(r, trust_code="T2", staff_id=r["staff_id"] + "b")
        for r in YEAR_ROWS[:5] + YEAR_ROWS[7:9]
    ]
    tables = {"workforce": workforce(YEAR_ROWS + SICK_ROWS[:2] + t2), "board": board_table()}
    ids = [m for m in REGISTRY if REGISTRY[m].family in ("wellbeing", "board", "actions")]
    together = compute(MetricContext.from_tables(tables, [EARLIER, LATER]), ids, internal=True)
    assert {"T1", "T2"} <= set(together.trust_code)
    for trust in ("T1", "T2"):
        alone = compute(
            MetricContext.from_tables(tables, [EARLIER, LATER], trusts=[trust]), ids, internal=True
        )
        pd.testing.assert_frame_equal(
            alone, together[together.trust_code == trust].reset_index(drop=True)
        )
