"""Warm kernels: a papermill engine that reuses one Jupyter kernel for notebook after notebook.

Starting a kernel and importing pandas, scipy, matplotlib, seaborn and the
metrics package costs several seconds, more than the work of a report
notebook. The runner therefore keeps one kernel per worker (per thread of a
worker process: a kernel client belongs to the event loop of the thread that
made it) and runs each notebook in it through papermill's engine extension
point (``papermill.engines.papermill_engines.register``), with papermill's own
nbclient wrapper (``PapermillNotebookClient``) handed the running kernel
manager and client, so cell execution, error capture and papermill metadata are
papermill's.

Before each notebook the kernel is put back into the state a fresh kernel has
after importing the package, by one *silent* execution (``silent=True``,
``store_history=False``: no output, no execution count consumed):

- ``InteractiveShell.reset(new_session=True)``: user namespace, ``In``/``Out``,
  ``_``-variables and history cleared, the execution counter back to 1, so the
  saved notebook numbers its cells 1..n as a fresh kernel does (``%reset -f``
  alone keeps the counter);
- matplotlib: every figure closed, ``rcParams`` restored to the values after
  the package's imports (seaborn themes are ``rcParams``) the way
  ``matplotlib.rc_context`` restores them;
- warnings: the filter list restored and the "already shown" registries
  invalidated (``warnings._filters_mutated``), so a warning shown once per
  location appears in every notebook that triggers it, as in a fresh kernel;
- ``sys.path`` restored, and modules imported from outside the environment
  (e.g. a helper next to a notebook) forgotten;
- the working directory set to the notebook's (papermill's ``cwd``);
- a garbage collection, so the previous notebook's tables are freed (cheap:
  the objects of the imports are frozen once, ``gc.freeze``, after
  :func:`prepare_kernel`).

Modules stay imported: that is the saving. Module state of the package is
either immutable (metric registry, section tables) or a pure cache
(``functools.lru_cache`` of the action catalogue). ``tests/test_warm_kernels.py``
checks that outputs, images and execution counts equal fresh-kernel
execution, in several orders.

After any failure (a cell error, a dead kernel, a failed reset) the kernel is
discarded and the next notebook starts a new one, so one bad notebook never
affects the next.
"""

from __future__ import annotations

import os
import sys
import threading
import time

ENGINE_NAME = "edi-warm"
#: As nbclient starts kernels: history in memory (no shared SQLite file between kernels).
KERNEL_ARGS = ("--HistoryManager.hist_file=:memory:",)
#: Run once in a new kernel: the package's imports, then the state to restore before each notebook.
PREPARE_CODE = "__import__('edi_analysis.warm', fromlist=['_']).prepare_kernel()"
#: Run before each notebook (``{cwd!r}`` filled in): see the module docstring.
RESET_CODE = "__import__('edi_analysis.warm', fromlist=['_']).reset_kernel({cwd!r})"


class WarmKernelError(RuntimeError):
    """The warm kernel could not be prepared or reset (the notebook fails; the kernel is replaced)."""


# --- inside the kernel -----------------------------------------------------------------------

_baseline: dict | None = None


def prepare_kernel() -> None:
    """Import what the notebooks import and record the state :func:`reset_kernel` restores.

    Runs inside the kernel. The imports are those of a notebook's ``imports``
    cell (``report.preload``), so the recorded state is what a fresh kernel
    has once that cell has run.
    """
    import warnings

    import matplotlib

    from edi_analysis import report

    report.preload()
    global _baseline
    _baseline = {"rc": matplotlib.rcParams.copy(), "warnings": list(warnings.filters),
                 "sys.path": list(sys.path), "modules": set(sys.modules),
                 "library_roots": _library_roots()}
    # The imported libraries are ~200,000 objects that live as long as the kernel. Frozen
    # (moved to the collector's permanent generation), they are no longer traversed by every
    # full collection: the two in each reset (IPython's reset runs one too) and those the
    # notebooks' own allocations trigger. Measured: a reset 0.28 s -> 0.07 s. Nothing is
    # computed differently; objects made by notebooks are collected as before.
    import gc

    gc.collect()
    gc.freeze()


