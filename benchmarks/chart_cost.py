"""Per-chart cost of ``edi_analysis.charts`` on the sample's rows (wall time, median of repeats).

    uv run python benchmarks/chart_cost.py [--repeats 15] [--module FILE.py]

Times the three chart kinds the notebooks draw on rows of the sample trust ZZ001 at
2024-03-31: a bar chart of a relative likelihood (points with whiskers), a bar chart of
survey percentages by group (bars with whiskers), the gender pay quartiles (12 bars),
a trend chart over the two snapshots and the peers chart of the four sample trusts.
Prints one line per chart: median and fastest time in milliseconds. ``--module`` times
another copy of the charts module instead (e.g. an earlier version, to compare).
``--compare FILE.py`` times that copy and ``edi_analysis.charts`` turn about (one call of
each per repeat, so a shared machine's load falls on both alike) and prints both, the ratio
of the medians and each chart's PNG size. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rows():
    from edi_analysis import pipeline

    data = ROOT / "data" / "sample"
    rep = pipeline.validate(data, periods=["2023-03-31", "2024-03-31"])
    out = {}
    for period in ("2023-03-31", "2024-03-31"):
        out[period] = pipeline.compute_metrics(rep.dataset, [period], None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--module", help="a charts.py to time instead of edi_analysis.charts")
    ap.add_argument("--compare", metavar="FILE.py",
                    help="a charts.py to time turn about with edi_analysis.charts")
    args = ap.parse_args()

    import pandas as pd

    def load(path: str, name: str):
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module

    if args.module:
        charts = load(args.module, "charts_under_test")
    else:
        from edi_analysis import charts
    other = load(args.compare, "charts_compared") if args.compare else None

    rows = _rows()
    now = rows["2024-03-31"]
    mine = now[now["trust_code"] == "ZZ001"]

    def pick(frame, mid, breakdown=""):
        sel = frame[frame["metric_id"] == mid]
        return sel if breakdown is None else sel[sel["breakdown"] == breakdown]

    rl = pick(mine, "wres.3.relative_likelihood")
    survey = pick(mine, "wres.6")
    quart = pick(mine, "pay.gender.quartile_share", None)
    both = pd.concat([rows["2023-03-31"], now])
    trend = pick(both[both["trust_code"] == "ZZ001"], "wres.6")
    trend = trend[trend["group"] != "Unknown"].sort_values(["group", "period"])
    peers = pick(now, "wres.3.relative_likelihood")

    def cases_of(charts):
        return {
            "bar: relative likelihood": lambda: charts.bar_chart(
                rl, "Relative likelihood", "ratio", reference=1.0, non_adverse_band=True),
            "bar: survey % by group": lambda: charts.bar_chart(survey, "Harassment from staff",
                                                               "percent"),
            "bar: pay quartiles (12 rows)": lambda: charts.bar_chart(quart, "Women and men",
                                                                     "percent"),
            "trend: two snapshots": lambda: charts.trend_chart(trend, "Harassment from staff",
                                                               "percent"),
            "peers: four trusts": lambda: charts.peers_chart(peers, "ZZ001", "Relative likelihood",
                                                             "ratio"),
        }

    cases = cases_of(charts)
    if other is not None:
        return compare(cases_of(other), cases, args.repeats, args.compare)
    for fn in cases.values():  # warm up: imports, fonts, seaborn theme
        fn()
    for name, fn in cases.items():
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        print(f"{name:32s} median {1000 * statistics.median(times):6.1f} ms   "
              f"fastest {1000 * min(times):6.1f} ms")


def compare(before: dict, after: dict, repeats: int, label: str) -> None:
    """Time two versions turn about and print both, with each chart's PNG size."""
    for fn in (*before.values(), *after.values()):  # warm up both
        fn()
    print(f"{'chart':32s} {'before ms':>10s} {'after ms':>10s} {'after/before':>13s} "
          f"{'PNG bytes before':>17s} {'after':>8s}")
    for name in before:
        tb, ta = [], []
        for _ in range(repeats):
            for fn, times in ((before[name], tb), (after[name], ta)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        mb, ma = statistics.median(tb), statistics.median(ta)
        print(f"{name:32s} {1000 * mb:10.1f} {1000 * ma:10.1f} {ma / mb:13.2f} "
              f"{len(before[name]().png):17,d} {len(after[name]().png):8,d}")
    print(f"(before: {label}; after: edi_analysis.charts; medians of {repeats} turns each)")


if __name__ == "__main__":
    main()
