"""Synthetic NHS trust data: the committed demonstration sample and national-scale benchmarks.

`generate` returns every input table of CONTRACT.md §2 (required and optional)
for a set of fictional trusts, with the contract's exact columns and the value
formats they have in a CSV file: dates as ``YYYY-MM-DD`` strings, booleans as
``Y``/``N`` (missing = NaN, written blank), codes from the lists in
`edi_analysis.groups`, numbers as float64 rounded to the precision written.
`write_sample` writes them as ``NAME.csv`` (UTF-8, no BOM, ``\\n`` line
endings) or ``NAME.parquet``; the same arguments give byte-identical files.

Everything is drawn with one ``numpy.random.default_rng(seed)`` in whole-array
operations (no per-row Python loops), so the same code makes a four-trust
sample in a fraction of a second and an England-sized dataset (about 215
trusts, 1.5 million staff per snapshot) in well under a minute.

The population is calibrated to published national figures, and known
disparities are built in on purpose so that the reports have something real to
find. Each is set by a field of `SampleParams`; docs/sample-data.md lists them
with their sources. Trust codes are fictional (``ZZ001``, ``ZZ002``, ...): real
NHS trust ODS codes are three characters beginning ``R`` or ``T``.

No I/O except in `write_sample`; nothing is printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit, logit, ndtri

from edi_analysis import groups

DEFAULT_TRUSTS = 4
DEFAULT_STAFF = 11_000
DEFAULT_SEED = 20240331

#: Snapshot dates (periods) and the staff survey year that belongs to each (CONTRACT §1).
SNAPSHOTS = ("2023-03-31", "2024-03-31")
SURVEY_YEARS = (2022, 2023)

#: Columns of every table, in the order written (CONTRACT.md §2).
COLUMNS: dict[str, tuple[str, ...]] = {
    "workforce": (
        "staff_id", "trust_code", "snapshot_date", "ethnic_category", "sex", "disability",
        "staff_group", "pay_band", "contract_type", "fte", "start_date", "age_band",
        "hourly_pay", "full_pay_relevant", "bonus_pay_12m", "bonus_pay_period", "specialty",
        "accessed_nonmandatory_training", "flexible_working", "international_recruit",
        "sickness_days_12m", "available_days_12m", "risk_assessment_completed",
        "flu_vaccinated", "wellbeing_conversation",
    ),
    "recruitment": (
        "application_id", "trust_code", "applied_date", "staff_group", "pay_band",
        "ethnic_category", "disability", "sex", "international_applicant", "shortlisted",
        "appointed",
    ),
    "employee_relations": (
        "case_id", "staff_id", "trust_code", "case_type", "start_date", "closed_date",
        "outcome", "ethnic_category", "disability", "sex", "staff_group", "pay_band",
    ),
    "staff_survey": (
        "respondent_id", "trust_code", "survey_year", "ethnic_category", "disability", "sex",
        "staff_group", "international_recruit", "harassment_public", "harassment_manager",
        "harassment_colleague", "reported_harassment", "equal_opportunities",
        "discrimination_colleague", "pressure_unwell", "valued_by_org", "adjustments_made",
        "org_action_health_wellbeing", "belonging", "engagement_score",
    ),
    "board": (
        "member_id", "trust_code", "snapshot_date", "role", "voting", "executive",
        "ethnic_category", "disability", "sex", "has_smart_edi_objectives",
        "appraised_on_edi_objectives",
    ),
    "actions": ("trust_code", "action_id", "status", "owner", "evidence", "updated_on"),
    "external_indicators": ("trust_code", "period", "indicator_id", "group", "value", "source"),
}
TABLES = tuple(COLUMNS)

#: Action ids written to the `actions` table (fixed here, not read from the
#: catalogue at run time, so the committed sample does not change when the
#: catalogue grows). Each must exist in src/edi_analysis/catalogue/actions.yaml.
ACTION_IDS = (
    "edi.hia1.smart_objectives",
    "edi.hia1.board_accountability",
    "edi.hia2.talent_management",
    "edi.hia3.pay_gap_action_plan",
    "edi.hia3.flexible_working",
    "edi.hia4.health_inequalities_plan",
    "edi.hia5.international_recruits_induction",
    "edi.hia5.international_recruits_development",
    "edi.hia6.review_disciplinary",
    "edi.hia6.bullying_harassment_plan",
    "pp.hwb.wellbeing_conversations",
    "pp.inclusion.disciplinary_gap",
)

# ---------------------------------------------------------------------------
# Code lists as arrays (index = integer code used inside the generator)
# ---------------------------------------------------------------------------
_SG = groups.STAFF_GROUPS
_SG_I = {g: i for i, g in enumerate(_SG)}
_APST, _ACS, _ADMIN, _AHP, _EA, _HCS, _MED, _NURSE, _STUDENT = range(9)
_BANDS = groups.PAY_BANDS
_B = {b: i for i, b in enumerate(_BANDS)}
_AFC_ORDER = [_B[b] for b in _BANDS[:12]]  # Band 1 .. Band 9 (VSM, medical, Other excluded)
_ETH = groups.ETHNIC_CODES  # A B C D..S Z 99
_E = {c: i for i, c in enumerate(_ETH)}
_DIS = ("Y", "N", "U")
_AGE_EDGES = (25.0, 35.0, 45.0, 55.0)  # age band edges: <25, 25-34, 35-44, 45-54, 55+

_D0 = np.datetime64(SNAPSHOTS[0])
_D1 = np.datetime64(SNAPSHOTS[1])
_YEAR0_START = np.datetime64("2022-04-01")
_YEAR1_START = np.datetime64("2023-04-01")


def _row(mapping: Mapping[str, float], labels, default: float = 0.0) -> np.ndarray:
    """Vector over `labels` from a {label: value} mapping (missing labels get `default`)."""
    return np.array([mapping.get(lab, default) for lab in labels], dtype="float64")


# Staff-group mix, NHS trusts in England (NHS Digital, NHS Workforce Statistics,
# March 2023, headcount by ESR staff group; rounded).
_SG_MIX = _row({
    "Nursing and Midwifery Registered": 25.5, "Additional Clinical Services": 24.5,
    "Administrative and Clerical": 21.0, "Medical and Dental": 10.0,
    "Allied Health Professionals": 7.0, "Estates and Ancillary": 5.5,
    "Add Prof Scientific and Technic": 4.0, "Healthcare Scientists": 2.0, "Students": 0.5,
}, _SG)

# Pay band mix within each staff group (percent of the group; shapes follow the
# NHS Digital earnings and workforce publications, rounded for a synthetic population).
_BAND_MIX = np.zeros((len(_SG), len(_BANDS)))
for _g, _mix in {
    "Nursing and Midwifery Registered": {"Band 4": 0.5, "Band 5": 40, "Band 6": 33, "Band 7": 19,
                                         "Band 8a": 5, "Band 8b": 1.5, "Band 8c": 0.6,
                                         "Band 8d": 0.3, "Band 9": 0.1},
    "Additional Clinical Services": {"Band 1": 0.5, "Band 2": 28, "Band 3": 42, "Band 4": 20,
                                     "Band 5": 6, "Band 6": 2.5, "Band 7": 1},
    "Administrative and Clerical": {"Band 2": 14, "Band 3": 25, "Band 4": 22, "Band 5": 12,
                                    "Band 6": 9, "Band 7": 8, "Band 8a": 4.5, "Band 8b": 2.5,
                                    "Band 8c": 1.3, "Band 8d": 0.9, "Band 9": 0.4, "VSM": 0.4},
    "Medical and Dental": {"Consultant": 40, "Career grade": 15, "Trainee grade": 45},
    "Allied Health Professionals": {"Band 3": 0.5, "Band 4": 1, "Band 5": 20, "Band 6": 38,
                                    "Band 7": 28, "Band 8a": 9, "Band 8b": 2.5, "Band 8c": 1},
    "Estates and Ancillary": {"Band 1": 3, "Band 2": 60, "Band 3": 20, "Band 4": 8, "Band 5": 4,
                              "Band 6": 2, "Band 7": 1.5, "Band 8a": 1, "Band 8b": 0.5},
    "Add Prof Scientific and Technic": {"Band 3": 8, "Band 4": 12, "Band 5": 12, "Band 6": 18,
                                        "Band 7": 25, "Band 8a": 14, "Band 8b": 7,
                                        "Band 8c": 3, "Band 8d": 1},
    "Healthcare Scientists": {"Band 4": 5, "Band 5": 15, "Band 6": 25, "Band 7": 30,
                              "Band 8a": 13, "Band 8b": 7, "Band 8c": 3, "Band 8d": 2},
    "Students": {"Band 3": 25, "Band 4": 15, "Other": 60},
}.items():
    _BAND_MIX[_SG_I[_g]] = _row(_mix, _BANDS)
_BAND_MIX /= _BAND_MIX.sum(axis=1, keepdims=True)
# International recruits enter at registration grades: nurses at Band 5 (a few 6),
# doctors as trainee or career grade, others at their professional entry band.
_BAND_MIX_INTL = _BAND_MIX.copy()
_BAND_MIX_INTL[_NURSE] = _row({"Band 5": 88, "Band 6": 10, "Band 7": 2}, _BANDS) / 100
_BAND_MIX_INTL[_MED] = _row({"Consultant": 10, "Career grade": 40, "Trainee grade": 50},
                            _BANDS) / 100
_BAND_MIX_INTL[_ACS] = _row({"Band 2": 30, "Band 3": 50, "Band 4": 20}, _BANDS) / 100
_BAND_MIX_INTL[_AHP] = _row({"Band 5": 50, "Band 6": 40, "Band 7": 10}, _BANDS) / 100
# Joiners are weighted towards entry grades (newly qualified Band 5, rotating trainees).
_JOINER_BAND_WEIGHT = _row({
    "Band 1": 1.2, "Band 2": 1.3, "Band 3": 1.2, "Band 4": 1.0, "Band 5": 1.4, "Band 6": 0.9,
    "Band 7": 0.7, "Band 8a": 0.5, "Band 8b": 0.4, "Band 8c": 0.3, "Band 8d": 0.3,
    "Band 9": 0.3, "VSM": 0.3, "Consultant": 0.4, "Career grade": 0.9, "Trainee grade": 2.0,
    "Other": 2.0,
}, _BANDS)

# Share female by staff group (NHS Digital workforce statistics: ~77% of NHS staff
# are women, ~48% of doctors) and the log-odds shift by band: women are fewer in
# the most senior bands and among consultants, which drives most of the pay gap.
_FEMALE = _row({
    "Nursing and Midwifery Registered": 0.89, "Additional Clinical Services": 0.82,
    "Administrative and Clerical": 0.80, "Medical and Dental": 0.48,
    "Allied Health Professionals": 0.83, "Estates and Ancillary": 0.45,
    "Add Prof Scientific and Technic": 0.72, "Healthcare Scientists": 0.62, "Students": 0.80,
}, _SG)
_FEMALE_BAND_SHIFT = _row({
    "Band 1": 0.15, "Band 2": 0.15, "Band 3": 0.15, "Band 4": 0.15, "Band 8a": -0.2,
    "Band 8b": -0.3, "Band 8c": -0.5, "Band 8d": -0.6, "Band 9": -0.7, "VSM": -0.8,
    "Consultant": -0.6, "Trainee grade": 0.3,
}, _BANDS)

# BME share (of known ethnicity) for domestically recruited staff by staff group,
# and log-odds shift by band; with international recruits (~88% BME) the
# in-scope total is ~26-27% BME, ~45% of doctors, ~33% of registered nurses,
# ~10-13% at Band 8c and above (WRES 2022 and 2023 data analysis reports).
_BME_DOMESTIC = _row({
    "Nursing and Midwifery Registered": 0.21, "Additional Clinical Services": 0.24,
    "Administrative and Clerical": 0.16, "Medical and Dental": 0.40,
    "Allied Health Professionals": 0.16, "Estates and Ancillary": 0.22,
    "Add Prof Scientific and Technic": 0.26, "Healthcare Scientists": 0.22, "Students": 0.25,
}, _SG)
_BME_BAND_SHIFT = _row({
    "Band 1": 0.1, "Band 2": 0.1, "Band 7": -0.15, "Band 8a": -0.3, "Band 8b": -0.45,
    "Band 8c": -0.75, "Band 8d": -0.85, "Band 9": -1.0, "VSM": -1.1, "Trainee grade": 0.2,
}, _BANDS)
_INTL_BME = 0.88
# Ethnic code mix within White and BME (NHS Data Dictionary 2001 codes); international
# recruits mostly Indian (H), other Asian incl. Filipino (L) and African (N).
_WHITE_MIX = _row({"A": 82, "B": 3, "C": 15}, _ETH)
_WHITE_MIX_INTL = _row({"C": 95, "B": 5}, _ETH)
_BME_MIX = _row({"D": 4, "E": 3, "F": 3, "G": 5, "H": 24, "J": 9, "K": 4, "L": 10,
                 "M": 3, "N": 16, "P": 3, "R": 4, "S": 12}, _ETH)
_BME_MIX_INTL = _row({"G": 1, "H": 38, "J": 3, "K": 1, "L": 22, "M": 2, "N": 25, "P": 1,
                      "R": 1, "S": 6}, _ETH)
_UNKNOWN_MIX = _row({"Z": 60, "99": 25}, _ETH)  # the rest of "unknown" is written blank

# Share who joined through international recruitment (stock and joiners), by group.
_INTL_STOCK = _row({"Nursing and Midwifery Registered": 0.14, "Medical and Dental": 0.10,
                    "Additional Clinical Services": 0.03, "Allied Health Professionals": 0.04,
                    "Healthcare Scientists": 0.02, "Add Prof Scientific and Technic": 0.02},
                   _SG, default=0.005)
_INTL_JOINER = _row({"Nursing and Midwifery Registered": 0.30, "Medical and Dental": 0.20,
                     "Additional Clinical Services": 0.06, "Allied Health Professionals": 0.08,
                     "Healthcare Scientists": 0.03, "Add Prof Scientific and Technic": 0.03},
                    _SG, default=0.01)

# Bank (contract_type bank) share by group; overall ~7%.
_BANK = _row({"Nursing and Midwifery Registered": 0.09, "Additional Clinical Services": 0.11,
              "Administrative and Clerical": 0.06, "Estates and Ancillary": 0.08,
              "Medical and Dental": 0.05, "Allied Health Professionals": 0.04,
              "Healthcare Scientists": 0.02, "Add Prof Scientific and Technic": 0.03,
              "Students": 0.0}, _SG)

# Mean age and spread by band (years, at the snapshot).
_AGE_MEAN = _row({"Band 1": 46, "Band 2": 42, "Band 3": 42, "Band 4": 43, "Band 5": 36,
                  "Band 6": 40, "Band 7": 44, "Band 8a": 46, "Band 8b": 47, "Band 8c": 49,
                  "Band 8d": 50, "Band 9": 52, "VSM": 53, "Consultant": 49,
                  "Career grade": 45, "Trainee grade": 31, "Other": 24}, _BANDS)
_AGE_SD = _row({"Trainee grade": 4.0, "Other": 5.0}, _BANDS, default=10.0)

# 2023/24 annual pay points: (years on the scale needed, £ full-time). Agenda for
# Change: NHS Employers pay scales 2023/24 (5% uplift from April 2023). Medical:
# DDRB 2023/24 awards (6%) for the 2003 consultant contract, 2021 specialty doctor
# contract (career grade) and 2016 resident doctor contract (trainee grade) --
# entry and top points as published, intermediate points approximate.
_PAY_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "Band 1": ((0, 22383),), "Band 2": ((0, 22383),),
    "Band 3": ((0, 22816), (2, 24336)), "Band 4": ((0, 25147), (3, 27596)),
    "Band 5": ((0, 28407), (2, 30639), (4, 34581)),
    "Band 6": ((0, 35392), (2, 37350), (5, 42618)),
    "Band 7": ((0, 43742), (2, 45996), (5, 50056)),
    "Band 8a": ((0, 50952), (5, 57349)), "Band 8b": ((0, 58972), (5, 68525)),
    "Band 8c": ((0, 70417), (5, 81138)), "Band 8d": ((0, 83571), (5, 96376)),
    "Band 9": ((0, 99891), (5, 114949)),
    "Consultant": ((0, 93666), (1, 96599), (2, 99532), (3, 102465), (4, 105390),
                   (9, 111335), (14, 117273), (19, 126281)),
    "Career grade": ((0, 52530), (3, 60417), (6, 69178), (12, 82400)),
    "Trainee grade": ((0, 32398), (1, 37303), (2, 43923), (4, 55329), (7, 63152)),
    "Other": ((0, 21500), (1, 23000)),  # students and apprentices on local rates
}
_VSM_MEDIAN = 135_000.0
_AFC_UPLIFT_2023 = 1.05   # 2023/24 AfC award: the 2023-03-31 snapshot is on 2022/23 rates
_MED_UPLIFT_2023 = 1.06   # 2023/24 DDRB award
_WEEKS = 52.143

_MAX_POINTS = max(len(v) for v in _PAY_POINTS.values())
_PAY_YEARS = np.full((len(_BANDS), _MAX_POINTS), np.inf)
_PAY_VALUE = np.zeros((len(_BANDS), _MAX_POINTS))
for _b, _pts in _PAY_POINTS.items():
    for _k, (_y, _v) in enumerate(_pts):
        _PAY_YEARS[_B[_b], _k] = _y
        _PAY_VALUE[_B[_b], _k] = _v

# Sickness absence: mean rate by staff group (NHS sickness absence rates 2022/23:
# ~5.0-5.6% overall, highest in support and ancillary roles, lowest for doctors).
_SICK = _row({"Additional Clinical Services": 0.072, "Estates and Ancillary": 0.068,
              "Nursing and Midwifery Registered": 0.055, "Administrative and Clerical": 0.042,
              "Allied Health Professionals": 0.040, "Healthcare Scientists": 0.036,
              "Add Prof Scientific and Technic": 0.035, "Medical and Dental": 0.018,
              "Students": 0.040}, _SG)

# Non-mandatory training / CPD access (annual) by staff group.
_TRAINING = _row({"Medical and Dental": 0.78, "Nursing and Midwifery Registered": 0.62,
                  "Allied Health Professionals": 0.68, "Healthcare Scientists": 0.62,
                  "Add Prof Scientific and Technic": 0.64, "Additional Clinical Services": 0.50,
                  "Administrative and Clerical": 0.45, "Estates and Ancillary": 0.30,
                  "Students": 0.55}, _SG)

# Formal employee relations cases: annual probability per in-scope person at the
# reference (White, non-disabled) level, and a multiplier by staff group.
_CASE_TYPES = groups.CASE_TYPES
_CASE_SG_MULT = {
    "disciplinary": _row({"Additional Clinical Services": 1.4, "Estates and Ancillary": 1.6,
                          "Nursing and Midwifery Registered": 1.1, "Medical and Dental": 0.5,
                          "Administrative and Clerical": 0.8, "Students": 0.5}, _SG, 0.8),
    "capability_performance": _row({"Administrative and Clerical": 1.2,
                                    "Medical and Dental": 0.6}, _SG, 1.0),
    "capability_ill_health": _row({"Additional Clinical Services": 1.4,
                                   "Estates and Ancillary": 1.4, "Medical and Dental": 0.4},
                                  _SG, 1.0),
    "grievance": _row({}, _SG, 1.0),
    "bullying_harassment": _row({"Medical and Dental": 1.2}, _SG, 1.0),
}
# Median days from start to closure and the outcome mix of closed cases.
_CASE_DAYS = {"disciplinary": 100, "capability_performance": 150,
              "capability_ill_health": 120, "grievance": 70, "bullying_harassment": 90}
_OUTCOME_MIX = {
    "disciplinary": (0.22, 0.25, 0.20, 0.13, 0.12, 0.08),
    "capability_performance": (0.10, 0.35, 0.20, 0.10, 0.05, 0.20),
    "capability_ill_health": (0.05, 0.40, 0.05, 0.05, 0.15, 0.30),
    "grievance": (0.35, 0.30, 0.02, 0.01, 0.00, 0.32),
    "bullying_harassment": (0.30, 0.35, 0.10, 0.05, 0.02, 0.18),
}  # order of groups.OUTCOMES

# Staff survey: response propensity by staff group (national response ~45%).
_RESPONSE = _row({"Medical and Dental": 0.40, "Additional Clinical Services": 0.36,
                  "Estates and Ancillary": 0.32, "Allied Health Professionals": 0.56,
                  "Add Prof Scientific and Technic": 0.55, "Healthcare Scientists": 0.55,
                  "Administrative and Clerical": 0.52, "Nursing and Midwifery Registered": 0.46,
                  "Students": 0.35}, _SG)
# Survey answers: probability of Y for the reference respondent (White, not
# disabled, domestic recruit, 2023) and log-odds shifts, set to land near the NHS
# Staff Survey 2023 national results reported in WRES/WDES 2023 (e.g. harassment
# from colleagues 24.8% disabled vs 16.5% non-disabled; reasonable adjustments 73.4%).
# The last field is the sign of the trust's culture effect (+1: an adverse experience,
# more common where culture is worse; -1: a favourable answer).
_SURVEY_ITEMS = {
    #  item: (base p, BME, disabled, international recruit, culture sign)
    "harassment_public": (0.25, 0.15, 0.40, 0.0, 1),
    "harassment_manager": (0.09, 0.35, 0.65, 0.20, 1),
    "harassment_colleague": (0.16, 0.25, 0.55, 0.10, 1),
    "equal_opportunities": (0.59, -0.55, -0.35, -0.20, -1),
    "discrimination_colleague": (0.065, 1.05, 0.75, 0.20, 1),
    "pressure_unwell": (0.20, 0.05, 0.50, 0.10, 1),
    "valued_by_org": (0.43, 0.0, -0.40, 0.0, -1),
    "org_action_health_wellbeing": (0.56, 0.05, -0.35, 0.0, -1),
    "belonging": (0.60, -0.20, -0.30, -0.30, -1),
}
# Patient-facing groups meet the public far more (harassment_public log-odds shift).
_PUBLIC_FACING = _row({"Nursing and Midwifery Registered": 0.35,
                       "Additional Clinical Services": 0.35,
                       "Medical and Dental": 0.1, "Allied Health Professionals": 0.1,
                       "Administrative and Clerical": -0.8, "Estates and Ancillary": -0.3,
                       "Add Prof Scientific and Technic": -0.5, "Healthcare Scientists": -0.6},
                      _SG)


@dataclass(frozen=True)
class SampleParams:
    """Knobs of the synthetic population: dynamics and the built-in disparities.

    Each disparity is the true (generating) value; the figures the metrics find
    differ by sampling noise and by mix (e.g. WRES 3 overall blends staff groups).
    See docs/sample-data.md for the national figures each is calibrated to.
    """

    #: Headcount growth between the two snapshots (NHS Digital: ~4% in 2023/24).
    growth: float = 0.035
    #: Annual leaver probability for a reference person (NHS turnover ~10-12%/yr).
    leaver_rate: float = 0.095
    #: Leaver multipliers: staff 55+, under 25, in their first year, international
    #: recruits in their first year (on top of first-year), bank staff, trainee doctors.
    leaver_mult_55plus: float = 1.9
    leaver_mult_under25: float = 1.4
    leaver_mult_first_year: float = 1.3
    leaver_mult_international_first_year: float = 1.6
    leaver_mult_bank: float = 1.3
    leaver_mult_trainee: float = 1.5
    #: ESR disability declared Y (WDES 2023: 4.9%), not declared (U) and blank shares.
    disability_declared: float = 0.045
    disability_not_declared: float = 0.10
    disability_blank: float = 0.03
    #: Ethnicity unknown (Z / 99 / blank) share in ESR.
    ethnicity_unknown: float = 0.035
    #: Annual probability of entering a formal process, reference person (White, not
    #: disabled) in a staff group with multiplier 1. Disciplinary and capability rates are
    #: several times real rates so that trust-level WRES 3 / WDES 3 figures survive
    #: suppression at min_count 8 in a four-trust demonstration.
    case_rate: Mapping[str, float] = field(default_factory=lambda: {
        "disciplinary": 0.016, "capability_performance": 0.018,
        "capability_ill_health": 0.008, "grievance": 0.006, "bullying_harassment": 0.005,
    })
    #: WRES 3 disparity: BME ÷ White disciplinary likelihood by staff group (1.0 elsewhere).
    disciplinary_bme_rr: Mapping[str, float] = field(default_factory=lambda: {
        "Additional Clinical Services": 2.2, "Nursing and Midwifery Registered": 1.9,
    })
    #: WDES 3 disparity: Disabled ÷ Non-disabled capability (performance) likelihood.
    capability_disabled_rr: float = 1.5
    #: Disabled ÷ non-disabled likelihood of ill-health capability and grievances.
    ill_health_disabled_rr: float = 2.0
    #: Applications per in-scope staff member per reporting year.
    applications_per_staff: float = 1.1
    #: Shortlisting probability by staff group (applications ÷ shortlisted ~30-40%).
    shortlist_rate: Mapping[str, float] = field(default_factory=lambda: {
        "Nursing and Midwifery Registered": 0.42, "Medical and Dental": 0.40,
        "Additional Clinical Services": 0.30, "Administrative and Clerical": 0.30,
        "Estates and Ancillary": 0.32, "Allied Health Professionals": 0.38,
        "Add Prof Scientific and Technic": 0.36, "Healthcare Scientists": 0.36,
        "Students": 0.45,
    })
    #: Disabled applicants' shortlisting likelihood ÷ non-disabled.
    shortlist_disabled_rr: float = 0.8
    #: International applicants' shortlisting likelihood ÷ domestic.
    shortlist_international_rr: float = 0.75
    #: Appointment from shortlisting, White applicant (~15-25%).
    appoint_rate: float = 0.24
    #: WRES 2: White ÷ BME appointment-from-shortlisting likelihood (national 1.59 in 2023).
    appoint_white_bme_rr: float = 1.6
    #: WDES 2: Non-disabled ÷ Disabled appointment-from-shortlisting likelihood.
    appoint_nondisabled_disabled_rr: float = 1.1
    #: WRES 4: White ÷ BME non-mandatory training likelihood (before recruit effect).
    training_white_bme_rr: float = 1.05
    #: HIA5: international recruits' non-mandatory training likelihood ÷ domestic.
    training_international_rr: float = 0.7
    #: Female hourly pay ÷ male within the same medical grade and point (allowances,
    #: additional programmed activities): a within-grade gap beside the experience gap.
    medical_female_within_grade: float = 0.96
    #: Consultants paid a clinical excellence / local award in the year, by sex.
    consultant_award_share_male: float = 0.62
    consultant_award_share_female: float = 0.50
    #: Female ÷ male award amount among consultants paid one.
    consultant_award_female_amount: float = 0.85
    #: Share of female / male staff with a formal flexible working arrangement.
    flexible_female: float = 0.17
    flexible_male: float = 0.07
    #: Share of in-scope staff who respond to the staff survey (mean over groups).
    survey_response: float = 0.46


def _draw(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray | None = None,
          size: int | None = None) -> np.ndarray:
    """One category index per draw; `probs` is (R, K) and `rows` picks each draw's row.

    Inverse-CDF by one ``searchsorted`` over the row-offset cumulative table:
    row r's cumulative probabilities are shifted by r, so a uniform ``u`` in
    row r is looked up as ``r + u`` without materialising an (n, K) array.
    """
    probs = np.atleast_2d(np.asarray(probs, dtype="float64"))
    if rows is None:
        rows = np.zeros(size, dtype=np.int64)
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    n_rows, k = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    u = rng.random(len(rows))
    pos = np.searchsorted(flat, rows + u, side="right") - rows * k
    return np.minimum(pos, k - 1)


def _ids(prefix: str, index: np.ndarray, salt: int) -> pa.Array:
    """Pseudonymous ids ``PREFIX#########``: a bijection of the integer index mod 10^9.

    Multiplying by an odd number not divisible by 5 is a permutation of
    Z/10^9, so distinct indices (< 10^9) give distinct ids, and an id does not
    show the row's position.
    """
    n = (np.asarray(index, dtype=np.int64) * 2_654_435_761 + salt) % 1_000_000_000
    digits = pc.utf8_lpad(pa.array(n).cast(pa.large_string()), width=9, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.large_string()), digits,
                                       pa.scalar("", pa.large_string()))


@dataclass(frozen=True)
class _Coded:
    """A text column held as integer codes into `labels` (code -1 = missing)."""

    labels: tuple[str, ...]
    codes: np.ndarray


def _text(labels, codes: np.ndarray) -> _Coded:
    return _Coded(tuple(labels), np.asarray(codes, dtype=np.int64))


def _yn(values: np.ndarray, missing: np.ndarray | None = None) -> _Coded:
    """Y/N column from booleans; `missing` marks blanks (not recorded)."""
    codes = np.asarray(values, dtype=np.int64)
    if missing is not None:
        codes = np.where(missing, -1, codes)
    return _text(("N", "Y"), codes)


def _dates(days: np.ndarray, missing: np.ndarray | None = None) -> _Coded:
    """ISO date strings from datetime64[D] values; `missing` marks blanks."""
    uniq, inv = np.unique(np.asarray(days, dtype="datetime64[D]"), return_inverse=True)
    inv = inv.astype(np.int64)
    if missing is not None:
        inv = np.where(missing, -1, inv)
    return _text(np.datetime_as_string(uniq, unit="D"), inv)


def _column(value, order: np.ndarray | None):
    """One output column, rows in `order`: text as pandas ``str`` (via Arrow), numbers as is."""
    if isinstance(value, _Coded):
        codes = value.codes if order is None else value.codes[order]
        taken = pc.take(pa.array(value.labels, pa.large_string()),
                        pa.array(codes, mask=codes < 0))
        return pd.array(taken, dtype="str")
    if isinstance(value, pa.Array):
        return pd.array(value if order is None else value.take(order), dtype="str")
    value = np.asarray(value)
    return value if order is None else value[order]


def _frame(table: str, cols: Mapping[str, object], order: np.ndarray | None = None
           ) -> pd.DataFrame:
    """DataFrame with the contract's columns in order, rows permuted by `order`.

    Rows are ordered on the integer codes before any text is built: permuting
    millions of Arrow strings afterwards would cost more than generating them.
    """
    return pd.DataFrame({name: _column(cols[name], order) for name in COLUMNS[table]})


def _bernoulli(rng: np.random.Generator, p) -> np.ndarray:
    return rng.random(np.shape(p)) < p


def _trust_sizes(trusts: int, staff: int) -> np.ndarray:
    """Headcounts of clearly different sizes summing to `staff` (largest first).

    Sizes follow log-normal quantiles (σ = 0.6, roughly the spread of NHS trust
    headcounts); the largest-remainder method makes them sum exactly.
    """
    z = ndtri((np.arange(trusts) + 0.5) / trusts)[::-1]
    w = np.exp(0.6 * z)
    raw = staff * w / w.sum()
    sizes = np.floor(raw).astype(np.int64)
    short = staff - sizes.sum()
    sizes[np.argsort(-(raw - sizes), kind="stable")[:short]] += 1
    return sizes


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------
def _people(rng, trust: np.ndarray, joiner: bool, trust_bme: np.ndarray,
            p: SampleParams, snapshot: np.datetime64) -> dict[str, np.ndarray]:
    """Persistent attributes of `len(trust)` people, ages and tenure at `snapshot`.

    Stock (joiner=False) is the workforce at the earlier snapshot; joiners start
    in the reporting year ending at `snapshot`.
    """
    n = len(trust)
    sg = _draw(rng, _SG_MIX, size=n)
    intl = _bernoulli(rng, (_INTL_JOINER if joiner else _INTL_STOCK)[sg])
    band_mix = np.concatenate([_BAND_MIX, _BAND_MIX_INTL])
    if joiner:
        band_mix = band_mix * _JOINER_BAND_WEIGHT
    band = _draw(rng, band_mix, sg + len(_SG) * intl)
    female = _bernoulli(rng, expit(logit(_FEMALE[sg]) + _FEMALE_BAND_SHIFT[band]))

    age = rng.normal(_AGE_MEAN[band], _AGE_SD[band])
    age = np.where(intl, rng.normal(33.0, 6.0, n), age)
    if joiner:
        age = age - rng.uniform(2.0, 8.0, n) * (band != _B["Trainee grade"])
    age = np.clip(age, 18.0, 67.0)
    age = np.where(band == _B["Trainee grade"], np.maximum(age, 23.0), age)
    age = np.where(band == _B["Consultant"], np.maximum(age, 32.0), age)

    # Ethnicity: unknown first, then BME vs White, then the code within each.
    unknown = _bernoulli(rng, np.full(n, p.ethnicity_unknown))
    p_bme = expit(logit(_BME_DOMESTIC[sg]) + _BME_BAND_SHIFT[band] + trust_bme[trust])
    bme = _bernoulli(rng, np.where(intl, _INTL_BME, p_bme))
    eth = _draw(rng, np.stack([_WHITE_MIX, _WHITE_MIX_INTL, _BME_MIX, _BME_MIX_INTL]),
                intl + 2 * bme)
    # Unknown: Z (not stated) 60%, 99 (not known) 25%, blank 15% (index len(_ETH)).
    unk_code = _draw(rng, np.append(_UNKNOWN_MIX, 15.0), size=n)
    eth = np.where(unknown, np.where(unk_code == len(_ETH), -1, unk_code), eth)

    # ESR disability: declaration rises with age, is rare among recent international recruits.
    p_y = p.disability_declared * np.where(age >= 45, 1.3, np.where(age < 25, 0.8, 0.9))
    p_y = np.where(intl, p.disability_declared * 0.3, p_y)
    u = rng.random(n)
    dis = np.select([u < p_y, u < p_y + p.disability_not_declared,
                     u < p_y + p.disability_not_declared + p.disability_blank],
                    [0, 2, -1], default=1)

    bank = _bernoulli(rng, _BANK[sg])
    fixed = _bernoulli(rng, np.select([band == _B["Trainee grade"], sg == _STUDENT],
                                      [0.85, 0.9], default=0.03))
    contract = np.where(bank, 2, np.where(fixed, 1, 0))

    # Tenure (years at `snapshot`): long for stock, within the year for joiners,
    # recent for international recruits, short rotations for trainees.
    if joiner:
        tenure = rng.uniform(0.0, 1.0, n)
    else:
        tenure = np.minimum(rng.gamma(1.3, 7.0, n), np.maximum(age - 18.0, 0.1))
        tenure = np.where(intl, 4.5 * rng.beta(1.0, 1.8, n), tenure)
        tenure = np.where(band == _B["Trainee grade"], rng.uniform(0.0, 3.0, n), tenure)
    start = snapshot - np.floor(tenure * 365.25).astype("timedelta64[D]")

    # Women more often work less than full time; bank staff hold small notional FTEs.
    pt = _bernoulli(rng, np.where(female, 0.42, 0.18) * np.where(sg == _MED, 0.6, 1.0))
    fte = np.where(pt, np.array([0.4, 0.5, 0.6, 0.7, 0.8, 0.9])[rng.integers(0, 6, n)], 1.0)
    fte = np.where(contract == 2, np.array([0.1, 0.2, 0.3, 0.4, 0.6])[rng.integers(0, 5, n)], fte)
    flexible = _bernoulli(rng, np.where(female, p.flexible_female, p.flexible_male))

    # Years on the pay scale: consultants since appointment (women later, after
    # career breaks and less-than-full-time training -- Mend the Gap, ch. 4).
    years = tenure * rng.uniform(0.3, 1.0, n)
    cons_years = np.maximum(age - 35.0 - female * rng.uniform(0.0, 6.0, n), 0.0)
    years = np.where(band == _B["Consultant"], cons_years, years)
    years = np.where(band == _B["Trainee grade"], np.maximum(age - 24.5 - female * 0.7, 0.0), years)
    return {
        "trust": trust, "sg": sg, "intl": intl, "band": band, "female": female, "age": age,
        "eth": eth, "dis": dis, "contract": contract, "start": start, "fte": fte,
        "flexible": flexible, "years": years, "shift": rng.random(n),
        "vsm_pay": _VSM_MEDIAN * np.exp(rng.normal(0.0, 0.2, n)),
        "career_specialist": _bernoulli(rng, np.full(n, 0.1)),
    }


def _promote(rng, people: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One year on for stayers: age +1, some promotions, declarations and contract changes."""
    out = dict(people)
    n = len(people["sg"])
    band = people["band"].copy()
    afc = np.isin(band, _AFC_ORDER[1:10])  # Band 2 .. Band 8c may move up one band
    up = afc & _bernoulli(rng, np.full(n, 0.045)) & (people["contract"] < 2)
    band = np.where(up, band + 1, band)
    cct = (band == _B["Trainee grade"]) & (people["age"] >= 31) & _bernoulli(rng, np.full(n, 0.12))
    band = np.where(cct, _B["Consultant"], band)
    out["band"] = band
    out["years"] = np.where(up | cct, 0.0, people["years"] + 1.0)
    out["age"] = people["age"] + 1.0
    dis = people["dis"]
    newly = _bernoulli(rng, np.where(dis == 1, 0.004, 0.02)) & (dis != 0)
    out["dis"] = np.where(newly, 0, dis)
    contract = people["contract"]
    settle = _bernoulli(rng, np.where(contract == 2, 0.05, 0.2)) & (band != _B["Trainee grade"])
    out["contract"] = np.where(settle & (contract > 0), 0, contract)
    keep_flex = _bernoulli(rng, np.full(n, 0.85))
    out["flexible"] = np.where(keep_flex, people["flexible"],
                               _bernoulli(rng, np.where(people["female"], 0.2, 0.09)))
    return out


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _take(a: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in a.items()}


