"""What a report notebook costs: kernel start, imports and work, per notebook, for a run.

Usage (from the repository root)::

    uv run python benchmarks/notebook_cost.py params/sample.yaml [--jobs N] [--trust CODE ...]

Runs ``edi_analysis.runner.run`` and prints, per notebook, the median over
trusts and periods of the three parts the runner measures from papermill's
cell timestamps: *kernel start* (launch and connect, until the first cell
starts), *imports* (the cell tagged ``imports``) and *work* (every other
cell), then the wall time and the notebook-seconds of the whole run.
Reports are written to a temporary folder, not to the params' reports_dir.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("params")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--trust", action="append", default=None)
    ap.add_argument("--period", action="append", default=None)
    ap.add_argument("--notebook", action="append", default=None)
    args = ap.parse_args(argv)

    from edi_analysis import runner
    from edi_analysis.params import load_params

    overrides = {"trusts": args.trust, "periods": args.period, "notebooks": args.notebook}
    params = load_params(Path(args.params), {k: v for k, v in overrides.items() if v})
    with tempfile.TemporaryDirectory(prefix="notebook-cost-") as tmp:
        params = replace(params, reports_dir=Path(tmp) / "reports")
        t0 = time.perf_counter()
        result = runner.run(params, jobs=args.jobs, progress=False)
        wall = time.perf_counter() - t0
    by_nb: dict[str, list] = {}
    for r in result.records:
        by_nb.setdefault(r.notebook, []).append(r)

    def med(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else float("nan")

    print(f"{'notebook':40} {'runs':>4} {'kernel':>8} {'imports':>8} {'work':>8} {'total':>8}")
    for name, recs in sorted(by_nb.items()):
        print(f"{name:40} {len(recs):4d} {med(r.kernel_start for r in recs):8.1f} "
              f"{med(r.imports for r in recs):8.1f} {med(r.work for r in recs):8.1f} "
              f"{med(r.duration for r in recs):8.1f}")
    nb_seconds = sum(r.duration or 0 for r in result.records)
    parts = {k: sum(getattr(r, k) or 0 for r in result.records)
             for k in ("kernel_start", "imports", "work")}
    print(f"\n{len(result.records)} notebooks, {nb_seconds:.0f} notebook-seconds "
          f"(kernel start {parts['kernel_start']:.0f} s, imports {parts['imports']:.0f} s, "
          f"work {parts['work']:.0f} s); wall time {wall:.0f} s with --jobs "
          f"{args.jobs or 'cores'} (includes validation and metrics.csv)")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
