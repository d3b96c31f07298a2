"""Validating a dataset folder against the data contract (CONTRACT.md §2, §6).

For every table: find the file, read it as written (:mod:`.reading`), parse
each column into its type (:mod:`.parsing`), run the table's pandera schema
lazily so that every failing cell is collected, then the table's multi-cell
rules (:mod:`.rules`). Then the checks across tables and the requested
periods. Every problem is reported, in file and line order; nothing raises
for bad data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from edi_analysis.contract import actions, board, employee_relations, external_indicators
from edi_analysis.contract import recruitment, staff_survey, staff_survey_results, workforce
from edi_analysis.contract import mapping as _mapping
from edi_analysis.contract.columns import BLANK_ERROR, PARSE_ERRORS, DATE, INTEGER, kind
from edi_analysis.contract.mapping import Profile
from edi_analysis.contract.parsing import TableData, parse_table
from edi_analysis.contract.reading import UnreadableTable, read_table
from edi_analysis.contract.rules import normalised_ids
from edi_analysis.contract.report import (
    WARNING, WHOLE_TABLE, DataValidationError, Issue, ValidationReport,
)
from edi_analysis.contract.table import TableContract
from edi_analysis.io import TABLE_SUFFIXES, AmbiguousTableError, Dataset, find_table_file

#: The input tables in contract order: required first, then optional.
TABLES: tuple[TableContract, ...] = (
    workforce.TABLE, recruitment.TABLE, employee_relations.TABLE, staff_survey.TABLE,
    board.TABLE, actions.TABLE, external_indicators.TABLE, staff_survey_results.TABLE,
)
REQUIRED_TABLES = tuple(t.name for t in TABLES if t.required)
OPTIONAL_TABLES = tuple(t.name for t in TABLES if not t.required)


@dataclass
class _Checked:
    """What checking one table produced."""

    spec: TableContract
    file: str
    path: Path | None = None
    sha256: str | None = None
    data: TableData | None = None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: through a mapping profile: every source file read (path, sha256), the files as
    #: shown in messages, and contract column -> source header
    sources: list[tuple[Path, str]] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    shown: dict[str, str] = field(default_factory=dict)


def validate_dataset(data_dir: str | os.PathLike, periods: Iterable | None = None,
                     params_file: str | os.PathLike | None = None,
                     trusts: Iterable[str] | None = None,
                     mapping: Profile | str | os.PathLike | None = None,
                     settings: dict[str, str] | None = None) -> ValidationReport:
    """Check every table in ``data_dir`` and return all problems found; never raises for bad data.

    ``periods`` (ISO dates, e.g. from the params) must each have a workforce
    snapshot for every trust reported: the ``trusts`` given (those of them in
    the workforce table; default every trust in it). A missing one is reported
    against ``params_file`` when given, else against the workforce file.
    ``report.dataset`` holds the typed tables when there are no errors.

    ``mapping`` is a :class:`~edi_analysis.contract.mapping.Profile` (or a profile
    file or shipped profile name, e.g. ``"esr"``) that reads tables from a trust's
    own exports; by default ``DATA_DIR/mapping.yaml`` is used when present. A
    profile that cannot be used raises :class:`~edi_analysis.contract.mapping.MappingError`.
    """
    folder = Path(data_dir)
    report = ValidationReport()
    if not folder.is_dir():
        report.errors.append(Issue(str(data_dir), 1, WHOLE_TABLE,
                                   "no such folder (expected a folder of table files)"))
        return report
    profile = mapping if isinstance(mapping, Profile) else _mapping.resolve(mapping, folder)
    if profile is not None and (settings or profile.asks):
        profile = profile.with_settings(settings)
    if profile is not None:
        report.notes.append(f"mapping profile {profile.name} ({profile.path}) reads "
                            f"{', '.join(profile.tables)}")

    checked = [_check_table(spec, folder, str(data_dir), profile) for spec in TABLES]
    by_name = {c.spec.name: c for c in checked}
    _survey_in_either_form(by_name["staff_survey"], by_name["staff_survey_results"])
    for c in checked:
        report.errors += c.errors
        report.warnings += c.warnings
        report.notes += c.notes
    for issue in _case_staff_known(by_name["employee_relations"], by_name["workforce"]):
        (report.warnings if issue.level == WARNING else report.errors).append(issue)
    report.warnings += _survey_years_match_snapshots(by_name["staff_survey"],
                                                     by_name["workforce"])
    if periods:
        report.errors += _periods_have_snapshots(list(periods), by_name["workforce"], params_file,
                                                 None if trusts is None else list(trusts))

    order = {c.file: i for i, c in enumerate(checked)}
    col_order = {c.file: {name: j for j, name in enumerate(c.spec.column_names, 1)}
                 for c in checked}

    def key(issue: Issue):
        return (order.get(issue.file, len(order)), issue.line,
                col_order.get(issue.file, {}).get(issue.column, 0))

    report.errors.sort(key=key)
    report.warnings.sort(key=key)
    if report.ok:
        report.dataset = _dataset(folder, checked)
    return report


def load_valid_dataset(data_dir: str | os.PathLike, periods: Iterable | None = None,
                       params_file: str | os.PathLike | None = None,
                       mapping: Profile | str | os.PathLike | None = None,
                       settings: dict[str, str] | None = None) -> Dataset:
    """The validated :class:`~edi_analysis.io.Dataset`; raises :class:`DataValidationError`."""
    report = validate_dataset(data_dir, periods=periods, params_file=params_file,
                              mapping=mapping, settings=settings)
    if not report.ok:
        raise DataValidationError(report)
    return report.dataset


# ------------------------------------------------------------------ one table

def _check_table(spec: TableContract, folder: Path, shown_dir: str,
                 profile: Profile | None = None) -> _Checked:
    name = spec.name
    tm = profile.tables.get(name) if profile is not None else None
    if tm is not None:
        return _check_mapped_table(spec, folder, shown_dir, profile, tm)
    out = _Checked(spec, os.path.join(shown_dir, f"{name}.csv"))
    try:
        path = find_table_file(folder, name)
    except AmbiguousTableError as exc:
        out.errors.append(Issue(out.file, 1, WHOLE_TABLE, str(exc)))
        return out
    alternatives = ", ".join(f"{name}{s}" for s in TABLE_SUFFIXES[:-1])
    alternatives += f" or {name}{TABLE_SUFFIXES[-1]}"
    if path is None:
        near = near_miss_files(folder, name)
        if near:
            found, advice = near
            out.file = os.path.join(shown_dir, found)
            problem = (f"table {name} is missing: found {found} but {advice}" if spec.required
                       else f"found {found} but {advice}")
            out.errors.append(Issue(out.file, 1, WHOLE_TABLE, problem))
        elif spec.required:
            out.errors.append(Issue(out.file, 1, WHOLE_TABLE,
                                    f"required table {name} is missing (expected {alternatives})"))
        else:
            out.notes.append(f"{name}: optional table not supplied (no {alternatives})")
        return out
    out.path, out.file = path, os.path.join(shown_dir, path.name)
    kinds = {c: kind(col) for c, col in spec.schema.columns.items()}
    try:
        raw = read_table(path, out.file, kinds)
    except UnreadableTable as exc:
        out.errors += exc.issues
        out.sha256 = exc.sha256
        return out
    out.sha256 = raw.sha256
    return _check_rows(out, raw)


def _check_mapped_table(spec: TableContract, folder: Path, shown_dir: str, profile: Profile,
                        tm) -> _Checked:
    """A table read from the trust's own export(s) through a mapping profile."""
    name = spec.name
    paths = profile.find_sources(folder, name)
    wanted = " or ".join(f"{f}.csv/.xlsx/.parquet" for f in tm.file)
    out = _Checked(spec, os.path.join(shown_dir, paths[0].name if paths else f"{tm.file[0]}.csv"))
    if not paths:
        if spec.required:
            out.errors.append(Issue(out.file, 1, WHOLE_TABLE, (
                f"required table {name} is missing: profile {profile.name} reads it from "
                f"{wanted} in {shown_dir}, and there is none")))
        else:
            out.notes.append(f"{name}: optional table not supplied (profile {profile.name} "
                             f"looks for {wanted})")
        return out
    kinds = {c: kind(col) for c, col in spec.schema.columns.items()}
    parts, shown = [], {}
    for path in paths:
        display = os.path.join(shown_dir, path.name)
        try:
            raw = read_table(path, display, _mapping.source_kinds(tm, kinds), sheet=tm.sheet,
                             header_row=tm.header_row)
        except UnreadableTable as exc:
            out.errors += exc.issues
            continue
        out.sources.append((path, raw.sha256))
        mapped, issues, shown = _mapping.apply(profile, tm, raw, display, kinds)
        out.errors += issues
        if mapped.columns:
            parts.append((display, mapped))
    out.path, out.sha256 = (out.sources[0] if out.sources else (None, None))
    if not parts:
        return out
    out.shown = shown
    out.files = {d for d, _ in parts}
    return _check_rows(out, _mapping.stack(parts))