def _age_band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(_AGE_EDGES), age, side="right")


def _hourly(s: dict[str, np.ndarray], later: bool, p: SampleParams) -> np.ndarray:
    """Ordinary hourly pay (£): pay point ÷ (52.143 × weekly hours) plus enhancements."""
    band = s["band"]
    step = (s["years"][:, None] >= _PAY_YEARS[band]).sum(axis=1) - 1
    annual = _PAY_VALUE[band, np.maximum(step, 0)]
    annual = np.where(band == _B["VSM"], s["vsm_pay"], annual)
    annual = np.where((band == _B["Career grade"]) & s["career_specialist"],
                      np.maximum(annual, 83945.0), annual)
    medical = np.isin(band, [_B[b] for b in groups.MEDICAL_GRADES])
    if not later:
        annual = annual / np.where(medical, _MED_UPLIFT_2023, _AFC_UPLIFT_2023)
    hours = np.where(medical, 40.0, 37.5)
    # Unsocial-hours enhancements are ordinary pay (reg. 3): shift-working groups
    # and resident doctors (2016 contract weekend / night allowances).
    shift_worker = np.isin(s["sg"], [_NURSE, _ACS, _EA, _AHP])
    enh = np.where(shift_worker, 0.12 * s["shift"], 0.0)
    enh = np.where(band == _B["Trainee grade"], 0.1 + 0.25 * s["shift"], enh)
    within = np.where(medical & s["female"], p.medical_female_within_grade, 1.0)
    return annual / (_WEEKS * hours) * (1.0 + enh) * within


