"""Execute the report notebooks with papermill: every trust × period × notebook, in parallel.

``run(params)``:

1. validates the dataset (all problems reported at once; nothing written when invalid);
2. computes every trust's metrics for every period the run publishes (the
   run's periods and, for the trend charts, the earlier snapshots) in one
   vectorised pass, one suppression decision per trust, then prepares each trust's
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
   ``metrics-trend.csv`` with the trend rows, ``manifest.json``) into a staging folder and renames it into place only
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
durations: the prepared slices and peers file live inside the run's staging
folder and are passed to the notebooks as paths *relative to the notebook's
folder* (no temporary folder name in the parameters), the papermill
``output_path`` recorded in a notebook is its final place in ``reports/``, and
the injected parameters cell gets a fixed cell id (papermill draws a random
one). No absolute local path is recorded in a notebook: papermill's
``input_path`` is the template's file name and its ``output_path`` the
notebook's place relative to ``reports_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from edi_analysis import folders, report_folders
from edi_analysis.io import OutputError, make_folders
from edi_analysis.params import PROJECT_ROOT, Params

KERNEL_NAME = "python3"
START_TIMEOUT = 120  # seconds for a kernel to start on a busy machine
#: Packages whose versions the manifest records.
VERSIONED = ("edi-analysis", "pandas", "numpy", "scipy", "pyarrow", "papermill", "nbclient",
             "nbformat", "ipykernel", "statsmodels", "scikit-learn", "seaborn", "matplotlib",
             "pandera")
MANIFEST = "manifest.json"
#: In each report folder beside ``metrics.csv``: the earlier snapshots' rows its trend charts and
#: tables show (metrics.csv columns), so the disclosure audit sees every published figure.
TREND_CSV = "metrics-trend.csv"
STAGING_PREFIX = ".staging-"
#: Inside a staging folder: the prepared slices and peers files (removed with it).
WORK_DIR = "_work"
#: Fixed cell id of papermill's injected parameters cell (papermill draws a random one; so it
#: does for its error marker cells, which become ``papermill-error-1``, ``-2``…).
INJECTED_CELL_ID = "injected-parameters"
#: A worker's kernelspec folder in the temporary-files folder (owner recorded, removed when stale).
KERNEL_DIR_PREFIX = "edi-analysis-kernel-"
EXECUTORS = ("local", "dask")


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


# --- provenance ------------------------------------------------------------------------------

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- kernel ----------------------------------------------------------------------------------

def kernelspec_dir(work: Path) -> Path:
    """Write a ``python3`` kernelspec that runs *this* interpreter; returns the JUPYTER_PATH entry.

    JUPYTER_PATH is searched before user and system kernel folders, so the
    notebooks' ``python3`` kernel is this environment even when another
    ``python3`` kernel is installed for the user.
    """
    root = work / "jupyter"
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        # log level ERROR: ipykernel warns on every start that local TCP is unencrypted,
        # which would bury the run's summary under one warning per notebook
        # edi_analysis.kernel_launcher: ipykernel's launcher, in a kernel that dies with its
        # worker (edi_analysis.procs)
        "argv": [sys.executable, "-m", "edi_analysis.kernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR"],
        "display_name": "edi-analysis (Python 3)", "language": "python",
    }), encoding="utf-8")
    return root


def _kernel_env(jupyter_path: Path) -> dict[str, str]:
    env = {
        "JUPYTER_PATH": os.pathsep.join(
            [str(jupyter_path)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]),
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        # debugpy warns about frozen modules on every kernel start; the notebooks do not debug
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    return env


# --- one notebook (runs in a worker process) -------------------------------------------------

_worker_lock = threading.Lock()
_worker_ready = False


def _worker_setup() -> None:
    """Once per worker process: the kernel environment, and clean-up at the worker's exit.

    Done in the worker, not the parent, so a Dask worker on another machine
    gets the same kernel (this environment's Python, ``MPLBACKEND=Agg``,
    ``PYTHONHASHSEED=0``) as a local worker.
    """
    global _worker_ready
    with _worker_lock:
        if _worker_ready:
            return
        import logging
        from multiprocessing import util

        from edi_analysis import warm

        tmp = Path(tempfile.gettempdir())
        folders.remove_stale(tmp, KERNEL_DIR_PREFIX)  # left by workers that were killed
        work = folders.private_folder(tmp, KERNEL_DIR_PREFIX)
        os.environ.update(_kernel_env(kernelspec_dir(work)))
        logging.getLogger("papermill").setLevel(logging.WARNING)
        warm.register()
        # multiprocessing finalizers run when a worker process exits (atexit does not, there);
        # in a main process they run at exit too. Kernels first (higher priority), then files.
        util.Finalize(None, warm.shutdown_all, exitpriority=20)
        util.Finalize(None, shutil.rmtree, args=(str(work),), kwargs={"ignore_errors": True},
                      exitpriority=10)
        _worker_ready = True


def _local_worker_init(parent_pid: int | None = None) -> None:
    """Initialiser of the local pool's worker processes.

    A worker dies with the command that started it (``kill -9`` of the run
    included: :func:`edi_analysis.procs.die_with_parent`; ``parent_pid`` is
    the command's pid, to catch a parent that died before the worker started).
    Ctrl-C is the parent's business (it cancels the run and stops the
    workers), so workers ignore SIGINT; SIGTERM, which the parent sends to stop
    them, kills the worker's warm kernel before the worker exits, so no kernel
    outlives an interrupted run.
    """
    from edi_analysis.procs import die_with_parent

    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_term(signum, frame):
        # Exit whatever happens while stopping the kernel: an exception raised in a signal
        # handler surfaces in the interrupted code (here papermill's event loop), which may
        # swallow it and leave the worker running its notebook.
        try:
            from edi_analysis import warm

            warm.shutdown_all()
        finally:
            os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    _worker_setup()


def _finalise_notebook(nb, output: str, final_path: str | None) -> None:
    """Record the notebook's final place as papermill's ``output_path`` and its template's file
    name as ``input_path`` (never an absolute local path: executed notebooks are published),
    give the cells papermill adds (injected parameters, error markers) fixed ids instead of
    random ones, and write it, so that re-runs differ only in timestamps."""
    import nbformat

    pm_meta = nb.metadata.setdefault("papermill", {})
    pm_meta["output_path"] = final_path if final_path is not None else Path(output).name
    if pm_meta.get("input_path"):
        pm_meta["input_path"] = Path(str(pm_meta["input_path"])).name
    errors = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "id" not in cell:
            continue
        if "injected-parameters" in tags:
            cell["id"] = INJECTED_CELL_ID
        elif "papermill-error-cell-tag" in tags:  # papermill's "execution failed" markers
            errors += 1
            cell["id"] = f"papermill-error-{errors}"
    Path(output).write_text(nbformat.writes(nb), encoding="utf-8")


def execute_one(template: str, output: str, parameters: dict, cwd: str,
                final_path: str | None = None, fresh_kernel: bool = False) -> dict:
    """Execute one notebook with papermill; never raises for a notebook error (returns it).

    ``fresh_kernel``: papermill's default engine (a new kernel for this
    notebook) instead of this worker's warm kernel. Returns the record fields:
    status, error, timings, host, and ``written`` (whether a notebook was
    saved: not when the kernel died or the template could not be read).
    """
    import nbformat
    import papermill as pm

    from edi_analysis import warm

    _worker_setup()
    t0 = time.time()
    status, error, nb = "ok", None, None
    try:
        nb = pm.execute_notebook(template, output, parameters=parameters, kernel_name=KERNEL_NAME,
                                 engine_name=None if fresh_kernel else warm.ENGINE_NAME,
                                 progress_bar=False, log_output=False, cwd=cwd,
                                 start_timeout=START_TIMEOUT, request_save_on_cell_execute=False)
    except pm.PapermillExecutionError as exc:
        status, error = "failed", f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timeout, unreadable template: still a failed notebook
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    t1 = time.time()
    timing = {"duration": round(t1 - t0, 3), "kernel_start": None, "imports": None, "work": None}
    written = False
    try:
        if nb is None and Path(output).exists():  # a failed cell: papermill saved it, then raised
            nb = nbformat.read(output, as_version=4)
        if nb is not None:
            timing.update(_split_timing(nb, t0))
            _finalise_notebook(nb, output, final_path)
            written = True
    except Exception:  # no readable output notebook: keep the wall time only
        pass
    return {"status": status, "error": error, "host": socket.gethostname(), "written": written,
            **timing}


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _split_timing(nb, t0: float) -> dict:
    """Kernel start / imports / work from papermill's per-cell timestamps."""
    starts, imports, work = [], 0.0, 0.0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("papermill", {})
        start, dur = _ts(meta.get("start_time")), meta.get("duration")
        if start is not None:
            starts.append(start)
        if dur is None:
            continue
        if "imports" in cell.get("metadata", {}).get("tags", []):
            imports += float(dur)
        else:
            work += float(dur)
    kernel = (min(starts) - t0) if starts else None
    return {"kernel_start": None if kernel is None else round(max(kernel, 0.0), 3),
            "imports": round(imports, 3), "work": round(work, 3)}


