"""Where the tool may write, what it may replace or remove, and how it knows a folder is its own.

Nothing the tool did not create is ever deleted or overwritten (docs/contract.md §7):

- **Layout.** ``site_dir`` and ``reports_dir`` are replaced or written into,
  so neither may equal, contain or lie inside the data folder, the notebooks
  folder or each other, nor equal or contain the params file's folder, the
  project folder, the home folder or a top-level system folder
  (:func:`layout_problems`).
- **Ownership.** A folder is replaced only when it is empty or carries the
  marker the tool wrote into it (``site-manifest.json`` for a site,
  ``manifest.json`` for a report folder) *and* holds nothing the marker does
  not list (:func:`foreign_entries`).
- **Temporary folders** (a run's staging folder with its person-level
  slices, a publish's build folder) carry an owner record: host, boot,
  process id and that process's start time (:func:`write_owner`). A later
  command removes one only when its name matches the tool's own pattern, its
  owner record is the tool's, and the owner process is gone
  (:func:`remove_stale`); a folder of a process still running, or of another
  machine, is left alone.

No I/O beyond reading ``/proc`` and the folders named; no printing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: Owner record inside a temporary folder of the tool.
OWNER_FILE = ".edi-analysis-owner.json"
GENERATOR = "edi-analysis"


# --- layout -----------------------------------------------------------------------------------

def relation(a: Path, b: Path) -> str | None:
    """How folder ``a`` stands to folder ``b``: ``"equals"``, ``"contains"``, ``"is inside"`` or None.

    Both are resolved (symbolic links followed), so two names of one folder are equal.
    """
    a, b = Path(a).resolve(), Path(b).resolve()
    if a == b:
        return "equals"
    if a in b.parents:
        return "contains"
    if b in a.parents:
        return "is inside"
    return None


def project_root() -> Path | None:
    """The source checkout this package runs from (a folder with pyproject.toml and
    src/edi_analysis), or None when the package is installed elsewhere."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "edi_analysis").is_dir():
        return root
    return None


def system_folders() -> list[Path]:
    """Folders no output may equal or contain: ``/`` and every folder directly under it
    (``/tmp``, ``/home``, ``/var`` …), the temporary-files folder and ``/var/tmp``, ``/usr/local``."""
    out = [Path("/")]
    try:
        out += [p for p in Path("/").iterdir() if p.is_dir()]
    except OSError:
        pass
    out += [Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/usr/local")]
    seen, unique = set(), []
    for p in out:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(p)
    return unique


def _home() -> Path | None:
    home = os.environ.get("HOME") or ""
    if not home:
        try:
            home = str(Path.home())
        except (RuntimeError, KeyError):
            return None
    p = Path(home)
    return p if p.is_absolute() and p.resolve() != Path("/") else None


def layout_problems(outputs: dict[str, Path], inputs: dict[str, Path | None],
                    guarded: Iterable[tuple[str, Path]] | None = None) -> list[str]:
    """Why the output folders cannot be used: one sentence per output (empty when they can).

    ``outputs``: key → folder the tool writes (``site_dir``, ``reports_dir``);
    ``inputs``: key → folder it reads (``data``, ``notebooks_dir``; None: not
    given). An output may not equal, contain or lie inside an input or another
    output. ``guarded``: (description, folder) pairs an output may lie inside
    but not equal or contain (the params file's folder, the project folder);
    the home folder and the system folders are always added.
    """
    guards = list(guarded or [])
    home = _home()
    if home is not None:
        guards.append(("your home folder", home))
    guards += [("a system folder", p) for p in system_folders()]
    problems = []
    for key, out in outputs.items():
        found = []
        for label, folder in guards:
            rel = relation(out, folder)
            if rel in ("equals", "contains"):
                found.append((rel != "equals", f"{rel} {label} ({Path(folder).resolve()})"))
        others = {**inputs, **{k: v for k, v in outputs.items() if k != key}}
        for other_key, other in others.items():
            if other is None:
                continue
            rel = relation(out, other)
            if rel is not None:
                found.append((rel != "equals", f"{rel} {other_key} ({Path(other).resolve()})"))
        if found:
            found.sort(key=lambda f: f[0])  # "equals" first: usually the whole story
            problems.append(f"{key} {Path(out).resolve()} "
                            + ", ".join(text for _, text in found) + f": {_why(key)}")
    return problems


def _why(key: str) -> str:
    if key == "site_dir":
        return ("publishing replaces site_dir as a whole, so it must be a folder of its own "
                "(e.g. a new folder _site beside the data)")
    return ("reports are written and replaced in reports_dir, so it must be a folder of its own "
            "(e.g. a new folder reports beside the data)")


# --- ownership --------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def foreign_entries(folder: Path, listed: dict[str, str | None], *, marker: str,
                    limit: int = 5) -> list[str]:
    """Entries of ``folder`` the tool did not write: not listed, changed, or not plain files.

    ``listed`` maps a POSIX path relative to ``folder`` to its SHA-256 (None:
    not recorded, the name is enough). The ``marker`` file itself and the
    folders holding listed files are the tool's. Returns up to ``limit``
    descriptions (a non-empty list means: do not replace ``folder``).
    """
    dirs = {marker}
    for rel in listed:
        parts = rel.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            p = base / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out.append(f"{rel} (a symbolic link)")
            elif p.is_dir():
                if rel not in dirs:
                    out.append(f"{rel}/ (not written by {GENERATOR})")
                    dirnames.remove(name)  # its contents are foreign too; one line is enough
            elif rel == marker:
                continue
            elif rel not in listed:
                out.append(f"{rel} (not written by {GENERATOR})")
            elif listed[rel] is not None and sha256_file(p) != listed[rel]:
                out.append(f"{rel} (changed since {GENERATOR} wrote it)")
            if len(out) >= limit:
                return out
    return out