def _snapshot(rng, s: dict[str, np.ndarray], snapshot: np.datetime64, later: bool,
              p: SampleParams) -> dict[str, np.ndarray]:
    """Snapshot-specific workforce fields for the people in `s` at `snapshot`."""
    n = len(s["sg"])
    out: dict[str, np.ndarray] = {}
    hourly = _hourly(s, later, p)
    # Not full-pay relevant: maternity (women 25-44) or long-term sickness on reduced pay.
    young_f = s["female"] & (s["age"] >= 25) & (s["age"] < 45)
    fpr = ~_bernoulli(rng, np.where(young_f, 0.06, 0.02))
    reduced = np.where(_bernoulli(rng, np.full(n, 0.2)), 0.0, rng.uniform(0.3, 0.9, n))
    out["hourly_pay"] = np.round(np.where(fpr, hourly, hourly * reduced), 2)
    out["fpr"] = fpr

    # Bonus pay: clinical excellence / local awards to consultants (fewer women, smaller
    # amounts), rare national awards, some VSM performance pay, a few recognition awards.
    cons = s["band"] == _B["Consultant"]
    award = cons & _bernoulli(rng, np.where(s["female"], p.consultant_award_share_female,
                                            p.consultant_award_share_male))
    amount = rng.lognormal(np.log(4000.0), 0.45, n)
    national = award & _bernoulli(rng, np.where(s["female"], 0.015, 0.03))
    amount = np.where(national, rng.uniform(20000.0, 40000.0, n), amount)
    amount = amount * np.where(s["female"], p.consultant_award_female_amount, 1.0)
    vsm = np.isin(s["band"], [_B["VSM"], _B["Band 9"]]) & _bernoulli(rng, np.full(n, 0.15))
    other = ~cons & ~vsm & _bernoulli(rng, np.full(n, 0.004))
    bonus = np.where(award, amount, 0.0)
    bonus = np.where(vsm, rng.lognormal(np.log(3000.0), 0.4, n), bonus)
    bonus = np.where(other, rng.uniform(100.0, 750.0, n), bonus)
    out["bonus"] = np.round(bonus, 2)

    bme = np.isin(s["eth"], [_E[c] for c in groups.BME_CODES])
    p_train = _TRAINING[s["sg"]] * np.where(bme, 1.0 / p.training_white_bme_rr, 1.0)
    p_train = p_train * np.where(s["intl"], p.training_international_rr, 1.0)
    p_train = p_train * np.where(s["contract"] == 2, 0.5, 1.0)
    out["training"] = _bernoulli(rng, np.minimum(p_train, 0.98))
    out["training_missing"] = _bernoulli(rng, np.full(n, 0.02))
    out["flexible_missing"] = _bernoulli(rng, np.full(n, 0.01))

    # Available days in the reporting year (225 working days at 1.0 FTE, pro rata
    # for joiners) and sickness days from a skewed individual rate.
    year_start = snapshot - np.timedelta64(365, "D")
    employed = (snapshot - np.maximum(s["start"], year_start)).astype(np.int64) + 1
    avail = np.maximum(s["fte"] * 225.0 * np.minimum(employed, 365) / 365.0, 0.5)
    disabled = s["dis"] == 0
    rate = _SICK[s["sg"]] * np.where(disabled, 1.6, 1.0) * np.where(s["age"] >= 55, 1.2, 1.0)
    indiv = rng.gamma(0.35, rate / 0.35)
    out["available"] = np.round(avail, 1)
    out["sickness"] = np.round(np.minimum(indiv * avail, avail), 1)

    p_ra = np.where(bme | disabled, 0.8, 0.65)
    clinical = ~np.isin(s["sg"], [_ADMIN, _EA])
    p_flu = np.where(clinical, 0.48, 0.36) * np.where(bme, 0.75, 1.0)
    out["risk"] = _bernoulli(rng, p_ra)
    out["risk_missing"] = _bernoulli(rng, np.full(n, 0.10))
    out["flu"] = _bernoulli(rng, p_flu)
    out["flu_missing"] = _bernoulli(rng, np.full(n, 0.05))
    out["wellbeing"] = _bernoulli(rng, np.full(n, 0.45 if later else 0.38))
    out["wellbeing_missing"] = _bernoulli(rng, np.full(n, 0.08))
    return out


