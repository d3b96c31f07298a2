"""Reading a table file as it is written, keeping the line number of every row.

CSV files are read with every column as text (pyarrow's CSV reader), so
that a value that is not a date or a number can be reported with its line
rather than failing the whole read. Parquet files are read with
their stored types. Nothing is interpreted here; :mod:`.parsing` does that.

Line numbers: the header is line 1 and the first data row line 2. When the
file has blank lines, rows of the wrong width or quoted values spanning
lines, the line of every row is recounted exactly with Python's ``csv``
module (slower, but only for such files). A Parquet file's rows are
numbered as if it were a CSV with a header: row *i* (from 0) is line *i* + 2.
"""

from __future__ import annotations

import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from edi_analysis.contract.report import WHOLE_TABLE, Issue
from edi_analysis.io import sha256_file

BOM = b"\xef\xbb\xbf"
#: How every .xlsx (a zip archive) begins.
ZIP_MAGIC = b"PK\x03\x04"
# Decode in slices that end at a line break: a UTF-8 newline byte never sits
# inside a multi-byte character, so no character is cut in two.
_DECODE_SLICE = 8 << 20
_MAX_LINES_LISTED = 10


@dataclass
class RawTable:
    """A table as read: the wanted columns (text for CSV), one line number per row."""

    header: list[str]
    columns: dict[str, pa.ChunkedArray]
    lines: np.ndarray
    sha256: str
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: cells already reported (e.g. a label a mapping profile does not know), by column:
    #: blank in the typed table and skipped by every later check
    premarked: dict[str, np.ndarray] = field(default_factory=dict)
    #: a table stacked from several files (a mapping profile's ``file`` pattern): the
    #: files as shown in messages, and the index into them of each row
    row_files: list[str] | None = None
    file_index: np.ndarray | None = None
    #: cells as the source file wrote them, where a mapping rewrote them (dates re-ordered
    #: from 31/03/2024, ages banded): what messages quote
    shown_as: dict[str, pa.ChunkedArray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.lines)


class UnreadableTable(Exception):
    """The file cannot be read at all; ``issues`` says why (with the line where known)."""

    def __init__(self, issues: list[Issue], sha256: str | None = None):
        super().__init__("; ".join(i.format() for i in issues))
        self.issues = issues
        self.sha256 = sha256


def read_table(path: Path, display: str, wanted: set[str] | dict[str, str],
               sheet: str | None = None, header_row: int | None = None) -> RawTable:
    """Read ``path`` (CSV, Parquet or an Excel workbook), keeping the ``wanted`` columns found.

    ``wanted`` may map each column to its parsing kind (``columns.NUMBER``, ...):
    a workbook's number and date cells are then read as numbers and dates, not
    as the text Excel would show. ``sheet`` names the worksheet of a workbook
    (default: the sheet named like the file, else the first). ``header_row`` is the
    line (CSV) or sheet row (workbook) of the header when lines above it hold titles,
    as in some ESR BI exports; line numbers stay those of the file.
    """
    if path.suffix == ".parquet":
        return _read_parquet(path, display, set(wanted))
    if path.suffix == ".xlsx":
        kinds = wanted if isinstance(wanted, dict) else dict.fromkeys(wanted, "text")
        return _read_xlsx(path, display, kinds, sheet, header_row)
    if header_row and header_row > 1:
        return _read_csv_below(path, display, set(wanted), header_row)
    return _read_csv(path, display, set(wanted))


def _read_csv_below(path: Path, display: str, wanted: set[str], header_row: int) -> RawTable:
    """A CSV whose header is on line ``header_row``: the lines above are left out, and every
    line number is that of the whole file."""
    import dataclasses

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot read the file: {exc.strerror or exc}")]) from None
    sha = hashlib.sha256(data).hexdigest()
    start = 0
    for _ in range(header_row - 1):
        nxt = data.find(b"\n", start)
        if nxt < 0:
            raise UnreadableTable([Issue(display, 1, WHOLE_TABLE, (
                f"the header should be on line {header_row} but the file has fewer lines"))],
                sha)
        start = nxt + 1
    shift = header_row - 1

    def moved(issue: Issue) -> Issue:
        return dataclasses.replace(issue, line=issue.line + shift)

    try:
        table = _parse_csv(data[start:], display, wanted)
    except UnreadableTable as exc:
        raise UnreadableTable([moved(i) for i in exc.issues], sha) from None
    table.sha256 = sha
    table.lines = table.lines + shift
    table.issues = [moved(i) for i in table.issues]
    return table


