"""Run the report notebooks on a Dask distributed cluster (``edi-analysis run --executor dask``).

Each notebook is one task, ``edi_analysis.execution.execute_one`` — the function
the local executor's worker processes call — so a task returns exactly the
record the local executor gets, and the runner writes notebooks, manifests
and the summary the same way. Results are taken in completion order
(``distributed.as_completed``) for the progress bar and for installing each
trust's report as soon as its last notebook is done. Tasks are not retried
when they fail (``execute_one`` returns a notebook's failure as a result);
a task whose worker process dies is rescheduled by Dask up to the scheduler's
``allowed-failures`` and then counts as a failed notebook, as a dead local
worker does.

Every Dask worker process keeps one warm kernel per worker thread
(:mod:`edi_analysis.warm`); :class:`WarmKernelPlugin` stops them when the
worker closes. The scheduler, workers and their number are the cluster's
business: ``dask scheduler`` / ``dask worker ADDRESS --nthreads 1`` on each
machine, with this environment installed and the data and reports folders on
a shared file system (tasks pass paths, not data).
"""

from __future__ import annotations

import uuid

from distributed import Client, WorkerPlugin, as_completed

PLUGIN_NAME = "edi-analysis-warm-kernels"


class WarmKernelPlugin(WorkerPlugin):
    """Stops a Dask worker's warm kernels when the worker closes."""

    def teardown(self, worker) -> None:
        from edi_analysis import warm

        warm.shutdown_all()


def execute_all(tasks: list, scheduler: str, progress, on_done) -> None:
    """Submit every notebook to the cluster at ``scheduler``; call ``on_done(record)`` as each ends.

    ``tasks`` and ``on_done`` are the runner's (see ``local_executor.execute_all``).
    On an interruption the queued tasks are cancelled; notebooks already
    running finish on their workers and their output is discarded with the
    run's staging folder.
    """
    from edi_analysis.execution import execute_one, worker_died

    run = uuid.uuid4().hex[:8]
    with Client(scheduler, set_as_default=False) as client:
        client.register_plugin(WarmKernelPlugin(), name=PLUGIN_NAME)
        futures = {}
        for i, (rec, args) in enumerate(tasks):
            key = f"edi-notebook-{run}-{i:06d}-{rec.trust}-{rec.period}-{rec.notebook}"
            futures[client.submit(execute_one, *args, key=key, pure=False, retries=0)] = rec
        try:
            for fut in as_completed(futures, loop=client.loop):
                rec = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # the worker died (KilledWorker) or the task was lost
                    res = worker_died(exc)
                progress.record(rec, res)
                on_done(rec)
        except BaseException:
            client.cancel(list(futures))
            raise
        finally:
            progress.close()