#: Doctors' specialties in the optional ``specialty`` column (a few broad groups), with the
#: share of women and of men in each (illustrative: women are under-represented in surgery and
#: over-represented in paediatrics and psychiatry; Mend the Gap, 2020, ch. 4).
SPECIALTIES = ("Anaesthetics", "Medicine", "Paediatrics", "Psychiatry", "Radiology", "Surgery")
_SPECIALTY_MIX = np.array([[0.17, 0.32, 0.16, 0.12, 0.09, 0.14],    # women
                           [0.18, 0.30, 0.08, 0.08, 0.10, 0.26]])   # men


def _specialty(seed: int, female: np.ndarray) -> np.ndarray:
    """A specialty code per person (stable across snapshots), from a stream of its own so that
    adding the column left every other value of the sample unchanged."""
    rng = np.random.default_rng([seed, 2020])
    return _draw(rng, _SPECIALTY_MIX, np.where(female, 0, 1))


def _workforce_columns(ids, trust_codes, s, f, snap: np.ndarray, specialty: np.ndarray
                       ) -> dict[str, object]:
    """Workforce columns for the person-snapshot rows in `s` (fields `f`, snapshot index `snap`).

    ``bonus_pay_period`` (SI 2017/353 Sch. 1 para 6): Clinical Excellence and local awards are
    paid monthly, so a twelfth of a consultant's award is paid in the March pay period; other
    bonuses (VSM performance pay, recognition awards) are one-off payments outside it.
    """
    cons = s["band"] == _B["Consultant"]
    period_bonus = np.round(np.where(cons, f["bonus"] / 12.0, 0.0), 2)
    medical = s["sg"] == _MED
    return {
        "staff_id": ids,
        "trust_code": _text(trust_codes, s["trust"]),
        "snapshot_date": _text(SNAPSHOTS, snap),
        "ethnic_category": _text(_ETH, s["eth"]),
        "sex": _text(("M", "F"), s["female"]),
        "disability": _text(_DIS, s["dis"]),
        "staff_group": _text(_SG, s["sg"]),
        "pay_band": _text(_BANDS, s["band"]),
        "contract_type": _text(groups.CONTRACT_TYPES, s["contract"]),
        "fte": s["fte"],
        "start_date": _dates(s["start"]),
        "age_band": _text(groups.AGE_BANDS, _age_band(s["age"])),
        "hourly_pay": f["hourly_pay"],
        "full_pay_relevant": _yn(f["fpr"]),
        "bonus_pay_12m": f["bonus"],
        "bonus_pay_period": period_bonus,
        "specialty": _text(SPECIALTIES, np.where(medical, specialty, -1)),
        "accessed_nonmandatory_training": _yn(f["training"], f["training_missing"]),
        "flexible_working": _yn(s["flexible"] & (s["contract"] < 2), f["flexible_missing"]),
        "international_recruit": _yn(s["intl"]),
        "sickness_days_12m": f["sickness"],
        "available_days_12m": f["available"],
        "risk_assessment_completed": _yn(f["risk"], f["risk_missing"]),
        "flu_vaccinated": _yn(f["flu"], f["flu_missing"]),
        "wellbeing_conversation": _yn(f["wellbeing"], f["wellbeing_missing"]),
    }


