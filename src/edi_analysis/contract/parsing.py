"""Turning the text of a table into typed columns, noting every cell that does not parse.

All work is vectorised with pyarrow compute. Each column is first converted
whole by Arrow's cast (strict ISO dates, plain numbers); only a column where
that fails is searched cell by cell (still vectorised: regular expressions,
and for dates each distinct value once). A cell that does not parse becomes
missing in the typed column and is reported once here, with its line; later
checks skip it so the same cell is not reported twice.

Accepted spellings (CONTRACT.md §2):
- dates: ``YYYY-MM-DD`` and a real calendar date;
- numbers: ``12``, ``-3.5``, ``.5``, ``1e3`` (no spaces, thousands separators,
  currency signs, ``nan`` or ``inf``);
- whole numbers: digits, optionally after a minus sign;
- booleans: ``Y``/``N``, ``true``/``false`` (any of three capitalisations),
  ``1``/``0``;
- blank (an empty cell) is missing in every kind of column.
Parquet columns already stored with the right type are taken as they are;
any other stored type is turned into text and parsed as above.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from edi_analysis.contract import columns as C
from edi_analysis.contract.reading import RawTable
from edi_analysis.contract.report import ERROR, Issue

_NUMBER_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_INTEGER_RE = r"^-?[0-9]{1,18}$"  # as Arrow casts it; 18 digits cannot overflow
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_KIND_NAMES = {C.TEXT: "text", C.DATE: "a date", C.NUMBER: "a number",
               C.INTEGER: "a whole number", C.BOOLEAN: "a yes/no value"}
_TRUE = pa.array(C.TRUE_VALUES)
_FALSE = pa.array(C.FALSE_VALUES)


@dataclass
class TableData:
    """One table while it is validated: typed frame, raw cells for messages, line numbers."""

    name: str
    file: str
    lines: np.ndarray
    raw: dict[str, pa.ChunkedArray]
    frame: pd.DataFrame
    unparsed: dict[str, np.ndarray] = field(default_factory=dict)
    row_files: list[str] | None = None
    file_index: np.ndarray | None = None

    def has(self, *cols: str) -> bool:
        return all(c in self.frame.columns for c in cols)

    def shown(self, column: str, positions: np.ndarray) -> list[str]:
        """The cells at ``positions`` as written in the file, quoted, for messages."""
        values = self.raw[column].take(pa.array(positions, pa.int64())).to_pylist()
        return [show(v) for v in values]

    def issues(self, column: str, positions: np.ndarray, messages, level: str = ERROR
               ) -> list[Issue]:
        """One issue per position; ``messages`` is one string or one per position."""
        lines = self.lines[positions].tolist()
        if isinstance(messages, str):
            messages = [messages] * len(lines)
        if self.row_files is not None:  # stacked from several files: each row's own file
            files = [self.row_files[i] for i in self.file_index[positions].tolist()]
            return [Issue(f, ln, column, m, level)
                    for f, ln, m in zip(files, lines, messages)]
        return [Issue(self.file, ln, column, m, level) for ln, m in zip(lines, messages)]

    def file_of(self, position: int) -> str:
        """The file (as shown in messages) that row ``position`` came from."""
        if self.row_files is None:
            return self.file
        return self.row_files[int(self.file_index[position])]

    def unparsed_mask(self, column: str) -> np.ndarray | None:
        return self.unparsed.get(column)


def show(value) -> str:
    """A cell value quoted for a message: ``'X'``; a blank cell shows as ``blank``."""
    if type(value) is str:  # every CSV cell: the common case first
        return repr(value) if value else "blank"
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return "blank"
    if isinstance(value, dt.datetime):  # a Parquet timestamp: show the date when that is all
        value = value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    elif isinstance(value, dt.date):
        value = value.isoformat()
    elif not isinstance(value, str):
        value = str(value)
    return repr(value)


def parse_table(name: str, file: str, raw: RawTable, schema: pandera.DataFrameSchema
                ) -> tuple[TableData, list[Issue]]:
    """Typed frame (RangeIndex, schema column order) and the parse issues of every column."""
    typed: dict[str, pd.Series] = {}
    unparsed: dict[str, np.ndarray] = {}
    issues: list[Issue] = []
    data = TableData(name, file, raw.lines, {**raw.columns, **raw.shown_as}, pd.DataFrame(),
                     row_files=raw.row_files, file_index=raw.file_index)
    for col, spec in schema.columns.items():
        if col not in raw.columns:
            continue
        kind = C.kind(spec)
        try:
            series, bad = _PARSERS[kind](raw.columns[col])
        except (pa.ArrowException, ValueError, TypeError):
            # Only a Parquet column of an exotic type (a list, a struct, ...) gets here.
            issues.append(Issue(file, 1, col, f"is stored as {raw.columns[col].type}, "
                                f"which cannot be read as {_KIND_NAMES[kind]}"))
            # Keep the column, empty and marked unparsed, so it is not also "missing".
            typed[col] = pd.Series(pd.NA, index=pd.RangeIndex(raw.n_rows),
                                   dtype=C.DTYPES[kind])
            unparsed[col] = np.ones(raw.n_rows, dtype=bool)
            continue
        pre = raw.premarked.get(col)
        if pre is not None:
            series = series.mask(pre)  # reported already: missing, and checked no further
        if spec.default is not None:
            series = series.fillna(spec.default)
        typed[col] = series
        if pre is not None:  # marked cells count as unparsed, but are not reported again
            unparsed[col] = pre if bad is None else pre | bad
            bad = None if bad is None else bad & ~pre
        if bad is not None and bad.any():
            unparsed[col] = bad if pre is None else pre | bad
            pos = np.flatnonzero(bad)
            issues += data.issues(col, pos, [f"{v} {C.PARSE_ERRORS[kind]}"
                                            for v in data.shown(col, pos)])
    data.frame = pd.DataFrame(typed, index=pd.RangeIndex(raw.n_rows))
    data.unparsed = unparsed
    return data, issues


# ------------------------------------------------------------------ per kind

def _as_string(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    return pc.cast(arr, pa.string())


def _mask(arr) -> np.ndarray:
    """A boolean pyarrow array as a numpy mask, null = False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _is_blank(arr: pa.ChunkedArray):
    return pc.or_kleene(pc.is_null(arr), pc.equal(arr, ""))


