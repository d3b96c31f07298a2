"""Benchmark `edi-analysis validate` at England scale beside a bare pandas read.

Usage::

    uv run python benchmarks/validate_scale.py                # about 1.5 M workforce rows
    uv run python benchmarks/validate_scale.py --rows 300000  # smaller
    uv run python benchmarks/validate_scale.py --data DIR      # an existing dataset folder

Without ``--data`` it writes a synthetic *valid* dataset (all seven tables, by
``edi_analysis.sample.write_sample``) to a temporary folder. It then times, each in a
fresh child process so peak memory (``ru_maxrss``) is not shared between them:

1. ``bare read``: ``pd.read_csv`` of every table with default type inference
   (what an analyst would do with no validation at all);
2. ``validate``: :func:`edi_analysis.contract.validate_dataset` on the folder
   (read as text, sha256 of every file, parse, pandera schemas, cross-table checks).

and prints wall time, CPU time (all threads), peak resident memory and the
ratios. On a busy machine wall time depends on what else runs; CPU time is
the steadier measure of the work done.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Nothing heavy is imported at module level: the parent process stays small, because a
# child started from it inherits its peak-memory mark (ru_maxrss survives fork and exec).
ENGLAND_ROWS = 1_500_000
ENGLAND_TRUSTS = 215


def write_dataset(out_dir: Path, rows: int, trusts: int, seed: int) -> int:
    """Write a valid synthetic dataset as CSV with about ``rows`` workforce rows; return the count.

    ``edi_analysis.sample`` takes the headcount at the latest snapshot and
    writes two snapshots, so half the wanted rows are asked for.
    """
    from edi_analysis.sample import write_sample

    write_sample(out_dir, trusts=trusts, staff=max(rows // 2, 200 * trusts), seed=seed)
    with open(out_dir / "workforce.csv", "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) - 1


def _child(mode: str, data: str) -> None:
    """Run one timed step in this (fresh) process and print a JSON line."""
    import resource

    from edi_analysis.contract import validate_dataset  # imports are not what is timed

    extra: dict = {}
    if mode == "validate":
        from edi_analysis.contract import TABLES

        # pandera registers its pandas backend on the first validation of a process
        # (importing its hypothesis strategies when hypothesis is installed): a fixed
        # cost, whatever the data size, timed apart on an empty table.
        t0 = time.perf_counter()
        TABLES[0].schema.validate(TABLES[0].empty_frame())
        extra["setup_seconds"] = time.perf_counter() - t0
    def cpu() -> float:  # user + system time of every thread of this process
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    import pandas as pd

    t0, c0 = time.perf_counter(), cpu()
    if mode == "bare":
        extra["rows"] = sum(len(pd.read_csv(p)) for p in sorted(Path(data).glob("*.csv")))
    else:
        report = validate_dataset(Path(data))
        extra.update(errors=len(report.errors), warnings=len(report.warnings),
                     first_errors=[i.format() for i in report.errors[:5]])
    seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"mode": mode, "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "peak_mib": peak_kib / 1024, **extra}))


def _run_child(mode: str, data: Path, *extra: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data), *extra],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="an existing dataset folder (skips generation)")
    p.add_argument("--rows", type=int, default=ENGLAND_ROWS,
                   help="workforce rows to generate (two snapshots of half as many staff)")
    p.add_argument("--trusts", type=int, default=ENGLAND_TRUSTS)
    p.add_argument("--seed", type=int, default=20240331)
    p.add_argument("--child", choices=("generate", "bare", "validate"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child == "generate":
        rows = write_dataset(args.data, args.rows, args.trusts, args.seed)
        print(json.dumps({"rows": rows}))
        return 0
    if args.child:
        _child(args.child, str(args.data))
        return 0

    with tempfile.TemporaryDirectory(prefix="edi-validate-bench-") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "england"
            t0 = time.perf_counter()
            rows = _run_child("generate", data, "--rows", str(args.rows),
                              "--trusts", str(args.trusts), "--seed", str(args.seed))["rows"]
            print(f"generated {rows:,} workforce rows with edi_analysis.sample "
                  f"in {time.perf_counter() - t0:.1f} s")
        size = sum(f.stat().st_size for f in data.iterdir() if f.is_file())
        print(f"dataset: {data} ({size / 2**20:.0f} MiB on disk)")
        bare = _run_child("bare", data)
        val = _run_child("validate", data)
    print(f"{'step':<10} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9}")
    for r in (bare, val):
        print(f"{r['mode']:<10} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
              f"{r['peak_mib']:>9.0f}")
    print(f"validate / bare read: {val['seconds'] / bare['seconds']:.2f}x wall time, "
          f"{val['cpu_seconds'] / bare['cpu_seconds']:.2f}x CPU time, "
          f"{val['peak_mib'] / bare['peak_mib']:.2f}x peak memory")
    print(f"one-off pandera set-up in the validating process: {val['setup_seconds']:.2f} s "
          "(not included above)")
    print(f"validation result: {val['errors']} errors, {val['warnings']} warnings")
    for line in val["first_errors"]:
        print(f"  {line}")
    print(f"identifier spelling check on a clean million staff ids: {_spelling_seconds():.2f} s "
          "(the fast path: two case folds and two counts)")
    return 0 if val["errors"] == 0 else 1


def _spelling_seconds(n: int = 1_000_000) -> float:
    """Wall time of the one-spelling rule on ``n`` ids already in normal form."""
    import numpy as np
    import pandas as pd

    from edi_analysis.contract.parsing import TableData
    from edi_analysis.contract.rules import OneSpelling

    frame = pd.DataFrame({"staff_id": pd.Series([f"E{i:09d}" for i in range(n)], dtype="str"),
                          "trust_code": pd.Series(["RXX"] * n, dtype="str")})
    t = TableData("workforce", "w.csv", np.arange(2, n + 2), {}, frame)
    t0 = time.perf_counter()
    assert OneSpelling("staff_id", within=("trust_code",)).check(t) == []
    return time.perf_counter() - t0


if __name__ == "__main__":
    raise SystemExit(main())
