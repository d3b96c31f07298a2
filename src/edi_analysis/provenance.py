"""What a report's manifest records about how it was made (CONTRACT.md §7).

Package versions, the project's git commit, the Python version, the sha256 of the lock
file, of the params file and of each notebook template, the run's parameters with their
local paths made relative to the report folder, and the manifest file itself. No I/O
beyond reading the files it hashes and writing the manifest it is given.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from edi_analysis.io import sha256_file
from edi_analysis.params import PROJECT_ROOT

#: Packages whose versions the manifest records.
VERSIONED = ("edi-analysis", "pandas", "numpy", "scipy", "pyarrow", "papermill", "nbclient",
             "nbformat", "ipykernel", "statsmodels", "scikit-learn", "seaborn", "matplotlib",
             "pandera")
MANIFEST = "manifest.json"
#: The lock file whose hash the manifest records (``uv.lock`` at the project's root).
LOCK_FILE = PROJECT_ROOT / "uv.lock"


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The project's git commit (with ``-dirty`` when the tree has changes); None outside git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")



def python_version() -> str:
    """The interpreter the notebooks ran on, e.g. ``CPython 3.11.9``."""
    return f"{platform.python_implementation()} {platform.python_version()}"


def file_sha256(path: Path | str | None) -> str | None:
    """sha256 of a file, or None when there is no such file (or no path)."""
    if path is None or not Path(path).is_file():
        return None
    return sha256_file(path)


def environment(params_file: Path | str | None, templates) -> dict:
    """The run's environment as its manifest records it: Python version, the lock file's and
    the params file's sha256, and each notebook template's (file name → sha256)."""
    return {"python": python_version(), "uv_lock_sha256": file_sha256(LOCK_FILE),
            "params_sha256": file_sha256(params_file),
            "templates": {Path(t).name: sha256_file(t) for t in templates}}


#: Keys of the params record that hold local paths (written relative to the report folder).
_PATH_KEYS = ("params_file", "data", "notebooks_dir", "reports_dir", "site_dir")


def relative_paths(record: dict, folder: Path) -> dict:
    """The params record with its local paths relative to ``folder`` (the report folder), so no
    absolute local path (home folder, project folder) is written into a report."""
    out = dict(record)
    for key in _PATH_KEYS:
        if out.get(key):
            out[key] = os.path.relpath(out[key], folder)
    return out



def write_manifest(folder: Path, manifest: dict) -> Path:
    """Write ``manifest.json`` into ``folder`` (a staged report folder)."""
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path
