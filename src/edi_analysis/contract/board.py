"""``board``: one row per board member per snapshot; required. CONTRACT.md §2.5."""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis import groups
from edi_analysis.contract.columns import boolean, code, date, identifier, ods_code
from edi_analysis.contract.rules import OneSpelling, UniqueWithin
from edi_analysis.contract.table import TableContract

SCHEMA = pa.DataFrameSchema(
    {
        "member_id": identifier(),
        "trust_code": ods_code(),
        "snapshot_date": date(),
        "role": code(groups.BOARD_ROLES),
        "voting": boolean(),
        "executive": boolean(),
        "ethnic_category": code(groups.ETHNIC_CODES, blank=True),
        "disability": code(groups.DISABILITY_CODES, blank_means="U"),
        # Non-executive members are often not on the payroll system: sex may be blank.
        "sex": code(groups.SEXES, blank=True),
        "has_smart_edi_objectives": boolean(),
        "appraised_on_edi_objectives": boolean(),
    },
    name="board",
)

RULES = (
    UniqueWithin("member_id", within=("trust_code", "snapshot_date")),
    OneSpelling("member_id", within=("trust_code",)),
)

TABLE = TableContract("board", required=True, schema=SCHEMA, rules=RULES, section="2.5")
