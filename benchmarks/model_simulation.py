"""Seeded simulation of the disparity model (docs/disciplinary-model.md): interval coverage and
how often each label is given, for trusts of several sizes at parity and with a disparity.

Each draw is a synthetic trust: 4 staff groups × 3 pay clusters, BME 25% of each cell's
person-years, log rate = staff group + pay cluster effects + log(true ratio) for BME staff,
Poisson counts. The model is fitted; the 95% profile interval of the adjusted rate ratio
either covers the true ratio or not. Prints, per scenario, the mean number of BME staff
entering, the coverage (with its simulation standard error) and the share of each label.

    uv run python benchmarks/model_simulation.py [--draws 2000] [--seed 20240331]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from edi_analysis.metrics.disciplinary_model import LABELS, DisciplinaryDisparityModel

SG = {"Nursing and Midwifery Registered": -3.6, "Administrative and Clerical": -4.2,
      "Additional Clinical Services": -3.2, "Estates and Ancillary": -3.0}
PC = {"1": 0.3, "2": 0.0, "3": -0.5}
SCENARIOS = [(1.0, 0.15), (1.0, 0.3), (1.0, 1.0), (1.0, 3.0), (1.6, 0.3), (1.6, 1.0), (2.0, 3.0)]


def trust(rng: np.random.Generator, rate_ratio: float, scale: float) -> pd.DataFrame:
    rows = []
    for (sg, a), (pc, b) in itertools.product(SG.items(), PC.items()):
        for g, share in (("White", 0.75), ("BME", 0.25)):
            n = float(round(rng.integers(40, 400) * scale * share))
            rr = rate_ratio if g == "BME" else 1.0
            rows.append((g, sg, pc, float(rng.poisson(n * np.exp(a + b) * rr)), n))
    return pd.DataFrame(rows, columns=["group", "staff_group", "pay_cluster", "cases", "exposure"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20240331)
    args = ap.parse_args()
    print(f"{'ratio':>6}{'scale':>7}{'BME entering':>14}{'coverage':>10}{'± se':>7}"
          + "".join(f"{lab:>14}" for lab in LABELS) + f"{'s':>6}")
    for rate_ratio, scale in SCENARIOS:
        rng = np.random.default_rng([args.seed, int(rate_ratio * 100), int(scale * 100)])
        t0 = time.perf_counter()
        covered, labels, observed = 0, [], []
        for _ in range(args.draws):
            m = DisciplinaryDisparityModel(staff_groups=False).fit(trust(rng, rate_ratio, scale))
            lo, hi = m.rate_ratio_ci_
            covered += lo <= rate_ratio <= hi
            labels.append(m.label_)
            observed.append(m.observed_)
        cov = covered / args.draws
        se = np.sqrt(cov * (1 - cov) / args.draws)
        shares = pd.Series(labels).value_counts(normalize=True)
        print(f"{rate_ratio:>6.1f}{scale:>7.2f}{np.mean(observed):>14.1f}{cov:>10.3f}{se:>7.3f}"
              + "".join(f"{shares.get(lab, 0.0):>14.3f}" for lab in LABELS)
              + f"{time.perf_counter() - t0:>6.0f}")


if __name__ == "__main__":
    main()
