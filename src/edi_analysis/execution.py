"""Execute one notebook with papermill, in a worker process (local pool or Dask worker).

The executors (:mod:`edi_analysis.local_executor`, :mod:`edi_analysis.dask_executor`) call
:func:`execute_one`; it sets up the worker's kernel once (this environment's Python,
``MPLBACKEND=Agg``, ``PYTHONHASHSEED=0``, warm kernels: :mod:`edi_analysis.warm`), runs the
notebook, never raises for a notebook's error, and writes the executed notebook with the
parameters a reviewer re-runs it with (:func:`finalise_notebook`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from edi_analysis import folders

KERNEL_NAME = "python3"
START_TIMEOUT = 120  # seconds for a kernel to start on a busy machine
#: Fixed cell id of papermill's injected parameters cell (papermill draws a random one; so it
#: does for its error marker cells, which become ``papermill-error-1``, ``-2``…).
INJECTED_CELL_ID = "injected-parameters"
#: A worker's kernelspec folder in the temporary-files folder (owner recorded, removed when stale).
KERNEL_DIR_PREFIX = "edi-analysis-kernel-"


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



def finalise_notebook(nb, output: str, final_path: str | None,
                      recorded: dict | None = None) -> None:
    """Record the notebook's final place as papermill's ``output_path`` and its template's file
    name as ``input_path``, give the cells papermill adds (injected parameters, error markers)
    fixed ids instead of random ones, and write it, so that re-runs differ only in timestamps.

    ``recorded``: the parameters a re-run needs (the run passed its temporary slice and the
    peers file's place in the staging folder; these name the dataset and the kept peers file
    instead): they replace the injected cell's code and papermill's ``parameters``, so that
    ``papermill NOTEBOOK OUT.ipynb`` re-runs it as recorded.
    """
    import nbformat

    pm_meta = nb.metadata.setdefault("papermill", {})
    pm_meta["output_path"] = final_path if final_path is not None else Path(output).name
    if pm_meta.get("input_path"):
        pm_meta["input_path"] = Path(str(pm_meta["input_path"])).name
    if recorded is not None:
        from papermill.translators import translate_parameters

        pm_meta["parameters"] = dict(recorded)
        source = translate_parameters(KERNEL_NAME, "python", dict(recorded), "Parameters")
    errors = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and recorded is not None:
            cell["source"] = source
        if "id" not in cell:
            continue
        if "injected-parameters" in tags:
            cell["id"] = INJECTED_CELL_ID
        elif "papermill-error-cell-tag" in tags:  # papermill's "execution failed" markers
            errors += 1
            cell["id"] = f"papermill-error-{errors}"
    Path(output).write_text(nbformat.writes(nb), encoding="utf-8")


_finalise_notebook = finalise_notebook


def execute_one(template: str, output: str, parameters: dict, cwd: str,
                final_path: str | None = None, fresh_kernel: bool = False,
                recorded: dict | None = None) -> dict:
    """Execute one notebook with papermill; never raises for a notebook error (returns it).

    ``fresh_kernel``: papermill's default engine (a new kernel for this
    notebook) instead of this worker's warm kernel. ``recorded``: the parameters written
    into the executed notebook (:func:`finalise_notebook`). Returns the record fields:
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
            finalise_notebook(nb, output, final_path, recorded)
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



def worker_died(exc: BaseException) -> dict:
    """The result of a task whose worker process died (the notebook counts as failed)."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "written": False}

