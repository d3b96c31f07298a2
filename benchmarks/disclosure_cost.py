"""Cost of disclosure control: `metrics`, the suppression step and the audit, on the sample and at scale.

For each dataset (default: ``data/sample`` and a generated 20-trust dataset of
140,000 staff, cached under ``benchmarks/out/``) this prints

- the wall time of ``edi-analysis metrics DATA --period 2024-03-31`` (a fresh
  process: validation, every metric, suppression, the CSV);
- in this process, over both snapshots (2023-03-31 and 2024-03-31), the time
  to compute the unsuppressed rows and the time of the suppression step on
  them, in total and per trust;
- the time of the disclosure audit (``edi_analysis.audit.audit``) over one
  metrics table per trust and period written to a temporary folder, with the
  audit's summary line;
- the number of rows suppressed per trust and period.

It runs against whichever ``edi_analysis`` is importable, so the same script
measures an older checkout too (``PYTHONPATH=/path/to/old/src python
benchmarks/disclosure_cost.py``): before the linked-cell mechanism the
suppression step is ``stats.apply_suppression``.

    uv run python benchmarks/disclosure_cost.py [--trusts 20] [--staff 140000] [--skip-scale]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
PERIODS = ["2023-03-31", "2024-03-31"]


def _suppression_step():
    """(name, function rows, ctx, min_count, min_survey -> suppressed rows) for this checkout."""
    try:
        from edi_analysis import disclosure
    except ImportError:
        from edi_analysis import stats

        return "stats.apply_suppression", lambda rows, ctx, m, s: stats.apply_suppression(rows, m, s)
    return "disclosure.suppress", lambda rows, ctx, m, s: disclosure.suppress(rows, ctx, m, s)


def _metrics_cli(data: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `edi-analysis metrics` in a fresh process."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "edi_analysis", "metrics", str(data),
                                 "--period", PERIODS[-1], "-o", str(Path(d) / "m.csv")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"edi-analysis metrics {data} failed")
        return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


class _Clock:
    """Wall and CPU seconds of a block (the machine may be shared: CPU time is the cost)."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

    def __str__(self):
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


def measure(data: Path, per_trust_counts: bool) -> None:
    from edi_analysis import audit, pipeline
    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics import MetricContext, compute_raw, publishable

    print(f"\n== {data}")
    wall, cpu = _metrics_cli(data)
    print(f"edi-analysis metrics --period {PERIODS[-1]}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    dataset = validate_dataset(data).dataset
    ctx = MetricContext.from_tables(dataset.tables, PERIODS)
    trusts = ctx.trust_codes
    name, step = _suppression_step()
    with _Clock() as t_raw:
        raw = compute_raw(ctx)
    with _Clock() as t_sup:
        rows = step(raw, ctx, 8, 11)
    per = t_sup.cpu / max(len(trusts), 1)
    print(f"unsuppressed rows, {len(PERIODS)} snapshots: {len(raw):,} rows in {t_raw}")
    print(f"suppression ({name}): {t_sup} for {len(trusts)} trusts "
          f"({per:.3f} s CPU per trust; England, 215 trusts: about {215 * per / 60:.1f} min CPU)")
    published = publishable(rows)
    with tempfile.TemporaryDirectory() as d:
        for (trust, period), part in published.groupby(["trust_code", "period"]):
            folder = Path(d) / period / trust
            folder.mkdir(parents=True)
            (folder / "metrics.csv").write_bytes(pipeline.metrics_csv_bytes(part))
        with _Clock() as t_audit:
            rep = audit.audit([Path(d)], data)
    print(f"audit of {published.groupby(['trust_code', 'period']).ngroups} metrics tables: "
          f"{t_audit} — {rep.summary()}")
    counts = published.groupby(["trust_code", "period"])["suppressed"].agg(["sum", "size"])
    if per_trust_counts:
        print("rows suppressed per trust and period:")
        for (trust, period), r in counts.iterrows():
            print(f"  {trust} {period}: {int(r['sum']):4d} of {int(r['size'])}")
    total = counts["sum"].sum()
    print(f"rows suppressed in total: {int(total):,} of {int(counts['size'].sum()):,}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trusts", type=int, default=20)
    ap.add_argument("--staff", type=int, default=140_000)
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument("--skip-scale", action="store_true", help="the sample only")
    args = ap.parse_args()
    import edi_analysis

    print(f"edi_analysis from {Path(edi_analysis.__file__).parent}")
    measure(ROOT / "data" / "sample", per_trust_counts=True)
    if not args.skip_scale:
        from edi_analysis import sample

        data = OUT / f"disclosure-{args.trusts}x{args.staff}-{args.seed}"
        if not (data / "workforce.parquet").exists():
            sample.write_sample(data, trusts=args.trusts, staff=args.staff, seed=args.seed,
                                fmt="parquet")
        measure(data, per_trust_counts=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
