"""Pre-publication disclosure audit: no input identifier and no unsuppressed small count in what is published.

CONTRACT.md §2 says identifiers (``staff_id``, ``application_id``,
``case_id``, ``respondent_id``, ``member_id``) "never appear in any output";
§4.8 says published outputs (site, PDFs, ``metrics.csv``, executed
notebooks) carry no count of 1 to ``min_count − 1``. This module checks both
on the files themselves, after they are written, as the last gate before a
release (``edi-analysis audit``; ``build`` runs it before reporting success).

Checks (scope and limits in docs/audit.md):

- **Identifiers, everywhere.** Every identifier value in the validated
  inputs is put in a set; each published file's text is cut into tokens
  (maximal runs of the characters identifiers are made of) and each token is
  looked up in the set — one pass per file, never identifiers × files. Every
  file type the tool publishes or could publish is read (:data:`READERS`):
  HTML (markup, attributes, scripts; inline ``data:`` images decoded and
  their metadata read), notebooks (sources, outputs of every text and JSON
  type, metadata, image metadata), PDFs (text, document metadata, XMP,
  outline, annotations and attachments, with ``pypdf``), Parquet (column
  names, metadata, every value), PNG (text chunks and EXIF), JPEG (comments,
  EXIF and XMP segments), CSV, and text formats (Markdown, JSON, YAML, SVG,
  CSS, JavaScript, Quarto and Typst sources …). A file of any other type, or
  one that cannot be read, is a finding: it cannot be shown to be safe.
- **Absolute local paths** (the project folder, the home folder, the data
  folder) in any of that text are findings: they name people's folders and
  say where the data live.
- **Small counts in metrics tables.** A CSV whose header is the metrics.csv
  columns (CONTRACT.md §5), or a Parquet file with those columns, is read row
  by row: an unsuppressed row may not hold a count below its threshold in the
  columns its metric declares as counts (``MetricSpec.counts`` and
  ``count_rule``), and a suppressed row must be blank in every figure
  column. The threshold is never below the data contract's (8 counts, 11
  survey answers); with ``allow_lower_thresholds`` a count between the
  params' threshold and the contract's is a warning naming that key.
"""

from __future__ import annotations

import base64
import binascii
import csv
import html
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis import stats
from edi_analysis.audit_pdf import pdf_pieces, read_pdfs

#: Identifier columns of the input tables (CONTRACT.md §2).
IDENTIFIER_COLUMNS = ("staff_id", "application_id", "case_id", "respondent_id", "member_id")
#: Identifiers shorter than this are too likely to occur by chance in text (a year, a
#: code, a number) to be matched; they are counted and reported as a warning.
MIN_IDENTIFIER_LENGTH = 5
#: Files read as plain text, line by line.
TEXT_SUFFIXES = (".md", ".txt", ".json", ".yaml", ".yml", ".qmd", ".typ", ".svg", ".xml", ".tex",
                 ".css", ".js", ".mjs", ".map", ".scss", ".bib", ".csl", ".lua", ".toml",
                 ".ini", ".cfg", ".log", ".tsv")
HTML_SUFFIXES = (".html", ".htm")
#: Binary formats read by their own reader.
BINARY_SUFFIXES = (".pdf", ".parquet", ".png", ".jpg", ".jpeg", ".zip")
SCANNED_SUFFIXES = HTML_SUFFIXES + TEXT_SUFFIXES + BINARY_SUFFIXES + (".ipynb", ".csv")
#: metrics.csv columns in order (CONTRACT.md §5); a CSV with this header is a metrics table.
METRICS_COLUMNS = (
    "trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
    "numerator", "denominator", "value", "ci_lower", "ci_upper", "unit", "suppressed", "note",
)
_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)", re.IGNORECASE)
#: MIME types of notebook outputs read as text (everything else must be an image it can read).
_TEXT_MIME = re.compile(r"^(text/.*|image/svg\+xml|.*json.*|.*javascript.*|.*xml.*)$")


