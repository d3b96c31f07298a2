"""``workforce``: one row per person per snapshot (ESR extract); required. CONTRACT.md §2.1."""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import (
    Plausible, boolean, code, date, identifier, number, ods_code, text,
)
from edi_analysis.contract.rules import (
    DateOrder, NotAbove, OneSpelling, PositiveWhere, UniqueWithin,
)
from edi_analysis.contract.table import TableContract

# Plausible values (docs/validation.md, "Plausible values", gives the sources). An
# extract holds a value outside these only by mistake, and one such value can
# dominate a mean or overflow a ratio.
#: An hour's ordinary pay: the best-paid NHS chief executive (about £400,000 a year in
#: 2023-24) earns about £205 an hour full time (1,955 hours a year).
MAX_HOURLY_PAY = 1_000.0
#: A year's bonus pay: the largest national Clinical Excellence Award (platinum) was
#: £75,796 a year in 2015/16.
MAX_BONUS_PAY_12M = 1_000_000.0
#: The smallest contract: 0.01 FTE is 22.5 minutes a week of a 37.5-hour week.
MIN_FTE = 0.01
#: FTE days in a year: 366 days at the largest fte the contract allows (1.5).
MAX_FTE_DAYS = 366 * 1.5

SCHEMA = pa.DataFrameSchema(
    {
        "staff_id": identifier(),
        "trust_code": ods_code(),
        "snapshot_date": date(description="a period: the snapshot date"),
        "ethnic_category": code(groups.ETHNIC_CODES, blank=True,
                                description="NHS Data Dictionary 2001 code; blank = not known"),
        "sex": code(groups.SEXES, description="as held by payroll"),
        "disability": code(groups.DISABILITY_CODES, blank_means="U",
                           description="Y, N, U (unknown / not declared); blank = U"),
        "staff_group": code(groups.STAFF_GROUPS, description="ESR staff group"),
        "pay_band": code(groups.PAY_BANDS),
        "contract_type": code(groups.CONTRACT_TYPES),
        "fte": number(gt=0, le=1.5, description="whole-time equivalent", plausible=Plausible(
            low=MIN_FTE, why="under 23 minutes a week; is it a percentage or hours?")),
        "start_date": date(description="on or before snapshot_date"),
        "age_band": code(groups.AGE_BANDS),
        "hourly_pay": number(blank=True, ge=0,
                             description="ordinary hourly pay (£) in the relevant pay period, after "
                                         "any salary sacrifice, before tax; > 0 where "
                                         "full_pay_relevant",
                             plausible=Plausible(high=MAX_HOURLY_PAY, why=(
                                 "about five times the best-paid NHS chief executive's hourly "
                                 "rate; is it annual pay, or in pence?"))),
        "full_pay_relevant": boolean(),
        "bonus_pay_12m": number(blank=True, ge=0, description="bonus pay (£) in the year",
                                plausible=Plausible(high=MAX_BONUS_PAY_12M, why=(
                                    "13 times the largest national Clinical Excellence "
                                    "Award; is it in pence?"))),
        # Optional (SI 2017/353 Sch. 1 para 6: the statutory hourly rate includes bonus pay paid
        # in the relevant pay period, e.g. monthly Clinical Excellence Awards).
        "bonus_pay_period": number(blank=True, ge=0, required=False,
                                   description="bonus pay (£) paid in the relevant pay period "
                                               "(the month holding the snapshot); blank = none",
                                   plausible=Plausible(high=MAX_BONUS_PAY_12M, why=(
                                       "more than a year's bonus could plausibly be; is it in "
                                       "pence?"))),
        # Optional (Mend the Gap like-for-like comparison of doctors).
        "specialty": text(required=False, description="doctor's specialty (free text)"),
        "accessed_nonmandatory_training": boolean(),
        "flexible_working": boolean(),
        "international_recruit": boolean(),
        "sickness_days_12m": number(blank=True, ge=0, plausible=Plausible(
            high=MAX_FTE_DAYS, why="366 days at 1.5 FTE, the most in a year")),
        "available_days_12m": number(blank=True, gt=0, plausible=Plausible(
            high=MAX_FTE_DAYS, why="366 days at 1.5 FTE, the most in a year")),
        # People Plan health and wellbeing: optional columns, metrics only where present.
        "risk_assessment_completed": boolean(required=False),
        "flu_vaccinated": boolean(required=False),
        "wellbeing_conversation": boolean(required=False),
    },
    name="workforce",
)

RULES = (
    UniqueWithin("staff_id", within=("trust_code", "snapshot_date")),
    OneSpelling("staff_id", within=("trust_code",)),
    DateOrder("start_date", "snapshot_date", "not_after"),
    PositiveWhere("hourly_pay", flag="full_pay_relevant"),
    # Days lost are part of the days available (NHS Digital's sickness absence rate is
    # FTE days lost / FTE days available): more lost than available is a wrong figure.
    NotAbove("sickness_days_12m", "available_days_12m"),
)

TABLE = TableContract("workforce", required=True, schema=SCHEMA, rules=RULES, section="2.1")