# ---------------------------------------------------------------------------
# The tables
# ---------------------------------------------------------------------------
def generate(trusts: int = DEFAULT_TRUSTS, staff: int = DEFAULT_STAFF,
             seed: int = DEFAULT_SEED, params: SampleParams | None = None
             ) -> dict[str, pd.DataFrame]:
    """Every input table of CONTRACT.md §2 for `trusts` fictional trusts.

    `staff` is the total headcount (in-scope and bank) across all trusts at the
    latest snapshot (2024-03-31); the earlier snapshot holds ``staff / (1 +
    growth)``. Trusts are of clearly different sizes (log-normal spread). The
    same arguments always give the same tables.
    """
    if not 1 <= trusts <= 999:
        raise ValueError("trusts must be between 1 and 999")
    if staff < 200 * trusts:
        raise ValueError(f"staff must be at least 200 per trust "
                         f"({200 * trusts} for {trusts} trusts)")
    p = params or SampleParams()
    rng = np.random.default_rng(seed)
    trust_codes = tuple(f"ZZ{i + 1:03d}" for i in range(trusts))
    size1 = _trust_sizes(trusts, staff)
    size0 = np.maximum(np.round(size1 / (1.0 + p.growth)).astype(np.int64), 1)
    # Trust-level variation: BME share (log-odds; spread from rural to London
    # trusts) and an employee-relations "culture" multiplier.
    trust_bme = rng.permutation(ndtri((np.arange(trusts) + 0.5) / trusts)) * 0.8
    trust_er = np.exp(rng.normal(0.0, 0.2, trusts))
    trust_survey = rng.normal(0.0, 0.15, trusts)

    # Earlier snapshot, leavers during 2023/24, joiners to reach the later size.
    stock = _people(rng, np.repeat(np.arange(trusts), size0), False, trust_bme, p, _D0)
    n0 = len(stock["sg"])
    first_year = (_D0 - stock["start"]).astype(np.int64) < 365
    mult = (np.where(stock["age"] >= 55, p.leaver_mult_55plus, 1.0)
            * np.where(stock["age"] < 25, p.leaver_mult_under25, 1.0)
            * np.where(first_year, p.leaver_mult_first_year, 1.0)
            * np.where(first_year & stock["intl"], p.leaver_mult_international_first_year, 1.0)
            * np.where(stock["contract"] == 2, p.leaver_mult_bank, 1.0)
            * np.where(stock["band"] == _B["Trainee grade"], p.leaver_mult_trainee, 1.0))
    leave = _bernoulli(rng, np.minimum(p.leaver_rate * mult, 0.9))
    stay_idx = np.flatnonzero(~leave)
    stayers = _promote(rng, _take(stock, stay_idx))
    n_join = np.maximum(size1 - np.bincount(stayers["trust"], minlength=trusts), 0)
    joiners = _people(rng, np.repeat(np.arange(trusts), n_join), True, trust_bme, p, _D1)
    later = _concat(stayers, joiners)
    # Person index: stock 0..n0-1 keep theirs; joiners follow.
    person0 = np.arange(n0)
    person1 = np.concatenate([stay_idx, n0 + np.arange(len(joiners["sg"]))])
    id_salt = int(rng.integers(0, 1_000_000_000))
    n_people = n0 + len(joiners["sg"])

    f0 = _snapshot(rng, stock, _D0, False, p)
    f1 = _snapshot(rng, later, _D1, True, p)
    snap = np.repeat([0, 1], [n0, len(person1)])
    both = _concat(stock, later)
    persons = np.concatenate([person0, person1])
    order = np.lexsort((persons, snap, both["trust"]))
    specialty = _specialty(seed, np.concatenate([stock["female"], joiners["female"]]))[persons]
    workforce = _frame("workforce", _workforce_columns(
        _ids("E", persons, id_salt), trust_codes, both, _concat(f0, f1), snap, specialty), order)

    snaps = ((stock, person0, _D0, _YEAR0_START), (later, person1, _D1, _YEAR1_START))
    return {
        "workforce": workforce,
        "recruitment": _recruitment(rng, size0, size1, trust_codes, trust_bme, p),
        "employee_relations": _employee_relations(rng, snaps, trust_codes, trust_er, p,
                                                  n_people, id_salt),
        "staff_survey": (survey := _staff_survey(rng, snaps, trust_codes, trust_survey, p)),
        "board": _board(rng, trust_codes, trust_bme),
        "actions": _actions(rng, trust_codes),
        "external_indicators": _external(rng, trust_codes),
        # The same survey of the last trust as a trust receives it: results by group.
        "staff_survey_results": survey_results(survey, [trust_codes[-1]]),
    }


