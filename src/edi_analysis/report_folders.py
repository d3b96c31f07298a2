"""Installed report folders ``reports/<period>/<trust>/``: whose they are, what a re-run keeps,
the merged manifest, and installing a staged folder.

A report folder is replaced only when it is the tool's: it is empty, or its
``manifest.json`` is one the runner wrote for that trust and period and every
file in it is one that manifest lists, unchanged since (the manifest records
each file's SHA-256; a manifest written before hashes were recorded lists the
file names only). Anything else is left alone and the run is refused, naming
the folder and what is in the way.

A partial re-run (``--notebook``, or a ``notebooks`` list naming fewer
notebooks than the folder holds) replaces the notebooks it ran and keeps the
others: they are copied into the staged folder, which then replaces the old
one in one rename, with one manifest whose records say which run produced
each notebook (``notebooks[].run`` → ``runs``). Kept notebooks must have been
run with the same thresholds and seed, or the folder would mix suppression
rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edi_analysis import folders

MANIFEST = "manifest.json"
METRICS_CSV = "metrics.csv"
#: A replaced report folder is renamed to this prefix inside the run's private staging folder
#: before the new one takes its place (so a kill at that moment leaves it where the next run's
#: clean-up removes it, not beside the reports).
OLD_PREFIX = ".old-"
#: Parameters that decide what a notebook shows; kept notebooks must share them.
SETTINGS = ("min_count", "min_survey_responses", "seed")


class FolderRefused(Exception):
    """A report folder that is not the tool's (the message names it and what is in it)."""


def read_manifest(folder: Path) -> dict | None:
    try:
        m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


def _name(rec: dict) -> str:
    return str(rec.get("notebook") or rec.get("name") or "")


def is_own_manifest(m: dict | None, trust: str, period: str) -> bool:
    return (isinstance(m, dict) and m.get("trust") == trust and m.get("period") == period
            and isinstance(m.get("notebooks"), list))


def listed_files(m: dict) -> dict[str, str | None]:
    """The files a manifest says the runner wrote: name → SHA-256 (None: not recorded)."""
    files = m.get("files")
    if isinstance(files, dict):
        return {str(k): (str(v) if v else None) for k, v in files.items()}
    names = {METRICS_CSV} | {_name(n) for n in m.get("notebooks", []) if isinstance(n, dict)}
    return {n: None for n in names if n}


def replace_problem(folder: Path, trust: str, period: str) -> str | None:
    """Why ``folder`` may not be replaced by a new report, or None when it may."""
    if not folder.exists() and not folder.is_symlink():
        return None
    if folder.is_symlink() or not folder.is_dir():
        return "is not a folder"
    if folders.is_empty_folder(folder):
        return None
    m = read_manifest(folder)
    if not is_own_manifest(m, trust, period):
        return (f"holds files but no {MANIFEST} written by edi-analysis for {trust} {period}, "
                "so it is not a report folder of this tool and is not replaced; move it or "
                "choose another reports_dir")
    foreign = folders.foreign_entries(folder, listed_files(m), marker=MANIFEST)
    if foreign:
        return ("holds what edi-analysis did not write: " + ", ".join(foreign)
                + "; move those files elsewhere, then run again")
    return None


def file_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file in a staged report folder (not the manifest itself)."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name != MANIFEST:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[p.name] = h.hexdigest()
    return out


@dataclass
class Kept:
    """The notebooks of an installed report that a partial re-run keeps."""

    folder: Path
    records: list[dict] = field(default_factory=list)  # manifest records, each with its "run"
    runs: dict[str, dict] = field(default_factory=dict)  # run id → what that run recorded

    @property
    def names(self) -> list[str]:
        return [_name(r) for r in self.records]

    @property
    def files(self) -> list[str]:
        """Kept notebooks that exist (a notebook whose kernel died saved nothing)."""
        return [n for n in self.names if (self.folder / n).is_file()]


def _legacy_run(m: dict) -> tuple[str, dict]:
    """A manifest written before runs were recorded: its one run, named by when it started."""
    run_id = str(m.get("run") or f"run-started-{m.get('started', 'unknown')}")
    return run_id, {k: m.get(k) for k in ("started", "finished", "parameters", "inputs",
                                         "versions", "git_commit")}


def kept_notebooks(folder: Path, trust: str, period: str, rerun: set[str]) -> Kept | None:
    """What a re-run of the notebooks ``rerun`` keeps of the report in ``folder`` (None: none)."""
    m = read_manifest(folder) if folder.is_dir() else None
    if not is_own_manifest(m, trust, period):
        return None
    runs = m.get("runs") if isinstance(m.get("runs"), dict) else {}
    legacy_id, legacy = _legacy_run(m)
    kept = Kept(folder)
    for rec in m["notebooks"]:
        if not isinstance(rec, dict) or not _name(rec) or _name(rec) in rerun:
            continue
        rec = dict(rec)
        run_id = str(rec.get("run") or legacy_id)
        rec["run"] = run_id
        kept.records.append(rec)
        kept.runs[run_id] = runs.get(run_id, legacy) if runs else legacy
    return kept if kept.records else None


def settings_problem(kept: Kept, parameters: dict) -> str | None:
    """Why the kept notebooks cannot sit beside notebooks run with ``parameters`` (None: fine)."""
    for run_id, info in kept.runs.items():
        old = (info or {}).get("parameters") or {}
        diff = [f"{k} {old.get(k)}" for k in SETTINGS
                if k in old and old.get(k) != parameters.get(k)]
        if diff:
            return (f"its other notebooks ({', '.join(kept.names)}) were run with "
                    f"{', '.join(diff)}; run them again too (all notebooks of the trust), or "
                    "use the same thresholds and seed")
    return None


def merged_manifest(*, trust: str, period: str, run_id: str, run: dict, records: list[dict],
                    kept: Kept | None, files: dict[str, str]) -> dict:
    """The manifest of a report folder after a run: this run's notebooks and any kept ones.

    ``run``: this run's ``started``, ``finished``, ``parameters``, ``inputs``,
    ``versions``, ``git_commit`` (also kept at the top level, as before);
    ``runs`` holds them for every run that produced a notebook in the folder.
    """
    notebooks = [{**r, "run": run_id} for r in records]
    runs = {run_id: run}
    if kept is not None:
        notebooks += kept.records
        runs.update(kept.runs)
    notebooks.sort(key=_name)
    status = "ok" if all(n.get("status") == "ok" for n in notebooks) else "failed"
    return {"trust": trust, "period": period, "status": status, "run": run_id, **run,
            "notebooks": notebooks, "runs": runs, "files": files}


def install(stage: Path, target: Path, trust: str, period: str, trash: Path) -> None:
    """Move a complete staged report folder into place.

    The old folder (checked to be the tool's first) is renamed into ``trash``
    (the run's private staging folder, on the same file system) and removed;
    at no time is a half-written folder at ``target``.
    """
    problem = replace_problem(target, trust, period)
    if problem is not None:
        raise FolderRefused(f"{target}: {problem}")
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = trash / f"{OLD_PREFIX}{period}-{trust}"
        n = 1
        while old.exists():
            n += 1
            old = trash / f"{OLD_PREFIX}{period}-{trust}-{n}"
        os.replace(target, old)
    try:
        os.replace(stage, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old, target)  # put the old report back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
