"""Benchmark reading a workforce table from an Excel workbook beside the same table as CSV.

Usage::

    uv run python benchmarks/xlsx_read.py                 # a full sheet: 1,048,575 rows
    uv run python benchmarks/xlsx_read.py --rows 200000   # smaller

An England-scale workforce table (1.5 M rows) does not fit in a workbook: a worksheet
holds at most 1,048,576 rows (Excel specifications and limits), so a trust's export
reaches it only past a million assignments, and the reader reports a full sheet as
probably cut off. The benchmark therefore reads the largest table a sheet can hold.

It writes the synthetic workforce table (``edi_analysis.sample``) as CSV and as a
workbook with number and date cells (``edi_analysis.xlsx``), then times, each in a fresh
child process so peak memory (``ru_maxrss``) is its own:

1. ``read csv``  / ``read xlsx``: :func:`edi_analysis.contract.reading.read_table`
   (the validator's reader: CSV as text, the workbook through fastexcel);
2. ``validate csv`` / ``validate xlsx``: :func:`edi_analysis.contract.validate_dataset`
   of a folder holding just that table's dataset.

and prints wall time, CPU time and peak resident memory of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHEET_ROWS = 1_048_575  # below the header


def write_inputs(folder: Path, rows: int) -> dict:
    import pandas as pd

    from edi_analysis import sample, xlsx

    t0 = time.perf_counter()
    trusts = max(1, rows // 7000)
    tables = sample.generate(trusts=trusts, staff=int(rows / 2 * 1.03) + trusts * 200)
    wf = tables["workforce"].iloc[:rows]
    csv_dir, xlsx_dir = folder / "csv", folder / "xlsx"
    for d in (csv_dir, xlsx_dir):
        d.mkdir(parents=True)
    for name, df in tables.items():
        df = wf if name == "workforce" else df
        df.to_csv(csv_dir / f"{name}.csv", index=False, lineterminator="\n")
        if name == "workforce":
            xlsx.write_table(xlsx_dir / "workforce.xlsx", df, kinds=xlsx.table_kinds(name))
        else:
            df.to_csv(xlsx_dir / f"{name}.csv", index=False, lineterminator="\n")
    return {"rows": len(wf), "seconds": round(time.perf_counter() - t0, 1),
            "csv_mib": round((csv_dir / "workforce.csv").stat().st_size / 2**20, 1),
            "xlsx_mib": round((xlsx_dir / "workforce.xlsx").stat().st_size / 2**20, 1),
            "frame_rows": int(pd.Series([len(wf)]).iloc[0])}


def child(step: str, path: str) -> None:
    """Run one step and print its measurements as JSON (called in a fresh process)."""
    import resource

    from edi_analysis.contract import validate_dataset
    from edi_analysis.contract.columns import kind
    from edi_analysis.contract.reading import read_table
    from edi_analysis.contract.workforce import SCHEMA

    t0, c0 = time.perf_counter(), time.process_time()
    if step == "read":
        p = Path(path)
        raw = read_table(p, p.name, {c: kind(col) for c, col in SCHEMA.columns.items()})
        n = raw.n_rows
    else:
        report = validate_dataset(path)
        n = len(report.dataset.tables["workforce"]) if report.dataset else -len(report.errors)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": n, "wall": wall, "cpu": cpu, "peak_mib": peak}))


def measure(step: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", step, str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=SHEET_ROWS)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.write:
        print(json.dumps(write_inputs(Path(args.write[0]), int(args.write[1]))))
        return
    rows = min(args.rows, SHEET_ROWS)
    with tempfile.TemporaryDirectory(prefix="edi-xlsx-bench-") as tmp:
        folder = Path(tmp)
        # Written in a child too: this process stays small, because a child inherits its
        # parent's peak-memory mark (ru_maxrss survives fork and exec).
        out = subprocess.run([sys.executable, __file__, "--write", str(folder), str(rows)],
                             capture_output=True, text=True, check=True)
        info = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"workforce: {info['rows']:,} rows; CSV {info['csv_mib']} MiB, workbook "
              f"{info['xlsx_mib']} MiB (written in {info['seconds']} s)")
        print(f"{'step':<16}{'wall s':>8}{'CPU s':>8}{'peak MiB':>10}")
        results = {}
        for step, path in (("read csv", folder / "csv" / "workforce.csv"),
                           ("read xlsx", folder / "xlsx" / "workforce.xlsx"),
                           ("validate csv", folder / "csv"),
                           ("validate xlsx", folder / "xlsx")):
            r = measure(step.split()[0], path)
            results[step] = r
            print(f"{step:<16}{r['wall']:>8.2f}{r['cpu']:>8.2f}{r['peak_mib']:>10.0f}")
        rc, rx = results["read csv"], results["read xlsx"]
        print(f"xlsx / csv read: {rx['wall'] / rc['wall']:.1f}x wall, "
              f"{rx['peak_mib'] / rc['peak_mib']:.1f}x peak memory")


if __name__ == "__main__":
    main()