#: (item, answer column or None for the combined WRES 6 answer, population)
_RESULT_ITEMS = (
    *((a, a, None) for a in (
        "harassment_public", "harassment_manager", "harassment_colleague",
        "reported_harassment", "equal_opportunities", "discrimination_colleague",
        "pressure_unwell", "valued_by_org", "org_action_health_wellbeing", "belonging")),
    ("wres.6", None, None),
    ("wdes.8", "adjustments_made", "Disabled"),
)


def survey_results(survey: pd.DataFrame, trusts) -> pd.DataFrame:
    """Respondent-level survey rows (as written to staff_survey.csv) aggregated as the
    ``staff_survey_results`` table: per trust, survey year, item, characteristic and group,
    the number answering and the number giving the counted answer (docs/contract.md §2.8).

    Counted here from the text (Y/N/blank) with the contract's reporting groups, not by
    the metrics code, so a test comparing both forms checks the metrics' reading of each.
    """
    from edi_analysis import groups

    sv = survey[survey["trust_code"].isin(trusts)]
    chars = {
        "all": pd.Series(groups.ALL, index=sv.index),
        "ethnicity": groups.ethnicity(sv["ethnic_category"].replace("", np.nan)),
        "disability": groups.disability(sv["disability"].replace("", "U")),
        "international_recruit": pd.Series(np.where(sv["international_recruit"] == "Y",
                                                    groups.INTERNATIONAL, groups.DOMESTIC),
                                           index=sv.index),
    }
    labels = {"all": (groups.ALL,), "ethnicity": groups.ETHNICITY_LABELS,
              "disability": groups.DISABILITY_LABELS,
              "international_recruit": (groups.INTERNATIONAL, groups.DOMESTIC)}
    rows = []
    for item, answer, population in _RESULT_ITEMS:
        if answer is None:  # WRES 6: Y if either harassment-from-staff answer is Y, N if both N
            m, c = sv["harassment_manager"], sv["harassment_colleague"]
            yes = (m == "Y") | (c == "Y")
            answered = yes | ((m == "N") & (c == "N"))
        else:
            yes, answered = sv[answer] == "Y", sv[answer].isin(["Y", "N"])
        if population is not None:
            inside = chars["disability"] == population
            yes, answered = yes & inside, answered & inside
        for name, group in chars.items():
            frame = pd.DataFrame({"trust_code": sv["trust_code"], "survey_year": sv["survey_year"],
                                  "group": group, "y": yes.astype(int),
                                  "n": answered.astype(int)})
            t = frame.groupby(["trust_code", "survey_year", "group"], sort=True)[["y", "n"]].sum()
            for (trust, year, g), r in t.iterrows():
                if g in labels[name] and r["n"] > 0:
                    rows.append((trust, int(year), item, name, g, int(r["n"]), int(r["y"])))
    out = pd.DataFrame(rows, columns=["trust_code", "survey_year", "item", "characteristic",
                                      "group", "responses", "positive"])
    out["survey_year"] = out["survey_year"].astype("int64")
    return out


def _recruitment(rng, size0, size1, trust_codes, trust_bme, p: SampleParams) -> pd.DataFrame:
    """Applications in the two reporting years, with shortlisting and appointment."""
    counts = np.round(np.concatenate([size0, size1]) * p.applications_per_staff).astype(np.int64)
    trusts = len(trust_codes)
    trust = np.repeat(np.tile(np.arange(trusts), 2), counts)
    year = np.repeat(np.repeat([0, 1], trusts), counts)
    n = len(trust)
    start = np.where(year == 0, _YEAR0_START, _YEAR1_START)
    applied = start + rng.integers(0, 366, n).astype("timedelta64[D]")
    applied = np.minimum(applied, np.where(year == 0, _D0, _D1))
    # Applications by staff group: many per healthcare support and admin post.
    sg_mix = _row({"Nursing and Midwifery Registered": 22, "Additional Clinical Services": 30,
                   "Administrative and Clerical": 25, "Medical and Dental": 6,
                   "Allied Health Professionals": 6, "Estates and Ancillary": 6,
                   "Add Prof Scientific and Technic": 3, "Healthcare Scientists": 1.5,
                   "Students": 0.5}, _SG)
    sg = _draw(rng, sg_mix, size=n)
    band = _draw(rng, _BAND_MIX * _JOINER_BAND_WEIGHT, sg)
    intl = _bernoulli(rng, _row({"Nursing and Midwifery Registered": 0.35,
                                 "Medical and Dental": 0.40, "Additional Clinical Services": 0.15,
                                 "Allied Health Professionals": 0.12}, _SG, 0.05)[sg])
    female = _bernoulli(rng, expit(logit(_FEMALE[sg]) - 0.2 + _FEMALE_BAND_SHIFT[band]))
    # Applicant pools are more diverse than the workforce (WRES 2023: ~40% BME).
    p_bme = expit(logit(_BME_DOMESTIC[sg]) + 0.4 + trust_bme[trust])
    bme = _bernoulli(rng, np.where(intl, 0.9, p_bme))
    eth = _draw(rng, np.stack([_WHITE_MIX, _WHITE_MIX_INTL, _BME_MIX, _BME_MIX_INTL]),
                intl + 2 * bme)
    unknown = _bernoulli(rng, np.full(n, 0.04))
    eth = np.where(unknown, np.where(rng.random(n) < 0.75, _E["Z"], -1), eth)
    u = rng.random(n)
    p_dis = np.where(intl, 0.02, 0.075)
    dis = np.select([u < p_dis, u < p_dis + 0.05, u < p_dis + 0.07], [0, 2, -1], default=1)

    disabled, known_white = dis == 0, np.isin(eth, [_E[c] for c in groups.WHITE_CODES])
    is_bme = np.isin(eth, [_E[c] for c in groups.BME_CODES])
    p_short = (_row(p.shortlist_rate, _SG, 0.35)[sg]
               * np.where(disabled, p.shortlist_disabled_rr, 1.0)
               * np.where(intl, p.shortlist_international_rr, 1.0))
    shortlisted = _bernoulli(rng, np.minimum(p_short, 0.95))
    p_app = (p.appoint_rate * np.where(is_bme, 1.0 / p.appoint_white_bme_rr, 1.0)
             * np.where(disabled, 1.0 / p.appoint_nondisabled_disabled_rr, 1.0)
             * np.where(~known_white & ~is_bme, 0.9, 1.0))
    appointed = shortlisted & _bernoulli(rng, p_app)

    ids = _ids("A", np.arange(n), int(rng.integers(0, 1_000_000_000)))
    return _frame("recruitment", {
        "application_id": ids,
        "trust_code": _text(trust_codes, trust),
        "applied_date": _dates(applied),
        "staff_group": _text(_SG, sg),
        "pay_band": _text(_BANDS, band),
        "ethnic_category": _text(_ETH, eth),
        "disability": _text(_DIS, dis),
        "sex": _text(("M", "F"), female),
        "international_applicant": _yn(intl),
        "shortlisted": _yn(shortlisted),
        "appointed": _yn(appointed),
    }, np.lexsort((applied, trust)))


def _employee_relations(rng, snaps, trust_codes, trust_er, p: SampleParams,
                        n_people: int, id_salt: int) -> pd.DataFrame:
    """Formal cases started in the 24 months to 2024-03-31, from in-scope staff.

    Cases in each reporting year come from the staff at the snapshot ending it,
    so the WRES rolling-window denominators (the two headcounts) match the
    exposure the cases were drawn from. A few cases carry a staff_id that is in
    no snapshot (people who joined and left between snapshots).
    """
    parts = []
    for s, person, snapshot, year_start in snaps:
        scope = np.flatnonzero(s["contract"] < 2)
        sg = s["sg"][scope]
        bme = np.isin(s["eth"][scope], [_E[c] for c in groups.BME_CODES])
        disabled = s["dis"][scope] == 0
        base = trust_er[s["trust"][scope]]
        for ci, ctype in enumerate(_CASE_TYPES):
            rate = p.case_rate[ctype] * _CASE_SG_MULT[ctype][sg] * base
            if ctype == "disciplinary":
                rate = rate * np.where(bme, _row(p.disciplinary_bme_rr, _SG, 1.0)[sg], 1.0)
            elif ctype == "capability_performance":
                rate = rate * np.where(disabled, p.capability_disabled_rr, 1.0)
            elif ctype in ("capability_ill_health", "grievance"):
                rate = rate * np.where(disabled, p.ill_health_disabled_rr, 1.0)
            hit = scope[_bernoulli(rng, np.minimum(rate, 0.5))]
            parts.append((np.full(len(hit), ci), hit, s, person, snapshot, year_start))

    case_type = np.concatenate([pt[0] for pt in parts])
    cols = {k: np.concatenate([pt[2][k][pt[1]] for pt in parts])
            for k in ("trust", "sg", "band", "eth", "dis", "female", "start")}
    person = np.concatenate([pt[3][pt[1]] for pt in parts])
    snapshot = np.concatenate([np.full(len(pt[1]), pt[4]) for pt in parts])
    year_start = np.concatenate([np.full(len(pt[1]), pt[5]) for pt in parts])
    n = len(case_type)

    # A few unmatched staff ids: copies of recent cases under a fresh pseudonym.
    n_unmatched = max(2, int(round(0.003 * n)))
    recent = np.flatnonzero(snapshot == _D1)
    pick = recent[rng.integers(0, len(recent), n_unmatched)]
    case_type = np.concatenate([case_type, case_type[pick]])
    cols = {k: np.concatenate([v, v[pick]]) for k, v in cols.items()}
    person = np.concatenate([person, n_people + np.arange(n_unmatched)])
    snapshot = np.concatenate([snapshot, snapshot[pick]])
    year_start = np.concatenate([year_start, year_start[pick]])
    n += n_unmatched

    lo = np.maximum(year_start, cols["start"])
    span = (snapshot - lo).astype(np.int64) + 1
    start = lo + np.floor(rng.random(n) * span).astype("timedelta64[D]")
    median = np.array([_CASE_DAYS[c] for c in _CASE_TYPES], dtype="float64")[case_type]
    days = np.ceil(rng.lognormal(np.log(median), 0.7)).astype(np.int64)
    closed = start + days.astype("timedelta64[D]")
    open_ = (closed > _D1) | _bernoulli(rng, np.full(n, 0.02))
    outcome_mix = np.array([_OUTCOME_MIX[c] for c in _CASE_TYPES])
    outcome = np.where(open_, -1, _draw(rng, outcome_mix, case_type))

    ids = _ids("C", np.arange(n), int(rng.integers(0, 1_000_000_000)))
    return _frame("employee_relations", {
        "case_id": ids,
        "staff_id": _ids("E", person, id_salt),
        "trust_code": _text(trust_codes, cols["trust"]),
        "case_type": _text(_CASE_TYPES, case_type),
        "start_date": _dates(start),
        "closed_date": _dates(np.minimum(closed, _D1), open_),
        "outcome": _text(groups.OUTCOMES, outcome),
        "ethnic_category": _text(_ETH, cols["eth"]),
        "disability": _text(_DIS, cols["dis"]),
        "sex": _text(("M", "F"), cols["female"]),
        "staff_group": _text(_SG, cols["sg"]),
        "pay_band": _text(_BANDS, cols["band"]),
    }, np.lexsort((start, cols["trust"])))


