"""Pay gaps, bonus, quartiles, Mend the Gap and flexible working (CONTRACT.md §4.5).

Every expected value is computed by hand in a comment; intervals and the
adjusted model are checked against scipy / statsmodels fitted independently.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from edi_analysis.metrics import REGISTRY, MetricContext, compute, compute_raw
from edi_analysis.metrics import pay_gaps as pg
from edi_analysis.metrics import pay_medical as pm

P = "2024-03-31"
SNAP = pd.Timestamp(P)

PAY_IDS = [
    "pay.gender.mean_gap", "pay.gender.median_gap", "pay.gender.bonus_mean_gap",
    "pay.gender.bonus_median_gap", "pay.gender.bonus_share", "pay.gender.quartile_share",
    "pay.ethnicity.mean_gap", "pay.ethnicity.median_gap", "pay.disability.mean_gap",
    "pay.disability.median_gap", "pay.medical.gender_mean_gap", "pay.medical.gender_median_gap",
    "pay.medical.gender_mean_gap_total", "pay.medical.gender_median_gap_total",
    "pay.medical.adjusted_gender_gap", "hia3.flexible_working_share",
]

DEFAULTS = dict(
    trust_code="RAA", snapshot_date=SNAP, ethnic_category="A", sex="F", disability="N",
    staff_group="Nursing and Midwifery Registered", pay_band="Band 5", contract_type="permanent",
    fte=1.0, start_date=pd.Timestamp("2014-03-31"), age_band="35-44", hourly_pay=20.0,
    full_pay_relevant=True, bonus_pay_12m=0.0, accessed_nonmandatory_training=True,
    flexible_working=False, international_recruit=False, sickness_days_12m=0.0,
    available_days_12m=220.0,
)
TEXT = ["staff_id", "trust_code", "ethnic_category", "sex", "disability", "staff_group",
        "pay_band", "contract_type", "age_band"]
BOOL = ["full_pay_relevant", "accessed_nonmandatory_training", "flexible_working",
        "international_recruit"]


def workforce(rows: list[dict]) -> pd.DataFrame:
    """A validated-shape workforce table: defaults filled, contract dtypes."""
    recs = [{**DEFAULTS, "staff_id": f"S{i:04d}", **r} for i, r in enumerate(rows)]
    df = pd.DataFrame(recs)
    for c in TEXT:
        df[c] = df[c].astype("str")
    for c in BOOL:
        df[c] = df[c].astype("boolean")
    for c in ["fte", "hourly_pay", "bonus_pay_12m", "sickness_days_12m", "available_days_12m",
              "bonus_pay_period"]:
        if c in df:
            df[c] = df[c].astype("float64")
    return df


def ctx_for(rows, n_bootstrap=200, seed=20240331, periods=(P,), trusts=None) -> MetricContext:
    return MetricContext.from_tables({"workforce": workforce(rows)}, periods=list(periods),
                                     seed=seed, n_bootstrap=n_bootstrap, trusts=trusts)


def raw(ctx, ids=None) -> pd.DataFrame:
    return compute_raw(ctx, ids or PAY_IDS)


def one(rows: pd.DataFrame, metric_id, group, breakdown="", trust="RAA", period=P) -> pd.Series:
    sel = rows[(rows["metric_id"] == metric_id) & (rows["group"] == group)
               & (rows["breakdown"] == breakdown) & (rows["trust_code"] == trust)
               & (rows["period"] == period)]
    assert len(sel) == 1, (metric_id, group, breakdown, len(sel))
    return sel.iloc[0]


# --- registry -------------------------------------------------------------------

def test_all_pay_metrics_registered_in_hia3():
    for mid in PAY_IDS:
        assert REGISTRY[mid].area == "hia3"
        assert REGISTRY[mid].unit == "percent"
        assert REGISTRY[mid].source


# --- gender mean and median gaps ------------------------------------------------

GENDER_ROWS = [
    # women, full-pay relevant: 10, 12, 20 (the 20 is bank: included, all relevant employees)
    dict(sex="F", hourly_pay=10.0), dict(sex="F", hourly_pay=12.0),
    dict(sex="F", hourly_pay=20.0, contract_type="bank"),
    # excluded from hourly figures: on reduced pay, and not recorded
    dict(sex="F", hourly_pay=1.0, full_pay_relevant=False),
    dict(sex="F", hourly_pay=2.0, full_pay_relevant=pd.NA),
    # men: 15, 16, 23
    dict(sex="M", hourly_pay=15.0), dict(sex="M", hourly_pay=16.0), dict(sex="M", hourly_pay=23.0),
]


def test_gender_mean_and_median_gap_hand_computed():
    rows = raw(ctx_for(GENDER_ROWS), ["pay.gender.mean_gap", "pay.gender.median_gap"])
    mean = one(rows, "pay.gender.mean_gap", "Female")
    # male mean (15+16+23)/3 = 18; female mean (10+12+20)/3 = 14; (18−14)/18×100 = 22.222…
    assert mean["value"] == pytest.approx(400 / 18)
    assert (mean["numerator"], mean["denominator"]) == (pytest.approx(14.0), pytest.approx(18.0))
    assert mean["reference_group"] == "Male" and mean["breakdown"] == ""
    assert (mean["basis"], mean["n_values"]) == ("mean", 3.0)
    med = one(rows, "pay.gender.median_gap", "Female")
    # male median 16; female median 12; (16−12)/16×100 = 25
    assert med["value"] == pytest.approx(25.0)
    assert (med["numerator"], med["denominator"]) == (12.0, 16.0)


def test_statutory_hourly_rate_includes_bonus_paid_in_the_relevant_pay_period():
    """SI 2017/353 Sch. 1 para 6: the hourly rate is ordinary pay plus bonus pay paid in the
    relevant pay period, over the hours of the period (a monthly Clinical Excellence Award
    raises the consultant's hourly rate; the old code used ordinary pay alone)."""
    rows = [dict(sex="F", hourly_pay=20.0, bonus_pay_period=0.0),
            dict(sex="F", hourly_pay=20.0, bonus_pay_period=None),  # blank = none paid
            dict(sex="M", hourly_pay=25.0, bonus_pay_period=0.0),
            dict(sex="M", hourly_pay=25.0, bonus_pay_period=1240.0, bonus_pay_12m=14880.0)]
    out = raw(ctx_for(rows), ["pay.gender.mean_gap", "pay.gender.median_gap"])
    # March has 31 days: hours in the period = 1.0 fte × 37.5 × 31 / 7 = 166.0714;
    # £1,240 ÷ 166.0714 = £7.4667 an hour → that man's rate 32.4667.
    # Men's mean = median = (25 + 32.4667) / 2 = 28.7333; women 20.
    men = (25 + 25 + 1240 / (37.5 * 31 / 7)) / 2
    mean = one(out, "pay.gender.mean_gap", "Female")
    assert mean["denominator"] == pytest.approx(men)
    assert mean["value"] == pytest.approx((men - 20) / men * 100)  # 30.394 %; ordinary pay: 20 %
    assert one(out, "pay.gender.median_gap", "Female")["value"] == pytest.approx((men - 20) / men * 100)
    assert mean["note"] == ""
    # Part-time: the same bonus over half the hours adds twice as much an hour.
    half = pg.statutory_hourly_rate(workforce([dict(hourly_pay=25.0, fte=0.5, bonus_pay_period=1240.0)]))
    assert half.iloc[0] == pytest.approx(25 + 1240 / (0.5 * 37.5 * 31 / 7))
    # The bonus figures still use the year's bonus (paras 10–12), not the period's.
    bonus = raw(ctx_for(rows), ["pay.gender.bonus_share"])
    assert one(bonus, "pay.gender.bonus_share", "Male")["numerator"] == 1


def test_quartiles_rank_by_the_statutory_hourly_rate():
    # Ordinary pay alone ranks 1F 2F | 3M 4F | 5M 6M | 7F 8M. A period bonus of £1,000 lifts the
    # woman on £1 an hour by 1000 / (37.5 × 31 / 7) = £6.02 to £7.02, between 7F and 8M:
    # 2F 3M | 4F 5M | 6M 7F | 1F 8M.
    people = [(5, "M"), (1, "F"), (8, "M"), (3, "M"), (2, "F"), (7, "F"), (4, "F"), (6, "M")]
    rows = [dict(hourly_pay=float(pay), sex=sex, bonus_pay_period=1000.0 if pay == 1 else 0.0)
            for pay, sex in people]
    q = raw(ctx_for(rows), ["pay.gender.quartile_share"])
    low = one(q, "pay.gender.quartile_share", "Female", "quartile=Lower")
    assert (low["numerator"], low["denominator"]) == (1.0, 2.0)  # 2F of 2F 3M (ordinary pay: 2)
    um = one(q, "pay.gender.quartile_share", "Female", "quartile=Upper middle")
    assert (um["numerator"], um["denominator"]) == (1.0, 2.0)  # 7F of 6M 7F (ordinary pay: 0)
    up = one(q, "pay.gender.quartile_share", "Female", "quartile=Upper")
    assert (up["numerator"], up["denominator"]) == (1.0, 2.0)  # 1F of 1F 8M
    assert um["note"] == ""


def test_without_the_period_bonus_column_the_rows_say_ordinary_pay_only():
    out = raw(ctx_for(GENDER_ROWS), ["pay.gender.mean_gap", "pay.gender.quartile_share",
                                     "pay.ethnicity.mean_gap", "pay.gender.bonus_share"])
    for mid in ("pay.gender.mean_gap", "pay.gender.quartile_share"):
        assert out.loc[out.metric_id == mid, "note"].str.contains(
            "ordinary pay only: the extract has no bonus_pay_period column").all()
    assert (out.loc[out.metric_id == "pay.gender.bonus_share", "note"] == "").all()


def test_small_gap_is_suppressed_by_mean_basis():
    # 3 women vs 3 men < min_count 8 → suppressed, figures blanked
    out = compute(ctx_for(GENDER_ROWS), ["pay.gender.mean_gap"])
    assert out["suppressed"].all() and out["value"].isna().all() and out["numerator"].isna().all()
    # with min_count 3 the same row is published
    out = compute(ctx_for(GENDER_ROWS), ["pay.gender.mean_gap"], min_count=3)
    assert not out["suppressed"].any() and out["value"].iloc[0] == pytest.approx(400 / 18)


# --- bonus gaps and bonus shares ---------------------------------------------------

BONUS_ROWS = [
    # women: 5 with bonus recorded, 3 paid (100, 200, 600); the 600 is not full-pay relevant
    # and the 200 is bank — both still count (bonus figures cover all relevant employees)
    dict(sex="F", bonus_pay_12m=100.0), dict(sex="F", bonus_pay_12m=200.0, contract_type="bank"),
    dict(sex="F", bonus_pay_12m=600.0, full_pay_relevant=False),
    dict(sex="F", bonus_pay_12m=0.0), dict(sex="F", bonus_pay_12m=0.0),
    dict(sex="F", bonus_pay_12m=np.nan),  # not recorded: in neither numerator nor denominator
    # men: 4 recorded, 2 paid (400, 800)
    dict(sex="M", bonus_pay_12m=400.0), dict(sex="M", bonus_pay_12m=800.0),
    dict(sex="M", bonus_pay_12m=0.0), dict(sex="M", bonus_pay_12m=0.0),
]


def test_bonus_gaps_over_those_paid_a_bonus():
    rows = raw(ctx_for(BONUS_ROWS), ["pay.gender.bonus_mean_gap", "pay.gender.bonus_median_gap"])
    # male paid mean (400+800)/2 = 600; female (100+200+600)/3 = 300; (600−300)/600×100 = 50
    m = one(rows, "pay.gender.bonus_mean_gap", "Female")
    assert m["value"] == pytest.approx(50.0) and m["n_values"] == 2
    # male median 600; female median 200; (600−200)/600×100 = 66.667
    assert one(rows, "pay.gender.bonus_median_gap", "Female")["value"] == pytest.approx(400 / 6)


def test_bonus_share_per_sex_with_wilson_ci():
    rows = raw(ctx_for(BONUS_ROWS), ["pay.gender.bonus_share"])
    f = one(rows, "pay.gender.bonus_share", "Female")
    # 3 of 5 women paid a bonus = 60%
    assert (f["numerator"], f["denominator"], f["value"]) == (3.0, 5.0, pytest.approx(60.0))
    lo, hi = proportion_confint(3, 5, alpha=0.05, method="wilson")
    assert (f["ci_lower"], f["ci_upper"]) == (pytest.approx(lo * 100), pytest.approx(hi * 100))
    m = one(rows, "pay.gender.bonus_share", "Male")
    # 2 of 4 men = 50%
    assert (m["numerator"], m["denominator"], m["value"]) == (2.0, 4.0, pytest.approx(50.0))
    assert m["basis"] == "rate"


# --- quartile pay bands ----------------------------------------------------------

def _quartile_rows(pay_sex):
    return [dict(hourly_pay=float(p), sex=s) for p, s in pay_sex]


def _quartiles(rows) -> dict[tuple[str, str], tuple[float, float]]:
    r = raw(ctx_for(rows), ["pay.gender.quartile_share"])
    return {(b.split("=")[1], gr): (num, den)
            for b, gr, num, den in zip(r["breakdown"], r["group"], r["numerator"], r["denominator"],
                                       strict=True)}


def test_quartile_sizes_remainder_convention():
    # N = 8: 2 each; N = 9 (rem 1): Lower +1; N = 10 (rem 2): Lower, Upper middle +1;
    # N = 11 (rem 3): Lower, Lower middle, Upper middle +1
    assert pg.quartile_sizes([8, 9, 10, 11]).tolist() == [
        [2, 2, 2, 2], [3, 2, 2, 2], [3, 2, 3, 2], [3, 3, 3, 2]]
    assert pg.quartile_sizes([0, 1, 2, 3]).tolist() == [
        [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0]]


def test_quartiles_n_divisible_by_four():
    # ranked: 1F 2F | 3M 4F | 5M 6M | 7F 8M  (input shuffled to check the ranking)
    q = _quartiles(_quartile_rows([(5, "M"), (1, "F"), (8, "M"), (3, "M"), (2, "F"), (7, "F"),
                                   (4, "F"), (6, "M")]))
    assert q[("Lower", "Female")] == (2.0, 2.0) and q[("Lower", "Male")] == (0.0, 2.0)
    assert q[("Lower middle", "Female")] == (1.0, 2.0) and q[("Lower middle", "Male")] == (1.0, 2.0)
    assert q[("Upper middle", "Female")] == (0.0, 2.0) and q[("Upper middle", "Male")] == (2.0, 2.0)
    assert q[("Upper", "Female")] == (1.0, 2.0) and q[("Upper", "Male")] == (1.0, 2.0)
    r = raw(ctx_for(_quartile_rows([(i, "F" if i % 2 else "M") for i in range(1, 9)])),
            ["pay.gender.quartile_share"])
    f_lower = one(r, "pay.gender.quartile_share", "Female", "quartile=Lower")
    # 1F 2M in Lower → 1 of 2 = 50%, Wilson as for k=1, n=2
    lo, hi = proportion_confint(1, 2, method="wilson")
    assert f_lower["value"] == 50.0 and f_lower["ci_lower"] == pytest.approx(lo * 100)
    assert f_lower["ci_upper"] == pytest.approx(hi * 100)


@pytest.mark.parametrize("sexes, expected", [
    # N = 5 (rem 1): sizes 2,1,1,1 → Lower = ranks 1–2
    ("FMFFM", {"Lower": (1, 1), "Lower middle": (1, 0), "Upper middle": (1, 0), "Upper": (0, 1)}),
    # N = 6 (rem 2): sizes 2,1,2,1 → Lower 1–2, LM 3, UM 4–5, U 6
    ("FFMMFM", {"Lower": (2, 0), "Lower middle": (0, 1), "Upper middle": (1, 1), "Upper": (0, 1)}),
    # N = 7 (rem 3): sizes 2,2,2,1 → Lower 1–2, LM 3–4, UM 5–6, U 7
    ("MFFMFFF", {"Lower": (1, 1), "Lower middle": (1, 1), "Upper middle": (2, 0), "Upper": (1, 0)}),
])
def test_quartiles_with_remainders(sexes, expected):
    q = _quartiles(_quartile_rows([(i + 1, s) for i, s in enumerate(sexes)]))
    for band, (f, m) in expected.items():
        assert q[(band, "Female")] == (f, f + m)
        assert q[(band, "Male")] == (m, f + m)


def test_quartile_ties_spanning_boundaries_fractional_counts():
    # N = 8, bands of 2: positions 0–1 | 2–3 | 4–5 | 6–7 (0-based ranks).
    # £10: F at 0.  £20: 3F 1M at 1–4.  £30: 2M at 5–6.  £40: F at 7.
    # The £20 block (¾ female) lies 1 place in Lower, 2 in Lower middle, 1 in Upper middle:
    #   Lower        F = 1 (£10) + 1×¾ = 1.75,  M = ¼ = 0.25
    #   Lower middle F = 2×¾ = 1.5,             M = 2×¼ = 0.5
    #   Upper middle F = 1×¾ = 0.75,            M = ¼ + 1 (£30 at 5) = 1.25
    #   Upper        F = 1 (£40),               M = 1 (£30 at 6)
    q = _quartiles(_quartile_rows([(20, "M"), (10, "F"), (20, "F"), (30, "M"), (20, "F"),
                                   (40, "F"), (20, "F"), (30, "M")]))
    assert q[("Lower", "Female")] == (pytest.approx(1.75), 2.0)
    assert q[("Lower", "Male")] == (pytest.approx(0.25), 2.0)
    assert q[("Lower middle", "Female")] == (pytest.approx(1.5), 2.0)
    assert q[("Lower middle", "Male")] == (pytest.approx(0.5), 2.0)
    assert q[("Upper middle", "Female")] == (pytest.approx(0.75), 2.0)
    assert q[("Upper middle", "Male")] == (pytest.approx(1.25), 2.0)
    assert q[("Upper", "Female")] == (1.0, 2.0) and q[("Upper", "Male")] == (1.0, 2.0)


def _allocate_by_hand(pay: list[float], female: list[bool]) -> np.ndarray:
    """Reference: walk rank positions one by one, each taking its rate's female share."""
    order = sorted(range(len(pay)), key=lambda i: pay[i])
    sizes = pg.quartile_sizes(len(pay))
    band_of = [b for b, s in enumerate(sizes) for _ in range(s)]
    share = {p: sum(f for q, f in zip(pay, female, strict=True) if q == p) / pay.count(p)
             for p in set(pay)}
    out = np.zeros((4, 2))
    for rank, i in enumerate(order):
        out[band_of[rank]] += (share[pay[i]], 1 - share[pay[i]])
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=30))
def test_quartile_allocation_matches_position_by_position_reference(people):
    pay = [float(p) for p, _ in people]
    female = [f for _, f in people]
    q = pg.quartile_allocation(pd.DataFrame({
        "trust_code": "RAA", "period": P, "hourly_pay": pay, "female": female}))
    expected = _allocate_by_hand(pay, female)
    np.testing.assert_allclose(q[["female", "male"]].to_numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(q["female"] + q["male"], q["size"], atol=1e-9)


# --- ethnicity and disability --------------------------------------------------------

ETHNIC_ROWS = [
    dict(ethnic_category="A", hourly_pay=20.0), dict(ethnic_category="A", hourly_pay=22.0),
    dict(ethnic_category="A", hourly_pay=24.0),                       # White British
    dict(ethnic_category="B", hourly_pay=18.0), dict(ethnic_category="C", hourly_pay=16.0),
    dict(ethnic_category="H", hourly_pay=15.0), dict(ethnic_category="L", hourly_pay=21.0),  # Asian
    dict(ethnic_category="M", hourly_pay=12.0), dict(ethnic_category="N", hourly_pay=13.0),
    dict(ethnic_category="P", hourly_pay=17.0),                       # Black
    dict(ethnic_category="D", hourly_pay=19.0),                       # Mixed
    dict(ethnic_category="R", hourly_pay=11.0),                       # Other
    dict(ethnic_category="Z", hourly_pay=100.0), dict(ethnic_category=np.nan, hourly_pay=90.0),
]


def test_ethnicity_gap_bme_vs_white():
    rows = raw(ctx_for(ETHNIC_ROWS), ["pay.ethnicity.mean_gap", "pay.ethnicity.median_gap"])
    m = one(rows, "pay.ethnicity.mean_gap", "BME")
    # White (A–C) 20,22,24,18,16: mean 20, median 20.
    # BME 15,21,12,13,17,19,11: sum 108, mean 108/7 = 15.4286;
    #   sorted 11 12 13 15 17 19 21 → median 15.  Unknown (Z, blank) excluded.
    # mean gap (20 − 108/7)/20×100 = 22.857…; median (20−15)/20×100 = 25
    assert m["reference_group"] == "White"
    assert m["value"] == pytest.approx((20 - 108 / 7) / 20 * 100)
    assert m["n_values"] == 5
    assert one(rows, "pay.ethnicity.median_gap", "BME")["value"] == pytest.approx(25.0)


def test_ethnicity_five_groups_vs_white_british():
    rows = raw(ctx_for(ETHNIC_ROWS), ["pay.ethnicity.mean_gap", "pay.ethnicity.median_gap"])
    # White British (A): 20, 22, 24 → mean 22, median 22
    expected_mean = {"Asian": 18, "Black": 14, "Mixed": 19, "Other": 11, "White": 17}
    expected_median = {"Asian": 18, "Black": 13, "Mixed": 19, "Other": 11, "White": 17}
    for grp, mu in expected_mean.items():
        r = one(rows, "pay.ethnicity.mean_gap", grp, f"ethnicity5={grp}")
        # e.g. Black: (22 − 14)/22×100 = 36.36
        assert r["value"] == pytest.approx((22 - mu) / 22 * 100), grp
        assert r["reference_group"] == "White British"
        md = one(rows, "pay.ethnicity.median_gap", grp, f"ethnicity5={grp}")
        # e.g. Black median 13: (22 − 13)/22×100 = 40.91
        assert md["value"] == pytest.approx((22 - expected_median[grp]) / 22 * 100), grp
    white_other = one(rows, "pay.ethnicity.mean_gap", "White", "ethnicity5=White")
    assert "codes B, C" in white_other["note"] and white_other["n_values"] == 2


def test_disability_gap_unknown_excluded():
    rows = raw(ctx_for([
        dict(disability="Y", hourly_pay=10.0), dict(disability="Y", hourly_pay=12.0),
        dict(disability="N", hourly_pay=15.0), dict(disability="N", hourly_pay=15.0),
        dict(disability="N", hourly_pay=18.0),
        dict(disability="U", hourly_pay=50.0), dict(disability=np.nan, hourly_pay=60.0),
    ]), ["pay.disability.mean_gap", "pay.disability.median_gap"])
    m = one(rows, "pay.disability.mean_gap", "Disabled")
    # Non-disabled mean 16, Disabled mean 11 → (16−11)/16×100 = 31.25
    assert m["value"] == pytest.approx(31.25) and m["reference_group"] == "Non-disabled"
    # medians 15 and 11 → (15−11)/15×100 = 26.667
    assert one(rows, "pay.disability.median_gap", "Disabled")["value"] == pytest.approx(400 / 15)


# --- zero and empty groups -------------------------------------------------------------

def test_empty_group_gives_no_gap_row():
    # only women: no male reference → no gender gap rows; bonus share still per sex present
    rows = raw(ctx_for([dict(sex="F", hourly_pay=10.0), dict(sex="F", hourly_pay=11.0)]))
    assert rows[rows["metric_id"].isin(["pay.gender.mean_gap", "pay.gender.median_gap"])].empty
    assert set(rows.loc[rows["metric_id"] == "pay.gender.bonus_share", "group"]) == {"Female"}
    # nobody paid a bonus → no bonus gap rows, bonus share 0 of 2
    assert rows[rows["metric_id"] == "pay.gender.bonus_mean_gap"].empty
    assert one(rows, "pay.gender.bonus_share", "Female")["value"] == 0.0


def test_zero_reference_gives_blank_gap_with_note():
    pop = pd.DataFrame({"trust_code": "RAA", "period": P, "breakdown": "",
                        "label": ["Female", "Female", "Male", "Male"],
                        "value": [5.0, 7.0, 0.0, 0.0]})
    out = pg.gap_rows(pop, pg.GENDER, seed=1, n_resamples=50)
    assert out["value"].isna().all() and out["ci_lower"].isna().all()
    assert set(out["note"]) == {"reference group mean is zero", "reference group median is zero"}


def test_no_workforce_rows_for_period_gives_no_rows():
    rows = raw(ctx_for(GENDER_ROWS, periods=("2023-03-31",)))
    assert rows.empty


# --- bootstrap --------------------------------------------------------------------------

def _big_rows(trust: str, seed: int, n: int = 60) -> list[dict]:
    rng = np.random.default_rng(seed)
    sex = np.where(np.arange(n) % 3 == 0, "M", "F")
    pay = np.round(np.where(sex == "M", 24.0, 21.0) * rng.lognormal(0, 0.15, n), 2)
    eth = rng.choice(list("AABCHMDRZ"), n)
    dis = rng.choice(["Y", "N", "N", "N", "U"], n)
    bonus = np.where(rng.random(n) < 0.3, np.round(rng.gamma(2, 400, n), 2), 0.0)
    grade = rng.choice(["Consultant", "Career grade", "Trainee grade"], n)
    med = np.arange(n) % 2 == 0
    return [dict(trust_code=trust, sex=s, hourly_pay=float(p), ethnic_category=e, disability=d,
                 bonus_pay_12m=float(b),
                 staff_group="Medical and Dental" if m else DEFAULTS["staff_group"],
                 pay_band=gr if m else "Band 6",
                 start_date=SNAP - pd.Timedelta(days=int(rng.integers(100, 9000))),
                 fte=float(rng.choice([0.5, 0.8, 1.0])), flexible_working=bool(rng.random() < .3))
            for s, p, e, d, b, gr, m in zip(sex, pay, eth, dis, bonus, grade, med, strict=True)]


def test_bootstrap_ci_deterministic_and_contains_estimate():
    rows = _big_rows("RAA", 1)
    a = raw(ctx_for(rows, n_bootstrap=300))
    b = raw(ctx_for(rows, n_bootstrap=300))
    pd.testing.assert_frame_equal(a, b)
    gaps = a[a["basis"] == "mean"]
    assert gaps["ci_lower"].notna().all()
    assert ((gaps["ci_lower"] <= gaps["value"]) & (gaps["value"] <= gaps["ci_upper"])).all()
    # a different seed changes the median intervals (bootstrap) but not the estimates, nor the
    # mean intervals (closed form: no random draws)
    c = raw(ctx_for(rows, n_bootstrap=300, seed=7))
    c_gaps = c[c["basis"] == "mean"]
    np.testing.assert_array_equal(c_gaps["value"].to_numpy(), gaps["value"].to_numpy())
    median = gaps["metric_id"].str.contains("median").to_numpy()
    assert median.any() and (~median).any()
    assert not np.allclose(c_gaps["ci_lower"].to_numpy()[median], gaps["ci_lower"].to_numpy()[median])
    np.testing.assert_array_equal(c_gaps["ci_lower"].to_numpy()[~median],
                                  gaps["ci_lower"].to_numpy()[~median])
    np.testing.assert_array_equal(c_gaps["ci_upper"].to_numpy()[~median],
                                  gaps["ci_upper"].to_numpy()[~median])


def test_all_trusts_at_once_equals_trust_by_trust():
    rows = _big_rows("RAA", 1) + _big_rows("RBB", 2) + [
        {**r, "snapshot_date": pd.Timestamp("2023-03-31")} for r in _big_rows("RBB", 3)]
    periods = ("2023-03-31", P)
    together = raw(ctx_for(rows, n_bootstrap=100, periods=periods))
    apart = pd.concat([raw(ctx_for(rows, n_bootstrap=100, periods=periods, trusts=[t]))
                       for t in ("RAA", "RBB")], ignore_index=True)
    apart = apart.sort_values(["trust_code", "period", "metric_id", "breakdown", "group"],
                              kind="stable", ignore_index=True)
    assert set(together["period"]) == set(periods)
    pd.testing.assert_frame_equal(together, apart)


@pytest.mark.parametrize("n", [7, 8])
def test_bootstrap_median_matches_exact_bootstrap_distribution(n):
    # Exact bootstrap law of the resample's k-th order statistic (Maritz & Jarrett 1978):
    # P(X*_(k) ≤ x_(j)) = P(Binomial(n, j/n) ≥ k).  For odd n the median is X*_(k), k = (n+1)/2.
    # For even n, median ≤ x_(j) is implied by X*_(k+1) ≤ x_(j) and implies X*_(k) ≤ x_(j):
    # its CDF is bracketed by the two order-statistic CDFs (exact on distinct values).
    x = np.arange(1.0, n + 1) * 3.0
    med = pg.bootstrap_median(x, 40_000, np.random.Generator(np.random.SFC64(5)))
    j = np.arange(1, n + 1)
    ecdf = np.array([(med <= v).mean() for v in x])
    k = (n + 1) // 2 if n % 2 else n // 2
    cdf_k = sps.binom.sf(k - 1, n, j / n)
    if n % 2:
        np.testing.assert_allclose(ecdf, cdf_k, atol=0.01)
    else:
        cdf_k1 = sps.binom.sf(k, n, j / n)
        assert np.all(ecdf <= cdf_k + 0.01) and np.all(ecdf >= cdf_k1 - 0.01)
        # midpoint between x_(k) and x_(k+1) values: P(median = (x_(j)+x_(j+1))/2) positive
        assert np.isin(med, (x[:-1] + x[1:]) / 2).any()


@pytest.mark.parametrize("seed", [1, 2])
def test_median_gap_ci_is_the_exact_95_percent_percentile_interval(seed):
    # Women 2, 4, …, 18 (n = 9, median = 5th); men all 20, so every replicate has male median 20.
    # Exact bootstrap CDF of the women's median at x_(j): P(Bin(9, j/9) ≥ 5) =
    #   j=1 .0014, j=2 .0304, j=3 .1448, …, j=7 .9696, j=8 .9986.
    # 2.5th percentile → x_(2) = 4 (first CDF ≥ .025); 97.5th → x_(8) = 16 (first CDF ≥ .975).
    # Gap replicates (20 − m*)/20×100, so the 95% CI is [(20−16)/20, (20−4)/20] × 100 = [20, 80];
    # a 90% interval would be [x_(3), x_(7)] → [30, 70], so this pins the level too.
    women = np.arange(2.0, 19.0, 2.0)
    pop = pd.DataFrame({"trust_code": "RAA", "period": P, "breakdown": "",
                        "label": ["Female"] * 9 + ["Male"] * 9,
                        "value": np.concatenate([women, np.full(9, 20.0)])})
    med = pg.gap_rows(pop, pg.GENDER, seed=seed, n_resamples=20_000).query(
        "metric_id == 'pay.gender.median_gap'").iloc[0]
    assert med["value"] == pytest.approx(50.0)  # (20 − 10)/20×100
    assert (med["ci_lower"], med["ci_upper"]) == (pytest.approx(20.0), pytest.approx(80.0))


# --- mean-gap interval: delta method on log(mean ratio), Welch–Satterthwaite t -----------

def test_mean_gap_interval_hand_computed():
    # Women 8, 10, 12: mean 10, variance ((−2)² + 0² + 2²)/2 = 4. Men 16, 20, 24: mean 20,
    # variance ((−4)² + 0² + 4²)/2 = 16. Gap (20 − 10)/20 × 100 = 50; R = 10/20 = 0.5.
    # v_c = 4/(3 × 10²) = 1/75, v_r = 16/(3 × 20²) = 1/75; Var(log R) = 2/75, se = 0.1632993.
    # Welch–Satterthwaite df = (2/75)² / ((1/75)²/2 + (1/75)²/2) = 4; t(0.975, 4) = 2.776445
    # (table value); t × se = 0.4533916; e^0.4533916 = 1.573640, e^−0.4533916 = 0.6354693.
    # 95% CI: [(1 − 0.5 × 1.573640) × 100, (1 − 0.5 × 0.6354693) × 100] = [21.3180, 68.2265].
    pop = pd.DataFrame({"trust_code": "RAA", "period": P, "breakdown": "",
                        "label": ["Female"] * 3 + ["Male"] * 3,
                        "value": [8.0, 10.0, 12.0, 16.0, 20.0, 24.0]})
    row = pg.gap_rows(pop, pg.GENDER, seed=1, n_resamples=50).query(
        "metric_id == 'pay.gender.mean_gap'").iloc[0]
    assert row["value"] == pytest.approx(50.0)
    assert row["ci_lower"] == pytest.approx(21.3180, abs=5e-4)
    assert row["ci_upper"] == pytest.approx(68.2265, abs=5e-4)
    # asymmetric about the estimate, as the ratio's distribution is: 28.68 below, 18.23 above
    assert row["value"] - row["ci_lower"] > row["ci_upper"] - row["value"]


def test_mean_gap_interval_edge_cases():
    lo, hi = pg.mean_gap_interval(
        mean_c=[10.0, 10.0, 10.0, 0.0, 10.0, 10.0],
        var_c=[0.0, np.nan, 4.0, 0.0, 0.0, 4.0],
        n_c=[5, 1, 3, 5, 5, 3],
        mean_r=[20.0, 20.0, 20.0, 20.0, 20.0, 0.0],
        var_r=[0.0, 16.0, np.nan, 16.0, 16.0, 0.0],
        n_r=[5, 3, 1, 3, 3, 3])
    # both groups without spread: the interval is the point, (20 − 10)/20 × 100 = 50
    assert (lo[0], hi[0]) == (50.0, 50.0)
    # a group of one has no variance estimate: no interval (such a row is suppressed anyway)
    assert np.isnan([lo[1], hi[1], lo[2], hi[2]]).all()
    # a compared mean of zero (log R undefined) or a reference mean of zero: no interval
    assert np.isnan([lo[3], hi[3], lo[5], hi[5]]).all()
    # one group without spread: df = n_r − 1 = 2 from the other alone; v = 16/(3 × 400) = 1/75,
    # t(0.975, 2) = 4.302653, t × se = 4.302653 × 0.1154701 = 0.4968276; e^0.4968276 = 1.643499,
    # e^−0.4968276 = 0.6084578: [(1 − 0.5 × 1.643499) × 100, (1 − 0.5 × 0.6084578) × 100]
    # = [17.8250, 69.5771]
    assert (lo[4], hi[4]) == (pytest.approx(17.8250, abs=5e-4), pytest.approx(69.5771, abs=5e-4))


def test_mean_gap_interval_agrees_with_scipy_bootstrap_on_a_large_sample():
    # Reference: scipy.stats.bootstrap (percentile, 9,999 resamples, each group resampled
    # separately) on lognormal pay, 1,500 women and 2,500 men; the interval is about 4.7
    # points wide. Stated tolerance: each bound within 0.12 points (2.5% of the width; the
    # bootstrap's own Monte Carlo error on a bound is about 0.03).
    rng = np.random.default_rng(2024)
    women = rng.lognormal(np.log(20.0), 0.4, 1500)
    men = rng.lognormal(np.log(23.0), 0.4, 2500)

    def gap(x, y, axis=-1):
        return (y.mean(axis) - x.mean(axis)) / y.mean(axis) * 100.0

    ref = sps.bootstrap((women, men), gap, n_resamples=9999, method="percentile", batch=500,
                        random_state=np.random.default_rng(7)).confidence_interval
    lo, hi = pg.mean_gap_interval(women.mean(), women.var(ddof=1), women.size,
                                  men.mean(), men.var(ddof=1), men.size)
    assert 3.0 < hi - lo < 6.0
    assert lo == pytest.approx(ref.low, abs=0.12) and hi == pytest.approx(ref.high, abs=0.12)


@pytest.mark.parametrize(("n_c", "n_r"), [(30, 60), (100, 200)])
def test_mean_gap_interval_coverage_simulation(n_c, n_r):
    # Seeded: 4,000 pairs of lognormal groups (σ = 0.4, true gap (1 − 20/23) × 100 = 13.04 on
    # the means); the 95% interval should cover the true gap 95% of the time. With 4,000 trials
    # the Monte Carlo SE is 0.0034, so the bounds [0.93, 0.97] are ~6 SE either side of 0.95:
    # an interval too narrow (e.g. 1.645 instead of ~2 SE: ~0.90) or too wide (leaving out the
    # n in v_g = s²/(n x̄²): 1.0) fails.
    rng = np.random.default_rng(20240331 + n_c)
    reps, sigma = 4000, 0.4
    women = rng.lognormal(np.log(20.0), sigma, (reps, n_c))
    men = rng.lognormal(np.log(23.0), sigma, (reps, n_r))
    true = (1 - 20.0 / 23.0) * 100.0  # same σ in both groups: the ratio of means is 20/23
    lo, hi = pg.mean_gap_interval(women.mean(1), women.var(1, ddof=1), n_c,
                                  men.mean(1), men.var(1, ddof=1), n_r)
    coverage = float(((lo <= true) & (true <= hi)).mean())
    assert 0.93 <= coverage <= 0.97, coverage


def test_stable_seed_depends_on_every_key_part():
    base = pg.stable_seed(20240331, "hourly.sex", "RAA", P, "", "Female")
    assert base == pg.stable_seed(20240331, "hourly.sex", "RAA", P, "", "Female")
    assert base != pg.stable_seed(20240331, "hourly.sex", "RBB", P, "", "Female")
    assert base != pg.stable_seed(20240331, "hourly.sex", "RAA", P, "", "Male")
    assert base != pg.stable_seed(1, "hourly.sex", "RAA", P, "", "Female")


# --- Mend the Gap: medical basic and total pay --------------------------------------------

MED = "Medical and Dental"
MEDICAL_ROWS = [
    # 52.14 × 37.5 = 1955.25 hours a year; bonus 7821 = 4 × 1955.25
    dict(staff_group=MED, pay_band="Consultant", sex="F", hourly_pay=50.0, bonus_pay_12m=0.0),
    dict(staff_group=MED, pay_band="Consultant", sex="F", hourly_pay=54.0, bonus_pay_12m=7821.0),
    # 54 + 7821/1955.25 = 58
    dict(staff_group=MED, pay_band="Consultant", sex="M", hourly_pay=56.0, bonus_pay_12m=7821.0,
         fte=0.5),
    # 56 + 7821/(1955.25×0.5) = 64
    dict(staff_group=MED, pay_band="Consultant", sex="M", hourly_pay=60.0, bonus_pay_12m=0.0),
    dict(staff_group=MED, pay_band="Trainee grade", sex="F", hourly_pay=20.0),
    dict(staff_group=MED, pay_band="Trainee grade", sex="M", hourly_pay=24.0),
    # not a doctor: excluded from the medical figures
    dict(staff_group="Nursing and Midwifery Registered", sex="M", hourly_pay=99.0),
    # a doctor not full-pay relevant: excluded
    dict(staff_group=MED, pay_band="Consultant", sex="F", hourly_pay=1.0, full_pay_relevant=False),
]


MEDICAL_GAPS = ["pay.medical.gender_mean_gap", "pay.medical.gender_median_gap",
                "pay.medical.gender_mean_gap_total", "pay.medical.gender_median_gap_total"]


def test_medical_basic_gaps_overall_and_by_grade():
    rows = raw(ctx_for(MEDICAL_ROWS), MEDICAL_GAPS)
    # Consultants basic: F 50, 54 (mean 52); M 56, 60 (mean 58): (58−52)/58×100 = 10.345
    assert one(rows, "pay.medical.gender_mean_gap", "Female", "pay_band=Consultant")["value"] == \
        pytest.approx(600 / 58)
    # Trainees: F 20, M 24: (24−20)/24×100 = 16.667
    trainee = one(rows, "pay.medical.gender_median_gap", "Female", "pay_band=Trainee grade")
    assert trainee["value"] == pytest.approx(400 / 24)
    # Overall: F 50,54,20 (mean 124/3, median 50); M 56,60,24 (mean 140/3, median 56)
    # mean gap (140−124)/140×100 = 11.4286; median (56−50)/56×100 = 10.714
    assert one(rows, "pay.medical.gender_mean_gap", "Female")["value"] == pytest.approx(1600 / 140)
    assert one(rows, "pay.medical.gender_median_gap", "Female")["value"] == pytest.approx(600 / 56)
    # no career-grade doctors → no row for that grade
    assert rows[rows["breakdown"] == "pay_band=Career grade"].empty


def test_medical_total_pay_gaps_exceed_basic():
    rows = raw(ctx_for(MEDICAL_ROWS), MEDICAL_GAPS)
    # Consultants total: F 50, 58 (mean 54); M 64, 60 (mean 62): (62−54)/62×100 = 12.903
    c = one(rows, "pay.medical.gender_mean_gap_total", "Female", "pay_band=Consultant")
    assert c["value"] == pytest.approx(800 / 62)
    assert (c["numerator"], c["denominator"]) == (pytest.approx(54.0), pytest.approx(62.0))
    # Overall total: F 50,58,20 (mean 128/3, median 50); M 64,60,24 (mean 148/3, median 60)
    # mean (148−128)/148×100 = 13.514; median (60−50)/60×100 = 16.667
    assert one(rows, "pay.medical.gender_mean_gap_total", "Female")["value"] == \
        pytest.approx(2000 / 148)
    assert one(rows, "pay.medical.gender_median_gap_total", "Female")["value"] == \
        pytest.approx(1000 / 60)
    assert one(rows, "pay.medical.gender_mean_gap_total", "Female")["value"] > \
        one(rows, "pay.medical.gender_mean_gap", "Female")["value"]


# --- Mend the Gap: adjusted gap vs an independent statsmodels fit ---------------------------

def _doctors(n=60, seed=11, grades=("Consultant", "Career grade", "Trainee grade"),
             ftes=(0.6, 0.8, 1.0)):
    rng = np.random.default_rng(seed)
    grade = rng.choice(list(grades), n)
    female = rng.random(n) < 0.5
    years = rng.uniform(0.5, 25, n)
    fte = rng.choice(list(ftes), n)
    base = {"Consultant": 4.0, "Career grade": 3.6, "Trainee grade": 3.2}
    logpay = np.array([base[gr] for gr in grade]) - 0.06 * female + 0.01 * years + 0.05 * fte \
        + rng.normal(0, 0.05, n)
    return pd.DataFrame({"pay_band": grade, "female": female.astype(int), "fte": fte,
                         "start_date": SNAP - pd.to_timedelta(np.round(years * 365.25), unit="D"),
                         "hourly_pay": np.round(np.exp(logpay), 4)})


def _rows_from(doctors: pd.DataFrame) -> list[dict]:
    return [dict(staff_group=MED, pay_band=r.pay_band, sex="F" if r.female else "M", fte=r.fte,
                 start_date=r.start_date, hourly_pay=r.hourly_pay) for r in doctors.itertuples()]


def _statsmodels_gap(doctors: pd.DataFrame, formula: str):
    d = doctors.assign(years=(SNAP - doctors["start_date"]).dt.days / 365.25,
                       log_pay=np.log(doctors["hourly_pay"]))
    fit = smf.ols(formula, data=d).fit()
    lo, hi = fit.conf_int(alpha=0.05).loc["female"]
    b = fit.params["female"]
    return (1 - math.exp(b)) * 100, (1 - math.exp(hi)) * 100, (1 - math.exp(lo)) * 100


def test_adjusted_gap_matches_statsmodels_ols():
    doctors = _doctors()
    rows = raw(ctx_for(_rows_from(doctors)), ["pay.medical.adjusted_gender_gap"])
    r = one(rows, "pay.medical.adjusted_gender_gap", "Female")
    value, lo, hi = _statsmodels_gap(doctors, "log_pay ~ female + C(pay_band) + years + fte")
    assert r["value"] == pytest.approx(value, rel=1e-9)
    assert r["ci_lower"] == pytest.approx(lo, rel=1e-9)
    assert r["ci_upper"] == pytest.approx(hi, rel=1e-9)
    assert r["basis"] == "model" and r["denominator"] == 60
    assert r["note"] == "not adjusted for specialty (the extract has no specialty column)"
    assert r["ci_lower"] < r["value"] < r["ci_upper"]
    # model outputs are never suppressed
    assert not compute(ctx_for(_rows_from(doctors)), ["pay.medical.adjusted_gender_gap"])[
        "suppressed"].any()


def test_adjusted_gap_leaves_out_bank_doctors():
    """Mend the Gap's like-for-like comparison: bank doctors (paid by the session) are left out
    of the adjusted gap; they stay in the basic and total gaps (the statutory population)."""
    doctors = _doctors()
    bank = _doctors(n=20, seed=5).assign(hourly_pay=lambda d: d["hourly_pay"] * np.where(
        d["female"] == 1, 0.5, 1.5))  # a large gap among bank doctors only
    rows = _rows_from(doctors) + [dict(r, contract_type="bank") for r in _rows_from(bank)]
    out = raw(ctx_for(rows), ["pay.medical.adjusted_gender_gap", "pay.medical.gender_mean_gap"])
    r = one(out, "pay.medical.adjusted_gender_gap", "Female")
    value, lo, hi = _statsmodels_gap(doctors, "log_pay ~ female + C(pay_band) + years + fte")
    assert r["value"] == pytest.approx(value, rel=1e-9)  # the fit on the 60 non-bank doctors
    assert r["denominator"] == 60
    assert "bank doctors left out of the like-for-like comparison" in r["note"]
    basic = one(out, "pay.medical.gender_mean_gap", "Female")
    assert basic["n_values"] == min((doctors.female == 1).sum() + (bank.female == 1).sum(),
                                    (doctors.female == 0).sum() + (bank.female == 0).sum())


def test_adjusted_gap_adjusts_for_specialty_when_the_extract_has_it():
    doctors = _doctors(n=80, seed=3)
    rng = np.random.default_rng(9)
    specialty = rng.choice(["Anaesthetics", "Paediatrics", "Surgery", None], len(doctors))
    # Surgery pays 10% more, and women are less often in it: the raw gap is partly specialty.
    doctors["hourly_pay"] *= np.where(specialty == "Surgery", 1.1, 1.0)
    rows = [dict(r, specialty=sp) for r, sp in zip(_rows_from(doctors), specialty)]
    r = one(raw(ctx_for(rows), ["pay.medical.adjusted_gender_gap"]),
            "pay.medical.adjusted_gender_gap", "Female")
    d = doctors.assign(specialty=pd.Series(specialty).fillna("not recorded").to_numpy())
    value, lo, hi = _statsmodels_gap(
        d, "log_pay ~ female + C(pay_band) + C(specialty) + years + fte")
    assert r["value"] == pytest.approx(value, rel=1e-9)
    assert (r["ci_lower"], r["ci_upper"]) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))
    assert "specialty" not in r["note"]


