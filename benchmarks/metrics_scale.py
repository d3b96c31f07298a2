"""England-scale benchmark for `validate` and `metrics`: wall time and peak memory.

Generates (once, cached under benchmarks/out/) a synthetic dataset at national
scale — by default 215 trusts and 1.5 million staff per snapshot, two
snapshots, with recruitment, employee-relations cases and survey responses at
the generator's realistic ratios — then times, each in a fresh process so peak
memory is that step's own:

  read      a bare pandas read of every table (the floor any tool pays)
  validate  `edi-analysis validate DATA`
  metrics   `edi-analysis metrics DATA --period 2024-03-31` (validate + compute + write)

and prints wall time, peak resident memory and the ratio to the bare read.

    uv run python benchmarks/metrics_scale.py [--trusts 215] [--staff 1500000] [--format csv|parquet]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
BIN = Path(sys.executable).with_name("edi-analysis")

BARE_READ = """
import sys, pandas as pd
from pathlib import Path
d = Path(sys.argv[1])
for f in sorted(d.iterdir()):
    if f.suffix == ".csv":
        pd.read_csv(f, dtype=str, keep_default_na=False)
    elif f.suffix == ".parquet":
        pd.read_parquet(f)
"""


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Run cmd; return (wall seconds, peak RSS in MB, exit status)."""
    import tempfile

    # stderr to a file, not a pipe: a command that prints many warnings would otherwise
    # block on a full pipe while we wait for it.
    with tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if proc.returncode not in (0,):
        tail = "\n".join(err.splitlines()[-5:])
        print(f"  ! exit {proc.returncode}: {' '.join(cmd[:3])} …\n{tail}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trusts", type=int, default=215)
    ap.add_argument("--staff", type=int, default=1_500_000)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--period", default="2024-03-31")
    ap.add_argument("--seed", type=int, default=20240331)
    args = ap.parse_args()

    data = OUT / f"england-{args.trusts}x{args.staff}-{args.format}-{args.seed}"
    if not (data / f"workforce.{args.format}").exists():
        print(f"generating {args.trusts} trusts, {args.staff:,} staff per snapshot -> {data}")
        wall, rss, code = measure([str(BIN), "sample-data", str(data), "--trusts", str(args.trusts),
                                   "--staff", str(args.staff), "--seed", str(args.seed),
                                   "--format", args.format])
        if code:
            return code
        print(f"  generated in {wall:.1f} s (peak {rss:,.0f} MB)")
    sizes = {f.name: f.stat().st_size for f in data.iterdir()}
    rows = None
    try:
        import pandas as pd

        wf = data / f"workforce.{args.format}"
        rows = (len(pd.read_parquet(wf, columns=["trust_code"])) if args.format == "parquet"
                else sum(1 for _ in wf.open("rb")) - 1)
    except Exception:  # noqa: BLE001 - a count for the header only
        pass
    print(f"dataset: {data}")
    print(f"  {sum(sizes.values()) / 1e6:,.0f} MB in {len(sizes)} files; workforce rows (both snapshots): "
          f"{rows:,}" if rows else "")
    print(f"  cores: {os.cpu_count()}")

    steps = {
        "read": [sys.executable, "-c", BARE_READ, str(data)],
        "validate": [str(BIN), "validate", str(data)],
        "metrics": [str(BIN), "metrics", str(data), "--period", args.period,
                    "-o", str(OUT / "metrics-england.csv")],
    }
    results = {}
    print(f"\n{'step':<10}{'wall s':>10}{'peak MB':>12}{'× read':>10}")
    for name, cmd in steps.items():
        wall, rss, code = measure(cmd)
        results[name] = wall
        ratio = wall / results["read"]
        flag = "" if code == 0 else f"  (exit {code})"
        print(f"{name:<10}{wall:>10.1f}{rss:>12,.0f}{ratio:>10.1f}{flag}", flush=True)
    print("\ntargets (issue 4): metrics < 60 s, < 4,096 MB peak, ≤ 6× the bare read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
