"""Code → reporting group mappings of CONTRACT.md §3 and the labels of §8."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edi_analysis import groups


def s(values) -> pd.Series:
    """A validated text column: pandas ``str`` dtype, missing = NaN."""
    return pd.Series(values, dtype="str")


# --- Ethnicity ----------------------------------------------------------------------

WRES = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFGHJKLMNPRS", "BME"),
    "Z": "Unknown",
    "99": "Unknown",
}
FIVE = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian"),
    **dict.fromkeys("MNP", "Black"),
    **dict.fromkeys("RS", "Other"),
    "Z": "Unknown",
    "99": "Unknown",
}


def test_code_list_is_the_nhs_data_dictionary_2001_list():
    # 16 categories A–S (no I, O, Q) plus Z and 99.
    assert sorted(groups.ETHNIC_CODES) == sorted([*"ABCDEFGHJKLMNPRS", "Z", "99"])


@pytest.mark.parametrize("code,expected", sorted(WRES.items()))
def test_wres_ethnicity_every_code(code, expected):
    assert groups.ethnicity(s([code])).tolist() == [expected]


@pytest.mark.parametrize("code,expected", sorted(FIVE.items()))
def test_five_groups_every_code(code, expected):
    assert groups.ethnicity5(s([code])).tolist() == [expected]


def test_blank_ethnicity_is_unknown_and_output_is_str_dtype():
    out = groups.ethnicity(s(["A", np.nan, "M"]))
    assert out.tolist() == ["White", "Unknown", "BME"]
    assert out.dtype == "str"
    assert groups.ethnicity5(s([np.nan])).tolist() == ["Unknown"]


def test_five_groups_refine_wres_groups():
    # Every non-White five-group heading is BME under WRES; White and Unknown agree.
    codes = s(list(WRES) + [np.nan])
    wres, five = groups.ethnicity(codes), groups.ethnicity5(codes)
    assert (wres[five.isin(["Mixed", "Asian", "Black", "Other"])] == "BME").all()
    assert (wres[five.isin(["White", "Unknown"])] == five[five.isin(["White", "Unknown"])]).all()


def test_white_british_is_code_a_only():
    out = groups.white_british(s(["A", "B", "C", "H", "Z", np.nan]))
    assert out.tolist() == [True, False, False, False, False, False]
    assert out.dtype == bool


# --- Disability, sex ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code,expected",
    [
        ("Y", "Disabled"),
        ("N", "Non-disabled"),
        ("U", "Unknown"),
        (np.nan, "Unknown"),
    ],
)
def test_disability(code, expected):
    assert groups.disability(s([code])).tolist() == [expected]


def test_sex():
    assert groups.sex(s(["F", "M"])).tolist() == ["Female", "Male"]


# --- Pay clusters, senior leadership --------------------------------------------------

CLUSTERS = {
    "Band 1": "1",
    "Band 2": "1",
    "Band 3": "1",
    "Band 4": "1",
    "Band 5": "2",
    "Band 6": "2",
    "Band 7": "2",
    "Band 8a": "3",
    "Band 8b": "3",
    "Band 8c": "4",
    "Band 8d": "4",
    "Band 9": "4",
    "VSM": "4",
    "Consultant": "5",
    "Career grade": "6",
    "Trainee grade": "7",
}


def test_cluster_table_covers_every_band_but_other():
    assert set(CLUSTERS) | {"Other"} == set(groups.PAY_BANDS)


@pytest.mark.parametrize("band,expected", sorted(CLUSTERS.items()))
def test_pay_cluster_every_band(band, expected):
    assert groups.pay_cluster(s([band])).tolist() == [expected]


def test_other_band_is_in_no_cluster():
    out = groups.pay_cluster(s(["Other", "Band 5", np.nan]))
    assert pd.isna(out.iloc[0]) and out.iloc[1] == "2" and pd.isna(out.iloc[2])


@pytest.mark.parametrize("band", groups.PAY_BANDS)
def test_senior_is_band_8c_and_above_and_vsm(band):
    expected = band in ("Band 8c", "Band 8d", "Band 9", "VSM")
    assert groups.senior(s([band])).tolist() == [expected]


def test_senior_leadership_is_exactly_pay_cluster_4():
    bands = s(list(groups.PAY_BANDS))
    assert (groups.senior(bands) == groups.pay_cluster(bands).eq("4").fillna(False)).all()


# --- Clinical, scope ----------------------------------------------------------------


@pytest.mark.parametrize("staff_group", groups.STAFF_GROUPS)
def test_clinical_every_staff_group(staff_group):
    expected = (
        "N" if staff_group in ("Administrative and Clerical", "Estates and Ancillary") else "Y"
    )
    assert groups.clinical(s([staff_group])).tolist() == [expected]


def test_nine_esr_staff_groups():
    assert len(groups.STAFF_GROUPS) == 9


@pytest.mark.parametrize(
    "contract,expected",
    [
        ("permanent", True),
        ("fixed_term", True),
        ("bank", False),
    ],
)
def test_in_scope(contract, expected):
    assert groups.in_scope(s([contract])).tolist() == [expected]


# --- add_groups ----------------------------------------------------------------------


def test_add_groups_adds_every_derived_column_and_leaves_input_alone():
    df = pd.DataFrame(
        {
            "ethnic_category": s(["A", "H", np.nan]),
            "disability": s(["Y", "U", "N"]),
            "sex": s(["F", "M", "F"]),
            "pay_band": s(["Band 8c", "Other", "Consultant"]),
            "staff_group": s(["Medical and Dental", "Estates and Ancillary", "Students"]),
            "contract_type": s(["bank", "permanent", "fixed_term"]),
            "international_recruit": pd.array([True, pd.NA, False], dtype="boolean"),
        }
    )
    before = df.copy()
    out = groups.add_groups(df)
    pd.testing.assert_frame_equal(df, before)
    assert out["ethnicity"].tolist() == ["White", "BME", "Unknown"]
    assert out["ethnicity5"].tolist() == ["White", "Asian", "Unknown"]
    assert out["white_british"].tolist() == [True, False, False]
    assert out["disability_group"].tolist() == ["Disabled", "Unknown", "Non-disabled"]
    assert out["sex_group"].tolist() == ["Female", "Male", "Female"]
    assert out["pay_cluster"].iloc[[0, 2]].tolist() == ["4", "5"] and pd.isna(
        out["pay_cluster"].iloc[1]
    )
    assert out["senior"].tolist() == [True, False, False]
    assert out["clinical"].tolist() == ["Y", "N", "Y"]
    assert out["in_scope"].tolist() == [False, True, True]
    # A blank international_recruit flag is not recorded as international.
    assert out["recruit_type"].tolist() == ["International", "Domestic", "Domestic"]
    for col in (
        "ethnicity",
        "ethnicity5",
        "disability_group",
        "sex_group",
        "pay_cluster",
        "clinical",
        "recruit_type",
    ):
        assert out[col].dtype == "str", col


def test_add_groups_skips_columns_the_table_lacks():
    out = groups.add_groups(pd.DataFrame({"sex": s(["M"])}))
    assert set(out.columns) == {"sex", "sex_group"}


def test_labels_are_those_of_contract_section_8():
    assert groups.ETHNICITY_LABELS == ("White", "BME", "Unknown")
    assert set(groups.ETHNICITY5_LABELS) == {"White", "Mixed", "Asian", "Black", "Other", "Unknown"}
    assert groups.DISABILITY_LABELS == ("Disabled", "Non-disabled", "Unknown")
    assert groups.SEX_LABELS == ("Female", "Male")
    assert (groups.INTERNATIONAL, groups.DOMESTIC, groups.ALL, groups.WHITE_BRITISH) == (
        "International",
        "Domestic",
        "All",
        "White British",
    )