def _library_roots() -> tuple[str, ...]:
    """Folders of installed code: the environment, the standard library and this package."""
    import sysconfig

    import edi_analysis

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(edi_analysis.__file__)}
    roots |= {p for p in sysconfig.get_paths().values() if p}
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots))


def reset_kernel(cwd: str) -> None:
    """Return the kernel to its state after :func:`prepare_kernel`; runs inside the kernel."""
    import gc
    import warnings

    from IPython import get_ipython

    if _baseline is None:
        raise WarmKernelError("reset_kernel called before prepare_kernel")
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib
        import matplotlib.pyplot as plt

        plt.close("all")
        rc = matplotlib.rcParams
        # what matplotlib.rc_context does on exit: a raw update (no validation or deprecation
        # warnings for keys that are merely being put back)
        if hasattr(rc, "_update_raw"):
            rc._update_raw(_baseline["rc"])
        else:
            dict.update(rc, _baseline["rc"])
    warnings.filters[:] = _baseline["warnings"]
    # invalidates every module's __warningregistry__ ("default"/"once" actions show again)
    mutated = getattr(warnings, "_filters_mutated", None) or getattr(
        warnings, "_filters_mutated_lock_held", None)
    if mutated is not None:
        mutated()
    # sys.path as after the imports; modules a notebook imported from outside the environment
    # (its own folder, a path it added) are forgotten, so the next notebook imports its own.
    # Library modules imported on the way stay: a fresh kernel would import the same files.
    sys.path[:] = _baseline["sys.path"]
    roots = _baseline["library_roots"]
    for name in set(sys.modules) - _baseline["modules"]:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and not os.path.realpath(path).startswith(roots):
            del sys.modules[name]
    shell = get_ipython()
    shell.reset(new_session=True)  # namespace, In/Out, history; execution_count = 1
    os.chdir(cwd)
    gc.collect()


# --- in the worker: the kernel and the engine ------------------------------------------------

class WarmKernel:
    """A running kernel with its client, owned by one thread of a worker process."""

    def __init__(self, kernel_name: str, start_timeout: float, cwd: str):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        t0 = time.perf_counter()
        self.km = AsyncKernelManager(kernel_name=kernel_name)
        run_sync(self.km.start_kernel)(extra_arguments=list(KERNEL_ARGS), cwd=cwd)
        try:
            self.kc = self.km.client()
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=start_timeout)
            self.kc.allow_stdin = False
            self.silent(PREPARE_CODE)
        except BaseException:
            self.kill()
            raise
        #: seconds to start the kernel and import the package (reported by the benchmark)
        self.start_seconds = time.perf_counter() - t0
        self.notebooks = 0

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def silent(self, code: str) -> None:
        """Execute code without output or history; raise WarmKernelError unless it succeeds."""
        from jupyter_core.utils import run_sync

        seen: list[str] = []

        def hook(msg):
            if msg["msg_type"] in ("stream", "error"):
                c = msg["content"]
                seen.append(c.get("text") or f"{c.get('ename')}: {c.get('evalue')}")

        try:
            reply = run_sync(self.kc.execute_interactive)(
                code, silent=True, store_history=False, allow_stdin=False,
                timeout=self.start_timeout, output_hook=hook)
        except Exception as exc:  # timeout or dead kernel
            raise WarmKernelError(f"warm kernel did not answer: {type(exc).__name__}: {exc}") from exc
        content = reply["content"]
        if content.get("status") != "ok":
            raise WarmKernelError(f"warm kernel reset failed: {content.get('ename')}: "
                                  f"{content.get('evalue')}")
        if seen:
            # nothing in prepare/reset prints; output here means the state is not what we think
            raise WarmKernelError("warm kernel reset wrote output: " + " ".join(seen)[:500])

    def reset(self, cwd: str) -> None:
        self.silent(RESET_CODE.format(cwd=cwd))

    def kill(self) -> None:
        """Stop the kernel at once (its state is being thrown away) and remove its files."""
        kc = getattr(self, "kc", None)
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:
                pass
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=10)
            except Exception:
                pass
        try:
            self.km.cleanup_connection_file()
        except Exception:
            pass