# --- data preparation ------------------------------------------------------------------------

def _slice_tables(tables: dict, trust: str) -> dict:
    return {name: (df[df["trust_code"] == trust].reset_index(drop=True) if "trust_code" in df else df)
            for name, df in tables.items() if df is not None}


def write_slice(folder: Path, tables: dict, trust: str, provenance: dict,
                metrics: dict | None = None, trust_names: dict | None = None) -> Path:
    """One trust's validated tables as Parquet, with ``slice.json`` and ``provenance.json``.

    ``metrics`` (optional): the trust's prepared rows, ``{"settings": {...},
    "periods": {period: {"rows": DataFrame, "trend": DataFrame}}}``, written
    under ``metrics/`` for the notebooks (``report.load_prepared``).
    ``trust_names``: ODS code → name of the trusts in the run (the params file's
    ``trust_names``), so the notebooks name this trust and its peers.
    """
    from edi_analysis.report import PROVENANCE_FILE, ROWS_DIR, SLICE_MARKER, write_rows

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for name, df in _slice_tables(tables, trust).items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
        names.append(name)
    meta: dict = {"trust": trust, "tables": names, "trust_names": dict(trust_names or {})}
    if metrics is not None:
        entries = {}
        for period, kinds in metrics["periods"].items():
            entries[period] = {}
            for kind, rows in kinds.items():
                rel = f"{ROWS_DIR}/{period}-{kind}.parquet"
                write_rows(folder / rel, rows)
                entries[period][kind] = rel
        meta["metrics"] = {"settings": metrics["settings"], "periods": entries}
    (folder / SLICE_MARKER).write_text(json.dumps(meta), encoding="utf-8")
    (folder / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    return folder


def _by_trust(rows, trusts: list[str]) -> dict:
    """Rows split by trust (every trust present, possibly with no rows), order kept."""
    empty = rows.iloc[0:0]
    out = {t: empty for t in trusts}
    for trust, part in rows.groupby("trust_code", sort=False):
        if trust in out:
            out[trust] = part.reset_index(drop=True)
    return out


def prepare_metrics(dataset, params: Params, trusts: list[str]) -> dict:
    """Every trust's published rows, from one computation over every period the run publishes.

    Returns ``{period: {"rows": {trust: rows}, "trend": {trust: rows}}}``.
    ``rows`` are the period's rows (all metrics: they also make
    ``metrics.csv`` and the peers file); ``trend`` the trend metrics' rows of
    the trust's earlier snapshots, which the reports show beside them. Both
    come from one ``metrics.compute`` over the run's periods and every earlier
    snapshot, so a count has one suppression decision wherever the run
    publishes it (``edi_analysis.disclosure``: a 2023 headcount in 2023's
    WRES 1 and in 2024's two-year WRES 3 denominator). A report's rows are
    these narrowed to its metrics: ``metrics.compute`` gives the same rows
    whichever metrics and periods are requested, and the same rows for a
    trust whether it is computed alone or with others.
    """
    from edi_analysis import pipeline, report

    settings = report.prepared_settings(params.min_count, params.min_survey_responses,
                                        params.seed)
    snaps = {t: report.snapshot_dates(wf)
             for t, wf in dataset.tables["workforce"].groupby("trust_code")}
    last = max(params.periods)
    periods = sorted(set(params.periods)
                     | {p for t in trusts for p in snaps.get(t, []) if p < last})
    rows = pipeline.compute_metrics(dataset, periods, trusts, **settings)
    by_period = {p: part.reset_index(drop=True) for p, part in rows.groupby("period", sort=False)}
    empty = rows.iloc[0:0]
    trend_ids = report.all_trend_ids()
    trends = rows[rows["metric_id"].isin(trend_ids)]
    out: dict = {}
    for period in params.periods:
        these = by_period.get(period, empty)
        trend = {}
        for t in trusts:
            earlier = [p for p in snaps.get(t, []) if p < period]
            trend[t] = trends[(trends["trust_code"] == t)
                              & trends["period"].isin(earlier)].reset_index(drop=True)
        out[period] = {"all": these, "rows": _by_trust(these, trusts), "trend": trend}
    return out


def _install(staging: Path, target: Path, trash: Path | None = None) -> None:
    """Move a complete staged report folder into place (see :func:`report_folders.install`):
    only over a folder that is the tool's, the old one renamed into ``trash`` (default: beside
    the staged folder) and removed."""
    report_folders.install(staging, target, target.name, target.parent.name,
                           trash if trash is not None else staging.parent)


# --- the run ---------------------------------------------------------------------------------

def _resolve_trusts(params: Params, tables: dict) -> list[str]:
    from edi_analysis.pipeline import UsageError

    known = sorted(tables["workforce"]["trust_code"].unique())
    if params.trusts is None:
        return known
    missing = [t for t in params.trusts if t not in known]
    if missing:
        raise UsageError(f"trust(s) not in the workforce table: {', '.join(missing)}")
    return list(params.trusts)


def _peers_rows(rows):
    """Headline rows (no breakdown, or the breakdown a board-paper indicator is defined on;
    numeric) of every trust: public trust codes and published figures."""
    from edi_analysis.board import headline_breakdowns

    extra = headline_breakdowns()
    keys = list(zip(rows["metric_id"], rows["breakdown"]))
    keep = rows["breakdown"].eq("").to_numpy() | [k in extra for k in keys]
    out = rows[keep & (rows["unit"] != "flag")].reset_index(drop=True)
    out["value"] = out["value"].astype("float64")  # flag labels (text) are excluded above
    return out


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
    from edi_analysis import pipeline
    from edi_analysis.params import check_layout, threshold_problems

    if executor not in EXECUTORS:
        raise pipeline.UsageError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise pipeline.UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    if executor == "local" and scheduler:
        raise pipeline.UsageError("--scheduler is only used with --executor dask")
    # defence in depth: params made in code have not been through parse_params
    problems = check_layout(params) + threshold_problems(
        params.min_count, params.min_survey_responses, params.allow_lower_thresholds)
    if problems:
        raise pipeline.UsageError("; ".join(problems))
    t_start = time.time()
    started = _now()
    report = pipeline.validate(params.data, periods=params.periods, params_file=params.params_file,
                               trusts=params.trusts, mapping=params.mapping,
                               settings=dict(params.settings))
    if not report.ok:
        pipeline.report_validation(report)
        return RunResult(exit_code=1, invalid=True, duration=time.time() - t_start)
    if report.warnings or report.notes:
        pipeline.report_validation(report)
    t_valid = time.time()
    dataset = report.dataset
    trusts = _resolve_trusts(params, dataset.tables)
    jobs = jobs or os.cpu_count() or 1
    # Before any work: every report folder this run would replace must be the tool's, and the
    # notebooks a partial re-run keeps must share this run's thresholds.
    kept = _check_targets(params, trusts)

    if params.reports_dir.exists() and not params.reports_dir.is_dir():
        raise OutputError(params.reports_dir, "is not a folder")
    make_folders(params.reports_dir)
    for old in folders.remove_stale(params.reports_dir, STAGING_PREFIX):
        _say(f"removed {old}: the staging folder of an interrupted run (its process is gone)")
    for odd in folders.unmarked_folders(params.reports_dir, STAGING_PREFIX):
        _say(f"warning: {odd} looks like the staging folder of an older run (it may hold "
             "person-level data slices) but carries no owner record, so it is not removed; "
             "delete it once no run is using it")
    run_id = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        # private (0700), with this process recorded as its owner
        staging_root = folders.private_folder(params.reports_dir, f"{STAGING_PREFIX}{run_id}-")
    except OSError as exc:
        raise OutputError(params.reports_dir, exc) from exc
    work = staging_root / WORK_DIR
    result = RunResult(exit_code=0)
    versions, commit = package_versions(), git_commit()
    inputs = dict(sorted(dataset.sha256.items()))
    provenance = {"inputs": inputs, "versions": versions, "git_commit": commit,
                  "params": params.as_record()}
    ctx = _RunContext(run_id=run_id, started=started, staging_root=staging_root, params=params,
                      provenance=provenance, kept=kept)
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


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)