def _check_rows(out: _Checked, raw) -> _Checked:
    spec, name = out.spec, out.spec.name
    out.errors += raw.issues
    out.notes += raw.notes

    extras = [c for c in raw.header if c not in spec.schema.columns]
    if extras:
        out.notes.append(f"{out.file}: extra column{'s' * (len(extras) > 1)} ignored: "
                         f"{', '.join(extras)}")
    if raw.n_rows == 0:
        if spec.required:
            out.errors.append(Issue(out.file, 1, WHOLE_TABLE,
                                    f"the table has no data rows ({name} is required and "
                                    "must not be empty)"))
        else:
            out.notes.append(f"{out.file}: no rows (an optional table may be empty)")

    data, parse_issues = parse_table(name, out.file, raw, spec.schema)
    out.errors += parse_issues
    out.errors += _schema_issues(spec.schema, data, extras)
    for rule in spec.rules:
        if data.has(*rule.columns):
            out.errors += rule.check(data)
    if out.shown:  # messages name the column as it is headed in the analyst's own file
        files = out.files or {out.file}
        out.errors = [dataclasses.replace(i, column=out.shown[i.column])
                      if i.column in out.shown and i.file in files else i for i in out.errors]
    out.data = data
    return out


#: Other spellings of a table file, and what to do about each.
_OTHER_FORMATS = {
    ".xls": "the old Excel format (.xls) is not read: save it from Excel as "
            "'Excel Workbook (.xlsx)' or as 'CSV UTF-8 (Comma delimited)'",
    ".xlsm": "macro-enabled workbooks are not read: save it as 'Excel Workbook (.xlsx)'",
    ".xlsb": "binary workbooks are not read: save it as 'Excel Workbook (.xlsx)'",
    ".ods": "OpenDocument spreadsheets are not read: save it as .xlsx or CSV",
    ".tsv": "tab-separated files are not read: save it as comma-separated values (.csv)",
    ".txt": "a .txt file is not read: if it is comma-separated, rename it to .csv",
}