_local = threading.local()
_all: set[WarmKernel] = set()
# Re-entrant: the SIGTERM handler (shutdown_all) may run on the main thread while that thread
# already holds the lock, which would deadlock a plain Lock and leave the worker alive.
_all_lock = threading.RLock()


def kernel_for_this_thread(kernel_name: str, start_timeout: float, cwd: str) -> WarmKernel:
    """This thread's warm kernel, started (or replaced when dead) as needed."""
    k: WarmKernel | None = getattr(_local, "kernel", None)
    if k is not None and (k.kernel_name != kernel_name or not k.alive()):
        discard(k)
        k = None
    if k is None:
        try:
            k = WarmKernel(kernel_name, start_timeout, cwd)
        except Exception:
            # Starting runs no notebook code, so a second attempt is safe; it covers the
            # known race of kernels started at once by several workers picking the same free
            # port (jupyter_client chooses ports before the kernel binds them).
            k = WarmKernel(kernel_name, start_timeout, cwd)
        _local.kernel = k
        with _all_lock:
            _all.add(k)
    return k


def discard(k: WarmKernel) -> None:
    """Throw a kernel away; the next notebook on this thread starts a new one."""
    if getattr(_local, "kernel", None) is k:
        _local.kernel = None
    with _all_lock:
        _all.discard(k)
    k.kill()


def shutdown_all() -> None:
    """Stop every warm kernel of this process (worker exit, Dask worker teardown, SIGTERM)."""
    with _all_lock:
        kernels = list(_all)
        _all.clear()
    _local.kernel = None
    for k in kernels:
        k.kill()


def kernel_stats() -> dict:
    """This thread's kernel: how long it took to start and how many notebooks it has run."""
    k = getattr(_local, "kernel", None)
    return {} if k is None else {"start_seconds": k.start_seconds, "notebooks": k.notebooks}


def _has_error(nb) -> bool:
    """Whether a cell failed: an error output, or papermill's failure mark (e.g. a cell timeout,
    after which the cell may still be running in the kernel)."""
    for c in nb.cells:
        if c.get("cell_type") != "code":
            continue
        pm = c.get("metadata", {}).get("papermill", {})
        if pm.get("exception") or pm.get("status") == "failed":
            return True
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return True
    return False


def _engine_class():
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmEngine(NBClientEngine):
        """papermill's nbclient engine, on this thread's warm kernel instead of a new one."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None,
                                     **kwargs):
            # papermill has already changed into the notebook's cwd (``with chdir(cwd)``)
            cwd = os.getcwd()
            kernel = kernel_for_this_thread(kernel_name, start_timeout, cwd)
            try:
                kernel.reset(cwd)
            except WarmKernelError:
                discard(kernel)
                raise
            # the same argument handling as NBClientEngine.execute_managed_notebook
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, km=kernel.km, **final_kwargs)
            # a client we pass in is used as is and, as the manager is not the client's own,
            # neither is shut down when the notebook ends (nbclient ``setup_kernel``)
            client.kc = kernel.kc
            try:
                nb = client.execute()
            except BaseException:
                discard(kernel)  # kernel died, timed out or was interrupted: never reuse it
                raise
            kernel.notebooks += 1
            if _has_error(nb):
                discard(kernel)  # the failed notebook may have left anything behind
            return nb

    return WarmEngine


_registered = False


def register() -> str:
    """Register the warm engine with papermill (once per process); returns its name."""
    global _registered
    from papermill.engines import papermill_engines

    if not _registered:
        papermill_engines.register(ENGINE_NAME, _engine_class())
        _registered = True
    return ENGINE_NAME