def _parse_text(arr: pa.ChunkedArray):
    arr = _as_string(arr)
    blank = pc.equal(arr, "")
    if pc.any(blank).as_py():  # most columns have no blanks: skip the copy
        arr = pc.if_else(blank, pa.scalar(None, arr.type), arr)
    return arr.to_pandas(), None


def _blank_to_null(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _try_cast(arr: pa.ChunkedArray, to: pa.DataType):
    """Fast path: cast the whole column at once; None if any cell does not convert."""
    try:
        return pc.cast(arr, to)  # most columns have no blank cells
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        return pc.cast(_blank_to_null(arr), to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _parse_number(arr: pa.ChunkedArray):
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        values = pc.cast(arr, pa.float64())
        # A stored NaN is how some writers store "missing"; infinity is no amount of pay.
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        wrong = pc.is_inf(values)
    else:
        arr = _as_string(arr)
        values = _try_cast(arr, pa.float64())
        if values is None:  # some cell is not a number: find each one
            ok = pc.match_substring_regex(arr, _NUMBER_RE)
            values = pc.if_else(ok, arr, pa.scalar(None, arr.type))
            values = _try_cast(values, pa.float64())
            if values is None:  # well-formed yet beyond Arrow's parser (1e999): Python decides
                cells = pc.if_else(ok, arr, pa.scalar(None, arr.type)).to_pylist()
                values = pa.chunked_array([pa.array(
                    [None if c is None else float(c) for c in cells], pa.float64())])
        # The cast accepts "nan" and "inf": not numbers anyone should write in an extract.
        # (Kleene logic: a blank cell's null must not hide a real failure.)
        wrong = pc.or_kleene(pc.invert(pc.is_finite(values)),
                             pc.and_kleene(pc.is_null(values), pc.invert(_is_blank(arr))))
    bad = _mask(wrong)
    if bad.any():
        values = pc.if_else(wrong, pa.scalar(None, pa.float64()), values)
    return values.to_pandas(), bad


def _parse_integer(arr: pa.ChunkedArray):
    to_pandas = {pa.int64(): pd.Int64Dtype()}.get
    if pa.types.is_integer(arr.type):
        return pc.cast(arr, pa.int64()).to_pandas(types_mapper=to_pandas), None
    arr = _as_string(arr)
    values = _try_cast(arr, pa.int64())
    if values is not None:
        return values.to_pandas(types_mapper=to_pandas), None
    ok = pc.match_substring_regex(arr, _INTEGER_RE)
    values = pc.cast(pc.if_else(ok, arr, pa.scalar(None, arr.type)), pa.int64())
    bad = _mask(pc.and_(pc.invert(ok), pc.invert(_is_blank(arr))))
    return values.to_pandas(types_mapper=to_pandas), bad


def _parse_date(arr: pa.ChunkedArray):
    unit = pa.timestamp("us")
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
            arr = pc.local_timestamp(arr)
        # A date column holds calendar dates: drop any time of day.
        values = pc.cast(pc.cast(arr, pa.date32(), safe=False), unit)
        return values.to_pandas(), None
    arr = _as_string(arr)
    # Arrow's string-to-date cast accepts exactly YYYY-MM-DD and real dates.
    values = _try_cast(arr, pa.date32())
    if values is not None:
        return pc.cast(values, unit).to_pandas(), None
    arr = arr.combine_chunks()
    # Find the bad cells, parsing each distinct value once (a date column has few).
    encoded = arr.dictionary_encode()
    uniq, idx = encoded.dictionary, encoded.indices
    well_formed = pc.fill_null(pc.match_substring_regex(uniq, _DATE_RE), False)
    parsed = pc.strptime(pc.if_else(well_formed, uniq, pa.scalar(None, uniq.type)),
                         format="%Y-%m-%d", unit="us", error_is_null=True)
    # strptime rolls 2024-02-30 over to 2024-03-01; a round trip catches it.
    real = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), uniq), False)
    parsed = pc.if_else(real, parsed, pa.scalar(None, unit))
    bad_u = pc.and_(pc.invert(real), pc.invert(pc.equal(uniq, "")))
    values = pc.take(parsed, idx)
    bad = _mask(pc.take(bad_u, idx))
    return pd.Series(values.to_pandas()), bad


def _parse_boolean(arr: pa.ChunkedArray):
    if pa.types.is_boolean(arr.type):
        return arr.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get), None
    arr = _as_string(arr)
    as_boolean = {pa.bool_(): pd.BooleanDtype()}.get
    # Fast path for the usual Y/N/blank column: plain comparisons, no hashing.
    yes, no = pc.equal(arr, "Y"), pc.equal(arr, "N")
    known = pc.or_(yes, no)
    if pc.all(pc.or_(known, pc.equal(arr, ""))).as_py():
        return pc.if_else(known, yes, pa.scalar(None, pa.bool_())).to_pandas(
            types_mapper=as_boolean), None
    yes, no = pc.is_in(arr, value_set=_TRUE), pc.is_in(arr, value_set=_FALSE)
    values = pc.if_else(yes, True, pc.if_else(no, False, pa.scalar(None, pa.bool_())))
    bad = _mask(pc.invert(pc.or_(pc.or_(yes, no), _is_blank(arr))))
    return values.to_pandas(types_mapper=as_boolean), bad


_PARSERS = {
    C.TEXT: _parse_text, C.NUMBER: _parse_number, C.INTEGER: _parse_integer,
    C.DATE: _parse_date, C.BOOLEAN: _parse_boolean,
}