# --------------------------------------------------------------------------- CSV

def _read_csv(path: Path, display: str, wanted: set[str]) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot read the file: {exc.strerror or exc}")]) from None
    # Hash on a second thread while parsing: hashlib and pyarrow both release the GIL.
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(lambda: hashlib.sha256(data).hexdigest())
        try:
            table = _parse_csv(data, display, wanted)
        except UnreadableTable as exc:
            exc.sha256 = digest.result()
            raise
        table.sha256 = digest.result()
    return table


def _parse_csv(data: bytes, display: str, wanted: set[str]) -> RawTable:
    if data.startswith(ZIP_MAGIC):
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE, _zip_named_csv(display))])
    if not data.isascii():
        bad = _invalid_utf8_lines(data)
        if bad:
            raise UnreadableTable([_encoding_issue(display, data, bad)])
    start = len(BOM) if data.startswith(BOM) else 0
    end = data.find(b"\n", start)
    header_line = data[start:end if end >= 0 else len(data)].rstrip(b"\r")
    if not header_line.strip():
        what = "the file is empty" if not data[start:].strip() else "the first line is blank"
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"{what}; expected a header row naming the columns")])
    header = next(csv.reader([header_line.decode("utf-8")]))
    if len(header) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs")):
            if sep in header[0]:
                raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                             f"the header is separated by {name}, not commas "
                                             "(save the file as comma-separated values)")])
    seen: set[str] = set()
    dupes = [c for c in header if c in seen or seen.add(c)]
    if dupes:
        raise UnreadableTable([Issue(display, 1, c, "this column name appears more than once in "
                                     "the header") for c in dict.fromkeys(dupes)])

    n_bad = 0

    def on_invalid_row(row) -> str:  # rows of the wrong width: counted here, located below
        nonlocal n_bad
        n_bad += 1
        return "skip"

    keep = [c for c in header if c in wanted]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            # One parsing thread: pyarrow's parallel reader spends several times the CPU
            # (measured: 4x on a 200 MB extract) for a modest wall-clock gain, and the
            # second core is already hashing the file.
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True,
                                              invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, include_columns=keep,
                strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[],
                check_utf8=False,  # checked above, once, for the whole file
            ),
        )
    except (pa.ArrowInvalid, ValueError) as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot be read as CSV: {exc}")]) from None

    n_rows = table.num_rows
    # Line breaks at the very end shift no row, so they do not force a recount.
    end = len(data)
    while end and data[end - 1] in b"\r\n":
        end -= 1
    physical_lines = data.count(b"\n", 0, end) + 1
    raw = RawTable(header=header, columns={c: table.column(c) for c in keep},
                   lines=np.arange(2, n_rows + 2, dtype=np.int64), sha256="")
    if n_bad or physical_lines != n_rows + 1:
        lines, bad_rows = _count_lines(data, len(header))
        if len(lines) == n_rows:
            raw.lines = lines
        else:  # the two CSV readers disagree: keep positional numbering, and say so
            raw.notes.append(f"{display}: line numbers may be approximate (unusual quoting)")
        raw.issues += [
            Issue(display, line, WHOLE_TABLE,
                  f"has {width} field{'s' * (width != 1)} but the header has {len(header)}; "
                  "this row was not read")
            for line, width in bad_rows
        ]
    return raw


