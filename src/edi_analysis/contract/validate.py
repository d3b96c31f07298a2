"""Validating a dataset folder against the data contract (CONTRACT.md §2, §6).

For every table: find the file, read it as written (:mod:`.reading`), parse
each column into its type (:mod:`.parsing`), run the table's pandera schema
lazily so that every failing cell is collected, then the table's multi-cell
rules (:mod:`.rules`). Then the checks across tables and the requested
periods. Every problem is reported, in file and line order; nothing raises
for bad data.
"""

from __future__ import annotations

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
from edi_analysis.contract import recruitment, staff_survey, workforce
from edi_analysis.contract.columns import BLANK_ERROR, PARSE_ERRORS, DATE, INTEGER, kind
from edi_analysis.contract.parsing import TableData, parse_table
from edi_analysis.contract.reading import UnreadableTable, read_table
from edi_analysis.contract.report import (
    WARNING, WHOLE_TABLE, DataValidationError, Issue, ValidationReport,
)
from edi_analysis.contract.table import TableContract
from edi_analysis.io import TABLE_SUFFIXES, AmbiguousTableError, Dataset, find_table_file

#: The input tables in contract order: required first, then optional.
TABLES: tuple[TableContract, ...] = (
    workforce.TABLE, recruitment.TABLE, employee_relations.TABLE, staff_survey.TABLE,
    board.TABLE, actions.TABLE, external_indicators.TABLE,
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


def validate_dataset(data_dir: str | os.PathLike, periods: Iterable | None = None,
                     params_file: str | os.PathLike | None = None) -> ValidationReport:
    """Check every table in ``data_dir`` and return all problems found; never raises for bad data.

    ``periods`` (ISO dates, e.g. from the params) must each have a workforce
    snapshot; a missing one is reported against ``params_file`` when given,
    else against the workforce file. ``report.dataset`` holds the typed
    tables when there are no errors.
    """
    folder = Path(data_dir)
    report = ValidationReport()
    if not folder.is_dir():
        report.errors.append(Issue(str(data_dir), 1, WHOLE_TABLE,
                                   "no such folder (expected a folder of table files)"))
        return report

    checked = [_check_table(spec, folder, str(data_dir)) for spec in TABLES]
    by_name = {c.spec.name: c for c in checked}
    for c in checked:
        report.errors += c.errors
        report.warnings += c.warnings
        report.notes += c.notes
    report.warnings += _case_staff_known(by_name["employee_relations"], by_name["workforce"])
    if periods:
        report.errors += _periods_have_snapshots(list(periods), by_name["workforce"], params_file)

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
                       params_file: str | os.PathLike | None = None) -> Dataset:
    """The validated :class:`~edi_analysis.io.Dataset`; raises :class:`DataValidationError`."""
    report = validate_dataset(data_dir, periods=periods, params_file=params_file)
    if not report.ok:
        raise DataValidationError(report)
    return report.dataset


# ------------------------------------------------------------------ one table

def _check_table(spec: TableContract, folder: Path, shown_dir: str) -> _Checked:
    name = spec.name
    out = _Checked(spec, os.path.join(shown_dir, f"{name}.csv"))
    try:
        path = find_table_file(folder, name)
    except AmbiguousTableError as exc:
        out.errors.append(Issue(out.file, 1, WHOLE_TABLE, str(exc)))
        return out
    alternatives = " or ".join(f"{name}{s}" for s in TABLE_SUFFIXES)
    if path is None:
        if spec.required:
            out.errors.append(Issue(out.file, 1, WHOLE_TABLE,
                                    f"required table {name} is missing (expected {alternatives})"))
        else:
            out.notes.append(f"{name}: optional table not supplied (no {alternatives})")
        return out
    out.path, out.file = path, os.path.join(shown_dir, path.name)

    try:
        raw = read_table(path, out.file, set(spec.schema.columns))
    except UnreadableTable as exc:
        out.errors += exc.issues
        out.sha256 = exc.sha256
        return out
    out.sha256 = raw.sha256
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
    out.data = data
    return out


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
    trusts = cases["trust_code"].to_numpy()[pos]
    return er.data.issues("staff_id", pos, [
        f"{v} is not in any workforce snapshot of trust {trust} "
        "(joined and left between snapshots? the case counts in outcomes, not in "
        "WRES 3 / WDES 3, which count in-scope staff in a snapshot)"
        for v, trust in zip(er.data.shown("staff_id", pos), trusts)
    ], level=WARNING)


def _periods_have_snapshots(periods: list, wf: _Checked, params_file) -> list[Issue]:
    """Each requested period must be a date with a workforce snapshot (CONTRACT §6)."""
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
    if wf.data is not None and wf.data.has("snapshot_date"):
        snapshots = set(wf.data.frame["snapshot_date"].dropna().unique())
    out = []
    for p in periods:
        text = p.isoformat()[:10] if hasattr(p, "isoformat") else str(p)
        file, line, column = where(text)
        stamp = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        if pd.isna(stamp) or len(text) != 10:
            out.append(Issue(file, line, column, f"{text!r} {PARSE_ERRORS[DATE]}"))
            continue
        if snapshots is None or stamp in snapshots:
            continue  # no usable workforce table: that is already an error
        present = ", ".join(sorted(s.date().isoformat() for s in snapshots)) or "none"
        out.append(Issue(file, line, column,
                         f"period {text} has no workforce snapshot "
                         f"(snapshot dates in {wf.file}: {present})"))
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
        sha[c.path.name] = c.sha256
    return Dataset(path=folder, tables=tables, files=files, sha256=sha)