def near_miss_files(folder: Path, name: str) -> tuple[str, str] | None:
    """A file in ``folder`` that looks meant for table ``name`` but will not be read:
    another capitalisation (``Workforce.CSV``) or another format (``workforce.xls``).
    Returns (file name, what to do), or None."""
    try:
        entries = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:
        return None
    for entry in entries:
        stem, dot, suffix = entry.rpartition(".")
        if not dot or stem.lower() != name:
            continue
        suffix = "." + suffix.lower()
        if suffix in TABLE_SUFFIXES:
            return entry, (f"file names are exact and lower case: rename it "
                           f"{name}{suffix}")
        if suffix in _OTHER_FORMATS:
            return entry, _OTHER_FORMATS[suffix]
    return None


def _schema_issues(schema: pandera.DataFrameSchema, t: TableData,
                   extras: list[str]) -> list[Issue]:
    """Run the pandera schema lazily and turn every failure case into an issue with its line."""
    try:
        # inplace: the frame was built for validation, so pandera need not copy it.
        schema.validate(t.frame, lazy=True, inplace=True)
        return []
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    out: list[Issue] = []
    cases = cases.assign(check_number=cases["check_number"].astype("object"))
    for (column, check, number), group in cases.groupby(
            ["column", "check", "check_number"], dropna=False, sort=False):
        if check == "column_in_dataframe":
            for missing in group["failure_case"]:
                out.append(Issue(t.file, 1, str(missing),
                                 "required column is missing" + _near_miss(str(missing), extras)))
            continue
        index = pd.to_numeric(group["index"], errors="coerce")
        if index.isna().all():
            # A whole-column failure (e.g. a dtype): cannot happen after parsing, kept honest.
            out.append(Issue(t.file, 1, str(column),
                             f"failed the check {check}: {group['failure_case'].iloc[0]}"))
            continue
        pos = np.sort(index.dropna().to_numpy(dtype=np.int64))
        if len(pos) > 1 and not (np.diff(pos) > 0).all():  # a row fails a check once; be sure
            pos = np.unique(pos)
        skip = t.unparsed_mask(column)
        if skip is not None:
            pos = pos[~skip[pos]]  # already reported as unparsable
        if not len(pos):
            continue
        if check == "not_nullable":
            out += t.issues(column, pos, BLANK_ERROR)
            continue
        error = schema.columns[column].checks[int(number)].error
        out += t.issues(column, pos, [f"{v} {error}" for v in t.shown(column, pos)])
    return out


def _near_miss(missing: str, extras: list[str]) -> str:
    """A hint when an extra column is the missing one spelt differently (case, spaces)."""
    def norm(s: str) -> str:
        return "".join(s.lower().split()).replace("-", "_")

    close = [e for e in extras if norm(e) == norm(missing)]
    return f" (found {close[0]!r}: column names are exact and lower case)" if close else ""


