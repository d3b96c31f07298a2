"""``workforce``: one row per person per snapshot (ESR extract); required. CONTRACT.md §2.1."""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import boolean, code, date, identifier, number, ods_code, text
from edi_analysis.contract.rules import DateOrder, PositiveWhere, UniqueWithin
from edi_analysis.contract.table import TableContract

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
        "fte": number(gt=0, le=1.5, description="whole-time equivalent"),
        "start_date": date(description="on or before snapshot_date"),
        "age_band": code(groups.AGE_BANDS),
        "hourly_pay": number(blank=True, ge=0,
                             description="ordinary hourly pay (£) in the relevant pay period, after "
                                         "any salary sacrifice, before tax; > 0 where "
                                         "full_pay_relevant"),
        "full_pay_relevant": boolean(),
        "bonus_pay_12m": number(blank=True, ge=0, description="bonus pay (£) in the year"),
        # Optional (SI 2017/353 Sch. 1 para 6: the statutory hourly rate includes bonus pay paid
        # in the relevant pay period, e.g. monthly Clinical Excellence Awards).
        "bonus_pay_period": number(blank=True, ge=0, required=False,
                                   description="bonus pay (£) paid in the relevant pay period "
                                               "(the month holding the snapshot); blank = none"),
        # Optional (Mend the Gap like-for-like comparison of doctors).
        "specialty": text(required=False, description="doctor's specialty (free text)"),
        "accessed_nonmandatory_training": boolean(),
        "flexible_working": boolean(),
        "international_recruit": boolean(),
        "sickness_days_12m": number(blank=True, ge=0),
        "available_days_12m": number(blank=True, gt=0),
        # People Plan health and wellbeing: optional columns, metrics only where present.
        "risk_assessment_completed": boolean(required=False),
        "flu_vaccinated": boolean(required=False),
        "wellbeing_conversation": boolean(required=False),
    },
    name="workforce",
)

RULES = (
    UniqueWithin("staff_id", within=("trust_code", "snapshot_date")),
    DateOrder("start_date", "snapshot_date", "not_after"),
    PositiveWhere("hourly_pay", flag="full_pay_relevant"),
)

TABLE = TableContract("workforce", required=True, schema=SCHEMA, rules=RULES, section="2.1")