def _staff_survey(rng, snaps, trust_codes, trust_survey, p: SampleParams) -> pd.DataFrame:
    """NHS Staff Survey local data for 2022 and 2023: anonymous respondents, self-reported.

    Respondents are drawn from the in-scope staff at the snapshot that follows
    the survey. Self-reported disability is far higher than in ESR (about one in
    four report a long-term condition; WDES 2023), so ESR "N"/unknown staff
    report one with probability 0.2.
    """
    parts: list[dict[str, np.ndarray]] = []
    for (s, *_), year in zip(snaps, SURVEY_YEARS, strict=True):
        scope = np.flatnonzero(s["contract"] < 2)
        resp_rate = _RESPONSE * p.survey_response / float(_RESPONSE @ _SG_MIX / _SG_MIX.sum())
        resp = scope[_bernoulli(rng, np.minimum(resp_rate[s["sg"][scope]], 0.95))]
        n = len(resp)
        trust, sg, intl = s["trust"][resp], s["sg"][resp], s["intl"][resp]
        eth = np.where(_bernoulli(rng, np.full(n, 0.02)), -1, s["eth"][resp])
        eth = np.where(eth >= _E["Z"], -1, eth)  # not stated in ESR: not answered here either
        dis_y = (s["dis"][resp] == 0) | _bernoulli(rng, np.full(n, 0.2))
        dis = np.where(_bernoulli(rng, np.full(n, 0.02)), -1, np.where(dis_y, 0, 1))
        sex = np.where(_bernoulli(rng, np.full(n, 0.015)), -1, s["female"][resp])
        part = {"trust": trust, "year": np.full(n, year, dtype=np.int64), "eth": eth,
                "dis": dis, "sex": sex, "sg": sg, "intl": intl,
                "intl_missing": _bernoulli(rng, np.full(n, 0.02))}

        bme = np.isin(eth, [_E[c] for c in groups.BME_CODES])
        disabled = dis == 0
        # Culture: the trust's effect, slightly worse in 2022 than in 2023.
        culture = trust_survey[trust] + 0.05 * (year == SURVEY_YEARS[0])
        for item, (base, b_bme, b_dis, b_intl, sign) in _SURVEY_ITEMS.items():
            lo = logit(base) + b_bme * bme + b_dis * disabled + b_intl * intl + sign * culture
            if item == "harassment_public":
                lo = lo + _PUBLIC_FACING[sg]
            part[item] = _bernoulli(rng, expit(lo))
            part[item + "_missing"] = _bernoulli(rng, np.full(n, 0.03))
        any_h = np.zeros(n, dtype=bool)
        for item in ("harassment_public", "harassment_manager", "harassment_colleague"):
            any_h |= part[item] & ~part[item + "_missing"]
        # Asked only of those who experienced harassment (blank otherwise).
        part["reported_harassment"] = _bernoulli(rng, expit(logit(0.47) + 0.05 * bme
                                                             - 0.1 * disabled))
        part["reported_harassment_missing"] = ~any_h | _bernoulli(rng, np.full(n, 0.03))
        # Asked only of disabled respondents (WDES 8).
        part["adjustments_made"] = _bernoulli(rng, expit(logit(0.734) - 0.1 * bme))
        part["adjustments_made_missing"] = ~disabled | _bernoulli(rng, np.full(n, 0.05))
        score = rng.normal(6.95 - 0.35 * disabled - 0.05 * bme - culture, 1.4)
        score = np.round(np.clip(score, 0.0, 10.0), 2)
        part["engagement_score"] = np.where(_bernoulli(rng, np.full(n, 0.01)), np.nan, score)
        parts.append(part)

    c = {k: np.concatenate([pt[k] for pt in parts]) for k in parts[0]}
    answers = ("harassment_public", "harassment_manager", "harassment_colleague",
               "reported_harassment", "equal_opportunities", "discrimination_colleague",
               "pressure_unwell", "valued_by_org", "adjustments_made",
               "org_action_health_wellbeing", "belonging")
    return _frame("staff_survey", {
        "respondent_id": _ids("R", np.arange(len(c["trust"])), int(rng.integers(0, 1_000_000_000))),
        "trust_code": _text(trust_codes, c["trust"]),
        "survey_year": c["year"],
        "ethnic_category": _text(_ETH, c["eth"]),
        "disability": _text(("Y", "N"), c["dis"]),
        "sex": _text(("M", "F"), c["sex"]),
        "staff_group": _text(_SG, c["sg"]),
        "international_recruit": _yn(c["intl"], c["intl_missing"]),
        **{a: _yn(c[a], c[a + "_missing"]) for a in answers},
        "engagement_score": c["engagement_score"],
    }, np.lexsort((c["year"], c["trust"])))


# Board seats: role, voting, executive, optional. An optional seat exists in a trust
# with the trust's optional-seat count (0-4), so boards have 10-14 members.
_SEATS = (
    ("chair", True, False, False), ("chief_executive", True, True, False),
    ("executive", True, True, False), ("executive", True, True, False),
    ("executive", True, True, False), ("executive", False, True, False),
    ("non_executive", True, False, False), ("non_executive", True, False, False),
    ("non_executive", True, False, False), ("non_executive", True, False, False),
    ("executive", True, True, True), ("executive", False, True, True),
    ("non_executive", True, False, True), ("non_executive", True, False, True),
    ("other", False, False, True),
)


def _board(rng, trust_codes, trust_bme) -> pd.DataFrame:
    """Board members per trust and snapshot: 10-14 seats, ~20% turnover between years.

    BME ~13% of board members (WRES 2022: 13.2%); disability declared ~4%.
    SMART EDI objectives (HIA1, due March 2024) rise from ~45% to ~80%.
    """
    trusts = len(trust_codes)
    roles = np.array([groups.BOARD_ROLES.index(s[0]) for s in _SEATS])
    voting = np.array([s[1] for s in _SEATS])
    execu = np.array([s[2] for s in _SEATS])
    optional = np.array([s[3] for s in _SEATS])
    n_opt = rng.integers(0, 5, trusts)
    opt_rank = np.argsort(rng.random((trusts, optional.sum())), axis=1).argsort(axis=1)
    keep = np.ones((trusts, len(_SEATS)), dtype=bool)
    keep[:, optional] = opt_rank < n_opt[:, None]
    t_idx, seat = np.nonzero(keep)
    n = len(seat)

    def members(size):
        female = _bernoulli(rng, np.full(size, 0.45))
        bme = _bernoulli(rng, expit(logit(0.13) + 0.5 * trust_bme[t_idx[:size]]))
        eth = _draw(rng, np.stack([_WHITE_MIX, _BME_MIX]), bme.astype(np.int64))
        eth = np.where(_bernoulli(rng, np.full(size, 0.03)), _E["Z"], eth)
        u = rng.random(size)
        dis = np.select([u < 0.04, u < 0.12], [0, 2], default=1)
        return female, eth, dis

    f0, e0, d0 = members(n)
    f1, e1, d1 = members(n)
    new = _bernoulli(rng, np.full(n, 0.2))
    female = np.concatenate([f0, np.where(new, f1, f0)])
    eth = np.concatenate([e0, np.where(new, e1, e0)])
    dis = np.concatenate([d0, np.where(new, d1, d0)])
    salt = int(rng.integers(0, 1_000_000_000))
    m0 = np.arange(n)
    ids = _ids("B", np.concatenate([m0, np.where(new, n + m0, m0)]), salt)
    smart = _bernoulli(rng, np.repeat([0.45, 0.8], n))
    appraised = smart & _bernoulli(rng, np.repeat([0.5, 0.7], n))
    trust = np.tile(t_idx, 2)
    seat2 = np.tile(seat, 2)
    snap = np.repeat([0, 1], n)
    return _frame("board", {
        "member_id": ids,
        "trust_code": _text(trust_codes, trust),
        "snapshot_date": _text(SNAPSHOTS, snap),
        "role": _text(groups.BOARD_ROLES, roles[seat2]),
        "voting": _yn(voting[seat2]),
        "executive": _yn(execu[seat2]),
        "ethnic_category": _text(_ETH, eth),
        "disability": _text(_DIS, dis),
        "sex": _text(("M", "F"), female),
        "has_smart_edi_objectives": _yn(smart),
        "appraised_on_edi_objectives": _yn(appraised),
    }, np.lexsort((seat2, snap, trust)))