# ------------------------------------------------------------ across tables

def _case_staff_known(er: _Checked, wf: _Checked) -> list[Issue]:
    """Warn for each case whose staff_id is in no workforce snapshot of its trust (CONTRACT §6)."""
    keys = ["trust_code", "staff_id"]
    if er.data is None or wf.data is None or not (er.data.has(*keys) and wf.data.has(*keys)):
        return []
    cases = er.data.frame[keys]
    complete = cases.notna().all(axis=1)
    staff = wf.data.frame[keys]
    # Only workforce rows whose id appears in a case matter: shrink before de-duplicating.
    wanted = pc.is_in(pa.array(staff["staff_id"].array),
                      value_set=pa.array(cases["staff_id"].dropna().unique()))
    staff = staff[pc.fill_null(wanted, False).to_numpy(zero_copy_only=False)].drop_duplicates()
    found = cases.merge(staff.assign(_found=True), on=keys, how="left")["_found"]
    unknown = complete.to_numpy() & found.isna().to_numpy()
    pos = np.flatnonzero(unknown)
    if not len(pos):
        return []
    trusts = cases["trust_code"].to_numpy()[pos]
    # An id found once case and surrounding spaces are ignored is a spelling slip, not a
    # leaver: an error naming the workforce spelling (one identifier, one spelling).
    norm_case = normalised_ids(cases["staff_id"].iloc[pos]).to_pylist()
    wanted_norm = set(norm_case)
    all_staff = wf.data.frame[keys]
    staff_norm = normalised_ids(all_staff["staff_id"])
    hit = pc.fill_null(pc.is_in(staff_norm, value_set=pa.array(sorted(wanted_norm),
                                                                pa.large_string())), False)
    hit_pos = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
    spelt: dict[tuple[str, str], tuple[str, int]] = {}
    staff_norm_hit = staff_norm.take(pa.array(hit_pos)).to_pylist()
    for i, n in zip(hit_pos, staff_norm_hit):
        spelt.setdefault((all_staff["trust_code"].iat[i], n), (all_staff["staff_id"].iat[i],
                                                                 int(wf.data.lines[i])))
    warn_pos, warn_msg, err_pos, err_msg = [], [], [], []
    for p, v, trust, n in zip(pos, er.data.shown("staff_id", pos), trusts, norm_case):
        if (trust, n) in spelt:
            other, line = spelt[(trust, n)]
            err_pos.append(p)
            err_msg.append(f"{v} is not in the workforce of trust {trust}, but {other!r} is "
                           f"({wf.file} line {line}): they differ only by letter case or "
                           "surrounding spaces; spell the identifier one way")
        else:
            warn_pos.append(p)
            warn_msg.append(f"{v} is not in any workforce snapshot of trust {trust} "
                            "(joined and left between snapshots? the case counts in outcomes, "
                            "not in WRES 3 / WDES 3, which count in-scope staff in a snapshot)")
    return (er.data.issues("staff_id", np.asarray(warn_pos, dtype=np.int64), warn_msg,
                           level=WARNING)
            + er.data.issues("staff_id", np.asarray(err_pos, dtype=np.int64), err_msg))


def _survey_in_either_form(sv: _Checked, results: _Checked) -> None:
    """``staff_survey`` is required unless aggregated ``staff_survey_results`` are given
    (a trust receives its survey by group, not by respondent: issue 15)."""
    if sv.path is None and results.path is not None:
        sv.errors = [i for i in sv.errors if "required table staff_survey is missing"
                     not in i.message]
        sv.notes.append("staff_survey: not supplied; the survey metrics use the aggregated "
                        f"results in {results.file}")
    elif sv.path is not None and results.path is not None:
        results.notes.append(f"{results.file}: used only for trusts with no rows in "
                             f"{sv.file} (respondent-level answers come first)")


