"""``employee_relations``: one row per formal case; required. CONTRACT.md §2.3.

The characteristics are those held when the case started. Whether each
``staff_id`` is in the workforce table is checked across tables (a warning:
the person may have left).
"""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import code, date, identifier, ods_code
from edi_analysis.contract.rules import DateOrder, OneSpelling, UniqueWithin
from edi_analysis.contract.table import TableContract

SCHEMA = pa.DataFrameSchema(
    {
        "case_id": identifier(),
        "staff_id": identifier(),
        "trust_code": ods_code(),
        "case_type": code(groups.CASE_TYPES),
        "start_date": date(),
        "closed_date": date(blank=True, description="blank while the case is open"),
        "outcome": code(groups.OUTCOMES, blank=True, description="blank while the case is open"),
        "ethnic_category": code(groups.ETHNIC_CODES, blank=True),
        "disability": code(groups.DISABILITY_CODES, blank_means="U"),
        "sex": code(groups.SEXES),
        "staff_group": code(groups.STAFF_GROUPS),
        "pay_band": code(groups.PAY_BANDS),
    },
    name="employee_relations",
)

RULES = (
    UniqueWithin("case_id"),
    OneSpelling("case_id"),
    DateOrder("closed_date", "start_date", "not_before"),
)

TABLE = TableContract("employee_relations", required=True, schema=SCHEMA, rules=RULES,
                      section="2.3")
