"""Pre-publication disclosure audit: no input identifier and no unsuppressed small count in what is published.

CONTRACT.md §2 says identifiers (``staff_id``, ``application_id``,
``case_id``, ``respondent_id``, ``member_id``) "never appear in any output";
§4.8 says published outputs (site, PDFs, ``metrics.csv``, executed
notebooks) carry no count of 1 to ``min_count − 1``. This module checks both
on the files themselves, after they are written, as the last gate before a
release (``edi-analysis audit``; ``build`` runs it before reporting success).

Two checks (scope and limits in docs/audit.md):

- **Identifiers, everywhere.** Every identifier value in the validated
  inputs is put in a set; each published file's text is cut into tokens
  (maximal runs of the characters identifiers are made of) and each token is
  looked up in the set — one pass per file, never identifiers × files. Text
  of HTML (markup, attributes and scripts; inline base64 data excluded),
  notebooks (sources, outputs of every text and JSON type, metadata; base64
  images excluded), PDFs (``pdftotext``, from poppler-utils), CSV, Markdown,
  text, JSON, YAML, Quarto and Typst sources, SVG.
- **Small counts in metrics tables.** A CSV whose header is the metrics.csv
  columns (CONTRACT.md §5) is read row by row: an unsuppressed row may not
  hold a count below its threshold in the columns its metric declares as
  counts (``MetricSpec.counts`` and ``count_rule``), and a suppressed row
  must be blank in every figure column.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis import stats

#: Identifier columns of the input tables (CONTRACT.md §2).
IDENTIFIER_COLUMNS = ("staff_id", "application_id", "case_id", "respondent_id", "member_id")
#: Identifiers shorter than this are too likely to occur by chance in text (a year, a
#: code, a number) to be matched; they are counted and reported as a warning.
MIN_IDENTIFIER_LENGTH = 5
#: Files read as plain text, line by line.
TEXT_SUFFIXES = (".md", ".txt", ".json", ".yaml", ".yml", ".qmd", ".typ", ".svg", ".xml", ".tex")
HTML_SUFFIXES = (".html", ".htm")
SCANNED_SUFFIXES = HTML_SUFFIXES + TEXT_SUFFIXES + (".ipynb", ".pdf", ".csv")
#: metrics.csv columns in order (CONTRACT.md §5); a CSV with this header is a metrics table.
METRICS_COLUMNS = (
    "trust_code", "period", "area", "metric_id", "breakdown", "group", "reference_group",
    "numerator", "denominator", "value", "ci_lower", "ci_upper", "unit", "suppressed", "note",
)
_DATA_URI = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+", re.IGNORECASE)


class AuditError(Exception):
    """The audit cannot run (unreadable inputs, no such path): a usage error, not a finding."""


@dataclass(frozen=True)
class Finding:
    """One disclosure problem: which file, where in it, what kind, and what was found."""

    file: str
    location: str
    what: str  # "identifier", "small count" or "suppressed figure"
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


def load_dataset(data_dir: Path):
    """The validated dataset of ``data_dir``.

    Raises :class:`AuditError` when the inputs do not validate: identifiers
    read from a table that cannot be trusted could miss some.
    """
    from edi_analysis.contract import validate_dataset

    if not Path(data_dir).is_dir():
        raise AuditError(f"{data_dir}: no such data folder")
    report = validate_dataset(Path(data_dir))
    if not report.ok or report.dataset is None:
        first = "; ".join(issue.format() for issue in report.errors[:3])
        raise AuditError(f"{data_dir}: the inputs do not validate ({len(report.errors)} errors: {first})")
    return report.dataset


def load_identifiers(data_dir: Path, dataset=None) -> set[str]:
    """Every identifier value in the validated input tables of ``data_dir`` (or of ``dataset``)."""
    if dataset is None:
        dataset = load_dataset(Path(data_dir))
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


def _html_pieces(path: Path) -> Iterator[tuple[str, str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    for loc, line in _lines(text):
        # Entities are decoded so "&#69;1234…" is seen as the reader's browser shows it;
        # inline base64 payloads (images, fonts) are not text anyone reads.
        yield loc, html.unescape(_DATA_URI.sub(" ", line))


def _text_of(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _notebook_pieces(path: Path) -> Iterator[tuple[str, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    yield "metadata", json.dumps(nb.get("metadata", {}), ensure_ascii=False)
    for ci, cell in enumerate(nb.get("cells", []), 1):
        for loc, line in _lines(_text_of(cell.get("source", "")), f"cell {ci} source "):
            yield loc, line
        for oi, out in enumerate(cell.get("outputs", []) or [], 1):
            where = f"cell {ci} output {oi}"
            if "text" in out:
                for loc, line in _lines(_text_of(out["text"]), f"{where} stream "):
                    yield loc, line
            for mime, data in (out.get("data") or {}).items():
                # Raster images are base64 pixels; SVG is text and is read.
                if mime.startswith("image/") and not mime.startswith("image/svg"):
                    continue
                text = _text_of(data)
                if mime == "text/html":
                    text = html.unescape(_DATA_URI.sub(" ", text))
                for loc, line in _lines(text, f"{where} {mime} "):
                    yield loc, line
            if out.get("output_type") == "error":
                err = " ".join([str(out.get("ename", "")), str(out.get("evalue", ""))]
                               + [str(t) for t in out.get("traceback", [])])
                yield f"{where} error", err


def _pdf_pieces(path: Path) -> Iterator[tuple[str, str]]:
    res = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=False, timeout=300)
    if res.returncode != 0:
        raise ValueError(f"pdftotext failed: {res.stderr.decode(errors='replace').strip()}")
    pages = res.stdout.decode("utf-8", errors="replace").split("\f")
    for pi, page in enumerate(pages, 1):
        for loc, line in _lines(page, f"page {pi} "):
            yield loc, line


# --- checks --------------------------------------------------------------------------


def _as_float(text: str) -> float | None:
    try:
        return float(text) if text.strip() != "" else None
    except ValueError:
        return None


def _check_metrics_row(rec: dict[str, str], where: str, file: str, thresholds: dict[str, int],
                       registry) -> list[Finding]:
    """§4.8 on one metrics.csv row: figures blank when suppressed; no small count when not."""
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
    out = []
    for col in counts:
        v = _as_float(rec.get(col, ""))
        if v is not None and 0 < v < threshold:
            unknown = "" if spec is not None else " (metric not in the registry: both columns checked)"
            out.append(Finding(file, f"{where}, column {col}", "small count",
                               f"{label}: {col} {v:g} is below {rule} {threshold} and the row is not "
                               f"suppressed{unknown}"))
    return out


def _scan_csv(path: Path, file: str, matcher: IdentifierMatcher, report: AuditReport,
              thresholds: dict[str, int], registry, published: list | None = None) -> None:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        is_metrics = tuple(header) == METRICS_COLUMNS
        report.metrics_tables += is_metrics
        for ci, name in enumerate(header):
            for ident in matcher.find(name):
                report.findings.append(Finding(file, f"row 1, column {ci + 1}", "identifier",
                                               f"{ident!r} in the header"))
        for cells in reader:
            line = reader.line_num
            for ci, cell in enumerate(cells):
                col = header[ci] if ci < len(header) else str(ci + 1)
                for ident in matcher.find(cell):
                    report.findings.append(Finding(
                        file, f"row {line}, column {col}", "identifier",
                        f"{ident!r} (an input identifier) in a published table"))
            if is_metrics:
                rec = dict(zip(header, cells))
                report.findings += _check_metrics_row(rec, f"row {line}", file, thresholds, registry)
                if published is not None:
                    published.append((file, line, rec))


def _pieces(path: Path) -> Iterator[tuple[str, str]]:
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        return _html_pieces(path)
    if suffix == ".ipynb":
        return _notebook_pieces(path)
    if suffix == ".pdf":
        return _pdf_pieces(path)
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


def audit(
    paths: Iterable[Path],
    data_dir: Path,
    min_count: int = stats.DEFAULT_MIN_COUNT,
    min_survey_responses: int = stats.DEFAULT_MIN_SURVEY_RESPONSES,
    *,
    identifiers: Iterable[str] | None = None,
    dataset=None,
) -> AuditReport:
    """Scan every published file under ``paths`` for input identifiers and unsuppressed small counts.

    CONTRACT.md §2 (identifiers never appear in any output) and §4.8
    (suppression), including counts recoverable by subtraction across all
    the published metrics tables (the linked-cell check). ``identifiers``
    overrides reading them from ``data_dir`` (for tests and callers that hold
    the dataset already); ``dataset`` is the validated data of ``data_dir``.
    Raises :class:`AuditError` when the paths or the inputs cannot be read.
    """
    from edi_analysis.metrics import REGISTRY

    if dataset is None and (identifiers is None or Path(data_dir).is_dir()):
        dataset = load_dataset(Path(data_dir))
    ids = set(identifiers) if identifiers is not None else load_identifiers(data_dir, dataset)
    matcher = IdentifierMatcher(ids)
    thresholds = {"min_count": int(min_count), "min_survey_responses": int(min_survey_responses)}
    report = AuditReport(identifiers=len(matcher.ids))
    if matcher.short:
        report.warnings.append(
            f"{len(matcher.short)} identifiers shorter than {MIN_IDENTIFIER_LENGTH} characters are "
            "not matched (too likely to occur by chance in text); use longer pseudonyms")
    files = published_files(paths)
    has_pdftotext = shutil.which("pdftotext") is not None
    skipped_pdfs = 0
    published: list = []
    for path in files:
        suffix = path.suffix.lower()
        file = str(path)
        if suffix not in SCANNED_SUFFIXES:
            report.files_skipped += 1
            continue
        if suffix == ".pdf" and not has_pdftotext:
            skipped_pdfs += 1
            report.files_skipped += 1
            continue
        report.files_scanned += 1
        try:
            if suffix == ".csv":
                _scan_csv(path, file, matcher, report, thresholds, REGISTRY, published)
                continue
            for loc, text in _pieces(path):
                for ident in matcher.find(text):
                    report.findings.append(Finding(file, loc, "identifier",
                                                   f"{ident!r} (an input identifier) is published"))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            # A file the audit cannot read cannot be shown to be safe.
            report.findings.append(Finding(file, "1", "unreadable",
                                           f"could not be scanned ({exc}); not safe to publish unchecked"))
    _linked_check(report, published, dataset, thresholds)
    if skipped_pdfs:
        report.warnings.append(
            f"{skipped_pdfs} PDF file(s) NOT scanned: pdftotext (poppler-utils) is not on PATH; "
            "install it (Debian: apt-get install poppler-utils) to audit PDFs")
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