def _survey_years_match_snapshots(sv: _Checked, wf: _Checked) -> list[Issue]:
    """Warn where a trust's survey years and snapshots do not line up (CONTRACT.md §1: the
    snapshot of 31 March Y uses the survey of year Y - 1). A snapshot without its survey
    gets no survey figures; a survey year no snapshot uses is never reported. Either is
    usually a survey labelled by its publication or snapshot year."""
    if (sv.data is None or wf.data is None or not sv.data.has("trust_code", "survey_year")
            or not wf.data.has("trust_code", "snapshot_date")):
        return []
    years = sv.data.frame[["trust_code", "survey_year"]].copy()
    years["_line"] = sv.data.lines
    years = years.dropna().groupby(["trust_code", "survey_year"], sort=True)["_line"].min()
    snaps = wf.data.frame[["trust_code", "snapshot_date"]].dropna().drop_duplicates()
    out = []
    for trust, group in snaps.groupby("trust_code", sort=True):
        if trust not in years.index.get_level_values(0):
            continue
        have = years.loc[trust]
        dates = sorted(d.date() for d in group["snapshot_date"])
        shown = ", ".join(d.isoformat() for d in dates)
        served = {d.year - 1 for d in dates}
        for year, line in have.items():
            if int(year) not in served:
                out.append(Issue(sv.file, int(line), "survey_year", (
                    f"survey year {int(year)} of trust {trust} matches no workforce snapshot "
                    f"(snapshots: {shown}; a snapshot of 31 March Y uses the survey of year "
                    f"Y - 1, so {int(year)} serves {int(year) + 1}-03-31): its answers are not "
                    "reported; was it labelled by the snapshot year?"), WARNING))
        for d in dates:
            if d.year - 1 not in have.index:
                first = int(have.iloc[0])
                out.append(Issue(sv.file, first, "survey_year", (
                    f"snapshot {d.isoformat()} of trust {trust} has no survey {d.year - 1} "
                    f"(survey years present: {', '.join(str(int(y)) for y in have.index)}): "
                    "that period gets no survey figures"), WARNING))
    return out


def _periods_have_snapshots(periods: list, wf: _Checked, params_file,
                            trusts: list[str] | None = None) -> list[Issue]:
    """Each requested period must be a date with a workforce snapshot of every trust (CONTRACT §6).

    A period with no snapshot at all is one error; otherwise each trust (of
    ``trusts``, default all in the table) without a snapshot at that date is one:
    its report would be empty.
    """
    params_text = None
    if params_file is not None:
        try:
            params_text = Path(params_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            params_text = []

    def where(period: str) -> tuple[str, int, str]:
        if params_file is None:
            return wf.file, 1, "snapshot_date"
        line = next((i for i, text in enumerate(params_text, 1) if period in text), 1)
        return str(params_file), line, "periods"

    snapshots = None
    by_trust: dict[str, set] = {}
    if wf.data is not None and wf.data.has("snapshot_date"):
        snapshots = set(wf.data.frame["snapshot_date"].dropna().unique())
        if wf.data.has("trust_code"):
            pairs = wf.data.frame[["trust_code", "snapshot_date"]].dropna().drop_duplicates()
            for trust, date in pairs.itertuples(index=False):
                by_trust.setdefault(trust, set()).add(date)
    if trusts is not None:
        by_trust = {t: by_trust[t] for t in trusts if t in by_trust}
    out = []
    for p in periods:
        text = p.isoformat()[:10] if hasattr(p, "isoformat") else str(p)
        file, line, column = where(text)
        stamp = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        if pd.isna(stamp) or len(text) != 10:
            out.append(Issue(file, line, column, f"{text!r} {PARSE_ERRORS[DATE]}"))
            continue
        if snapshots is None:
            continue  # no usable workforce table: that is already an error
        if stamp not in snapshots:
            present = ", ".join(sorted(s.date().isoformat() for s in snapshots)) or "none"
            out.append(Issue(file, line, column,
                             f"period {text} has no workforce snapshot "
                             f"(snapshot dates in {wf.file}: {present})"))
            continue
        for trust in sorted(by_trust):
            if stamp in by_trust[trust]:
                continue
            own = ", ".join(sorted(s.date().isoformat() for s in by_trust[trust]))
            out.append(Issue(file, line, column if params_file is not None else "trust_code",
                             f"trust {trust} has no workforce snapshot for period {text}, so "
                             f"its report would be empty (its snapshot dates in {wf.file}: "
                             f"{own}); supply the snapshot or leave the trust out"))
    return out


# ------------------------------------------------------------------ result

def _dataset(folder: Path, checked: list[_Checked]) -> Dataset:
    tables, files, sha = {}, {}, {}
    for c in checked:
        if c.data is None:
            tables[c.spec.name] = c.spec.empty_frame()
            continue
        frame = c.data.frame
        for col, spec in c.spec.schema.columns.items():
            if col in frame and kind(spec) == INTEGER:
                frame[col] = frame[col].astype("int64")  # no blanks left: the convention's int64
        tables[c.spec.name] = frame
        files[c.spec.name] = c.path
        for path, digest in c.sources or [(c.path, c.sha256)]:
            sha[path.name] = digest
    return Dataset(path=folder, tables=tables, files=files, sha256=sha)