class AuditError(Exception):
    """The audit cannot run (unreadable inputs, no such path): a usage error, not a finding."""


@dataclass(frozen=True)
class Finding:
    """One disclosure problem: which file, where in it, what kind, and what was found."""

    file: str
    location: str
    what: str  # "identifier", "local path", "small count", "suppressed figure", "unreadable"
    message: str

    def format(self) -> str:
        return f"{self.file}:{self.location}: {self.what}: {self.message}"


@dataclass
class AuditReport:
    """Findings (each a reason not to publish), warnings, and what was scanned."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_scanned: int = 0
    files_skipped: int = 0
    identifiers: int = 0
    metrics_tables: int = 0
    #: distinct counts of the published metrics tables checked against the data and for
    #: recovery by subtraction across all of them (``edi_analysis.disclosure.linked_audit``)
    linked_cells: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        verdict = "clean" if self.ok else "NOT SAFE TO PUBLISH"
        n = len(self.findings)
        return (
            f"audit {verdict}: {n} finding{'s' * (n != 1)} in {self.files_scanned} files scanned "
            f"({self.metrics_tables} metrics table{'s' * (self.metrics_tables != 1)}, "
            f"{self.linked_cells} linked cells checked, "
            f"{self.identifiers} identifiers checked; {self.files_skipped} files of other types "
            f"not scanned), {len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}"
        )


# --- identifiers ---------------------------------------------------------------------


def load_dataset(data_dir: Path, mapping=None, settings=None):
    """The validated dataset of ``data_dir`` (read through ``mapping``/``settings``, the mapping
    profile of a trust's own exports; see docs/mapping.md).

    Raises :class:`AuditError` when the inputs do not validate: identifiers
    read from a table that cannot be trusted could miss some.
    """
    from edi_analysis.contract import validate_dataset

    if not Path(data_dir).is_dir():
        raise AuditError(f"{data_dir}: no such data folder")
    # the same files (names, sizes, modification times) give the same dataset: a build's
    # publish, or several publishes in one process, validate the data once
    try:
        key = (str(Path(data_dir).resolve()), str(mapping), tuple(sorted((settings or {}).items())),
               tuple(sorted((p.name, st.st_size, st.st_mtime_ns) for p in Path(data_dir).iterdir()
                            if p.is_file() and (st := p.stat()))))
    except OSError:
        key = None
    if key is not None and key in _DATASET_CACHE:
        return _DATASET_CACHE[key]
    report = validate_dataset(Path(data_dir), mapping=mapping, settings=settings)
    if not report.ok or report.dataset is None:
        first = "; ".join(issue.format() for issue in report.errors[:3])
        raise AuditError(f"{data_dir}: the inputs do not validate ({len(report.errors)} errors: {first})")
    if key is not None:
        _DATASET_CACHE.clear()  # one dataset at a time: a national set holds millions of rows
        _DATASET_CACHE[key] = report.dataset
    return report.dataset


_DATASET_CACHE: dict = {}


def load_identifiers(data_dir: Path, mapping=None, settings=None, dataset=None) -> set[str]:
    """Every identifier value in the validated input tables of ``data_dir`` (or of ``dataset``)."""
    if dataset is None:
        dataset = load_dataset(Path(data_dir), mapping, settings)
    ids: set[str] = set()
    for table in dataset.tables.values():
        if table is None:
            continue
        for col in IDENTIFIER_COLUMNS:
            if col in table:
                ids.update(str(v).strip() for v in table[col].dropna().unique())
    ids.discard("")
    return ids


class IdentifierMatcher:
    """Finds identifiers in text by token lookup in a set (linear in the text, whatever the number of ids).

    A token is a maximal run of the characters identifiers are made of, so an
    identifier is found wherever it stands between other characters (spaces,
    punctuation, markup) — but not glued to letters or digits of a longer word.
    """

    def __init__(self, identifiers: Iterable[str], min_length: int = MIN_IDENTIFIER_LENGTH):
        ids = {i for i in identifiers if i}
        self.short = {i for i in ids if len(i) < min_length}
        self.ids = ids - self.short
        alphabet = set("".join(self.ids)) or set("0")
        # Letters, digits and underscore always; punctuation only if identifiers use it.
        extra = "".join(sorted(re.escape(c) for c in alphabet if not (c.isalnum() or c == "_")))
        self._token = re.compile(rf"[\w{extra}]+")
        self._min = min_length

    def find(self, text: str) -> list[str]:
        """Identifiers occurring in ``text``, in order of appearance (repeats kept)."""
        if not self.ids or not text:
            return []
        return [t for t in self._token.findall(text) if len(t) >= self._min and t in self.ids]


# --- file readers: (location, text) pieces --------------------------------------------


def _lines(text: str, prefix: str = "") -> Iterator[tuple[str, str]]:
    for i, line in enumerate(text.splitlines(), 1):
        yield f"{prefix}line {i}", line


@dataclass(frozen=True)
class Unreadable:
    """Yielded by a reader for a part it cannot read (an embedded file of an unknown type …):
    becomes an ``unreadable`` finding at ``location``."""

    location: str
    message: str


def printable_strings(data: bytes, min_length: int = 4) -> str:
    """The runs of printable ASCII (and UTF-16 little-endian ASCII) in binary data, one a line:
    how identifiers stored uncompressed in EXIF and similar binary metadata are found."""
    runs = [m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{%d,}" % min_length, data)]
    runs += [m.decode("utf-16-le") for m in
             re.findall(rb"(?:[\x20-\x7e]\x00){%d,}" % min_length, data)]
    return "\n".join(runs)


def png_pieces(data: bytes, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Text of a PNG: the keywords and texts of its ``tEXt``, ``zTXt`` and ``iTXt`` chunks, and
    the strings of its ``eXIf`` chunk (the pixels are not text). Raises ValueError when the
    data are not a complete PNG."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG image")
    pos, n = 8, 0
    while True:
        if pos + 8 > len(data):
            raise ValueError("truncated PNG (no IEND chunk)")
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise ValueError(f"truncated PNG chunk {kind!r}")
        n += 1
        where = f"{prefix}PNG chunk {n} {kind.decode('latin-1')}"
        try:
            if kind == b"tEXt":
                key, _, text = body.partition(b"\0")
                yield where, f"{key.decode('latin-1')} {text.decode('latin-1')}"
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                yield where, f"{key.decode('latin-1')} {zlib.decompress(rest[1:]).decode('latin-1')}"
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                compressed, rest = rest[:1] == b"\1", rest[2:]
                lang, _, rest = rest.partition(b"\0")
                tkey, _, text = rest.partition(b"\0")
                if compressed:
                    text = zlib.decompress(text)
                yield where, " ".join(x.decode("utf-8", errors="replace")
                                      for x in (key, lang, tkey, text))
            elif kind == b"eXIf":
                yield where, printable_strings(body)
        except zlib.error as exc:
            raise ValueError(f"PNG text chunk {n} cannot be decompressed: {exc}") from None
        if kind == b"IEND":
            return
        pos += 12 + length


def jpeg_pieces(data: bytes, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Text of a JPEG: its comment (COM) segments and the strings of its APP segments (EXIF, XMP,
    ICC …); the compressed image is not text. Raises ValueError when the data are not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG image")
    pos, n = 2, 0
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("malformed JPEG segment")
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        if marker == 0xD9 or marker == 0xDA:  # end of image, start of scan: no more metadata
            return
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        body = data[pos + 4:pos + 2 + length]
        n += 1
        if marker == 0xFE:
            yield f"{prefix}JPEG comment {n}", body.decode("utf-8", errors="replace")
        elif 0xE0 <= marker <= 0xEF:
            yield f"{prefix}JPEG APP{marker - 0xE0} segment {n}", printable_strings(body)
        pos += 2 + length
    raise ValueError("truncated JPEG")


def _image_pieces(mime: str, payload: str | bytes, where: str) -> Iterator:
    """Metadata text of an embedded image (base64 text or bytes); other types are unreadable."""
    mime = mime.lower()
    try:
        data = base64.b64decode(payload) if isinstance(payload, str) else payload
    except (binascii.Error, ValueError) as exc:
        yield Unreadable(where, f"embedded {mime} data cannot be decoded ({exc})")
        return
    try:
        if mime == "image/png":
            yield from png_pieces(data, f"{where} ")
        elif mime in ("image/jpeg", "image/jpg"):
            yield from jpeg_pieces(data, f"{where} ")
        elif mime == "image/svg+xml":
            yield from _lines(data.decode("utf-8", errors="replace"), f"{where} ")
        else:
            yield Unreadable(where, f"embedded {mime} data the audit cannot read")
    except ValueError as exc:
        yield Unreadable(where, f"embedded {mime} data cannot be read ({exc})")


def _without_data_uris(text: str, where: str = "") -> tuple[list, str]:
    """The inline base64 payloads of HTML text, read as images (metadata pieces, or Unreadable),
    and the text with them taken out (pixels are not text anyone reads; line breaks inside a
    payload are kept, so line numbers stay right). One pass over the text."""
    pieces: list = []
    if "data:" not in text:
        return pieces, text
    kept: list[str] = []
    line, last = 1, 0
    for m in _DATA_URI.finditer(text):
        kept.append(text[last:m.start()])
        line += text.count("\n", last, m.start())
        # b64decode drops the line breaks and spaces a payload may hold
        pieces += list(_image_pieces(m.group(1), m.group(2), f"{where}line {line} {m.group(1)}"))
        breaks = m.group(0).count("\n")
        kept.append(" " + "\n" * breaks)
        line += breaks
        last = m.end()
    kept.append(text[last:])
    return pieces, "".join(kept)


def _html_pieces(path: Path) -> Iterator:
    return _html_text_pieces(path.read_text(encoding="utf-8", errors="replace"))


def _html_text_pieces(text: str) -> Iterator:
    images, text = _without_data_uris(text)
    yield from images
    for loc, line in _lines(text):
        # Entities are decoded so "&#69;1234…" is seen as the reader's browser shows it.
        yield loc, html.unescape(line)


def _text_of(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _notebook_pieces(path: Path) -> Iterator:
    return _notebook_text_pieces(path.read_text(encoding="utf-8"))


#: Largest member of a ZIP archive the audit reads (uncompressed); a larger one is unreadable.
MAX_ARCHIVE_MEMBER = 256 * 1024 * 1024


def _zip_pieces(path: Path) -> Iterator:
    """The members of a ZIP archive (the site's ``notebooks.zip``), each read as the file it
    is: a notebook as a notebook, HTML and plain text line by line, each location prefixed by
    the member's name. Any other member (an image, a CSV, an archive in the archive) is
    unreadable, and so is a member that is encrypted, corrupt or too large."""
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ValueError(f"the ZIP archive cannot be read: {exc}") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            suffix = Path(name).suffix.lower()
            readable = suffix == ".ipynb" or suffix in HTML_SUFFIXES or suffix in TEXT_SUFFIXES
            if not readable:
                yield Unreadable(name, f"member {name} of the archive is of a type the audit "
                                       "cannot read in an archive")
                continue
            if info.file_size > MAX_ARCHIVE_MEMBER or info.flag_bits & 0x1:
                yield Unreadable(name, f"member {name} of the archive is encrypted or larger "
                                       f"than {MAX_ARCHIVE_MEMBER // 2**20} MB")
                continue
            try:
                text = zf.read(info).decode("utf-8")
            except (zipfile.BadZipFile, ValueError, RuntimeError, OSError, EOFError) as exc:
                yield Unreadable(name, f"member {name} of the archive cannot be read ({exc})")
                continue
            if suffix == ".ipynb":
                try:
                    pieces = list(_notebook_text_pieces(text))
                except (ValueError, AttributeError, TypeError) as exc:
                    yield Unreadable(name, f"member {name} is not a notebook ({exc})")
                    continue
            elif suffix in HTML_SUFFIXES:
                pieces = list(_html_text_pieces(text))
            else:
                pieces = list(_lines(text))
            for piece in pieces:
                if isinstance(piece, Unreadable):
                    yield Unreadable(f"{name} {piece.location}", piece.message)
                else:
                    yield (f"{name} {piece[0]}", *piece[1:])


def _notebook_text_pieces(text: str) -> Iterator:
    nb = json.loads(text)
    yield "metadata", json.dumps(nb.get("metadata", {}), ensure_ascii=False)
    for ci, cell in enumerate(nb.get("cells", []), 1):
        for loc, line in _lines(_text_of(cell.get("source", "")), f"cell {ci} source "):
            yield loc, line
        for name, data in (cell.get("attachments") or {}).items():  # Markdown cell attachments
            for mime, payload in (data or {}).items():
                yield from _image_pieces(mime, _text_of(payload), f"cell {ci} attachment {name}")
        yield f"cell {ci} metadata", json.dumps(cell.get("metadata", {}), ensure_ascii=False)
        for oi, out in enumerate(cell.get("outputs", []) or [], 1):
            where = f"cell {ci} output {oi}"
            if "text" in out:
                for loc, line in _lines(_text_of(out["text"]), f"{where} stream "):
                    yield loc, line
            if out.get("metadata"):
                yield f"{where} metadata", json.dumps(out["metadata"], ensure_ascii=False)
            for mime, data in (out.get("data") or {}).items():
                if not _TEXT_MIME.match(mime):
                    # raster images: their metadata; any other binary type cannot be read
                    yield from _image_pieces(mime, _text_of(data), f"{where} {mime}")
                    continue
                text = _text_of(data)
                if mime == "text/html":
                    images, text = _without_data_uris(text, f"{where} {mime} ")
                    yield from images
                    text = html.unescape(text)
                for loc, line in _lines(text, f"{where} {mime} "):
                    yield loc, line
            if out.get("output_type") == "error":
                err = " ".join([str(out.get("ename", "")), str(out.get("evalue", ""))]
                               + [str(t) for t in out.get("traceback", [])])
                yield f"{where} error", err


def _image_file_pieces(path: Path) -> Iterator:
    data = path.read_bytes()
    if path.suffix.lower() == ".png":
        yield from png_pieces(data)
    else:
        yield from jpeg_pieces(data)


# --- checks --------------------------------------------------------------------------


def _as_float(text: str) -> float | None:
    try:
        return float(text) if text.strip() != "" else None
    except ValueError:
        return None


#: The data contract's thresholds (CONTRACT.md §4.8): the audit never checks below them, except
#: as warnings when the params allow lower thresholds.
CONTRACT_MINIMUMS = {"min_count": stats.DEFAULT_MIN_COUNT,
                     "min_survey_responses": stats.DEFAULT_MIN_SURVEY_RESPONSES}


def _check_metrics_row(rec: dict[str, str], where: str, file: str, thresholds: dict[str, int],
                       registry, *, allow_lower: bool = False,
                       warnings: list[str] | None = None) -> list[Finding]:
    """§4.8 on one metrics.csv row: figures blank when suppressed; no small count when not.

    A count below ``thresholds`` is a finding; so is one below the contract's
    minimum (:data:`CONTRACT_MINIMUMS`) unless ``allow_lower``, when it is
    added to ``warnings`` instead, naming the params key that allowed it.
    """
    mid = rec.get("metric_id", "")
    label = f"{mid} {rec.get('trust_code', '')} {rec.get('period', '')} " \
            f"group={rec.get('group', '')}" + (f" {rec['breakdown']}" if rec.get("breakdown") else "")
    if rec.get("suppressed", "").strip().lower() in ("true", "1", "y", "yes"):
        shown = [c for c in stats.BLANKED if rec.get(c, "").strip() != ""]
        if shown:
            return [Finding(file, where, "suppressed figure",
                            f"{label}: row is suppressed but {', '.join(shown)} is not blank")]
        return []
    spec = registry.get(mid)
    counts = spec.counts if spec is not None else ("numerator", "denominator")
    rule = spec.count_rule if spec is not None else "min_count"
    threshold = thresholds[rule]
    floor = CONTRACT_MINIMUMS[rule]
    out = []
    for col in counts:
        v = _as_float(rec.get(col, ""))
        if v is None or v <= 0:
            continue
        unknown = "" if spec is not None else " (metric not in the registry: both columns checked)"
        if v < threshold:
            out.append(Finding(file, f"{where}, column {col}", "small count",
                               f"{label}: {col} {v:g} is below {rule} {threshold} and the row is not "
                               f"suppressed{unknown}"))
        elif v < floor:
            if allow_lower:
                if warnings is not None:
                    warnings.append(f"{file}:{where}, column {col}: {label}: {col} {v:g} is below "
                                    f"the data contract's {rule} {floor}; published because the "
                                    "params set allow_lower_thresholds: true")
            else:
                out.append(Finding(file, f"{where}, column {col}", "small count",
                                   f"{label}: {col} {v:g} is below the data contract's {rule} "
                                   f"{floor} and the row is not suppressed{unknown}"))
    return out


class LocalPaths:
    """Finds absolute local paths (the project folder, the home folder, the data folder) in text.

    A root counts only as a whole path: not preceded by a path character (so
    ``../home/x`` or ``square/root`` are not matches) and followed by a
    separator, a quote, a space or the end.
    """

    def __init__(self, roots: Iterable[tuple[str, Path | None]]):
        named: dict[str, str] = {}
        for label, root in roots:
            if root is None:
                continue
            text = str(Path(root).resolve())
            if len(Path(text).parts) < 2:  # "/" would match every path
                continue
            named.setdefault(text, label)
            named.setdefault(str(Path(root)), label)  # as given, if it differs (a symlink)
        self.labels = named
        alts = "|".join(re.escape(r) for r in sorted(named, key=len, reverse=True))
        self._rx = re.compile(rf"(?<![\w.\-/~])({alts})(?=$|[/\\\s\"'`<>)\],;:|&?#]|\.(?:\s|$))") if alts \
            else None

    def find(self, text: str) -> list[tuple[str, str]]:
        """(path found, what it is) for each occurrence in ``text``."""
        if self._rx is None or not text:
            return []
        return [(m.group(1), self.labels[m.group(1)]) for m in self._rx.finditer(text)]


class _Scanner:
    """One audit's checks, applied to each piece of text and each metrics row."""

    def __init__(self, report: AuditReport, matcher: IdentifierMatcher, paths: LocalPaths,
                 thresholds: dict[str, int], registry, allow_lower: bool):
        self.report, self.matcher, self.paths = report, matcher, paths
        self.thresholds, self.registry, self.allow_lower = thresholds, registry, allow_lower
        #: (file, line, record) of every metrics-table row read, for the linked-cell check
        self.published: list = []

    def text(self, file: str, loc: str, text: str, table: bool = False) -> None:
        for ident in self.matcher.find(text):
            self.report.findings.append(Finding(
                file, loc, "identifier", f"{ident!r} (an input identifier) "
                + ("in a published table" if table else "is published")))
        for found, label in self.paths.find(text):
            self.report.findings.append(Finding(
                file, loc, "local path", f"{found!r} ({label}) is published: an absolute local "
                "path names a person's folders and where the data live"))

    def row(self, rec: dict[str, str], where: str, file: str, line: int | None = None) -> None:
        if line is not None:
            self.published.append((file, line, rec))
        self.report.findings += _check_metrics_row(
            rec, where, file, self.thresholds, self.registry, allow_lower=self.allow_lower,
            warnings=self.report.warnings)


def _scan_csv(path: Path, file: str, scan: _Scanner) -> None:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        is_metrics = tuple(header) == METRICS_COLUMNS
        scan.report.metrics_tables += is_metrics
        for ci, name in enumerate(header):
            for ident in scan.matcher.find(name):
                scan.report.findings.append(Finding(file, f"row 1, column {ci + 1}", "identifier",
                                                    f"{ident!r} in the header"))
            for found, label in scan.paths.find(name):
                scan.report.findings.append(Finding(file, f"row 1, column {ci + 1}", "local path",
                                                    f"{found!r} ({label}) in the header"))
        for cells in reader:
            line = reader.line_num
            for ci, cell in enumerate(cells):
                col = header[ci] if ci < len(header) else str(ci + 1)
                scan.text(file, f"row {line}, column {col}", cell, table=True)
            if is_metrics:
                scan.row(dict(zip(header, cells)), f"row {line}", file, line)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _scan_parquet(path: Path, file: str, scan: _Scanner) -> None:
    """A Parquet file: its schema (names, metadata) and every value of every column; a file
    with the metrics.csv columns is also checked row by row like a metrics table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        names = list(schema.names)
        for key, value in (schema.metadata or {}).items():
            scan.text(file, "schema metadata", key.decode("utf-8", "replace") + " "
                      + value.decode("utf-8", "replace"))
        for name in names:
            scan.text(file, "schema", name, table=True)
        is_metrics = set(METRICS_COLUMNS) <= set(names)
        scan.report.metrics_tables += is_metrics
        offset = 0
        for batch in pf.iter_batches(batch_size=65536):
            cols = {}
            for name, col in zip(batch.schema.names, batch.columns):
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                cols[name] = col.to_pylist()
            for name, values in cols.items():
                for i, v in enumerate(values):
                    text = _cell_text(v)
                    if text:
                        scan.text(file, f"row {offset + i + 1}, column {name}", text, table=True)
            if is_metrics:
                for i in range(batch.num_rows):
                    rec = {c: _cell_text(cols[c][i]) for c in METRICS_COLUMNS}
                    if isinstance(cols["suppressed"][i], bool):
                        rec["suppressed"] = "true" if cols["suppressed"][i] else "false"
                    scan.row(rec, f"row {offset + i + 1}", file, offset + i + 1)
            offset += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"the Parquet file cannot be read: {exc}") from None


def _pieces(path: Path) -> Iterator:
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        return _html_pieces(path)
    if suffix == ".ipynb":
        return _notebook_pieces(path)
    if suffix == ".pdf":
        return pdf_pieces(path)
    if suffix == ".zip":
        return _zip_pieces(path)
    if suffix in (".png", ".jpg", ".jpeg"):
        return _image_file_pieces(path)
    return _lines(path.read_text(encoding="utf-8", errors="replace"))


def published_files(paths: Iterable[Path]) -> list[Path]:
    """Every file under ``paths`` (files or folders), sorted, each once (folders may nest)."""
    out: dict[Path, Path] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            found = [p]
        else:
            raise AuditError(f"{p}: no such file or folder")
        for f in found:
            out.setdefault(f.resolve(), f)
    return list(out.values())


def local_roots(data_dir: Path | None) -> list[tuple[str, Path | None]]:
    """The absolute local paths no published file may hold: the project folder, the home
    folder, the data folder."""
    from edi_analysis.folders import project_root

    home = os.environ.get("HOME")
    return [("the project folder", project_root()),
            ("the home folder", Path(home) if home else None),
            ("the data folder", Path(data_dir) if data_dir is not None else None)]


def audit(
    paths: Iterable[Path],
    data_dir: Path,
    min_count: int = stats.DEFAULT_MIN_COUNT,
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES,
    *,
    identifiers: Iterable[str] | None = None,
    allow_lower_thresholds: bool = False,
    mapping=None,
    settings=None,
    dataset=None,
) -> AuditReport:
    """Scan every published file under ``paths`` for input identifiers, absolute local paths
    and unsuppressed small counts; a file it cannot read is a finding.

    CONTRACT.md §2 (identifiers never appear in any output) and §4.8
    (suppression), including counts recoverable by subtraction across all
    the published metrics tables (the linked-cell check). Counts are checked
    against ``min_count`` / ``min_survey_responses`` and never below the
    contract's minimums (8, 11): below those is a finding, or, with
    ``allow_lower_thresholds`` (the params key of that name), a warning per
    count. ``identifiers`` overrides reading them from ``data_dir`` (for tests
    and callers that hold the dataset already); ``dataset`` is the validated
    data of ``data_dir`` (read through ``mapping``/``settings`` otherwise).
    Raises :class:`AuditError` when the paths or the inputs cannot be read.
    """
    from edi_analysis.metrics import REGISTRY

    if dataset is None and identifiers is None:
        dataset = load_dataset(Path(data_dir), mapping, settings)
    elif dataset is None and Path(data_dir).is_dir():
        try:  # identifiers given (tests): the linked check still counts on the data if it can
            dataset = load_dataset(Path(data_dir), mapping, settings)
        except AuditError:
            dataset = None  # _linked_check then warns that it did not run
    ids = set(identifiers) if identifiers is not None else load_identifiers(
        data_dir, dataset=dataset)
    matcher = IdentifierMatcher(ids)
    thresholds = {"min_count": int(min_count), "min_survey_responses": int(min_survey_responses)}
    report = AuditReport(identifiers=len(matcher.ids))
    if matcher.short:
        report.warnings.append(
            f"{len(matcher.short)} identifiers shorter than {MIN_IDENTIFIER_LENGTH} characters are "
            "not matched (too likely to occur by chance in text); use longer pseudonyms")
    scan = _Scanner(report, matcher, LocalPaths(local_roots(data_dir)), thresholds, REGISTRY,
                    bool(allow_lower_thresholds))
    files = published_files(paths)
    pdfs = read_pdfs([f for f in files if f.suffix.lower() == ".pdf"])
    for path in files:
        suffix = path.suffix.lower()
        file = str(path)
        if suffix not in SCANNED_SUFFIXES:
            # Not a type the audit reads: it cannot be shown to be safe, so it is a finding.
            report.files_skipped += 1
            report.findings.append(Finding(
                file, "1", "unreadable", f"a {suffix or 'suffix-less'} file cannot be read by "
                "the audit, so it cannot be shown to be safe; remove it from what is published"))
            continue
        report.files_scanned += 1
        try:
            if suffix == ".csv":
                _scan_csv(path, file, scan)
                continue
            if suffix == ".parquet":
                _scan_parquet(path, file, scan)
                continue
            if suffix == ".pdf":
                pieces, error = pdfs[path]
                if error is not None:
                    raise ValueError(error)
            else:
                pieces = _pieces(path)
            for piece in pieces:
                if isinstance(piece, Unreadable):
                    report.findings.append(Finding(
                        file, piece.location, "unreadable",
                        f"{piece.message}; not safe to publish unchecked"))
                    continue
                scan.text(file, *piece)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            # A file the audit cannot read cannot be shown to be safe.
            report.findings.append(Finding(file, "1", "unreadable",
                                           f"could not be scanned ({exc}); not safe to publish unchecked"))
    _linked_check(report, scan.published, dataset, thresholds)
    return report


def _linked_check(report: AuditReport, published: list, dataset, thresholds: dict[str, int]) -> None:
    """Every metrics table read, together: what subtraction across them reveals (docs/audit.md)."""
    from edi_analysis.disclosure import linked_audit

    if not published:
        return
    if dataset is None:
        report.warnings.append("linked-cell check NOT run: no data folder to count the published "
                               "cells on")
        return
    result = linked_audit.check(linked_audit.collect(published), dataset.tables,
                                thresholds["min_count"], thresholds["min_survey_responses"])
    report.linked_cells = result.cells
    report.findings += [Finding(f.file, f.location, f.what, f.message) for f in result.findings]


def print_report(report: AuditReport, stream) -> None:
    """Each finding as ``file:location: what: message``, then warnings and the summary."""
    for f in report.findings:
        print(f.format(), file=stream)
    for w in report.warnings:
        print(f"warning: {w}", file=stream)
    print(report.summary(), file=stream)
