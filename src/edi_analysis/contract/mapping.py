"""Mapping profiles: a trust's own column headers and value labels, turned into the contract.

A profile is a YAML file (docs/mapping.md). For each contract table it names
the source file, the line of its header, which rows to keep (e.g. primary
assignments only) and, for each contract column, the source column it comes
from and how its labels map to the contract's codes::

    name: my-trust
    extends: esr                 # start from a shipped profile (src/edi_analysis/profiles/)
    date_format: dayfirst        # source dates written 31/03/2024
    tables:
      workforce:
        file: staff-list         # staff-list.csv, .xlsx or .parquet in the data folder
        header_row: 1
        keep_rows: {column: Primary Assignment, values: ["Yes"]}
        columns:
          staff_id: Employee Number
          trust_code: {value: RXX}
          sex: {from: Gender, values: {Female: F, Male: M}}
          age_band: {from: Age, age_years: true}

The profile is checked before any data is read (:class:`MappingError` names
the key). Applying it to a table read from its source file gives a table with
contract column names whose every cell keeps its source file and line, so the
validator's messages point at the analyst's own file. A label with no mapping is
one error naming the label, how many rows hold it and the line of its first use.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from edi_analysis.contract.reading import RawTable
from edi_analysis.contract.report import WHOLE_TABLE, Issue

#: Shipped profiles (``--mapping esr``).
PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"
#: The name of a profile kept in the data folder, used when no ``--mapping`` is given.
DATA_FOLDER_PROFILE = "mapping.yaml"

DATE_FORMATS = ("iso", "dayfirst", "monthfirst")
_TABLE_KEYS = ("file", "sheet", "header_row", "keep_rows", "columns")
_COLUMN_KEYS = ("from", "value", "values", "age_years", "date_format", "from_file_name",
                "ask", "verified", "source", "note")
_TOP_KEYS = ("name", "description", "extends", "date_format", "tables", "sources", "set")
#: Contract age bands by age in whole years (CONTRACT.md §2.1).
_AGE_EDGES = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (200, "55+"))


class MappingError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ColumnMap:
    """Where one contract column comes from."""

    target: str
    source: str | None = None          # source header, or None for a constant
    value: str | None = None           # constant value
    values: dict[str, str] | None = None  # label -> contract value ("" keys mean blank)
    age_years: bool = False            # source holds an age in years: band it
    date_format: str | None = None
    from_file_name: str | None = None  # a regular expression; group 1 of the file's name
    ask: str | None = None             # a value the analyst gives (--set COLUMN=VALUE)


@dataclass(frozen=True)
class TableMap:
    """How one contract table is read from its source file."""

    table: str
    file: tuple[str, ...]              # file names or patterns (stem; * allowed)
    columns: tuple[ColumnMap, ...]
    sheet: str | None = None
    header_row: int = 1
    keep_column: str | None = None
    keep_values: tuple[str, ...] = ()

    @property
    def source_columns(self) -> list[str]:
        cols = [c.source for c in self.columns if c.source]
        if self.keep_column:
            cols.append(self.keep_column)
        return list(dict.fromkeys(cols))


@dataclass(frozen=True)
class Profile:
    """A checked mapping profile."""

    name: str
    path: Path
    tables: dict[str, TableMap] = field(default_factory=dict)
    date_format: str = "iso"

    def with_settings(self, settings: dict[str, str] | None) -> Profile:
        """The profile with each ``ask:`` column given its value from ``settings``
        (``--set trust_code=RXX``); raises :class:`MappingError` naming what is missing."""
        settings = dict(settings or {})
        tables, used = {}, set()
        for name, tm in self.tables.items():
            cols = []
            for c in tm.columns:
                if c.ask is not None:
                    if c.target not in settings:
                        raise MappingError(
                            f"profile {self.name} needs {c.target} for {name}: {c.ask}; give "
                            f"it with --set {c.target}=VALUE (or set: in a profile or the "
                            "params file)")
                    used.add(c.target)
                    c = dataclasses.replace(c, ask=None, value=str(settings[c.target]))
                cols.append(c)
            tables[name] = dataclasses.replace(tm, columns=tuple(cols))
        unused = sorted(set(settings) - used)
        if unused:
            raise MappingError(f"--set {unused[0]}: profile {self.name} asks for no such value "
                               f"(it asks for: {', '.join(sorted(self.asks)) or 'nothing'})")
        return dataclasses.replace(self, tables=tables)

    @property
    def asks(self) -> dict[str, str]:
        return {c.target: c.ask for tm in self.tables.values() for c in tm.columns if c.ask}

    def find_sources(self, folder: Path, table: str) -> list[Path]:
        """The source files of ``table`` in ``folder``, in name order."""
        tm = self.tables[table]
        found: list[Path] = []
        for pattern in tm.file:
            for suffix in (".csv", ".xlsx", ".parquet"):
                found += sorted(p for p in folder.glob(pattern + suffix) if p.is_file())
        return list(dict.fromkeys(found))


# ------------------------------------------------------------------ loading

def resolve(mapping: str | os.PathLike | None, data_dir: str | os.PathLike | None = None
            ) -> Profile | None:
    """The profile named by ``--mapping`` (a file, or the name of a shipped profile such as
    ``esr``), else ``DATA_DIR/mapping.yaml`` when it exists, else None."""
    if mapping is None:
        if data_dir is not None and (Path(data_dir) / DATA_FOLDER_PROFILE).is_file():
            return load_profile(Path(data_dir) / DATA_FOLDER_PROFILE)
        return None
    path = Path(mapping)
    if not path.suffix and not path.exists():
        shipped = PROFILES_DIR / f"{mapping}.yaml"
        if not shipped.is_file():
            known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))) or "none"
            raise MappingError(f"no mapping profile {str(mapping)!r} (a file, or a shipped "
                               f"profile: {known})")
        path = shipped
    return load_profile(path)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping profile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: a mapping profile is a YAML mapping of keys to values")
    return raw


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_profile(path: str | os.PathLike, _seen: tuple = ()) -> Profile:
    """Read and check a profile (and the profile it ``extends``); raises :class:`MappingError`."""
    path = Path(path).resolve()
    if path in _seen:
        raise MappingError(f"{path}: extends itself (through {', '.join(map(str, _seen))})")
    raw = _read_yaml(path)
    unknown = [k for k in raw if k not in _TOP_KEYS]
    if unknown:
        raise MappingError(f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(_TOP_KEYS)})")
    if "extends" in raw:
        base_name = raw["extends"]
        base = (Path(base_name) if Path(str(base_name)).suffix else
                PROFILES_DIR / f"{base_name}.yaml")
        if not base.is_absolute() and not base.exists():
            base = path.parent / base
        try:
            base_raw = _raw_with_extends(base, (*_seen, path))
        except MappingError as exc:
            raise MappingError(f"{path}: extends: {exc}") from None
        raw = _merge(base_raw, {k: v for k, v in raw.items() if k != "extends"})
    return _check(raw, path)


def _raw_with_extends(path: Path, seen: tuple) -> dict:
    path = path.resolve()
    if path in seen:
        raise MappingError(f"{path}: extends itself")
    raw = _read_yaml(path)
    if "extends" in raw:
        base = PROFILES_DIR / f"{raw['extends']}.yaml"
        raw = _merge(_raw_with_extends(base, (*seen, path)),
                     {k: v for k, v in raw.items() if k != "extends"})
    return raw


def _check(raw: dict, path: Path) -> Profile:
    from edi_analysis.contract.validate import TABLES

    specs = {t.name: t for t in TABLES}

    def fail(key: str, msg: str):
        raise MappingError(f"{path}: {key}: {msg}")

    date_format = raw.get("date_format", "iso")
    if date_format not in DATE_FORMATS:
        fail("date_format", f"{date_format!r} is not one of {', '.join(DATE_FORMATS)}")
    tables_raw = raw.get("tables")
    if not isinstance(tables_raw, dict) or not tables_raw:
        fail("tables", "expected a mapping of contract table names to their sources")
    tables = {}
    for name, t in tables_raw.items():
        key = f"tables.{name}"
        if name not in specs:
            fail(key, f"no contract table {name!r} (tables: {', '.join(specs)})")
        if not isinstance(t, dict):
            fail(key, "expected a mapping (file, columns, ...)")
        bad = [k for k in t if k not in _TABLE_KEYS]
        if bad:
            fail(f"{key}.{bad[0]}", f"unknown key (allowed: {', '.join(_TABLE_KEYS)})")
        files = t.get("file", name)
        files = files if isinstance(files, list) else [files]
        if not files or not all(isinstance(f, str) and f for f in files):
            fail(f"{key}.file", "expected a file name (or a list of names; * matches any text)")
        files = tuple(Path(f).stem if Path(f).suffix in (".csv", ".xlsx", ".parquet") else f
                      for f in files)
        header_row = t.get("header_row", 1)
        if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
            fail(f"{key}.header_row", f"expected a row number (1 or more), got {header_row!r}")
        keep_column, keep_values = None, ()
        if "keep_rows" in t:
            kr = t["keep_rows"]
            if (not isinstance(kr, dict) or set(kr) != {"column", "values"}
                    or not isinstance(kr["values"], list) or not kr["values"]):
                fail(f"{key}.keep_rows", "expected {column: SOURCE COLUMN, values: [LABEL, ...]}")
            keep_column, keep_values = str(kr["column"]), tuple(str(v) for v in kr["values"])
        cols_raw = t.get("columns")
        if not isinstance(cols_raw, dict) or not cols_raw:
            fail(f"{key}.columns", "expected a mapping of contract columns to sources")
        schema = specs[name].schema
        columns = []
        for target, c in cols_raw.items():
            ckey = f"{key}.columns.{target}"
            if target not in schema.columns:
                fail(ckey, f"no column {target!r} in the contract table {name}")
            columns.append(_column_map(target, c, schema.columns[target], ckey, fail))
        missing = [c for c, col in schema.columns.items() if col.required
                   and c not in cols_raw]
        if missing:
            fail(f"{key}.columns", f"required contract column{'s' * (len(missing) > 1)} not "
                 f"mapped: {', '.join(missing)} (map each, or give a constant with value:)")
        tables[name] = TableMap(name, files, tuple(columns), sheet=t.get("sheet"),
                                header_row=header_row, keep_column=keep_column,
                                keep_values=keep_values)
    profile = Profile(name=str(raw.get("name", path.stem)), path=path, tables=tables,
                      date_format=date_format)
    settings = raw.get("set") or {}
    if not isinstance(settings, dict):
        fail("set", "expected a mapping of column names to values")
    if settings:
        profile = profile.with_settings({k: str(v) for k, v in settings.items()})
    return profile


def _column_map(target: str, c: Any, spec, ckey: str, fail) -> ColumnMap:
    from edi_analysis.contract.columns import DATE, kind

    if isinstance(c, str):
        return ColumnMap(target, source=c)
    if not isinstance(c, dict):
        fail(ckey, "expected a source column name or a mapping (from, values, value, ...)")
    bad = [k for k in c if k not in _COLUMN_KEYS]
    if bad:
        fail(f"{ckey}.{bad[0]}", f"unknown key (allowed: {', '.join(_COLUMN_KEYS)})")
    given = [k for k in ("from", "value", "from_file_name", "ask") if k in c]
    if len(given) != 1:
        fail(ckey, "give exactly one of from: (a source column), value: (a constant), "
             "from_file_name: (a pattern of the file's name) or ask: (given with --set)")
    if "ask" in c:
        return ColumnMap(target, ask=str(c["ask"]))
    if "from_file_name" in c:
        try:
            if re.compile(str(c["from_file_name"])).groups < 1:
                raise re.error("it needs a group in brackets: the part taken")
        except re.error as exc:
            fail(f"{ckey}.from_file_name", f"not a usable regular expression: {exc}")
        return ColumnMap(target, from_file_name=str(c["from_file_name"]))
    allowed = None
    for check in spec.checks:
        if check.name == "isin":
            allowed = tuple(check.statistics["allowed_values"])
    values = None
    if "values" in c:
        if not isinstance(c["values"], dict) or not c["values"]:
            fail(f"{ckey}.values", "expected a mapping of source labels to contract values")
        values = {}
        for label, v in c["values"].items():
            v = "" if v is None else str(v)
            if allowed is not None and v != "" and v not in allowed:
                fail(f"{ckey}.values[{label!r}]", f"{v!r} is not an allowed value of {target} "
                     f"(allowed: {', '.join(allowed)} or blank)")
            values["" if label is None else str(label)] = v
    date_format = c.get("date_format")
    if date_format is not None and (date_format not in DATE_FORMATS or kind(spec) != DATE):
        fail(f"{ckey}.date_format", f"expected one of {', '.join(DATE_FORMATS)}, on a date "
             "column")
    if "value" in c:
        return ColumnMap(target, value="" if c["value"] is None else str(c["value"]))
    if c.get("age_years") and target != "age_band":
        fail(f"{ckey}.age_years", "only age_band can be banded from an age in years")
    return ColumnMap(target, source=str(c["from"]), values=values,
                     age_years=bool(c.get("age_years")), date_format=date_format)


# ------------------------------------------------------------------ applying

def source_kinds(tm: TableMap, contract_kinds: dict[str, str]) -> dict[str, str]:
    """How to read each source column: as its contract column's kind, except labels and
    dates that the profile rewrites, which are read as text."""
    kinds: dict[str, str] = {}
    for c in tm.columns:
        if not c.source:
            continue
        k = contract_kinds[c.target]
        if c.values is not None or c.age_years:
            k = "number" if c.age_years else "text"
        kinds[c.source] = k if c.source not in kinds else "text"
    if tm.keep_column:
        kinds.setdefault(tm.keep_column, "text")
    return kinds


def apply(profile: Profile, tm: TableMap, raw: RawTable, display: str,
          contract_kinds: dict[str, str]) -> tuple[RawTable, list[Issue], dict[str, str]]:
    """The source table as a contract table: (table, errors, contract -> source column
    names for messages). Cells whose label has no mapping are marked so that no
    later check reports them again. ``display`` is the file as shown in messages; its
    name feeds ``from_file_name``."""
    issues: list[Issue] = []
    notes: list[str] = []
    header = set(raw.header)
    for col in tm.source_columns:
        if col not in header:
            used = [c.target for c in tm.columns if c.source == col] or ["keep_rows"]
            issues.append(Issue(display, tm.header_row, col, (
                f"column is missing (profile {profile.name} maps it to "
                f"{', '.join(used)}; columns found: {', '.join(map(repr, raw.header[:12]))}"
                f"{', ...' if len(raw.header) > 12 else ''})")))
    if issues:
        return RawTable(header=[], columns={}, lines=raw.lines, sha256=raw.sha256), issues, {}
    columns, lines = dict(raw.columns), raw.lines
    if tm.keep_column:
        col = _text(columns[tm.keep_column])
        keep = pc.fill_null(pc.is_in(col, value_set=pa.array(tm.keep_values)), False)
        dropped = len(lines) - pc.sum(keep).as_py() if len(lines) else 0
        if dropped:
            columns = {c: pc.filter(a, keep) for c, a in columns.items()}
            lines = lines[np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)]
            notes.append(f"{display}: {dropped:,} row{'s' * (dropped != 1)} left out because "
                         f"{tm.keep_column!r} is not {' or '.join(map(repr, tm.keep_values))} "
                         f"(profile {profile.name}: e.g. non-primary assignments)")
    n = len(lines)
    out: dict[str, pa.ChunkedArray] = {}
    premarked: dict[str, np.ndarray] = {}
    shown: dict[str, str] = {}
    shown_as: dict[str, pa.ChunkedArray] = {}
    for c in tm.columns:
        if c.from_file_name is not None:
            m = re.search(c.from_file_name, Path(display).name)
            if m is None:
                issues.append(Issue(display, 1, WHOLE_TABLE, (
                    f"profile {profile.name} takes {c.target} from the file name, but "
                    f"{Path(display).name!r} does not match {c.from_file_name!r}")))
                continue
            out[c.target] = pa.chunked_array([pa.array([m.group(1)] * n, pa.string())])
            continue
        if c.source is None:
            if c.ask is not None:
                raise MappingError(f"profile {profile.name} needs {c.target}: {c.ask}; give it "
                                   f"with --set {c.target}=VALUE")
            out[c.target] = pa.chunked_array([pa.array([c.value] * n, pa.string())])
            continue
        shown[c.target] = c.source
        arr = columns[c.source]
        if c.age_years:
            shown_as[c.target] = arr
            arr, bad = _age_band(arr)
        elif c.values is not None:
            arr, unmapped = _map_labels(arr, c.values)
            bad = None
            if len(unmapped):
                bad = unmapped
                issues += _unmapped_issues(profile, c, _text(columns[c.source]), unmapped,
                                           lines, display)
        else:
            fmt = c.date_format or profile.date_format
            bad = None
            if contract_kinds[c.target] == "date" and fmt != "iso":
                shown_as[c.target] = arr
                arr = _reorder_dates(arr, fmt)
        if bad is not None and bad.any():
            premarked[c.target] = bad
        out[c.target] = arr
    table = RawTable(header=[c.target for c in tm.columns], columns=out, lines=lines,
                     sha256=raw.sha256, issues=raw.issues, notes=raw.notes + notes)
    table.premarked = premarked
    table.shown_as = {k: v if isinstance(v, pa.ChunkedArray) else pa.chunked_array([v])
                      for k, v in shown_as.items()}
    return table, issues, shown


def _text(arr) -> pa.ChunkedArray:
    arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr
    return pc.cast(arr, pa.string())


def _map_labels(arr, values: dict[str, str]) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Labels -> contract values (surrounding spaces ignored); a blank cell stays blank
    unless the profile maps ``""``. Returns the mapped column and a mask of unmapped cells."""
    text = pc.utf8_trim_whitespace(_text(arr))
    idx = pc.index_in(text, value_set=pa.array(list(values), pa.string()))
    targets = pa.array(list(values.values()), pa.string())
    mapped = pc.if_else(pc.is_null(idx), pa.scalar(None, pa.string()),
                        pc.take(targets, pc.fill_null(idx, 0)))
    blank = pc.fill_null(pc.equal(text, ""), True)
    unmapped = pc.and_(pc.is_null(idx), pc.invert(blank))
    mask = np.asarray(pc.fill_null(unmapped, False).to_numpy(zero_copy_only=False), dtype=bool)
    return mapped, mask


