"""Run the Quarto route's tests on the real sample with a Quarto on PATH, and print the times.

    python benchmarks/quarto_route.py [--quarto DIR] [--reports DIR] [-- PYTEST ARGS]

``--quarto DIR``: the folder holding the ``quarto`` to test (put first on PATH for this
run only; default: the ``quarto`` already on PATH). ``--reports DIR``: executed sample
reports to publish (``EDI_SAMPLE_REPORTS``; default: the tests run the sample once).
Runs ``pytest tests/test_quarto.py`` (the Quarto-marked tests render the sample through
Quarto and through the built-in route and compare them page by page), then prints
Quarto's version, both routes' publish times and their ratio, from
build/test-artefacts/quarto-route-times.json, which the timing test writes.
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
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.quarto:
        env["PATH"] = f"{Path(args.quarto).resolve()}{os.pathsep}{env.get('PATH', '')}"
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


if __name__ == "__main__":
    raise SystemExit(main())
