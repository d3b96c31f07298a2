"""Benchmark a whole build at scale: many trusts × every report notebook, one period, then publish.

Usage (from the repository root)::

    uv run python benchmarks/build_scale.py                      # England: 215 trusts, 1.5 M staff
    uv run python benchmarks/build_scale.py --trusts 20 --staff 140000   # a slice of England
    uv run python benchmarks/build_scale.py --trusts 20 --staff 140000 --fresh-kernels

It writes a synthetic dataset with :func:`edi_analysis.sample.write_sample`
(``--trusts`` trusts, ``--staff`` staff at the latest snapshot, Parquet unless
``--format csv``) to a temporary folder, then runs ``edi_analysis.runner.run``
(validate, prepare, execute every notebook for every trust for ``--period``)
with ``--jobs`` workers (default: the number of cores) and
``edi_analysis.publish.publish`` and the disclosure audit (``build``'s
steps after ``run``), and prints:

- the wall time of each stage (generate, validate, prepare, notebooks, publish, audit) and
  the total;
- per notebook, the medians over trusts of the three parts the runner measures
  from papermill's cell timestamps: *kernel start* (until the first cell
  starts: with warm kernels the reset between notebooks, plus the start of
  each worker's kernel the first time), *imports* (the ``imports`` cell) and
  *work* (every other cell);
- notebooks per second and wall seconds per notebook per worker;
- peak resident memory: this process (validation and the all-trust metrics)
  and the largest child (workers and kernels), from ``getrusage``.

The England goal (about 215 trusts × 8 notebooks, one period, under 30 minutes
on 2 cores) needs about 2 s of wall time per notebook per core; the last line
extrapolates the measured rate to 215 trusts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ENGLAND_TRUSTS = 215
ENGLAND_STAFF = 1_500_000


def _median(xs) -> float:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def _mb(kb: int) -> float:
    return kb / 1024  # ru_maxrss is in kilobytes on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trusts", type=int, default=ENGLAND_TRUSTS)
    ap.add_argument("--staff", type=int, default=ENGLAND_STAFF,
                    help="staff across all trusts at the latest snapshot")
    ap.add_argument("--period", default="2024-03-31")
    ap.add_argument("--jobs", type=int, default=None, help="workers (default: cores)")
    ap.add_argument("--fresh-kernels", action="store_true",
                    help="papermill's default engine: a new kernel per notebook")
    ap.add_argument("--notebook", action="append", default=None, help="only this notebook")
    ap.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    ap.add_argument("--no-publish", action="store_true")
    ap.add_argument("--keep", metavar="DIR", default=None,
                    help="work in DIR and keep it (default: a temporary folder, removed)")
    args = ap.parse_args(argv)

    from edi_analysis import publish, runner, sample
    from edi_analysis.params import load_params

    jobs = args.jobs or os.cpu_count() or 1
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="build-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    stages: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        sample.write_sample(base / "data", trusts=args.trusts, staff=args.staff, fmt=args.format)
        stages["generate"] = time.perf_counter() - t0
        f = base / "params.yaml"
        notebooks = "[" + ", ".join(args.notebook) + "]" if args.notebook else "all"
        f.write_text(f"data: data\nperiods: [{args.period}]\nnotebooks: {notebooks}\n"
                     "reports_dir: reports\nsite_dir: site\n", encoding="utf-8")
        params = load_params(f)

        t_build = time.perf_counter()
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            result = runner.run(params, jobs=jobs, progress=False,
                                fresh_kernels=args.fresh_kernels)
        stages.update(result.stages)
        if result.exit_code != 0:
            print(err.getvalue()[-3000:], file=sys.stderr)
        if not args.no_publish and result.exit_code == 0:
            # as build does: the disclosure audit of the staged site and its reports runs
            # inside publish, before the swap; its share is reported as its own stage
            t = time.perf_counter()
            with contextlib.redirect_stderr(err):
                pub = publish.publish(replace(params), quiet=True, jobs=jobs)
            stages["audit"] = pub.audit_seconds
            stages["publish"] = time.perf_counter() - t - pub.audit_seconds
            if pub.exit_code != 0:
                print("publish failed: " + "; ".join(pub.messages)[-3000:], file=sys.stderr)
        build = time.perf_counter() - t_build
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    recs = result.records
    n = len(recs)
    by_nb: dict[str, list] = {}
    for r in recs:
        by_nb.setdefault(r.notebook, []).append(r)
    engine = "fresh kernels" if args.fresh_kernels else "warm kernels"
    print(f"{args.trusts} trusts, {args.staff:,} staff, period {args.period}, {n} notebooks, "
          f"--jobs {jobs} on {os.cpu_count()} cores, {engine}; "
          f"{sum(r.status == 'ok' for r in recs)} ok")
    print("\nstage        seconds")
    for k in ("generate", "validate", "prepare", "notebooks", "publish", "audit"):
        if k in stages:
            print(f"{k:12} {stages[k]:8.1f}")
    print(f"{'build':12} {build:8.1f}   (validate + prepare + notebooks + publish + audit)")

    print(f"\n{'notebook (medians, s)':34} {'runs':>5} {'kernel':>7} {'imports':>7} "
          f"{'work':>7} {'total':>7}")
    for name, rs in sorted(by_nb.items()):
        print(f"{name:34} {len(rs):5d} {_median(r.kernel_start for r in rs):7.2f} "
              f"{_median(r.imports for r in rs):7.2f} {_median(r.work for r in rs):7.2f} "
              f"{_median(r.duration for r in rs):7.2f}")
    print(f"{'all':34} {n:5d} {_median(r.kernel_start for r in recs):7.2f} "
          f"{_median(r.imports for r in recs):7.2f} {_median(r.work for r in recs):7.2f} "
          f"{_median(r.duration for r in recs):7.2f}")
    parts = {k: sum(getattr(r, k) or 0 for r in recs) for k in ("kernel_start", "imports", "work")}
    nb_seconds = sum(r.duration or 0 for r in recs)
    print(f"sums: kernel start {parts['kernel_start']:.0f} s, imports {parts['imports']:.0f} s, "
          f"work {parts['work']:.0f} s; notebook-seconds {nb_seconds:.0f} "
          f"(papermill and I/O: {nb_seconds - sum(parts.values()):.0f} s)")

    nb_wall = stages.get("notebooks", float("nan"))
    rate = n / nb_wall if nb_wall else float("nan")
    print(f"\nnotebooks per second: {rate:.2f}; wall seconds per notebook per worker: "
          f"{nb_wall * jobs / n if n else float('nan'):.2f}")
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak memory: this process {_mb(self_kb):.0f} MB (validation, all-trust metrics); "
          f"largest child {_mb(child_kb):.0f} MB (a worker or kernel)")
    if args.trusts != ENGLAND_TRUSTS and n:
        per_trust_nb = nb_wall / args.trusts
        fixed = stages.get("validate", 0) + stages.get("prepare", 0)
        scale = ENGLAND_TRUSTS / args.trusts
        est = (per_trust_nb * ENGLAND_TRUSTS + fixed * scale
               + (stages.get("publish", 0) + stages.get("audit", 0)) * scale)
        print(f"extrapolated to {ENGLAND_TRUSTS} trusts (linear in trusts, same staff per trust): "
              f"{est / 60:.1f} min with --jobs {jobs}")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