def _count_lines(data: bytes, width: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Exact first line of every well-formed row, and (line, width) of rows of the wrong width.

    Blank lines are skipped, as pyarrow skips them; a quoted value holding
    line breaks makes its row span several lines.
    """
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream)
    next(reader)
    lines: list[int] = []
    bad: list[tuple[int, int]] = []
    last = reader.line_num
    for record in reader:
        first, last = last + 1, reader.line_num
        if not record:
            continue
        if len(record) == width:
            lines.append(first)
        else:
            bad.append((first, len(record)))
    return np.asarray(lines, dtype=np.int64), bad


def _invalid_utf8_lines(data: bytes) -> list[tuple[int, int]]:
    """(line, offending byte) for every line holding bytes that are not UTF-8; [] if none."""
    out: list[tuple[int, int]] = []
    view = memoryview(data)
    pos, n = 0, len(data)
    counted, line = 0, 1  # newlines are counted once, up to the last bad byte found
    while pos < n:
        stop = data.find(b"\n", min(pos + _DECODE_SLICE, n))
        stop = n if stop < 0 else stop + 1
        try:
            str(view[pos:stop], "utf-8")
        except UnicodeDecodeError as exc:
            where = pos + exc.start
            line += data.count(b"\n", counted, where)
            counted = where
            out.append((line, data[where]))
            nxt = data.find(b"\n", where)
            pos = n if nxt < 0 else nxt + 1
            continue
        pos = stop
    return out


def _encoding_issue(display: str, data: bytes, bad: list[tuple[int, int]]) -> Issue:
    line, byte = bad[0]
    msg = (f"the file is not UTF-8: byte 0x{byte:02X} on this line cannot be decoded "
           "(save or export the file as UTF-8)")
    if len(bad) > 1:
        others = [str(b[0]) for b in bad[1:_MAX_LINES_LISTED + 1]]
        more = ", ..." if len(bad) > _MAX_LINES_LISTED + 1 else ""
        msg += f"; {len(bad)} lines in all, also line {', '.join(others)}{more}"
    return Issue(display, line, WHOLE_TABLE, msg)


# ----------------------------------------------------------------------- Parquet

def _read_parquet(path: Path, display: str, wanted: set[str]) -> RawTable:
    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        header = list(pq.read_schema(path).names)
        keep = [c for c in header if c in wanted]
        table = pq.read_table(path, columns=keep)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot be read as Parquet: {exc}")], sha) from None
    columns = {}
    for c in keep:
        col = table.column(c)
        if pa.types.is_dictionary(col.type):  # pandas categoricals are stored dictionary-encoded
            col = col.cast(col.type.value_type)
        columns[c] = col
    return RawTable(header=header, columns=columns,
                    lines=np.arange(2, table.num_rows + 2, dtype=np.int64), sha256=sha)


def _zip_named_csv(display: str) -> str:
    stem = Path(display).stem
    return (f"this is an Excel workbook (or another zip archive), not a CSV file: rename it "
            f"{stem}.xlsx to have it read as a workbook, or save it from Excel as "
            "'CSV UTF-8 (Comma delimited)'")


# ------------------------------------------------------------------------- Excel

#: How a workbook column is read, by parsing kind: numbers and dates as stored (exact
#: doubles, calendar dates), everything else as text. Whole numbers are read as numbers
#: and checked by the parser (Excel has no integer cells; 2023.5 must not become 2023).
_XLSX_DTYPES = {"number": "float", "integer": "float", "date": "date"}
#: The most rows one worksheet holds (Excel specifications and limits).
_MAX_SHEET_ROWS = 1_048_576


def _read_xlsx(path: Path, display: str, kinds: dict[str, str], sheet: str | None,
               header_row: int | None = None) -> RawTable:
    """One worksheet of an .xlsx workbook (fastexcel, a Rust reader built on calamine).

    Lines are the sheet's row numbers as Excel shows them (the header is the first
    row holding a value, normally row 1). Rows with no value in any column read
    are skipped, as blank lines of a CSV are. A number or date cell is taken as
    stored; a cell of another type in a number or date column (text, TRUE) is
    read as its text and parsed like a CSV cell, so ``'n/a'`` is reported with
    its row rather than silently read as blank.
    """
    import fastexcel

    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise UnreadableTable([Issue(display, 1, WHOLE_TABLE,
                                     f"cannot read the file: {exc.strerror or exc}")]) from None

    def unreadable(msg: str) -> UnreadableTable:
        return UnreadableTable([Issue(display, 1, WHOLE_TABLE, msg)], sha)

    with open(path, "rb") as f:
        if not f.read(4).startswith(ZIP_MAGIC):
            raise unreadable("cannot be read as an Excel workbook (.xlsx): it is not one "
                             "(an old .xls, or a CSV named .xlsx?); save it from Excel as "
                             "'Excel Workbook (.xlsx)' or as CSV UTF-8")
    try:
        reader = fastexcel.read_excel(str(path))
        names = list(reader.sheet_names)
    except Exception as exc:  # fastexcel raises its own error types for damaged files
        raise unreadable(f"cannot be read as an Excel workbook (.xlsx): {exc}") from None
    notes = []
    if sheet is None:
        sheet = path.stem if path.stem in names else (names[0] if names else None)
        if sheet is not None and len(names) > 1:
            notes.append(f"{display}: read sheet {sheet!r} (the workbook has "
                         f"{len(names)} sheets: {', '.join(map(repr, names))})")
    elif sheet not in names:
        raise unreadable(f"the workbook has no sheet {sheet!r} (sheets: "
                         f"{', '.join(map(repr, names))})")
    if sheet is None:
        raise unreadable("the workbook has no sheets")
    first_row, header = _sheet_header(path, sheet, header_row)
    skip = 0
    if header_row is not None:
        skip = header_row - _sheet_header(path, sheet)[0]
        if skip < 0:
            raise unreadable(f"the header should be on row {header_row} of sheet {sheet!r}, "
                             f"but it is above the first row with values")
        first_row = header_row
    if header is None:  # the sheet's XML could not be read directly: ask fastexcel (a pass)
        try:
            head = reader.load_sheet(sheet, header_row=None, skip_rows=skip or None, n_rows=1,
                                     dtypes="string").to_arrow()
        except Exception as exc:
            raise unreadable(f"cannot read sheet {sheet!r}: {exc}") from None
        header = ([] if head.num_rows == 0 or head.num_columns == 0 else
                  ["" if v is None else str(v) for v in head.to_pylist()[0].values()])
    if not header:
        raise unreadable(f"sheet {sheet!r} is empty; expected a header row naming the columns")
    seen: set[str] = set()
    dupes = [c for c in header if c and (c in seen or seen.add(c))]
    if dupes:
        raise UnreadableTable([Issue(display, 1, c, "this column name appears more than once "
                                     "in the header") for c in dict.fromkeys(dupes)], sha)
    if first_row != 1 and header_row is None:
        notes.append(f"{display}: the header is on row {first_row} of sheet {sheet!r} (the "
                     "rows above it are empty); lines are the sheet's row numbers")
    keep = [c for c in header if c in kinds]
    columns: dict[str, pa.ChunkedArray] = {}
    n = 0
    if keep:
        dtypes = {c: _XLSX_DTYPES.get(kinds[c], "string") for c in keep}
        try:
            sh = reader.load_sheet(sheet, header_row=skip, use_columns=keep, dtypes=dtypes)
            batch, errors = sh.to_arrow_with_errors()
        except Exception as exc:
            raise unreadable(f"cannot read sheet {sheet!r}: {exc}") from None
        n = batch.num_rows
        columns = {c: batch.column(c) for c in keep}
        # Cells of another type than their column's: read those columns again as text.
        bad_cols: dict[str, list[int]] = {}
        names = {ci.index: ci.name for ci in sh.selected_columns}
        for e in (errors.errors if errors is not None else ()):
            bad_cols.setdefault(names[e.offset_position[1]], []).append(e.offset_position[0])
        if bad_cols:
            try:
                text = reader.load_sheet(sheet, header_row=skip, use_columns=list(bad_cols),
                                         dtypes="string").to_arrow()
            except Exception as exc:
                raise unreadable(f"cannot read sheet {sheet!r}: {exc}") from None
            for c, rows in bad_cols.items():
                columns[c] = _with_text_cells(columns[c], text.column(c), rows)
        columns = {c: pa.chunked_array([a]) for c, a in columns.items()}
    lines = np.arange(first_row + 1, first_row + 1 + n, dtype=np.int64)
    issues = []
    if n and first_row + n >= _MAX_SHEET_ROWS:
        issues.append(Issue(display, _MAX_SHEET_ROWS, WHOLE_TABLE, (
            f"sheet {sheet!r} is full (Excel holds at most {_MAX_SHEET_ROWS:,} rows): the "
            "export was probably cut off there; export the table as CSV instead")))
    if columns and n:
        empty = None
        for arr in columns.values():
            blank = pc.is_null(arr)
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                blank = pc.or_(blank, pc.fill_null(pc.equal(arr, ""), True))
            empty = blank if empty is None else pc.and_(empty, blank)
        if pc.any(empty).as_py():
            keep_rows = pc.invert(empty)
            columns = {c: pc.filter(a, keep_rows) for c, a in columns.items()}
            lines = lines[np.asarray(keep_rows.to_numpy(zero_copy_only=False), dtype=bool)]
    return RawTable(header=header, columns=columns, lines=lines, sha256=sha, issues=issues,
                    notes=notes)


def _with_text_cells(typed: pa.Array, text: pa.Array, rows: list[int]) -> pa.Array:
    """A column as text: the typed values written out exactly (shortest round-trip
    numbers, ISO dates), and the cells at ``rows`` as their own text."""
    if pa.types.is_date(typed.type) or pa.types.is_timestamp(typed.type):
        as_text = pc.strftime(pc.cast(typed, pa.timestamp("s")), format="%Y-%m-%d")
    else:
        as_text = pc.cast(typed, pa.string())
    values = as_text.to_pylist()
    for r, v in zip(rows, text.take(pa.array(rows)).to_pylist()):
        values[r] = v
    return pa.array(values, pa.string())


def _sheet_header(path: Path, sheet: str, header_row: int | None = None
                  ) -> tuple[int, list[str] | None]:
    """(Excel row number of the header, its cell texts) read from the sheet's XML.

    The header is row ``header_row``, or else the first row holding a value (calamine,
    under fastexcel, starts a sheet there). Only the XML up to that row is read, so this
    costs nothing like a pass over the sheet. The texts are None when the XML cannot be
    read this way (the caller then asks fastexcel), and the row is then 1.
    """
    import posixpath
    import xml.etree.ElementTree as ET
    import zipfile

    m = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    r_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as z:
            book = ET.fromstring(z.read("xl/workbook.xml"))
            rid = next(s.get(f"{r_ns}id") for s in book.iter(f"{m}sheet")
                       if s.get("name") == sheet)
            rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels if r.get("Id") == rid)
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
            row_el = None
            with z.open(target) as f:
                for _, el in ET.iterparse(f, events=("end",)):
                    if el.tag != f"{m}row":
                        continue
                    number = int(el.get("r"))
                    has_value = any(c.find(f"{m}v") is not None or c.find(f"{m}is") is not None
                                    for c in el.iter(f"{m}c"))
                    if (header_row is None and has_value) or number == header_row:
                        row_el = el
                        break
                    if header_row is not None and number > header_row:
                        return header_row, []
                    el.clear()
            if row_el is None:
                return (header_row or 1), []
            cells: dict[int, str] = {}
            shared: dict[int, int] = {}
            for c in row_el.iter(f"{m}c"):
                col = _column_index(c.get("r", ""))
                kind, v, inline = c.get("t"), c.find(f"{m}v"), c.find(f"{m}is")
                if inline is not None:
                    cells[col] = "".join(t.text or "" for t in inline.iter(f"{m}t"))
                elif v is not None and kind == "s":
                    shared[col] = int(v.text)
                elif v is not None:
                    text = v.text or ""
                    if kind is None and text.endswith(".0"):  # a number cell: 2023, not 2023.0
                        text = text[:-2]
                    cells[col] = text
            if shared:
                strings = _shared_strings(z, max(shared.values()), m)
                cells.update({col: strings[i] for col, i in shared.items()})
            if not cells:
                return int(row_el.get("r")), []
            lo, hi = min(cells), max(cells)
            return int(row_el.get("r")), [cells.get(i, "") for i in range(lo, hi + 1)]
    except (KeyError, StopIteration, ET.ParseError, zipfile.BadZipFile, ValueError, TypeError,
            IndexError):
        return (header_row or 1), None


def _column_index(ref: str) -> int:
    """``"C9"`` -> 2."""
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return n - 1


def _shared_strings(z, last: int, m: str) -> list[str]:
    """A workbook's shared strings 0..``last`` (its file read only that far)."""
    import xml.etree.ElementTree as ET

    out: list[str] = []
    with z.open("xl/sharedStrings.xml") as f:
        for _, el in ET.iterparse(f, events=("end",)):
            if el.tag == f"{m}si":
                out.append("".join(t.text or "" for t in el.iter(f"{m}t")))
                el.clear()
                if len(out) > last:
                    break
    return out
