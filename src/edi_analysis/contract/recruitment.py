"""``recruitment``: one row per application; required. CONTRACT.md §2.2."""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import boolean, code, date, identifier, ods_code
from edi_analysis.contract.rules import Implies, OneSpelling, UniqueWithin
from edi_analysis.contract.table import TableContract

SCHEMA = pa.DataFrameSchema(
    {
        "application_id": identifier(),
        "trust_code": ods_code(),
        "applied_date": date(description="the application counts in the period whose "
                                         "reporting year contains this date"),
        "staff_group": code(groups.STAFF_GROUPS),
        "pay_band": code(groups.PAY_BANDS),
        "ethnic_category": code(groups.ETHNIC_CODES, blank=True),
        "disability": code(groups.DISABILITY_CODES, blank_means="U"),
        # Self-declared on the application form, so it may be left blank (= Unknown).
        "sex": code(groups.SEXES, blank=True),
        "international_applicant": boolean(),
        "shortlisted": boolean(),
        "appointed": boolean(description="implies shortlisted"),
    },
    name="recruitment",
)

RULES = (
    UniqueWithin("application_id"),
    OneSpelling("application_id"),
    Implies("appointed", "shortlisted"),
)

TABLE = TableContract("recruitment", required=True, schema=SCHEMA, rules=RULES, section="2.2")
