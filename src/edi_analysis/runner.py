"""Execute the report notebooks with papermill: every trust × period × notebook, in parallel.

``run(params)``:

1. validates the dataset (all problems reported at once; nothing written when invalid);
2. per period, computes every trust's metrics in one vectorised pass (and,
   for the trend charts, the earlier snapshots'), then prepares each trust's
   data slice **once** (validated, typed tables and the trust's published
   rows as Parquet in a temporary working folder), each trust's
   ``metrics.csv`` and a small peers file (headline rows of the trusts in
   the run: trust codes and published figures only, no record-level data).
   A report reads its rows from the slice instead of computing them again
   (``report.load_prepared``); they are the rows it would compute on its own
   (``tests/test_prepared_rows.py``);
3. executes the notebooks with papermill's Python API in N worker processes
   (default: the number of cores) or, with ``executor="dask"``, as tasks on a
   Dask distributed cluster; kernel = this environment's Python; behind a
   progress bar; one failing notebook does not stop the others. By default
   each worker keeps one *warm* kernel and runs notebook after notebook in it,
   reset in between to a fresh kernel's state (:mod:`edi_analysis.warm`);
   ``fresh_kernels=True`` uses papermill's default engine, a new kernel per
   notebook;
4. writes ``reports/<period>/<trust>/`` (executed notebooks, ``metrics.csv``,
   ``manifest.json``) into a staging folder and renames it into place only
   when that trust and period are complete, so an interrupted run never
   leaves a half-written report that looks finished; a re-run replaces the
   old folder only then, only when that folder is the tool's
   (:mod:`edi_analysis.report_folders`), and keeps the notebooks it did not
   run (a partial re-run), with one manifest saying which run produced each.

The staging folder (``reports/.staging-…``, with the person-level slices in
its ``_work/``) is private (0700) and records its owner process (pid and
start time): the next run removes it at start-up if its owner is gone (after
``kill -9``), whatever killed it. Workers and their kernels ask to be killed
when their parent dies (:mod:`edi_analysis.procs`), so nothing they run
outlives the command. An output that cannot be written (disk full, read-only
folder) raises :class:`edi_analysis.io.OutputError` naming the path, after
the staging folder is removed.

The run ends with a summary naming each failed notebook and where it is
kept; ``RunResult.exit_code`` is 1 if any notebook failed or the data are
invalid (CONTRACT.md §7).

Re-running with the same inputs writes a byte-identical ``metrics.csv`` and
notebooks that differ only in papermill's and nbclient's timestamps and
durations: the papermill ``output_path`` recorded in a notebook is its final
place relative to ``reports_dir``, its ``input_path`` the template's file name,
and the injected parameters cell gets a fixed cell id (papermill draws a
random one).

An executed notebook re-runs as recorded (``papermill NOTEBOOK OUT.ipynb``
from any folder, or ``edi-analysis rerun``): its recorded parameters are the
dataset's absolute path, the sha256 of each input file (the report refuses
data that differ), the mapping profile and its values, the trust names and the
absolute path of the peers file kept in its report folder
(``peers-<sha256>.parquet``: public trust codes and published figures). The
run itself also passes ``prepared``, the trust's slice in the staging folder
(the same rows: ``tests/test_prepared_rows.py``), and the peers file's place
there; the notebook is written with the parameters a re-run needs
(:func:`edi_analysis.execution.finalise_notebook`). The site's copies hold no
absolute path (``publish.content.published_notebook``).

Modules, imported one way (``tests/test_imports.py``): :mod:`pipeline` →
this module → :mod:`staging` (staging folders, installing report folders),
:mod:`slices` (metrics, slices, peers rows), :mod:`provenance` (the manifest),
and the executors :mod:`local_executor` and :mod:`dask_executor`, which both
run :func:`edi_analysis.execution.execute_one`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from edi_analysis import report_folders, staging
from edi_analysis.errors import UsageError
from edi_analysis.execution import (  # noqa: F401  (re-exported for callers of the runner)
    INJECTED_CELL_ID, KERNEL_DIR_PREFIX, KERNEL_NAME, START_TIMEOUT, _kernel_env, _split_timing,
    execute_one, kernelspec_dir, worker_died)
from edi_analysis.io import OutputError
from edi_analysis.local_executor import _local_worker_init  # noqa: F401  (re-exported)
from edi_analysis.local_executor import execute_all as _execute_all
from edi_analysis.params import Params
from edi_analysis.provenance import (  # noqa: F401  (re-exported)
    MANIFEST, VERSIONED, environment, git_commit, now, package_versions, relative_paths,
    write_manifest)
from edi_analysis.slices import WORK_DIR, peers_rows, prepare_metrics, write_slice  # noqa: F401
from edi_analysis.staging import STAGING_PREFIX, check_targets, install  # noqa: F401

EXECUTORS = ("local", "dask")
#: The peers file kept in each report folder: ``peers-<first 16 hex digits of its sha256>.parquet``
#: (named by content, so the notebooks a partial re-run keeps still find theirs).
PEERS_PREFIX = "peers-"
#: In each report folder beside ``metrics.csv``: the earlier snapshots' rows its trend charts and
#: tables show (metrics.csv columns), so the disclosure audit sees every published figure.
TREND_CSV = "metrics-trend.csv"


@dataclass
class NotebookRecord:
    """One executed notebook: where, whether it worked, and how long each part took.

    ``kernel_start`` is the time from asking papermill to run until the first
    cell started (kernel launch and connection); ``imports`` the cell tagged
    ``imports``; ``work`` every other cell.
    """

    trust: str
    period: str
    notebook: str
    status: str = "pending"
    duration: float | None = None
    kernel_start: float | None = None
    imports: float | None = None
    work: float | None = None
    error: str | None = None
    path: str | None = None
    #: the machine that executed it (differs between executors; not part of the results)
    host: str | None = None


@dataclass
class RunResult:
    """What a run did: per-notebook records, the report folders written, the exit status."""

    exit_code: int
    records: list[NotebookRecord] = field(default_factory=list)
    report_dirs: list[Path] = field(default_factory=list)
    duration: float = 0.0
    invalid: bool = False
    #: wall seconds of each stage: validate, prepare (slices, metrics.csv, peers), notebooks
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> list[NotebookRecord]:
        return [r for r in self.records if r.status != "ok"]



# --- the run ---------------------------------------------------------------------------------

def _resolve_trusts(params: Params, tables: dict) -> list[str]:
    known = sorted(tables["workforce"]["trust_code"].unique())
    if params.trusts is None:
        return known
    missing = [t for t in params.trusts if t not in known]
    if missing:
        raise UsageError(f"trust(s) not in the workforce table: {', '.join(missing)}")
    return list(params.trusts)



def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                desc="notebooks")


def _summary(result: RunResult, stream=None) -> None:
    stream = stream or sys.stderr
    ok = sum(r.status == "ok" for r in result.records)
    n = len(result.records)
    trusts = len({r.trust for r in result.records})
    periods = len({r.period for r in result.records})
    print(f"ran {n} notebook{'s' * (n != 1)} ({trusts} trust{'s' * (trusts != 1)} × {periods} "
          f"period{'s' * (periods != 1)}) in {result.duration:.1f} s: {ok} ok, "
          f"{n - ok} failed", file=stream)
    if result.records:
        slow = max(result.records, key=lambda r: r.duration or 0)
        print(f"slowest: {slow.notebook} for {slow.trust} {slow.period} "
              f"({(slow.duration or 0):.1f} s)", file=stream)
    for r in result.failures:
        where = (f"kept at {r.path}" if r.path else
                 "no notebook was saved (the kernel or its worker stopped before saving it)")
        print(f"FAILED {r.notebook} for {r.trust} {r.period}: {r.error}\n       {where}",
              file=stream)



def run(params: Params, jobs: int | None = None, executor: str = "local", scheduler=None,
        progress: bool = True, fresh_kernels: bool = False) -> RunResult:
    """Validate, prepare slices, execute every notebook for every trust and period, write reports.

    ``executor``: ``"local"`` (a pool of ``jobs`` worker processes) or
    ``"dask"`` (tasks on the Dask cluster whose scheduler is at ``scheduler``,
    e.g. ``tcp://10.0.0.5:8786``; the reports folder and the data must be on a
    file system the workers share). ``fresh_kernels``: a new kernel per
    notebook (papermill's default engine) instead of warm kernels.
    """
    from edi_analysis.params import check_layout, threshold_problems
    from edi_analysis.validation import report_validation, validate

    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    if executor == "local" and scheduler:
        raise UsageError("--scheduler is only used with --executor dask")
    # defence in depth: params made in code have not been through parse_params
    problems = check_layout(params) + threshold_problems(
        params.min_count, params.min_survey_responses, params.allow_lower_thresholds)
    if problems:
        raise UsageError("; ".join(problems))
    t_start = time.time()
    started = now()
    report = validate(params.data, periods=params.periods, params_file=params.params_file,
                      trusts=params.trusts, mapping=params.mapping, settings=dict(params.settings))
    if not report.ok:
        report_validation(report)
        return RunResult(exit_code=1, invalid=True, duration=time.time() - t_start)
    if report.warnings or report.notes:
        report_validation(report)
    t_valid = time.time()
    dataset = report.dataset
    trusts = _resolve_trusts(params, dataset.tables)
    jobs = jobs or os.cpu_count() or 1
    # Before any work: every report folder this run would replace must be the tool's, and the
    # notebooks a partial re-run keeps must share this run's thresholds.
    kept = check_targets(params, trusts)

    run_id = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    staging_root = staging.open_staging(params.reports_dir, run_id)
    work = staging_root / WORK_DIR
    result = RunResult(exit_code=0)
    versions, commit = package_versions(), git_commit()
    inputs = dict(sorted(dataset.sha256.items()))
    provenance = {"inputs": inputs, "versions": versions, "git_commit": commit,
                  "params": params.as_record()}
    ctx = _RunContext(run_id=run_id, started=started, staging_root=staging_root, params=params,
                      provenance=provenance, kept=kept,
                      environment=environment(params.params_file, params.notebooks))
    try:
        try:
            tasks, pending = _prepare(dataset, params, trusts, staging_root, work, provenance,
                                      fresh_kernels)
        except OutputError:
            raise
        except OSError as exc:  # disk full, permissions: name the file (or the staging folder)
            raise OutputError(exc.filename or staging_root, exc) from exc
        # 3. notebooks, in parallel: local worker processes or a Dask cluster
        t_prepared = time.time()
        result.stages = {"validate": round(t_valid - t_start, 3),
                         "prepare": round(t_prepared - t_valid, 3)}
        on_done = lambda rec: _finish_if_complete(rec, pending, ctx, result)  # noqa: E731
        if executor == "dask":
            from edi_analysis.dask_executor import execute_all as dask_execute_all

            dask_execute_all(tasks, scheduler, _Progress(len(tasks), progress), on_done)
        else:
            _execute_all(tasks, jobs, _Progress(len(tasks), progress), on_done)
        result.records = [r for recs in pending.values() for r in recs]
        result.stages["notebooks"] = round(time.time() - t_prepared, 3)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    result.duration = time.time() - t_start
    result.exit_code = 1 if result.failures else 0
    _summary(result)
    return result


@dataclass
class _RunContext:
    """What finishing a trust and period needs to know about the run."""

    run_id: str
    started: str
    staging_root: Path
    params: Params
    provenance: dict
    kept: dict
    #: Python version, lock file, params file and template hashes (provenance.environment)
    environment: dict = field(default_factory=dict)


def notebook_parameters(params: Params, trust: str, period: str, inputs: dict,
                        trusts: list[str]) -> dict:
    """The parameters a report notebook is run with and re-runs with (as recorded in it): the
    dataset's absolute path, the sha256 of its files, its mapping, the thresholds and seed, the
    trust names of the run's trusts; ``peers`` and ``prepared`` are set per run."""
    return {"trust": trust, "period": period, "data": os.path.abspath(params.data),
            "peers": None, "min_count": params.min_count,
            "min_survey_responses": params.min_survey_responses, "seed": params.seed,
            "inputs": dict(inputs), "mapping": params.mapping,
            "settings": dict(params.settings) or None,
            "trust_names": {c: params.trust_name(c) for c in trusts}, "prepared": None}


def _prepare(dataset, params: Params, trusts: list[str], staging_root: Path, work: Path,
             provenance: dict, fresh_kernels: bool):
    """Metrics, slices, peers files and metrics.csv in the staging folder; the notebook tasks."""
    from edi_analysis.metrics_output import metrics_csv_bytes
    from edi_analysis.report import prepared_settings

    # 1. per period: every trust's metrics in one pass (and the earlier snapshots' for trends)
    prepared = prepare_metrics(dataset, params, trusts)
    settings = prepared_settings(params.min_count, params.min_survey_responses, params.seed)
    # 2. per-trust slices, once (all periods: trends need the earlier snapshots), with the
    #    trust's prepared rows; metrics.csv per trust and period; the peers file
    slices = {t: write_slice(work / "slices" / t, dataset.tables, t, provenance, metrics={
        "settings": settings,
        "periods": {p: {k: prepared[p][k][t] for k in ("rows", "trend")}
                    for p in params.periods}},
        trust_names={c: params.trust_name(c) for c in trusts}) for t in trusts}
    pending: dict[tuple[str, str], list[NotebookRecord]] = {}
    tasks = []
    for period in params.periods:
        rows = prepared[period]["all"]
        peers_file = work / "peers" / f"{period}.parquet"
        peers_file.parent.mkdir(parents=True, exist_ok=True)
        peers_rows(rows).to_parquet(peers_file, index=False)
        peers_bytes = peers_file.read_bytes()
        peers_name = f"{PEERS_PREFIX}{hashlib.sha256(peers_bytes).hexdigest()[:16]}.parquet"
        for trust in trusts:
            stage = staging_root / period / trust
            stage.mkdir(parents=True, exist_ok=True)
            (stage / "metrics.csv").write_bytes(metrics_csv_bytes(prepared[period]["rows"][trust]))
            if not prepared[period]["trend"][trust].empty:
                (stage / TREND_CSV).write_bytes(metrics_csv_bytes(prepared[period]["trend"][trust]))
            # kept beside the notebooks (public figures), so a notebook re-runs after the run
            (stage / peers_name).write_bytes(peers_bytes)
            target = params.reports_dir / period / trust
            base = notebook_parameters(params, trust, period, provenance["inputs"], trusts)
            recorded = {**base, "peers": os.path.abspath(target / peers_name)}
            # the run's own: the slice, and the peers file where it is now, relative to the
            # notebook's folder (its kernel's cwd)
            given = {**base, "peers": peers_name,
                     "prepared": os.path.relpath(slices[trust], stage)}
            recs = []
            for template in params.notebooks:
                final = target / template.name
                rec = NotebookRecord(trust=trust, period=period, notebook=template.name,
                                     path=str(final))
                recs.append(rec)
                tasks.append((rec, (str(template), str(stage / template.name), given,
                                    str(stage), f"{period}/{trust}/{template.name}",
                                    fresh_kernels, recorded)))
            pending[(period, trust)] = recs
    return tasks, pending


class _Progress:
    """The progress bar: done/total and the slowest notebook so far."""

    def __init__(self, total: int, enabled: bool):
        self.bar = _progress(total, enabled)
        self.slowest = (0.0, "")

    def record(self, rec: NotebookRecord, res: dict) -> None:
        """Copy a task's result into its record (the same for every executor) and tick."""
        written = res.pop("written", False)
        for k, v in res.items():
            setattr(rec, k, v)
        if not written:
            rec.path = None  # nothing saved: the summary must not point at a missing file
        if (rec.duration or 0) > self.slowest[0]:
            self.slowest = (rec.duration, f"{rec.notebook} {rec.trust} {rec.period}")
        self.bar.set_postfix_str(f"slowest {self.slowest[1]} {self.slowest[0]:.1f}s", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _kept_peers(kept: report_folders.Kept) -> set[str]:
    """The peers files the kept notebooks were run with (their recorded ``peers`` parameter)."""
    import json

    out = set()
    for name in kept.files:
        try:
            nb = json.loads((kept.folder / name).read_text(encoding="utf-8"))
            peers = nb["metadata"]["papermill"]["parameters"].get("peers")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(peers, str) and Path(peers).name.startswith(PEERS_PREFIX):
            out.add(Path(peers).name)
    return out


def _finish_if_complete(rec: NotebookRecord, pending: dict, ctx: _RunContext,
                        result: RunResult) -> None:
    """When the last notebook of a trust and period is done: keep the notebooks a partial re-run
    did not run (and their peers files), write the merged manifest, move the folder into place."""
    recs = pending[(rec.period, rec.trust)]
    if any(r.status == "pending" for r in recs):
        return
    params = ctx.params
    stage = ctx.staging_root / rec.period / rec.trust
    target = params.reports_dir / rec.period / rec.trust
    try:
        kept = ctx.kept.get((rec.period, rec.trust))
        if kept is not None:
            # checked again: the folder may have changed while the notebooks ran
            why = report_folders.replace_problem(target, rec.trust, rec.period)
            if why is not None:
                raise report_folders.FolderRefused(f"{target}: {why}")
            for name in kept.files:
                shutil.copy2(target / name, stage / name)
            for name in _kept_peers(kept):
                if (target / name).is_file() and not (stage / name).exists():
                    shutil.copy2(target / name, stage / name)
        run = {
            "started": ctx.started,
            "finished": now(),
            "parameters": relative_paths({**params.as_record(), "trusts": [rec.trust],
                                          "periods": [rec.period]}, target),
            "inputs": ctx.provenance["inputs"],
            "versions": ctx.provenance["versions"],
            "git_commit": ctx.provenance["git_commit"],
            **ctx.environment,
        }
        lowered = params.lower_thresholds
        if lowered:
            from edi_analysis.params import lower_thresholds_notice

            run["lower_thresholds"] = {"values": lowered,
                                       "notice": lower_thresholds_notice(lowered)}
        records = [{**{k: v for k, v in asdict(r).items() if k not in ("trust", "period")},
                    "path": r.notebook if r.path else None} for r in recs]
        manifest = report_folders.merged_manifest(
            trust=rec.trust, period=rec.period, run_id=ctx.run_id, run=run, records=records,
            kept=kept, files=report_folders.file_hashes(stage))
        manifest = {"trust": manifest.pop("trust"), "trust_name": params.trust_name(rec.trust),
                    **manifest}
        write_manifest(stage, manifest)
        install(stage, target, ctx.staging_root)
    except report_folders.FolderRefused as exc:
        for r in recs:
            r.status, r.error, r.path = "failed", f"not installed: {exc}", None
        return
    except OSError as exc:
        raise OutputError(exc.filename or target, exc) from exc
    result.report_dirs.append(target)


# Kept for callers of the old private name.
_install = install
_peers_rows = peers_rows
