"""``external_indicators``: published figures shown alongside ours; optional. CONTRACT.md §2.7."""

from __future__ import annotations

import pandera.pandas as pa

from edi_analysis.contract.columns import date, number, ods_code, text
from edi_analysis.contract.table import TableContract

SCHEMA = pa.DataFrameSchema(
    {
        "trust_code": ods_code(),
        "period": date(),
        "indicator_id": text(blank=False, description="e.g. nets.combined_indicator_score"),
        "group": text(),
        "value": number(blank=True),
        "source": text(),
    },
    name="external_indicators",
)

TABLE = TableContract("external_indicators", required=False, schema=SCHEMA, section="2.7")
