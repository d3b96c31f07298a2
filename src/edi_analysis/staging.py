"""The run's staging folder and the installation of complete report folders.

A run writes each ``reports/<period>/<trust>/`` into a private staging folder
(``reports/.staging-…``, 0700, its owner process recorded) and renames it into place only
when that trust and period are complete (:func:`install`), only over a folder that is the
tool's (:mod:`edi_analysis.report_folders`). A partial re-run keeps the notebooks it did
not run, and only beside notebooks run with the same thresholds (:func:`check_targets`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from edi_analysis import folders, report_folders
from edi_analysis.errors import UsageError
from edi_analysis.io import OutputError, make_folders
from edi_analysis.params import Params

STAGING_PREFIX = ".staging-"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


def open_staging(reports_dir: Path, run_id: str) -> Path:
    """Make the reports folder and this run's private staging folder in it (after removing
    the staging folders of interrupted runs whose process is gone)."""
    if reports_dir.exists() and not reports_dir.is_dir():
        raise OutputError(reports_dir, "is not a folder")
    make_folders(reports_dir)
    for old in folders.remove_stale(reports_dir, STAGING_PREFIX):
        _say(f"removed {old}: the staging folder of an interrupted run (its process is gone)")
    for odd in folders.unmarked_folders(reports_dir, STAGING_PREFIX):
        _say(f"warning: {odd} looks like the staging folder of an older run (it may hold "
             "person-level data slices) but carries no owner record, so it is not removed; "
             "delete it once no run is using it")
    try:
        # private (0700), with this process recorded as its owner
        return folders.private_folder(reports_dir, f"{STAGING_PREFIX}{run_id}-")
    except OSError as exc:
        raise OutputError(reports_dir, exc) from exc


def check_targets(params: Params, trusts: list[str]) -> dict:
    """Refuse (UsageError, before any work) a run that would replace a report folder that is not
    the tool's, or keep notebooks run with other thresholds; returns what each partial re-run keeps:
    ``{(period, trust): report_folders.Kept | None}``."""
    problems, kept = [], {}
    rerun = set(params.notebook_names)
    this = {"min_count": params.min_count, "min_survey_responses": params.min_survey_responses,
            "seed": params.seed}
    for period in params.periods:
        for trust in trusts:
            target = params.reports_dir / period / trust
            why = report_folders.replace_problem(target, trust, period)
            if why is not None:
                problems.append(f"{target}: {why}")
                continue
            k = report_folders.kept_notebooks(target, trust, period, rerun)
            if k is not None:
                why = report_folders.settings_problem(k, this)
                if why is not None:
                    problems.append(f"{target}: {why}")
            kept[(period, trust)] = k
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UsageError("; ".join(problems[:3]) + more)
    return kept



def install(staging: Path, target: Path, trash: Path | None = None) -> None:
    """Move a complete staged report folder into place (see :func:`report_folders.install`):
    only over a folder that is the tool's, the old one renamed into ``trash`` (default: beside
    the staged folder) and removed."""
    report_folders.install(staging, target, target.name, target.parent.name,
                           trash if trash is not None else staging.parent)