def _unmapped_issues(profile: Profile, c: ColumnMap, text: pa.ChunkedArray, mask: np.ndarray,
                     lines: np.ndarray, display: str) -> list[Issue]:
    """One error per label with no mapping: the label, its row count, its first line."""
    pos = np.flatnonzero(mask)
    labels = text.take(pa.array(pos)).to_pylist()
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for p, label in zip(pos, labels):
        first.setdefault(label, int(lines[p]))
        count[label] = count.get(label, 0) + 1
    known = ", ".join(repr(k) for k in list(c.values)[:8] if k)
    more = ", ..." if len(c.values) > 8 else ""
    return [Issue(display, line, c.source, (
        f"{label!r} has no mapping to {c.target} in profile {profile.name} "
        f"({count[label]:,} row{'s' * (count[label] != 1)}, the first on this line; "
        f"labels it maps: {known}{more}); add it to the profile's values"))
        for label, line in sorted(first.items(), key=lambda kv: kv[1])]


def _age_band(arr) -> tuple[pa.ChunkedArray, None]:
    """An age in years -> the contract's age band. A cell that is not an age keeps its
    text, so the code-list check reports it with its line."""
    text = _text(arr)
    ok = pc.fill_null(pc.match_substring_regex(text, r"^\s*[0-9]+(\.[0-9]*)?\s*$"), False)
    age = pc.cast(pc.if_else(ok, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string())),
                  pa.float64())
    band = pa.scalar(None, pa.string())
    for edge, label in reversed(_AGE_EDGES):
        band = pc.if_else(pc.less(age, edge), label, band)
    return pc.if_else(ok, band, text), None


