"""``staff_survey``: one row per respondent (NHS Staff Survey local data); required.

CONTRACT.md §2.4.

Each answer column is Y when the respondent gave the answer the indicator
counts, N for any other answer, blank when not answered.
"""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import (
    Plausible, boolean, code, identifier, number, ods_code, whole_number,
)
from edi_analysis.contract.rules import OneSpelling, UniqueWithin
from edi_analysis.contract.table import TableContract

ANSWERS = (
    "harassment_public", "harassment_manager", "harassment_colleague", "reported_harassment",
    "equal_opportunities", "discrimination_colleague", "pressure_unwell", "valued_by_org",
    "adjustments_made", "org_action_health_wellbeing", "belonging",
)

SCHEMA = pa.DataFrameSchema(
    {
        "respondent_id": identifier(),
        "trust_code": ods_code(),
        "survey_year": whole_number(description="calendar year of the survey",
                                    plausible=Plausible(low=2003, high=2100, why=(
                                        "a calendar year of the NHS Staff Survey, which "
                                        "began in 2003"))),
        "ethnic_category": code(groups.ETHNIC_CODES, blank=True),
        "disability": code(groups.DISABILITY_CODES, blank_means="U"),
        # Survey demographics are self-reported and may be left unanswered.
        "sex": code(groups.SEXES, blank=True),
        "staff_group": code(groups.STAFF_GROUPS, blank=True),
        "international_recruit": boolean(),
        **{answer: boolean() for answer in ANSWERS},
        "engagement_score": number(blank=True, ge=0, le=10),
    },
    name="staff_survey",
)

RULES = (
    UniqueWithin("respondent_id", within=("trust_code", "survey_year")),
    OneSpelling("respondent_id", within=("trust_code", "survey_year")),
)

TABLE = TableContract("staff_survey", required=True, schema=SCHEMA, rules=RULES, section="2.4")
