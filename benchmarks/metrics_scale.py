"""Scale benchmark for `validate` and `metrics` beside a bare read: wall time, CPU, peak memory.

Generates (once, cached under benchmarks/out/) a synthetic dataset — by default
England scale, 215 trusts and 1.5 million staff per snapshot, two snapshots, with
recruitment, employee-relations cases and survey responses at the generator's
realistic ratios — then times, each in a fresh process so peak memory is that
step's own, side by side in one run:

  read      a bare pandas read of every table (the floor any tool pays)
  validate  `edi-analysis validate DATA`
  metrics   `edi-analysis metrics DATA --period 2024-03-31` (validate + compute + write)

and prints wall time, CPU time (user + system, all threads), peak resident memory
and the ratio to the bare read, with the core count and the load average before
and after each step (other work on a shared machine slows every step; CPU time is
the steadier measure). ``--repeat N`` runs the three steps N times, interleaved,
and reports each step's median. It also prints the time ``metrics`` spends in
imports (``python -X importtime``, summed over top-level imports, on the small
sample in data/sample: imports do not depend on the data's size).

Bytecode: the children run with Python's bytecode cache on, in
benchmarks/out/pycache (``PYTHONPYCACHEPREFIX``; nothing is written to the
installed packages), filled by an untimed warm-up run, as an installed tool
runs after its first start. Without a cache (``PYTHONDONTWRITEBYTECODE`` set and
no .pyc files installed, as on a bare ``uv sync`` with that variable) every
process compiles every module it imports — about 1.5 s more for ``metrics`` and
0.5 s for the bare read; ``--no-bytecode-cache`` measures that.

The performance issue's dataset (3 trusts, ~540 k workforce rows over the two
snapshots; target: metrics ≤ 5× the bare read of its CSV inputs):

    uv run python benchmarks/metrics_scale.py --trusts 3 --staff 275000

gives 540,701 workforce rows and 594,771 applications (the generator's 1.1
applications per in-scope staff member a year). England scale:

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


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


ENV = dict(os.environ)


def measure(cmd: list[str]) -> tuple[float, float, float, int]:
    """Run cmd; return (wall seconds, CPU seconds, peak RSS in MB, exit status)."""
    import tempfile

    # stderr to a file, not a pipe: a command that prints many warnings would otherwise
    # block on a full pipe while we wait for it.
    with tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    if proc.returncode not in (0,):
        tail = "\n".join(err.splitlines()[-5:])
        print(f"  ! exit {proc.returncode}: {' '.join(cmd[:3])} …\n{tail}", file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def import_seconds(period: str) -> tuple[float, list[tuple[float, str]]]:
    """Seconds `metrics` spends importing (top-level imports summed), and the largest ones."""
    import tempfile

    sample = ROOT / "data" / "sample"
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-X", "importtime", "-m", "edi_analysis", "metrics",
                              str(sample), "--period", period, "-o", str(Path(tmp) / "m.csv")],
                             capture_output=True, text=True, env=ENV)
    top = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        if not name.startswith("  "):  # depth 0 after the one space importtime puts first
            top.append((int(cumulative) / 1e6, name.strip()))
    return sum(t for t, _ in top), sorted(top, reverse=True)[:4]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trusts", type=int, default=215)
    ap.add_argument("--staff", type=int, default=1_500_000)
    ap.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ap.add_argument("--period", default="2024-03-31")
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each step (median reported)")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="children compile every module they import (PYTHONDONTWRITEBYTECODE)")
    args = ap.parse_args()
    if args.no_bytecode_cache:
        ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        ENV.pop("PYTHONPYCACHEPREFIX", None)
    else:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")

    data = OUT / f"england-{args.trusts}x{args.staff}-{args.format}-{args.seed}"
    if not (data / f"workforce.{args.format}").exists():
        print(f"generating {args.trusts} trusts, {args.staff:,} staff per snapshot -> {data}")
        wall, _, rss, code = measure([str(BIN), "sample-data", str(data), "--trusts", str(args.trusts),
                                      "--staff", str(args.staff), "--seed", str(args.seed),
                                      "--format", args.format])
        if code:
            return code
        print(f"  generated in {wall:.1f} s (peak {rss:,.0f} MB)")
    sizes = {f.name: f.stat().st_size for f in data.iterdir()}
    counts = {}
    try:
        import pandas as pd

        for table in ("workforce", "recruitment"):
            f = data / f"{table}.{args.format}"
            counts[table] = (len(pd.read_parquet(f, columns=["trust_code"])) if args.format == "parquet"
                             else sum(1 for _ in f.open("rb")) - 1)
    except Exception:  # noqa: BLE001 - counts for the header only
        pass
    print(f"dataset: {data}")
    print(f"  {sum(sizes.values()) / 1e6:,.0f} MB in {len(sizes)} files; rows: "
          + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"  cores: {os.cpu_count()}; load average (1/5/15 min) at start: {load()}; bytecode "
          + ("not cached (every import compiled)" if args.no_bytecode_cache
             else f"cached in {OUT / 'pycache'}"))
    # Warm-up, untimed: fills the bytecode cache (and the file cache) for every step.
    measure([sys.executable, "-c", BARE_READ, str(ROOT / "data" / "sample")])
    import_seconds(args.period)

    steps = {
        "read": [sys.executable, "-c", BARE_READ, str(data)],
        "validate": [str(BIN), "validate", str(data)],
        "metrics": [str(BIN), "metrics", str(data), "--period", args.period,
                    "-o", str(OUT / f"metrics-{data.name}.csv")],
    }
    runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in steps}
    loads: dict[str, list[str]] = {name: [] for name in steps}
    for _ in range(max(1, args.repeat)):
        for name, cmd in steps.items():
            before = load()
            runs[name].append(measure(cmd))
            loads[name].append(f"{before} -> {load()}")

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    summary = {name: tuple(median([r[k] for r in rs]) for k in range(3)) for name, rs in runs.items()}
    read_wall, read_cpu = summary["read"][0], summary["read"][1]
    print(f"\n{'step':<10}{'wall s':>9}{'CPU s':>9}{'peak MB':>10}{'wall × read':>13}"
          f"{'CPU × read':>12}   load average before -> after")
    for name in steps:
        wall, cpu, rss = summary[name]
        codes = {r[3] for r in runs[name]}
        flag = "" if codes == {0} else f"  (exit {sorted(codes)})"
        print(f"{name:<10}{wall:>9.1f}{cpu:>9.1f}{rss:>10,.0f}{wall / read_wall:>13.2f}"
              f"{cpu / read_cpu:>12.2f}   {'; '.join(loads[name])}{flag}")
    if args.repeat > 1:
        print(f"(medians of {args.repeat} interleaved runs; walls: "
              + "; ".join(f"{n} " + ", ".join(f"{r[0]:.1f}" for r in rs) for n, rs in runs.items())
              + ")")
    before = load()
    total, largest = import_seconds(args.period)
    print(f"\nimports of `metrics` (python -X importtime, top level, on data/sample): {total:.2f} s "
          f"(load {before} -> {load()}); largest: "
          + ", ".join(f"{name} {t:.2f} s" for t, name in largest))
    print("\ntargets: performance issue, metrics ≤ 5× the bare read of its inputs (3 trusts, "
          "~540 k workforce rows); issue 4 (England scale), metrics < 60 s, < 4,096 MB peak, "
          "≤ 6× the bare read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
