"""Recruitment and progression metrics (CONTRACT.md §4.2) on small hand-built tables.

Applications of trust RAA in the reporting year 2023-04-01 … 2024-03-31
(period 2024-03-31), built from cells of (count, ethnic code, disability,
sex, shortlisted, appointed):

    appointed (10)          White A: 4 N F, 2 N M     BME H: 1 Y F, 2 N F      Unknown: 1 N M
    shortlisted only (34)   White A: 4 Y F, 6 N F, 4 N M
                            BME H: 3 Y F, 2 Y M, 6 N F, 5 N M, 1 U M       Unknown: 2 U F, 1 U M
    not shortlisted (51)    White A: 12 N F, 8 N M
                            BME H: 5 Y F, 10 N F, 10 N M, 5 U F             Unknown: 1 U M

Margins (applications / shortlisted / appointed):
    White 40 / 20 / 6     BME 50 / 20 / 3      Unknown ethnicity 5 / 4 / 1
    Disabled 15 / 10 / 1  Non-disabled 70 / 30 / 9   Unknown disability 10 / 4 / 0
    Female 60 / 28 / 7    Male 35 / 16 / 3     All 95 / 44 / 10
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from edi_analysis.metrics import MetricContext, compute, compute_raw
from edi_analysis.metrics.recruitment import applications_by_period

from disclosure_support import declared

Z = 1.959963984540054

CELLS = [
    # n, ethnic code, disability, sex, shortlisted, appointed
    (4, "A", "N", "F", True, True),
    (2, "A", "N", "M", True, True),
    (1, "H", "Y", "F", True, True),
    (2, "H", "N", "F", True, True),
    (1, "", "N", "M", True, True),
    (4, "A", "Y", "F", True, False),
    (6, "A", "N", "F", True, False),
    (4, "A", "N", "M", True, False),
    (3, "H", "Y", "F", True, False),
    (2, "H", "Y", "M", True, False),
    (6, "H", "N", "F", True, False),
    (5, "H", "N", "M", True, False),
    (1, "H", "U", "M", True, False),
    (2, "Z", "U", "F", True, False),
    (1, "99", "", "M", True, False),
    (12, "A", "N", "F", False, False),
    (8, "A", "N", "M", False, False),
    (5, "H", "Y", "F", False, False),
    (10, "H", "N", "F", False, False),
    (10, "H", "N", "M", False, False),
    (5, "H", "U", "F", False, False),
    (1, "Z", "U", "M", False, False),
]


def applications(cells, *, trust="RAA", applied="2023-06-01") -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "trust_code": trust,
                "applied_date": applied,
                "ethnic_category": eth,
                "disability": dis,
                "sex": sex,
                "shortlisted": sl,
                "appointed": ap,
            },
            index=range(n),
        )
        for n, eth, dis, sex, sl, ap in cells
    ]
    return typed(pd.concat(frames, ignore_index=True))


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """Typed like a validated recruitment table."""
    df = df.copy()
    df["application_id"] = [f"A{i:05d}" for i in range(len(df))]
    for col in ("trust_code", "ethnic_category", "disability", "sex", "application_id"):
        df[col] = df[col].astype("str").replace({"": np.nan}).astype("str")
    df["applied_date"] = pd.to_datetime(df["applied_date"])
    for col in ("shortlisted", "appointed"):
        df[col] = pd.array(df[col], dtype="boolean")
    df["staff_group"] = "Nursing and Midwifery Registered"
    df["pay_band"] = "Band 5"
    df["international_applicant"] = pd.array([False] * len(df), dtype="boolean")
    return df


def ctx_for(rec, workforce=None, periods=("2024-03-31",)):
    tables = {"recruitment": rec}
    if workforce is not None:
        tables["workforce"] = workforce
    return MetricContext.from_tables(tables, periods=list(periods))


@pytest.fixture(scope="module")
def raw():
    return compute_raw(ctx_for(applications(CELLS)))


def pick(rows, metric, group, breakdown="", period="2024-03-31", trust="RAA"):
    sel = rows[
        (rows["metric_id"] == metric)
        & (rows["group"] == group)
        & (rows["breakdown"] == breakdown)
        & (rows["period"] == period)
        & (rows["trust_code"] == trust)
    ]
    assert len(sel) == 1, (metric, group, breakdown, len(sel))
    return sel.iloc[0]


def test_cells_have_the_stated_margins():
    rec = applications(CELLS)
    assert len(rec) == 95
    assert int(rec["shortlisted"].sum()) == 44 and int(rec["appointed"].sum()) == 10


@pytest.mark.parametrize(
    "group,appointed,shortlisted", [("White", 6, 20), ("BME", 3, 20), ("Unknown", 1, 4)]
)
def test_wres2_appointment_rates(raw, group, appointed, shortlisted):
    row = pick(raw, "wres.2.appointment_rate", group)
    assert (row["numerator"], row["denominator"]) == (appointed, shortlisted)
    assert row["value"] == pytest.approx(
        100 * appointed / shortlisted
    )  # White 30%, BME 15%, Unknown 25%
    lo, hi = proportion_confint(appointed, shortlisted, method="wilson")
    assert row["ci_lower"] == pytest.approx(100 * lo) and row["ci_upper"] == pytest.approx(100 * hi)


def test_wres2_relative_likelihood(raw):
    row = pick(raw, "wres.2.relative_likelihood", "White")
    # White 6/20 = 30%, BME 3/20 = 15% → RL 2.0 (Unknown excluded from both sides);
    # SE = √(1/6 − 1/20 + 1/3 − 1/20) = √0.4 = 0.632456
    # → CI exp(ln 2 ∓ 1.239590) = (0.579006, 6.908394).
    assert row["reference_group"] == "BME" and row["unit"] == "ratio"
    assert row["value"] == pytest.approx(2.0)
    assert row["ci_lower"] == pytest.approx(0.579006, abs=1e-6)
    assert row["ci_upper"] == pytest.approx(6.908394, abs=1e-6)
    assert np.isnan(row["numerator"]) and np.isnan(row["denominator"])
    # Its cells (edi_analysis.disclosure) are the four counts it is built from:
    # a = 6, n1 = 20 (White), c = 3, n2 = 20 (BME); suppression follows them.
    ctx = ctx_for(applications(CELLS))
    rows = compute_raw(ctx, ["wres.2.relative_likelihood"])
    cells = declared(rows, ctx)
    assert sorted(cells.loc[cells["row"] == rows.index[rows["group"] == "White"][0], "count"]) \
        == [3, 6, 20, 20]
    assert row["area"] == "hia2"


def test_wdes2_relative_likelihood(raw):
    row = pick(raw, "wdes.2.relative_likelihood", "Non-disabled")
    # Non-disabled 9/30 = 30%, Disabled 1/10 = 10% → RL 3.0;
    # SE = √(1/9 − 1/30 + 1/1 − 1/10) = √0.977778 = 0.988826
    # → CI exp(ln 3 ∓ 1.938064) = (0.431947, 20.835881).
    assert row["reference_group"] == "Disabled"
    assert row["value"] == pytest.approx(3.0)
    assert row["ci_lower"] == pytest.approx(0.431947, abs=1e-6)
    assert row["ci_upper"] == pytest.approx(20.835881, abs=1e-5)
    unknown = pick(raw, "wdes.2.appointment_rate", "Unknown")
    assert (unknown["numerator"], unknown["denominator"]) == (0, 4)


def test_sex2_relative_likelihood(raw):
    row = pick(raw, "sex.2.relative_likelihood", "Male")
    # Male 3/16 = 18.75%, Female 7/28 = 25% → RL 0.75;
    # SE = √(1/3 − 1/16 + 1/7 − 1/28) = 0.614798
    # → CI exp(ln 0.75 ∓ 1.204981) = (0.224773, 2.502523).
    assert row["reference_group"] == "Female"
    assert row["value"] == pytest.approx(0.75)
    assert row["ci_lower"] == pytest.approx(0.224773, abs=1e-6)
    assert row["ci_upper"] == pytest.approx(2.502523, abs=1e-6)
    assert pick(raw, "sex.2.appointment_rate", "Female")["value"] == pytest.approx(25.0)


@pytest.mark.parametrize(
    "breakdown,group,shortlisted,applications_n",
    [
        ("", "All", 44, 95),
        ("characteristic=ethnicity", "White", 20, 40),
        ("characteristic=ethnicity", "BME", 20, 50),
        ("characteristic=ethnicity", "Unknown", 4, 5),
        ("characteristic=disability", "Disabled", 10, 15),
        ("characteristic=disability", "Non-disabled", 30, 70),
        ("characteristic=disability", "Unknown", 4, 10),
        ("characteristic=sex", "Female", 28, 60),
        ("characteristic=sex", "Male", 16, 35),
    ],
)
def test_shortlisting_rates(raw, breakdown, group, shortlisted, applications_n):
    row = pick(raw, "hia2.shortlisting_rate", group, breakdown)
    assert (row["numerator"], row["denominator"]) == (shortlisted, applications_n)
    assert row["value"] == pytest.approx(100 * shortlisted / applications_n)


@pytest.mark.parametrize(
    "breakdown, group, shortlisted",
    [
        # of the 44 shortlisted (White 20 + BME 20 + Unknown 4)
        ("characteristic=ethnicity", "White", 20),
        ("characteristic=ethnicity", "BME", 20),
        ("characteristic=ethnicity", "Unknown", 4),
        ("characteristic=disability", "Disabled", 10),
        ("characteristic=disability", "Non-disabled", 30),
        ("characteristic=disability", "Unknown", 4),
        ("characteristic=sex", "Female", 28),
        ("characteristic=sex", "Male", 16),
    ],
)
def test_shortlisted_share_is_the_make_up_of_the_shortlist(raw, breakdown, group, shortlisted):
    """EDI plan success metric 2e, "diversity in shortlisted candidates": each group's share of
    the 44 shortlisted applications (Unknown in the denominator), e.g. BME 20 / 44 = 45.45 %."""
    row = pick(raw, "hia2.shortlisted_share", group, breakdown)
    assert (row["numerator"], row["denominator"]) == (shortlisted, 44)
    assert row["value"] == pytest.approx(100 * shortlisted / 44)
    lo, hi = proportion_confint(shortlisted, 44, method="wilson")
    assert (row["ci_lower"], row["ci_upper"]) == (pytest.approx(100 * lo), pytest.approx(100 * hi))
    shares = raw[(raw.metric_id == "hia2.shortlisted_share") & (raw.breakdown == breakdown)]
    assert shares["value"].sum() == pytest.approx(100.0)


def test_shortlisted_share_keeps_applications_of_unrecorded_sex_in_the_denominator():
    """2e's denominator is the whole shortlist: 3 more shortlisted applications with sex not
    recorded make it 44 + 3 = 47 for every characteristic, sex too (whose rows are Female and
    Male only: Female 28 / 47 = 59.57 %), and the declared disclosure cells count the same."""
    ctx = ctx_for(applications(CELLS + [(3, "A", "N", "", True, False)]))
    raw = compute_raw(ctx, ["hia2.shortlisted_share"])
    for breakdown, group, k in (("characteristic=sex", "Female", 28),
                                ("characteristic=sex", "Male", 16),
                                ("characteristic=ethnicity", "White", 23)):
        row = pick(raw, "hia2.shortlisted_share", group, breakdown)
        assert (row["numerator"], row["denominator"]) == (k, 47)
        assert row["value"] == pytest.approx(100 * k / 47)
    cells = declared(raw, ctx)
    den = cells[cells["published"] == "denominator"]
    assert len(den) == len(raw) and set(den["count"]) == {47.0}


def test_rows_per_trust_and_period(raw):
    counts = raw.groupby("metric_id").size().to_dict()
    assert counts == {
        "hia2.shortlisted_share": 8,
        "hia2.shortlisting_rate": 9,
        "sex.2.appointment_rate": 2,
        "sex.2.relative_likelihood": 1,
        "wdes.2.appointment_rate": 3,
        "wdes.2.relative_likelihood": 1,
        "wres.2.appointment_rate": 3,
        "wres.2.relative_likelihood": 1,
    }


def test_application_belongs_to_the_reporting_year_containing_applied_date():
    rec = typed(
        pd.DataFrame(
            {
                "trust_code": "RAA",
                "applied_date": [
                    "2022-04-01",
                    "2023-03-31",
                    "2023-04-01",
                    "2024-03-31",
                    "2024-04-01",
                ],
                "ethnic_category": "A",
                "disability": "N",
                "sex": "F",
                "shortlisted": True,
                "appointed": True,
            }
        )
    )
    ctx = ctx_for(rec, periods=("2023-03-31", "2024-03-31"))
    apps = applications_by_period(ctx)
    by_period = apps.groupby("period")["application_id"].apply(list).to_dict()
    # 2022/23 = 2022-04-01 … 2023-03-31; 2023/24 = 2023-04-01 … 2024-03-31;
    # 2024-04-01 is in neither.
    assert by_period == {"2023-03-31": ["A00000", "A00001"], "2024-03-31": ["A00002", "A00003"]}


def test_zero_appointments_in_the_reference_group_blanks_the_ratio():
    # BME: 10 shortlisted, none appointed → reference rate 0: value blank with a note,
    # not suppressed.
    rec = applications(
        [
            (8, "A", "N", "F", True, True),
            (4, "A", "N", "F", True, False),
            (10, "H", "N", "F", True, False),
        ]
    )
    out = compute(ctx_for(rec), ["wres.2.relative_likelihood"])
    row = out.iloc[0]
    assert np.isnan(row["value"]) and not row["suppressed"]
    assert row["note"] == "no appointments in reference group (BME)"


def test_zero_appointments_in_the_compared_group_gives_zero_without_interval():
    rec = applications(
        [
            (12, "A", "N", "F", True, False),
            (8, "H", "N", "F", True, True),
            (4, "H", "N", "F", True, False),
        ]
    )
    row = compute(ctx_for(rec), ["wres.2.relative_likelihood"]).iloc[0]
    # White 0/12 ÷ BME 8/12 = 0; the log interval does not exist.
    assert row["value"] == 0.0 and not row["suppressed"]
    assert np.isnan(row["ci_lower"]) and np.isnan(row["ci_upper"])
    assert row["note"] == "no appointments in compared group (White): interval not computed"


def test_no_shortlisted_reference_applicants():
    rec = applications([(9, "A", "N", "F", True, True), (10, "H", "N", "F", False, False)])
    raw = compute_raw(ctx_for(rec))
    assert np.isnan(pick(raw, "wres.2.relative_likelihood", "White")["value"])
    assert pick(raw, "wres.2.relative_likelihood", "White")["note"] == (
        "no shortlisted applicants in reference group (BME)"
    )
    bme = pick(raw, "wres.2.appointment_rate", "BME")
    assert (
        bme["denominator"] == 0
        and np.isnan(bme["value"])
        and bme["note"] == "no shortlisted applicants"
    )


@pytest.mark.parametrize("c,suppressed", [(1, True), (7, True), (8, False)])
def test_suppression_edge_on_reference_appointments(c, suppressed):
    # White 10/40, BME c/40: the ratio is suppressed exactly when c is 1–7.
    rec = applications(
        [
            (10, "A", "N", "F", True, True),
            (30, "A", "N", "F", True, False),
            (c, "H", "N", "F", True, True),
            (40 - c, "H", "N", "F", True, False),
        ]
    )
    out = compute(ctx_for(rec), ["wres.2.relative_likelihood", "wres.2.appointment_rate"])
    rl = out[out["metric_id"] == "wres.2.relative_likelihood"].iloc[0]
    assert rl["suppressed"] == suppressed
    if not suppressed:
        assert rl["value"] == pytest.approx((10 / 40) / (8 / 40))
    bme = out[(out["metric_id"] == "wres.2.appointment_rate") & (out["group"] == "BME")].iloc[0]
    assert bme["suppressed"] == suppressed


@pytest.mark.parametrize("n2,suppressed", [(7, True), (8, False)])
def test_suppression_edge_on_a_small_reference_denominator(n2, suppressed):
    # BME shortlisted n2 with 0 appointed → reference rate 0, value blank; a denominator of 7 is
    # still suppressed, 8 is not (a blank figure with its note).
    rec = applications(
        [
            (10, "A", "N", "F", True, True),
            (30, "A", "N", "F", True, False),
            (n2, "H", "N", "F", True, False),
        ]
    )
    out = compute(ctx_for(rec), ["wres.2.relative_likelihood"])
    assert out["suppressed"].tolist() == [suppressed]


def test_blank_flags_count_as_no():
    rec = applications([(10, "A", "N", "F", True, True), (10, "H", "N", "F", True, True)])
    rec.loc[[0, 1], "appointed"] = pd.NA
    rec.loc[[10], "shortlisted"] = pd.NA
    rec.loc[[10], "appointed"] = pd.NA
    raw = compute_raw(ctx_for(rec))
    assert pick(raw, "wres.2.appointment_rate", "White")["numerator"] == 8
    assert pick(raw, "hia2.shortlisting_rate", "BME", "characteristic=ethnicity")["numerator"] == 9


# --- WRES 4 ----------------------------------------------------------------------------


def training_workforce() -> pd.DataFrame:
    # In scope: White 40 (20 accessed, 18 not, 2 not recorded), BME 16 (4 accessed),
    # Unknown 3 (1 accessed);
    # bank: 10 White who all accessed training (excluded).
    spec = [
        ("A", "permanent", True, 20),
        ("A", "permanent", False, 18),
        ("A", "fixed_term", None, 2),
        ("H", "permanent", True, 4),
        ("H", "permanent", False, 12),
        ("Z", "permanent", True, 1),
        ("Z", "permanent", False, 2),
        ("A", "bank", True, 10),
    ]
    frames = [
        pd.DataFrame({"ethnic_category": eth, "contract_type": ct, "accessed": acc}, index=range(n))
        for eth, ct, acc, n in spec
    ]
    df = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame(
        {
            "staff_id": pd.Series([f"S{i}" for i in range(len(df))], dtype="str"),
            "trust_code": pd.Series("RAA", index=df.index, dtype="str"),
            "snapshot_date": pd.Timestamp("2024-03-31"),
            "ethnic_category": df["ethnic_category"].astype("str"),
            "sex": "F",
            "disability": "N",
            "staff_group": "Nursing and Midwifery Registered",
            "pay_band": "Band 5",
            "contract_type": df["contract_type"].astype("str"),
            "accessed_nonmandatory_training": pd.array(df["accessed"], dtype="boolean"),
        }
    )
    for col in ("sex", "disability", "staff_group", "pay_band"):
        out[col] = out[col].astype("str")
    return out


def test_wres4_training():
    raw = compute_raw(
        MetricContext.from_tables({"workforce": training_workforce()}, periods=["2024-03-31"]),
        ["wres.4.access_rate", "wres.4.relative_likelihood"],
    )
    white = pick(raw, "wres.4.access_rate", "White")
    assert (white["numerator"], white["denominator"]) == (20, 40)
    assert (
        white["note"]
        == "training not recorded for some staff in the group: counted as not accessed"
    )
    bme = pick(raw, "wres.4.access_rate", "BME")
    assert (bme["numerator"], bme["denominator"], bme["note"]) == (4, 16, "")
    rl = pick(raw, "wres.4.relative_likelihood", "White")
    # (20/40) ÷ (4/16) = 0.5/0.25 = 2.0; SE = √(1/20 − 1/40 + 1/4 − 1/16) = √0.2125 = 0.460977
    # → CI exp(ln 2 ∓ 0.903499) = (0.810299, 4.936447).
    se = math.sqrt(1 / 20 - 1 / 40 + 1 / 4 - 1 / 16)
    assert rl["value"] == pytest.approx(2.0) and rl["reference_group"] == "BME"
    assert (
        rl["ci_lower"] == pytest.approx(2 * math.exp(-Z * se)) == pytest.approx(0.810299, abs=1e-6)
    )
    assert rl["ci_upper"] == pytest.approx(4.936447, abs=1e-6)
    # Published: BME accessed 4 < 8 → the rate and the ratio are suppressed.
    out = compute(
        MetricContext.from_tables({"workforce": training_workforce()}, periods=["2024-03-31"]),
        ["wres.4.relative_likelihood"],
    )
    assert out["suppressed"].tolist() == [True] and np.isnan(out["value"].iloc[0])


def test_no_applications_in_period_no_rows():
    rec = applications(CELLS, applied="2021-06-01")
    assert compute_raw(ctx_for(rec), ["wres.2.relative_likelihood"]).empty