_OWNERS = ("Chief People Officer", "Chief Executive", "Director of Nursing",
           "Medical Director", "Head of EDI", "Director of Finance")


def _actions(rng, trust_codes) -> pd.DataFrame:
    """Each trust's record for a subset (~75%) of `ACTION_IDS`, updated in early 2024."""
    trusts, k = len(trust_codes), len(ACTION_IDS)
    has = rng.random((trusts, k)) < 0.75
    t_idx, a_idx = np.nonzero(has)
    n = len(t_idx)
    status = _draw(rng, np.array([0.15, 0.5, 0.3, 0.05]), size=n)  # groups.ACTION_STATUSES order
    owner = rng.integers(0, len(_OWNERS), n)
    updated = np.datetime64("2024-01-08") + rng.integers(0, 80, n).astype("timedelta64[D]")
    evidence = ("Action plan approved by the People Committee", "Board paper and minutes",
                "Quarterly EDI report to the board")
    # Actions not started have no evidence yet (blank).
    ev = np.where(status == 0, -1, rng.integers(0, len(evidence), n))
    return _frame("actions", {
        "trust_code": _text(trust_codes, t_idx),
        "action_id": _text(ACTION_IDS, a_idx),
        "status": _text(groups.ACTION_STATUSES, status),
        "owner": _text(_OWNERS, owner),
        "evidence": _text(evidence, ev),
        "updated_on": _dates(updated),
    })


_NETS = (("nets.combined_indicator_score", 7.2, 0.4),
         ("nets.overall_placement_satisfaction", 78.0, 5.0),
         ("nets.would_recommend_placement", 74.0, 6.0))


#: England figures shown beside each sample trust's own (``england.<metric id>``, CONTRACT.md
#: §2.7): (metric id, group, value at 2023-03-31, value at 2024-03-31). Fictional, set near
#: the published WRES 2023 and WDES 2023 national figures (docs/sample-data.md); drawn from
#: no random numbers, so the rest of the sample does not change.
_NATIONAL = (
    ("wres.2.relative_likelihood", "White", 1.59, 1.54),
    ("wres.3.relative_likelihood", "BME", 1.14, 1.10),
    ("wres.4.relative_likelihood", "White", 1.10, 1.08),
    ("wres.5", "BME", 29.2, 28.8), ("wres.5", "White", 27.6, 26.9),
    ("wres.6", "BME", 28.0, 27.5), ("wres.6", "White", 23.3, 22.7),
    ("wres.7", "BME", 44.4, 46.0), ("wres.7", "White", 58.7, 58.0),
    ("wres.8", "BME", 16.6, 16.2), ("wres.8", "White", 6.7, 6.5),
    ("wdes.2.relative_likelihood", "Non-disabled", 0.99, 1.00),
    ("wdes.3.relative_likelihood", "Disabled", 2.17, 1.94),
    ("wdes.4a.colleague", "Disabled", 24.8, 24.1),
    ("wdes.4a.colleague", "Non-disabled", 16.5, 16.0),
    ("wdes.8", "Disabled", 73.4, 73.6),
    ("pay.gender.mean_gap", "Female", 19.0, 18.6),
)
NATIONAL_SOURCE = ("Synthetic national figure (fictional, for demonstration; near the "
                   "published WRES 2023 and WDES 2023 figures)")


def _national(trust_codes) -> pd.DataFrame:
    """The England figures of :data:`_NATIONAL`, one row per trust, period and figure."""
    k = len(_NATIONAL)
    trusts = len(trust_codes)
    t_idx = np.repeat(np.arange(trusts), 2 * k)
    per = np.tile(np.repeat([0, 1], k), trusts)
    ind = np.tile(np.arange(k), 2 * trusts)
    value = np.where(per == 0, np.array([x[2] for x in _NATIONAL])[ind],
                     np.array([x[3] for x in _NATIONAL])[ind])
    n = len(ind)
    return _frame("external_indicators", {
        "trust_code": _text(trust_codes, t_idx),
        "period": _text(SNAPSHOTS, per),
        "indicator_id": _text(["england." + x[0] for x in _NATIONAL], ind),
        "group": _text([x[1] for x in _NATIONAL], ind),
        "value": value.astype("float64"),
        "source": _text((NATIONAL_SOURCE,), np.zeros(n, dtype=np.int64)),
    })


def _external(rng, trust_codes) -> pd.DataFrame:
    """NETS-style published figures (fictional) for each trust and period, then the England
    figures of :data:`_NATIONAL`."""
    trusts, k = len(trust_codes), len(_NETS)
    t_idx = np.repeat(np.arange(trusts), 2 * k)
    per = np.tile(np.repeat([0, 1], k), trusts)
    ind = np.tile(np.arange(k), 2 * trusts)
    mean = np.array([x[1] for x in _NETS])[ind]
    sd = np.array([x[2] for x in _NETS])[ind]
    value = np.round(mean + sd * rng.standard_normal(len(ind)), 1)
    n = len(ind)
    nets = _frame("external_indicators", {
        "trust_code": _text(trust_codes, t_idx),
        "period": _text(SNAPSHOTS, per),
        "indicator_id": _text([x[0] for x in _NETS], ind),
        "group": _text((groups.ALL,), np.zeros(n, dtype=np.int64)),
        "value": value,
        "source": _text(("Synthetic NETS-style figure (fictional, for demonstration)",),
                        np.zeros(n, dtype=np.int64)),
    })
    return pd.concat([nets, _national(trust_codes)], ignore_index=True)


#: Written beside the tables: which files the generator wrote, with their SHA-256, so that a
#: later ``write_sample(..., force=True)`` overwrites those and nothing else.
SAMPLE_MARKER = ".edi-analysis-sample.json"


class SampleFolderError(ValueError):
    """``write_sample`` refused the output folder (not empty, or holding files it did not write)."""


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _own_files(out: Path) -> dict[str, str]:
    """Files an earlier ``write_sample`` wrote into ``out`` (name → SHA-256), from its marker."""
    import json

    try:
        rec = json.loads((out / SAMPLE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = rec.get("files") if isinstance(rec, dict) and rec.get("generator") == "edi-analysis" \
        else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def write_sample(out_dir, trusts: int = DEFAULT_TRUSTS, staff: int = DEFAULT_STAFF,
                 seed: int = DEFAULT_SEED, fmt: str = "csv",
                 params: SampleParams | None = None, *, force: bool = False) -> list[Path]:
    """Generate the tables and write one ``NAME.csv``, ``.parquet`` or ``.xlsx`` each to `out_dir`.

    CSV: UTF-8 without BOM, ``\\n`` line endings, blanks for missing values,
    floats in Python's shortest round-trip form of the rounded value (so
    identical arguments give byte-identical files). Returns the paths written.

    Never loses a file it did not write: ``out_dir`` must be new or empty
    unless ``force``; even then a file is overwritten only when an earlier call
    wrote it (its SHA-256 is in the folder's ``.edi-analysis-sample.json``)
    or it already holds exactly the new bytes, and other files are left alone
    (:class:`SampleFolderError` otherwise). The tables are written to
    temporary files and renamed into place only when all are complete; on any
    failure nothing is left behind, not even a folder this call created. OS
    errors (disk full, read-only folder) raise
    :class:`edi_analysis.io.OutputError` naming the path.
    """
    import json

    from edi_analysis.io import OutputError, atomic_write_text, make_folders, \
        remove_created_folders

    if fmt not in ("csv", "parquet", "xlsx"):
        raise ValueError("fmt must be 'csv', 'parquet' or 'xlsx'")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SampleFolderError(f"{out}: is a file, not a folder")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if present and not force:
        shown = ", ".join(present[:5]) + (" …" if len(present) > 5 else "")
        raise SampleFolderError(
            f"{out}: the folder is not empty ({shown}); choose a new folder, or add --force to "
            "write the sample's tables beside what is there (files it did not write are never "
            "overwritten)")
    own = _own_files(out) if present else {}
    created = make_folders(out)
    temps: dict[Path, Path] = {}
    try:
        for name, df in generate(trusts=trusts, staff=staff, seed=seed, params=params).items():
            path = out / f"{name}.{fmt}"
            tmp = out / f".{path.name}.{os.getpid()}.tmp"
            temps[path] = tmp
            try:
                if fmt == "csv":
                    df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
                elif fmt == "xlsx":  # number and date cells, as saved from Excel
                    from edi_analysis import xlsx

                    xlsx.write_table(tmp, df, sheet=name, kinds=xlsx.table_kinds(name))
                else:
                    df.to_parquet(tmp, index=False)
            except OSError as exc:
                raise OutputError(path, exc) from exc
        written = {path.name: _sha256(tmp) for path, tmp in temps.items()}
        others = [f for f in ("csv", "parquet", "xlsx") if f != fmt]
        refused, stale = [], []
        for path in temps:
            if path.exists() and own.get(path.name) != _sha256(path) \
                    and _sha256(path) != written[path.name]:
                refused.append(f"{path.name} (not written by sample-data)")
            for twin in (path.with_suffix(f".{o}") for o in others):
                if not twin.exists():
                    continue
                if own.get(twin.name) == _sha256(twin):
                    stale.append(twin)  # the earlier sample in another format: ours to replace
                else:
                    refused.append(f"{twin.name} (not written by sample-data; beside "
                                   f"{path.name} it would make the table ambiguous)")
        if refused:
            raise SampleFolderError(f"{out}: refusing to overwrite {', '.join(refused)}; choose a "
                                    "new folder")
        for path, tmp in temps.items():
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(path, exc) from exc
        for twin in stale:
            twin.unlink()
        marker = {"generator": "edi-analysis", "format": fmt,
                  "arguments": {"trusts": trusts, "staff": staff, "seed": seed},
                  "files": dict(sorted(written.items()))}
        atomic_write_text(out / SAMPLE_MARKER, json.dumps(marker, indent=1) + "\n")
    except BaseException:
        for tmp in temps.values():
            try:
                tmp.unlink()
            except OSError:
                pass
        remove_created_folders(created)
        raise
    return list(temps)
