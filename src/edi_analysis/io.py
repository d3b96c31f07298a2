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
TABLE_SUFFIXES = (".csv", ".parquet")

_CHUNK = 1 << 20


class AmbiguousTableError(ValueError):
    """Both ``NAME.csv`` and ``NAME.parquet`` exist, so it is unclear which one to read."""

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
    """The file holding table ``name`` in ``data_dir``: ``NAME.csv`` or ``NAME.parquet``.

    Returns None when neither exists; raises :class:`AmbiguousTableError` when
    both do (CONTRACT.md §2: a table is one file).
    """
    found = [Path(data_dir) / f"{name}{suffix}" for suffix in TABLE_SUFFIXES]
    found = [p for p in found if p.exists()]
    if len(found) > 1:
        raise AmbiguousTableError(name, found)
    return found[0] if found else None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder (same file system, so
    the final rename is atomic), are flushed to disk, then ``os.replace``
    puts the file in place. The folder is created if needed. The new file gets
    the usual permissions (0666 less the umask), not the temporary file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
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