def _reorder_dates(arr, fmt: str) -> pa.ChunkedArray:
    """``31/03/2024`` (dayfirst) or ``03/31/2024`` (monthfirst) text -> ``2024-03-31``.
    Date cells and other text are left as they are (the parser checks them)."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr
    day, month = ("day", "month") if fmt == "dayfirst" else ("month", "day")
    pattern = r"^\s*(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4})\s*$"
    parts = pc.extract_regex(arr, pattern)
    a = pc.struct_field(parts, "a")
    b = pc.struct_field(parts, "b")
    y = pc.struct_field(parts, "y")
    d, m = (a, b) if day == "day" else (b, a)
    iso = pc.binary_join_element_wise(y, pc.utf8_lpad(m, 2, "0"), pc.utf8_lpad(d, 2, "0"), "-")
    return pc.if_else(pc.is_null(iso), arr, iso)


def stack(parts: list[tuple[str, RawTable]]) -> RawTable:
    """Several source files of one table as one table; each row keeps its file and line."""
    if len(parts) == 1:
        return parts[0][1]
    names = [name for name, _ in parts]
    cols = list(dict.fromkeys(c for _, t in parts for c in t.columns))
    columns = {}
    for c in cols:
        chunks = []
        for _, t in parts:
            arr = t.columns.get(c)
            if arr is None:
                arr = pa.chunked_array([pa.nulls(t.n_rows, pa.string())])
            chunks.append(_text(arr) if any(
                _text_type(p.columns.get(c)) for _, p in parts) else arr)
        try:
            columns[c] = pa.chunked_array([ch for a in chunks for ch in a.chunks])
        except (pa.ArrowInvalid, TypeError):  # types differ between files: compare as text
            columns[c] = pa.chunked_array([ch for a in chunks for ch in _text(a).chunks])
    shown_as = {}
    for c in {k for _, t in parts for k in t.shown_as}:
        shown_as[c] = pa.chunked_array([ch for _, t in parts
                                        for ch in _text(t.shown_as.get(c, t.columns[c])).chunks])
    premarked = {}
    for c in {k for _, t in parts for k in t.premarked}:
        premarked[c] = np.concatenate([t.premarked.get(c, np.zeros(t.n_rows, dtype=bool))
                                       for _, t in parts])
    out = RawTable(header=cols, columns=columns,
                   lines=np.concatenate([t.lines for _, t in parts]), sha256=parts[0][1].sha256,
                   issues=[i for _, t in parts for i in t.issues],
                   notes=[n for _, t in parts for n in t.notes], premarked=premarked,
                   shown_as=shown_as,
                   row_files=names,
                   file_index=np.concatenate([np.full(t.n_rows, k, dtype=np.int32)
                                              for k, (_, t) in enumerate(parts)]))
    return out


def _text_type(arr) -> bool:
    return arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type))
