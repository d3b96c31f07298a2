"""Writing tables as Excel workbooks the way a person would save them from Excel.

Numbers are number cells, dates are date cells (shown ``yyyy-mm-dd``), text is
text, blanks are empty cells. Used for the sample's ``--format xlsx`` and by the
tests and the benchmark that check a workbook reads exactly as its CSV twin.
Reading workbooks is :mod:`edi_analysis.contract.reading` (fastexcel).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import pandas as pd

#: The most rows one worksheet holds (Excel specifications and limits).
MAX_SHEET_ROWS = 1_048_576


def table_kinds(name: str) -> dict[str, str]:
    """Parsing kind of each column of contract table ``name`` (text, date, number, ...)."""
    from edi_analysis.contract import TABLES
    from edi_analysis.contract.columns import kind

    spec = next(t for t in TABLES if t.name == name)
    return {c: kind(col) for c, col in spec.schema.columns.items()}


def write_table(path: str | os.PathLike, frame: pd.DataFrame, sheet: str | None = None,
                kinds: dict[str, str] | None = None) -> Path:
    """Write ``frame`` as a one-sheet workbook (sheet named ``sheet``, default the file stem).

    ``kinds`` names date columns (``"date"``) whose ISO text becomes date cells, and
    number columns whose text becomes number cells; other text stays text. Raises
    ValueError when the frame has more rows than a worksheet holds.
    """
    import xlsxwriter

    path = Path(path)
    kinds = kinds or {}
    if len(frame) + 1 > MAX_SHEET_ROWS:
        raise ValueError(f"{len(frame):,} rows do not fit in one worksheet "
                         f"(at most {MAX_SHEET_ROWS - 1:,} below the header)")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    try:
        ws = wb.add_worksheet(sheet or path.stem)
        date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
        ws.write_row(0, 0, list(frame.columns))
        writers = [_cell_writer(ws, kinds.get(c), date_format) for c in frame.columns]
        columns = [frame.iloc[:, i].tolist() for i in range(frame.shape[1])]
        for r, row in enumerate(zip(*columns), start=1):
            for c, (value, write) in enumerate(zip(row, writers)):
                write(r, c, value)
    finally:
        wb.close()
    return path


def _cell_writer(ws, kind: str | None, date_format):
    def blank(value) -> bool:
        return value is None or value == "" or (isinstance(value, float) and math.isnan(value))

    if kind == "date":
        def write(r, c, value):
            if blank(value):
                return
            if isinstance(value, str):
                try:
                    value = dt.datetime.strptime(value, "%Y-%m-%d")
                except ValueError:  # not an ISO date: keep the text, as a person's sheet would
                    ws.write_string(r, c, value)
                    return
            ws.write_datetime(r, c, value, date_format)
    elif kind in ("number", "integer"):
        def write(r, c, value):
            if blank(value):
                return
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    ws.write_string(r, c, value)
                    return
            ws.write_number(r, c, value)
    else:
        def write(r, c, value):
            if blank(value):
                return
            if isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write(r, c, value)
    return write
