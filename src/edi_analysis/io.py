"""Dataset files on disk: locating tables, hashing inputs, writing outputs atomically.

The validated bundle of tables is :class:`Dataset`; it is built by
:func:`edi_analysis.contract.validate_dataset`, which is the only way data
enters the package (CONTRACT.md §2, §6).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers
    from collections.abc import Iterable

#: The file formats a table may be stored in, in the order they are looked for.
TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")

_CHUNK = 1 << 20


class AmbiguousTableError(ValueError):
    """More than one of ``NAME.csv``, ``NAME.parquet``, ``NAME.xlsx`` exists: which to read?"""

    def __init__(self, name: str, paths: list[Path]):
        self.name = name
        self.paths = paths
        super().__init__(
            f"table {name!r} is stored twice ({', '.join(p.name for p in paths)}); keep one"
        )


@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated dataset: its tables, and where each came from (for the provenance manifest).

    ``tables`` maps table name to a DataFrame typed as the shared conventions
    say: text columns pandas ``str`` (missing = NaN), dates ``datetime64[us]``,
    booleans nullable ``boolean`` (pd.NA = not recorded), numbers ``float64``,
    ``survey_year`` ``int64``; columns in contract order, extra columns
    dropped. Every required table is present; an optional table that was not
    supplied is an empty, correctly typed DataFrame. ``files`` maps table name
    to the file read and ``sha256`` maps that file's name (e.g.
    ``"workforce.csv"``) to the hex SHA-256 of its bytes; tables not supplied
    appear in neither.
    """

    path: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={len(v):,} rows" for k, v in self.tables.items())
        return f"Dataset({str(self.path)!r}: {shapes})"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def find_table_file(data_dir: str | os.PathLike, name: str) -> Path | None:
    """The file holding table ``name`` in ``data_dir``: ``NAME.csv``, ``.parquet`` or ``.xlsx``.

    Returns None when neither exists; raises :class:`AmbiguousTableError` when
    both do (CONTRACT.md §2: a table is one file).
    """
    found = [Path(data_dir) / f"{name}{suffix}" for suffix in TABLE_SUFFIXES]
    found = [p for p in found if p.exists()]
    if len(found) > 1:
        raise AmbiguousTableError(name, found)
    return found[0] if found else None


class OutputError(OSError):
    """An output could not be written (disk full, read-only folder, permission denied, a folder
    where a file should go …). ``str()`` is one line naming the path and the cause; the command
    line prints it and exits 1."""

    def __init__(self, path: str | os.PathLike, cause: OSError | str):
        self.path = Path(path)
        self.cause = cause
        errno_ = cause.errno if isinstance(cause, OSError) else None
        super().__init__(errno_, describe_cause(cause), str(self.path))

    def __str__(self) -> str:
        return f"{self.path}: {describe_cause(self.cause)}"


def describe_cause(cause: OSError | str) -> str:
    """The cause of an OS error in words ("No space left on device"), without the path."""
    if isinstance(cause, OSError):
        if isinstance(cause, OutputError):
            return describe_cause(cause.cause)
        return cause.strerror or str(cause) or type(cause).__name__
    return str(cause)


def describe_os_error(exc: OSError, path: str | os.PathLike | None = None) -> str:
    """``PATH: cause`` for any OS error: its own file name when it has one, else ``path``."""
    if isinstance(exc, OutputError):
        return str(exc)
    where = exc.filename if exc.filename is not None else path
    return f"{where}: {describe_cause(exc)}" if where is not None else describe_cause(exc)


def make_folders(folder: str | os.PathLike) -> list[Path]:
    """Create ``folder`` and any missing parents; returns those created, outermost first, so
    a caller that fails later can remove them again (:func:`remove_created_folders`)."""
    folder = Path(folder)
    missing = []
    p = folder
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            remove_created_folders(created)
            raise OutputError(d, exc) from exc
        created.append(d)
    if not folder.is_dir():
        raise OutputError(folder, "is not a folder")
    return created


def remove_created_folders(created: list[Path]) -> None:
    """Remove folders made by :func:`make_folders`, innermost first, where they are still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder (same file system, so
    the final rename is atomic), are flushed to disk, then ``os.replace``
    puts the file in place. The folder is created if needed (and removed again
    when the write fails). The new file gets the usual permissions (0666 less
    the umask), not the temporary file's 0600. Any OS error (disk full,
    read-only folder, ``path`` a folder) raises :class:`OutputError` naming
    ``path``, with nothing left behind.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder, not a file")
    created = make_folders(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        remove_created_folders(created)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc) from exc
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` atomically (see :func:`atomic_write_bytes`); no newline translation."""
    return atomic_write_bytes(path, text.encode(encoding))


def load_dataset(data_dir: str | os.PathLike, periods: Iterable[str] | None = None) -> Dataset:
    """Read and validate a dataset folder; raises ``DataValidationError`` if it is invalid.

    A shortcut for :func:`edi_analysis.contract.load_valid_dataset`.
    """
    from edi_analysis.contract import load_valid_dataset

    return load_valid_dataset(data_dir, periods=periods)


def _umask() -> int:
    # Linux reports the umask in /proc; elsewhere it can only be read by
    # setting it, which is briefly racy in a threaded program, hence last resort.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class NonFiniteValueError(ValueError):
    """An output was about to hold infinity or a NaN written as text; nothing was written.

    Validation keeps absurd inputs out (plausible bounds, CONTRACT.md §6), so this
    signals a defect or an input the rules missed: it must fail loudly rather
    than publish ``inf``.
    """


_NON_FINITE_TEXT = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity",
                              "nan", "+nan", "-nan"})


def check_finite(frame: pd.DataFrame, columns: Iterable[str], what: str,
                 label: Iterable[str] = ()) -> None:
    """Raise :class:`NonFiniteValueError` if a numeric cell of ``columns`` is ±infinity or
    text spelling inf/nan; a missing value (NaN, None) is allowed (written blank).

    ``label`` columns (e.g. ``metric_id``) name the first offending rows in the message.
    """
    import numpy as np

    bad_rows: list[tuple[int, str]] = []
    for col in columns:
        if col not in frame:
            continue
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            bad = np.isinf(values)
        else:  # mixed (numbers and labels): look at each cell
            bad = np.fromiter((_non_finite_cell(v) for v in s.array), dtype=bool, count=len(s))
        bad_rows += [(int(i), col) for i in np.flatnonzero(bad)]
    if not bad_rows:
        return
    label = [c for c in label if c in frame]
    shown = []
    for i, col in sorted(bad_rows)[:5]:
        row = frame.iloc[i]
        name = " ".join(str(row[c]) for c in label) if label else f"row {i + 1}"
        value = row[col]
        shown.append(f"{name}: {col} = {repr(value) if isinstance(value, str) else float(value)}")
    more = f" (and {len(bad_rows) - 5} more)" if len(bad_rows) > 5 else ""
    raise NonFiniteValueError(
        f"{what}: {len(bad_rows)} value{'s' * (len(bad_rows) != 1)} not finite, so nothing "
        f"was written: {'; '.join(shown)}{more}")


def _non_finite_cell(value) -> bool:
    if isinstance(value, float):  # numpy's float64 is a float too
        return value in (float("inf"), float("-inf"))
    if isinstance(value, str):
        return value.strip().lower() in _NON_FINITE_TEXT
    return False