def test_adjusted_gap_singular_design_drops_terms():
    # one grade only and everyone full time: pay band and fte are not estimable
    doctors = _doctors(n=40, grades=("Consultant",), ftes=(1.0,))
    r = one(raw(ctx_for(_rows_from(doctors)), ["pay.medical.adjusted_gender_gap"]),
            "pay.medical.adjusted_gender_gap", "Female")
    value, lo, hi = _statsmodels_gap(doctors, "log_pay ~ female + years")
    assert r["value"] == pytest.approx(value, rel=1e-9)
    assert r["ci_lower"] == pytest.approx(lo, rel=1e-9)
    assert r["ci_upper"] == pytest.approx(hi, rel=1e-9)
    assert "pay band" in r["note"] and "fte" in r["note"]


def test_adjusted_gap_too_few_staff_is_blank_with_note():
    doctors = _doctors(n=40)
    women = doctors[doctors["female"] == 1]
    few = pd.concat([doctors[doctors["female"] == 0], women.iloc[:pm.MIN_MODEL_PER_SEX - 1]])
    r = one(raw(ctx_for(_rows_from(few)), ["pay.medical.adjusted_gender_gap"]),
            "pay.medical.adjusted_gender_gap", "Female")
    assert math.isnan(r["value"]) and math.isnan(r["ci_lower"]) and math.isnan(r["denominator"])
    assert r["note"].startswith("too few staff for the adjusted model")
    assert "7" not in r["note"]  # no count below the disclosure threshold in the note