@dataclass
class _RunContext:
    """What finishing a trust and period needs to know about the run."""

    run_id: str
    started: str
    staging_root: Path
    params: Params
    provenance: dict
    kept: dict


#: Keys of the params record that hold local paths (written relative to the report folder).
_PATH_KEYS = ("params_file", "data", "notebooks_dir", "reports_dir", "site_dir")


def _relative_paths(record: dict, folder: Path) -> dict:
    """The params record with its local paths relative to ``folder`` (the report folder), so no
    absolute local path (home folder, project folder) is written into a report."""
    out = dict(record)
    for key in _PATH_KEYS:
        if out.get(key):
            out[key] = os.path.relpath(out[key], folder)
    return out


def _check_targets(params: Params, trusts: list[str]) -> dict:
    """Refuse (UsageError, before any work) a run that would replace a report folder that is not
    the tool's, or keep notebooks run with other thresholds; returns what each partial re-run keeps:
    ``{(period, trust): report_folders.Kept | None}``."""
    from edi_analysis import pipeline

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
        raise pipeline.UsageError("; ".join(problems[:3]) + more)
    return kept


def _prepare(dataset, params: Params, trusts: list[str], staging_root: Path, work: Path,
             provenance: dict, fresh_kernels: bool):
    """Metrics, slices, peers files and metrics.csv in the staging folder; the notebook tasks."""
    from edi_analysis import pipeline
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
        _peers_rows(rows).to_parquet(peers_file, index=False)
        for trust in trusts:
            stage = staging_root / period / trust
            stage.mkdir(parents=True, exist_ok=True)
            (stage / "metrics.csv").write_bytes(
                pipeline.metrics_csv_bytes(prepared[period]["rows"][trust]))
            if not prepared[period]["trend"][trust].empty:
                (stage / TREND_CSV).write_bytes(
                    pipeline.metrics_csv_bytes(prepared[period]["trend"][trust]))
            recs = []
            for template in params.notebooks:
                final = params.reports_dir / period / trust / template.name
                rec = NotebookRecord(trust=trust, period=period, notebook=template.name,
                                     path=str(final))
                recs.append(rec)
                # paths relative to the notebook's folder (its kernel's cwd): the same
                # parameters in every run, whatever the staging folder is called
                tasks.append((rec, (str(template), str(stage / template.name), {
                    "trust": trust, "period": period,
                    "data": os.path.relpath(slices[trust], stage),
                    "peers": os.path.relpath(peers_file, stage),
                    "min_count": params.min_count,
                    "min_survey_responses": params.min_survey_responses,
                    "seed": params.seed}, str(stage), f"{period}/{trust}/{template.name}",
                    fresh_kernels)))
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


