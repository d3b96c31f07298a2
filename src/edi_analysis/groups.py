"""Code lists and reporting groups (CONTRACT.md §2, §3, §8).

Pure functions: codes in, group labels out. No I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# NHS Data Dictionary 2001 ethnic category codes (CONTRACT.md §2.1).
WHITE_CODES = ("A", "B", "C")
MIXED_CODES = ("D", "E", "F", "G")
ASIAN_CODES = ("H", "J", "K", "L")
BLACK_CODES = ("M", "N", "P")
OTHER_CODES = ("R", "S")
BME_CODES = MIXED_CODES + ASIAN_CODES + BLACK_CODES + OTHER_CODES
UNKNOWN_ETHNIC_CODES = ("Z", "99")
ETHNIC_CODES = WHITE_CODES + BME_CODES + UNKNOWN_ETHNIC_CODES

STAFF_GROUPS = (
    "Add Prof Scientific and Technic",
    "Additional Clinical Services",
    "Administrative and Clerical",
    "Allied Health Professionals",
    "Estates and Ancillary",
    "Healthcare Scientists",
    "Medical and Dental",
    "Nursing and Midwifery Registered",
    "Students",
)
NON_CLINICAL_STAFF_GROUPS = ("Administrative and Clerical", "Estates and Ancillary")

PAY_BANDS = (
    "Band 1", "Band 2", "Band 3", "Band 4", "Band 5", "Band 6", "Band 7",
    "Band 8a", "Band 8b", "Band 8c", "Band 8d", "Band 9", "VSM",
    "Consultant", "Career grade", "Trainee grade", "Other",
)
MEDICAL_GRADES = ("Consultant", "Career grade", "Trainee grade")
SENIOR_BANDS = ("Band 8c", "Band 8d", "Band 9", "VSM")

# WRES/WDES pay clusters (WRES technical guidance, indicator 1). "Other" is in no cluster.
PAY_CLUSTER = {
    **{f"Band {b}": "1" for b in ("1", "2", "3", "4")},
    **{f"Band {b}": "2" for b in ("5", "6", "7")},
    "Band 8a": "3", "Band 8b": "3",
    "Band 8c": "4", "Band 8d": "4", "Band 9": "4", "VSM": "4",
    "Consultant": "5", "Career grade": "6", "Trainee grade": "7",
}
PAY_CLUSTERS = ("1", "2", "3", "4", "5", "6", "7")

SEXES = ("F", "M")
DISABILITY_CODES = ("Y", "N", "U")
CONTRACT_TYPES = ("permanent", "fixed_term", "bank")
IN_SCOPE_CONTRACTS = ("permanent", "fixed_term")
AGE_BANDS = ("<25", "25-34", "35-44", "45-54", "55+")
CASE_TYPES = (
    "disciplinary", "capability_performance", "capability_ill_health",
    "grievance", "bullying_harassment",
)
OUTCOMES = (
    "no_case_to_answer", "informal_action", "first_written_warning",
    "final_written_warning", "dismissal", "other",
)
BOARD_ROLES = ("chair", "chief_executive", "executive", "non_executive", "other")
ACTION_STATUSES = ("not_started", "in_progress", "complete", "not_applicable")

# Output labels (CONTRACT.md §8).
WHITE, BME, UNKNOWN = "White", "BME", "Unknown"
MIXED, ASIAN, BLACK, OTHER, WHITE_BRITISH = "Mixed", "Asian", "Black", "Other", "White British"
DISABLED, NON_DISABLED = "Disabled", "Non-disabled"
FEMALE, MALE = "Female", "Male"
INTERNATIONAL, DOMESTIC = "International", "Domestic"
ALL = "All"

ETHNICITY_LABELS = (WHITE, BME, UNKNOWN)
ETHNICITY5_LABELS = (WHITE, MIXED, ASIAN, BLACK, OTHER, UNKNOWN)
DISABILITY_LABELS = (DISABLED, NON_DISABLED, UNKNOWN)
SEX_LABELS = (FEMALE, MALE)

_ETHNICITY_MAP = {**{c: WHITE for c in WHITE_CODES}, **{c: BME for c in BME_CODES}}
_ETHNICITY5_MAP = {
    **{c: WHITE for c in WHITE_CODES}, **{c: MIXED for c in MIXED_CODES},
    **{c: ASIAN for c in ASIAN_CODES}, **{c: BLACK for c in BLACK_CODES},
    **{c: OTHER for c in OTHER_CODES},
}
_DISABILITY_MAP = {"Y": DISABLED, "N": NON_DISABLED}
_SEX_MAP = {"F": FEMALE, "M": MALE}


def _map(codes: pd.Series, mapping: dict[str, str], default: str | None) -> pd.Series:
    out = codes.map(mapping)
    if default is not None:
        out = out.fillna(default)
    return out.astype("str") if default is not None else out


def ethnicity(codes: pd.Series) -> pd.Series:
    """WRES ethnicity group: White (A–C), BME (D–S), Unknown (Z, 99, blank)."""
    return _map(codes, _ETHNICITY_MAP, UNKNOWN)


def ethnicity5(codes: pd.Series) -> pd.Series:
    """Five ethnic groups (NHS Data Dictionary 2001 headings) plus Unknown."""
    return _map(codes, _ETHNICITY5_MAP, UNKNOWN)


def white_british(codes: pd.Series) -> pd.Series:
    """True where the code is A (White British), the ethnicity pay gap reference."""
    return codes.eq("A").fillna(False).astype(bool)


def disability(codes: pd.Series) -> pd.Series:
    """WDES disability group: Disabled (Y), Non-disabled (N), Unknown (U or blank)."""
    return _map(codes, _DISABILITY_MAP, UNKNOWN)


def sex(codes: pd.Series) -> pd.Series:
    """Female / Male from the payroll code F / M."""
    return _map(codes, _SEX_MAP, UNKNOWN)


def pay_cluster(bands: pd.Series) -> pd.Series:
    """WRES/WDES pay cluster "1".."7"; NA for `Other` (in overall figures only)."""
    return bands.map(PAY_CLUSTER).astype("str")


def senior(bands: pd.Series) -> pd.Series:
    """Senior leadership (EDI plan HIA2 metric 2d): Band 8c and above, and VSM."""
    return bands.isin(SENIOR_BANDS)


def clinical(staff_groups: pd.Series) -> pd.Series:
    """"Y" for clinical staff groups, "N" for Administrative and Clerical, Estates and Ancillary."""
    return pd.Series(
        np.where(staff_groups.isin(NON_CLINICAL_STAFF_GROUPS), "N", "Y"),
        index=staff_groups.index, dtype="str",
    )


def in_scope(contract_types: pd.Series) -> pd.Series:
    """In scope of WRES/WDES: permanent or fixed-term (bank excluded, WDES 2023 guidance)."""
    return contract_types.isin(IN_SCOPE_CONTRACTS)


def add_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of a validated table with the derived reporting-group columns.

    Adds, where the source column exists: ``ethnicity``, ``ethnicity5``,
    ``white_british``, ``disability_group``, ``sex_group``, ``pay_cluster``,
    ``senior``, ``clinical``, ``in_scope``, ``recruit_type``.
    """
    # A shallow copy: pandas 3 copy-on-write keeps the caller's frame unchanged while the
    # existing columns are shared, not duplicated (a national workforce table is ~3 M rows).
    out = df.copy(deep=False)
    if "ethnic_category" in out:
        out["ethnicity"] = ethnicity(out["ethnic_category"])
        out["ethnicity5"] = ethnicity5(out["ethnic_category"])
        out["white_british"] = white_british(out["ethnic_category"])
    if "disability" in out:
        out["disability_group"] = disability(out["disability"])
    if "sex" in out:
        out["sex_group"] = sex(out["sex"])
    if "pay_band" in out:
        out["pay_cluster"] = pay_cluster(out["pay_band"])
        out["senior"] = senior(out["pay_band"])
    if "staff_group" in out:
        out["clinical"] = clinical(out["staff_group"])
    if "contract_type" in out:
        out["in_scope"] = in_scope(out["contract_type"])
    if "international_recruit" in out:
        out["recruit_type"] = np.where(
            out["international_recruit"].fillna(False).astype(bool), INTERNATIONAL, DOMESTIC
        )
        out["recruit_type"] = out["recruit_type"].astype("str")
    return out
