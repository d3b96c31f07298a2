"""Run the Quarto route's tests on the real sample with a Quarto on PATH, and print the times.

    python benchmarks/quarto_route.py [--quarto DIR] [--reports DIR] [-- PYTEST ARGS]

``--quarto DIR``: the folder holding the ``quarto`` to test (put first on PATH for this
run only; default: the ``quarto`` already on PATH). ``--reports DIR``: executed sample
reports to publish (``EDI_SAMPLE_REPORTS``; default: the tests run the sample once).
Runs ``pytest tests/test_quarto.py`` (the Quarto-marked tests render the sample through
Quarto and through the built-in route and compare them page by page), then prints
Quarto's version, both routes' publish times and their ratio, from
build/test-artefacts/quarto-route-times.json, which the timing test writes.

``--trusts N`` (with ``--staff``, default 2,750 per trust as in the sample) times a larger
run instead of running the tests: it writes an N-trust synthetic dataset to a temporary
folder, runs every notebook for both sample periods once (``edi-analysis run``), then
publishes those reports by the built-in route and by Quarto into two sites and prints the
run time, both publish times (each includes the disclosure audit) and their ratio. Nothing
outside the temporary folder is written; it is removed at the end unless ``--keep DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "build" / "test-artefacts" / "quarto-route-times.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quarto", default=None, metavar="DIR")
    ap.add_argument("--reports", default=None, metavar="DIR")
    ap.add_argument("--trusts", type=int, default=None, metavar="N",
                    help="time an N-trust run through both routes instead of the tests")
    ap.add_argument("--staff", type=int, default=None,
                    help="with --trusts: staff across all trusts (default 2,750 per trust)")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="with --trusts: work in DIR (new or empty) and keep it")
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.quarto:
        env["PATH"] = f"{Path(args.quarto).resolve()}{os.pathsep}{env.get('PATH', '')}"
    if args.trusts:
        return _time_trusts(args, env)
    if args.reports:
        env["EDI_SAMPLE_REPORTS"] = str(Path(args.reports).resolve())
    exe = shutil.which("quarto", path=env["PATH"])
    if exe is None:
        print("quarto is not on PATH: give --quarto DIR (see docs/publishing.md)", file=sys.stderr)
        return 2
    TIMES.unlink(missing_ok=True)
    t0 = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", "tests/test_quarto.py", "-q",
                            "-p", "no:cacheprovider", *args.pytest_args], cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    print(f"\npytest tests/test_quarto.py: exit {code} in {wall:.0f} s (quarto: {exe})")
    if TIMES.is_file():
        t = json.loads(TIMES.read_text())
        print(f"Quarto {t['quarto_version']}: {t['pages']} pages, {t['board_packs']} board packs")
        print(f"  built-in route publish: {t['builtin_seconds']:7.1f} s")
        print(f"  Quarto route publish:   {t['quarto_seconds']:7.1f} s "
              f"({t['quarto_seconds'] / t['builtin_seconds']:.1f}x; limit 4x)")
    else:
        print("no times recorded (the timing test did not run)")
    return code


def _time_trusts(args, env: dict) -> int:
    """Run N trusts once, publish the reports by both routes, print the times."""
    import tempfile

    exe = shutil.which("quarto", path=env["PATH"])
    if exe is None:
        print("quarto is not on PATH: give --quarto DIR (see docs/publishing.md)", file=sys.stderr)
        return 2
    cli = [sys.executable, "-m", "edi_analysis"]
    staff = args.staff or 2_750 * args.trusts
    if args.keep:
        base = Path(args.keep)
        base.mkdir(parents=True, exist_ok=True)
        if any(base.iterdir()):
            print(f"{base}: not empty; give a new or empty folder", file=sys.stderr)
            return 2
    else:
        base = Path(tempfile.mkdtemp(prefix="quarto-route-"))
    try:
        def timed(*cmd: str) -> float:
            t = time.perf_counter()
            subprocess.run([*cli, *cmd], check=True, env=env, cwd=base,
                           stdout=subprocess.DEVNULL)
            return time.perf_counter() - t

        timed("sample-data", "data", "--trusts", str(args.trusts), "--staff", str(staff))
        common = ("data: data\nperiods: [2023-03-31, 2024-03-31]\nnotebooks: all\n"
                  "notebooks_dir: {nb}\nreports_dir: reports\n").format(nb=ROOT / "notebooks")
        for route in ("builtin", "quarto"):
            (base / f"{route}.yaml").write_text(common + f"site_dir: site-{route}\n",
                                                encoding="utf-8")
        run_s = timed("run", "builtin.yaml")
        builtin_s = timed("publish", "builtin.yaml", "--engine", "builtin")
        quarto_s = timed("publish", "quarto.yaml", "--engine", "quarto")
        version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 env=env).stdout.strip()
        reports = sum(1 for _ in (base / "reports").glob("*/*/manifest.json"))
        print(f"{args.trusts} trusts, {staff:,} staff, 2 periods: {reports} reports; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; Quarto {version} ({exe})")
        print(f"  run (every notebook):   {run_s:7.1f} s")
        print(f"  built-in route publish: {builtin_s:7.1f} s")
        print(f"  Quarto route publish:   {quarto_s:7.1f} s "
              f"({quarto_s / builtin_s:.1f}x; limit 4x)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