def is_empty_folder(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


# --- owner records and stale temporary folders ------------------------------------------------

def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start_time(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot, /proc/PID/stat field 22), None if gone
    or unknown. Together with the pid it names one process: pids are reused, start times are not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        fields = stat[stat.rindex(")") + 2:].split()
        return int(fields[19])  # field 22 overall; fields here start at field 3
    except (ValueError, IndexError):
        return None


def owner_record(pid: int | None = None) -> dict:
    pid = os.getpid() if pid is None else pid
    return {"generator": GENERATOR, "host": socket.gethostname(), "boot_id": _boot_id(),
            "pid": pid, "start_time": process_start_time(pid), "uid": os.getuid()}


def write_owner(folder: Path) -> Path:
    """Record this process as the owner of the temporary folder ``folder``."""
    path = folder / OWNER_FILE
    path.write_text(json.dumps(owner_record()) + "\n", encoding="utf-8")
    return path


def read_owner(folder: Path) -> dict | None:
    try:
        rec = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("generator") != GENERATOR:
        return None
    return rec


def owner_alive(rec: dict) -> bool:
    """Whether the process named in an owner record may still be running.

    True (keep the folder) whenever it cannot be shown to be gone: another
    machine, or no way to read process start times.
    """
    if rec.get("host") != socket.gethostname():
        return True
    if rec.get("boot_id") is not None and rec.get("boot_id") != _boot_id():
        return False  # the machine restarted since: every process of then is gone
    pid = rec.get("pid")
    if not isinstance(pid, int):
        return True
    now = process_start_time(pid)
    if now is None:
        if Path("/proc/self/stat").exists():
            return False  # /proc works and the pid is not there
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    return rec.get("start_time") is None or now == rec.get("start_time")


def stale_folders(parent: Path, prefix: str) -> list[Path]:
    """Folders in ``parent`` named ``prefix…``, owned by this user, whose owner record is the
    tool's and whose owner process is gone."""
    out = []
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return out
    for p in entries:
        if not p.name.startswith(prefix) or p.is_symlink() or not p.is_dir():
            continue
        try:
            if p.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        rec = read_owner(p)
        if rec is not None and not owner_alive(rec):
            out.append(p)
    return out


def unmarked_folders(parent: Path, prefix: str) -> list[Path]:
    """Folders named ``prefix…`` without the tool's owner record (left by an older version, or
    not the tool's): never removed, only reported."""
    try:
        return [p for p in sorted(parent.iterdir()) if p.name.startswith(prefix) and p.is_dir()
                and not p.is_symlink() and read_owner(p) is None]
    except OSError:
        return []


def remove_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove the stale temporary folders of :func:`stale_folders`; returns those removed."""
    removed = []
    for p in stale_folders(parent, prefix):
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
    return removed


def private_folder(parent: Path, prefix: str) -> Path:
    """A new temporary folder in ``parent`` readable by this user only (0700), with this process
    recorded as its owner."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # mkdtemp creates it 0700
    try:
        write_owner(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
