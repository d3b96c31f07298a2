"""The contract of one input table: its pandera schema plus the checks across cells."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from edi_analysis.contract import columns as C


@dataclass(frozen=True)
class TableContract:
    """One input table (CONTRACT.md §2): name, whether required, schema, multi-cell rules."""

    name: str
    required: bool
    schema: pa.DataFrameSchema
    rules: tuple = ()
    section: str = ""

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.columns)

    @property
    def required_columns(self) -> list[str]:
        return [c for c, col in self.schema.columns.items() if col.required]

    def empty_frame(self) -> pd.DataFrame:
        """A typed table with no rows and the required columns (for an absent optional table)."""
        return pd.DataFrame({
            c: pd.Series([], dtype="int64" if C.kind(col) == C.INTEGER else C.DTYPES[C.kind(col)])
            for c, col in self.schema.columns.items() if col.required
        })