def worker_died(exc: BaseException) -> dict:
    """The result of a task whose worker process died (the notebook counts as failed)."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "written": False}


class _Interrupts:
    """Ctrl-C during the local pool's run, noticed at a safe point instead of anywhere.

    Python raises KeyboardInterrupt wherever the main thread happens to be,
    which can be just after it took one of ``concurrent.futures``' internal
    locks and before the ``with`` block that releases it; the pool's manager
    thread then waits on that lock for ever and so does the interpreter's exit.
    While the pool runs, SIGINT only sets a flag; the wait loop (woken every
    :attr:`POLL` seconds) turns it into KeyboardInterrupt where no lock is held.
    """

    POLL = 0.25

    def __init__(self):
        self.count = 0
        self._old = None

    def _handler(self, signum, frame):
        self.count += 1

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (``kill``, a scheduler stopping the job) stops the run the same way
            self._old = {sig: signal.signal(sig, self._handler)
                         for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            for sig, old in self._old.items():
                signal.signal(sig, old)
        return False

    def check(self) -> None:
        if self.count:
            raise KeyboardInterrupt


def _execute_all(tasks: list, jobs: int, progress: _Progress, on_done) -> None:
    """Run tasks in a local process pool; call ``on_done(record)`` as each finishes.

    On an interruption (Ctrl-C) or any error here, queued notebooks are
    cancelled and the workers are stopped with SIGTERM (each kills its warm
    kernel first) instead of letting the pool finish its queue.
    """
    import multiprocessing as mp

    before = set(mp.active_children())
    with _Interrupts() as interrupts:
        # spawn: workers start clean (no inherited threads or event loops from the parent)
        pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks) or 1)),
                                   mp_context=mp.get_context("spawn"),
                                   initializer=_local_worker_init, initargs=(os.getpid(),))
        try:
            futures = {pool.submit(execute_one, *args): rec for rec, args in tasks}
            remaining = set(futures)
            while remaining:
                interrupts.check()
                done, remaining = wait(remaining, timeout=_Interrupts.POLL,
                                       return_when=FIRST_COMPLETED)
                for fut in done:
                    rec = futures[fut]
                    try:
                        res = fut.result()
                    except Exception as exc:  # the worker itself died
                        res = worker_died(exc)
                    progress.record(rec, res)
                    on_done(rec)
            pool.shutdown(wait=True)
            interrupts.check()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers(set(mp.active_children()) - before)
            raise
        finally:
            progress.close()


def _stop_workers(procs) -> None:
    """SIGTERM (each worker kills its warm kernel, then exits), then SIGKILL for any left."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=15)
    # A worker that did not stop on SIGTERM (e.g. its handler could not run while it was
    # blocked) is killed: otherwise the pool's exit handler would wait for it forever.
    # Its kernel exits on its own when its parent goes (ipykernel's parent poller).
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


def _finish_if_complete(rec: NotebookRecord, pending: dict, ctx: _RunContext,
                        result: RunResult) -> None:
    """When the last notebook of a trust and period is done: keep the notebooks a partial re-run
    did not run, write the merged manifest, move the folder into place."""
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
        run = {
            "started": ctx.started,
            "finished": _now(),
            "parameters": _relative_paths({**params.as_record(), "trusts": [rec.trust],
                                           "periods": [rec.period]}, target),
            "inputs": ctx.provenance["inputs"],
            "versions": ctx.provenance["versions"],
            "git_commit": ctx.provenance["git_commit"],
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
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _install(stage, target, ctx.staging_root)
    except report_folders.FolderRefused as exc:
        for r in recs:
            r.status, r.error, r.path = "failed", f"not installed: {exc}", None
        return
    except OSError as exc:
        raise OutputError(exc.filename or target, exc) from exc
    result.report_dirs.append(target)
