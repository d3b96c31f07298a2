"""Run notebooks in a pool of local worker processes (``edi-analysis run``, the default).

Each task is :func:`edi_analysis.execution.execute_one`, as on a Dask cluster
(:mod:`edi_analysis.dask_executor`). Ctrl-C and SIGTERM cancel the queue and stop the
workers, each of which kills its warm kernel first.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from edi_analysis.execution import _worker_setup, execute_one, worker_died


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


def execute_all(tasks: list, jobs: int, progress, on_done) -> None:
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