# --- flexible working ----------------------------------------------------------------------

def test_flexible_working_share_by_characteristic():
    rows = raw(ctx_for([
        dict(sex="F", ethnic_category="A", disability="Y", flexible_working=True),
        dict(sex="F", ethnic_category="A", disability="N", flexible_working=True),
        dict(sex="F", ethnic_category="M", disability="N", flexible_working=False),
        dict(sex="M", ethnic_category="H", disability="N", flexible_working=True),
        dict(sex="M", ethnic_category="Z", disability="U", flexible_working=False),
        # bank staff are out of scope; not recorded is excluded
        dict(sex="F", ethnic_category="A", contract_type="bank", flexible_working=True),
        dict(sex="M", ethnic_category="A", flexible_working=pd.NA),
    ]), ["hia3.flexible_working_share"])
    # overall 3 of 5 in-scope with a record = 60%
    a = one(rows, "hia3.flexible_working_share", "All")
    assert (a["numerator"], a["denominator"], a["value"]) == (3.0, 5.0, pytest.approx(60.0))
    lo, hi = proportion_confint(3, 5, method="wilson")
    assert (a["ci_lower"], a["ci_upper"]) == (pytest.approx(lo * 100), pytest.approx(hi * 100))
    f = one(rows, "hia3.flexible_working_share", "Female", "characteristic=sex")
    assert (f["numerator"], f["denominator"]) == (2.0, 3.0)       # 2 of 3 women = 66.7%
    bme = one(rows, "hia3.flexible_working_share", "BME", "characteristic=ethnicity")
    assert (bme["numerator"], bme["denominator"]) == (1.0, 2.0)   # M no, H yes
    unk = one(rows, "hia3.flexible_working_share", "Unknown", "characteristic=disability")
    assert (unk["numerator"], unk["denominator"]) == (0.0, 1.0)
    nd = one(rows, "hia3.flexible_working_share", "Non-disabled", "characteristic=disability")
    assert (nd["numerator"], nd["denominator"], nd["value"]) == (2.0, 3.0, pytest.approx(200 / 3))
