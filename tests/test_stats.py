"""Intervals, ratios and bootstrap (CONTRACT.md §4.7); suppression is tests/test_disclosure.py.

References: statsmodels and scipy as independent implementations, and
hand computations with the arithmetic written out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.proportion import proportion_confint

from edi_analysis import stats

Z = 1.959963984540054


# --- Wilson ---------------------------------------------------------------------------


def test_wilson_matches_statsmodels_on_a_grid_including_edges():
    # Every k in 0..n for small and moderate n: k = 0, k = n and n = 1 included.
    pairs = [
        (k, n) for n in (1, 2, 3, 7, 8, 20, 100, 1000) for k in range(0, n + 1, max(1, n // 20))
    ]
    pairs += [(n, n) for n in (1, 2, 3, 7, 8, 20, 100, 1000)]
    k, n = np.array(pairs, dtype=float).T
    lo, hi = stats.wilson_interval(k, n)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hi, ref_hi, rtol=1e-12, atol=1e-14)


def test_wilson_hand_computation_and_exact_edges():
    # k=3, n=10: p=0.3, z²=3.841459; centre = (0.3 + 3.841459/20)/(1 + 0.3841459) = 0.355507;
    # half = 1.959964·√(0.021 + 3.841459/400)/1.3841459 = 1.959964·0.174939/1.3841459 = 0.247716
    # → (0.355507 − 0.247716, 0.355507 + 0.247716) = (0.107791, 0.603222).
    lo, hi = stats.wilson_interval(3, 10)
    assert lo == pytest.approx(0.107791, abs=1e-6) and hi == pytest.approx(0.603222, abs=1e-6)
    # k = 0 gives a lower bound of exactly 0, k = n an upper bound of exactly 1.
    lo, hi = stats.wilson_interval([0, 5], [5, 5])
    assert lo[0] == 0.0 and hi[1] == 1.0


def test_wilson_is_blank_without_a_denominator():
    lo, hi = stats.wilson_interval([0, 1], [0, np.nan])
    assert np.isnan(lo).all() and np.isnan(hi).all()


# --- Relative likelihood (Katz) -------------------------------------------------------


def test_relative_likelihood_hand_computation():
    # White 6/20 appointed = 30%, BME 3/20 = 15% → RL 2.0;
    # SE = √(1/6 − 1/20 + 1/3 − 1/20) = √0.4 = 0.632456;
    # CI = exp(ln 2 ∓ 1.959964·0.632456) = exp(0.693147 ∓ 1.239590) = (0.579006, 6.908394).
    rl, lo, hi = stats.relative_likelihood(6, 20, 3, 20)
    assert rl == pytest.approx(2.0)
    assert lo == pytest.approx(0.579006, abs=1e-6)
    assert hi == pytest.approx(6.908394, abs=1e-6)


def test_relative_likelihood_matches_statsmodels_katz_interval():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n1, n2 = rng.integers(1, 400, size=2)
        a, c = rng.integers(1, n1 + 1), rng.integers(1, n2 + 1)
        # shift_zeros=False: statsmodels would otherwise add 0.5 to a zero cell (a = n1).
        t = Table2x2(np.array([[a, n1 - a], [c, n2 - c]], dtype=float), shift_zeros=False)
        rl, lo, hi = stats.relative_likelihood(a, n1, c, n2)
        ref_lo, ref_hi = t.riskratio_confint(alpha=0.05, method="normal")
        assert rl == pytest.approx(t.riskratio, rel=1e-12)
        assert lo == pytest.approx(ref_lo, rel=1e-10)
        assert hi == pytest.approx(ref_hi, rel=1e-10)


@settings(max_examples=200, deadline=None)
@given(
    n1=st.integers(1, 10_000),
    n2=st.integers(1, 10_000),
    fa=st.floats(0.0001, 1.0),
    fc=st.floats(0.0001, 1.0),
)
def test_relative_likelihood_is_reciprocal(n1, n2, fa, fc):
    a, c = max(1, round(fa * n1)), max(1, round(fc * n2))
    rl_ab, lo_ab, hi_ab = stats.relative_likelihood(a, n1, c, n2)
    rl_ba, lo_ba, hi_ba = stats.relative_likelihood(c, n2, a, n1)
    assert rl_ab == pytest.approx(1 / rl_ba, rel=1e-12)
    # The bounds swap reciprocally: the Katz SE is symmetric in the two groups.
    assert lo_ab == pytest.approx(1 / hi_ba, rel=1e-10)
    assert hi_ab == pytest.approx(1 / lo_ba, rel=1e-10)


def test_relative_likelihood_blanks():
    rl, lo, hi = stats.relative_likelihood(
        [0, 5, 5, 5], [10, 10, 0, 10], [4, 4, 4, 0], [10, 10, 10, 10]
    )
    # a = 0: the ratio is 0 (a real figure) but the log interval does not exist.
    assert rl[0] == 0.0 and np.isnan(lo[0]) and np.isnan(hi[0])
    # ordinary row: (5/10)/(4/10) = 1.25 with an interval
    assert rl[1] == pytest.approx(1.25) and lo[1] < 1.25 < hi[1]
    # no compared denominator, or a reference rate of 0: no ratio at all.
    assert np.isnan(rl[2:]).all() and np.isnan(lo[2:]).all() and np.isnan(hi[2:]).all()


# --- Subset share ratio (Model Employer) ----------------------------------------------


def test_subset_share_ratio_hand_computation():
    # Cluster: 20 BME of 100 (p_s = 0.2); whole: 60 of 400 (p = 0.15); R = 0.2/0.15 = 4/3.
    # Rest: 40 of 300 (p_r = 0.1333…); w = 0.25.
    # Var = (1/0.2 − 0.25/0.15)²·0.2·0.8/100 + (0.75/0.15)²·(2/15)(13/15)/300
    #     = (3.33333)²·0.0016 + 25·0.000385185 = 0.0177778 + 0.0096296 = 0.0274074; SE = 0.165552.
    r, lo, hi = stats.subset_share_ratio(20, 100, 60, 400)
    se = math.sqrt((10 / 3) ** 2 * 0.0016 + 25 * (2 / 15) * (13 / 15) / 300)
    assert se == pytest.approx(0.165552, abs=1e-6)
    assert r == pytest.approx(4 / 3)
    assert lo == pytest.approx(4 / 3 * math.exp(-Z * se))
    assert hi == pytest.approx(4 / 3 * math.exp(Z * se))


def test_subset_share_ratio_matches_numerical_delta_method():
    # Independent check: gradient of log R(p_s, p_r) by central differences.
    a, n_sub, b, n_all = 37, 180, 260, 1500
    n_r = n_all - n_sub
    p_s, p_r = a / n_sub, (b - a) / n_r
    w = n_sub / n_all

    def log_r(ps, pr):
        return math.log(ps / (w * ps + (1 - w) * pr))

    h = 1e-6
    g_s = (log_r(p_s + h, p_r) - log_r(p_s - h, p_r)) / (2 * h)
    g_r = (log_r(p_s, p_r + h) - log_r(p_s, p_r - h)) / (2 * h)
    se = math.sqrt(g_s**2 * p_s * (1 - p_s) / n_sub + g_r**2 * p_r * (1 - p_r) / n_r)
    r, lo, hi = stats.subset_share_ratio(a, n_sub, b, n_all)
    assert lo == pytest.approx(r * math.exp(-Z * se), rel=1e-6)
    assert hi == pytest.approx(r * math.exp(Z * se), rel=1e-6)


def test_subset_share_ratio_tends_to_katz_for_a_small_subset():
    # A subset that is a negligible part of the whole behaves as an independent sample.
    _, lo, hi = stats.subset_share_ratio(30, 100, 30 + 200_000, 100 + 1_000_000)
    _, klo, khi = stats.relative_likelihood(30, 100, 30 + 200_000, 100 + 1_000_000)
    assert lo == pytest.approx(klo, rel=1e-3) and hi == pytest.approx(khi, rel=1e-3)


def test_subset_share_ratio_coverage_by_simulation():
    # 20,000 simulated trusts: cluster of 150 with p_s = 0.25, rest of 850 with p_r = 0.15.
    rng = np.random.default_rng(20240331)
    n_sub, n_r, p_s, p_r = 150, 850, 0.25, 0.15
    truth = p_s / ((n_sub * p_s + n_r * p_r) / (n_sub + n_r))
    a = rng.binomial(n_sub, p_s, 20_000)
    b = a + rng.binomial(n_r, p_r, 20_000)
    _, lo, hi = stats.subset_share_ratio(a, n_sub, b, n_sub + n_r)
    coverage = np.mean((lo <= truth) & (truth <= hi))
    assert 0.94 <= coverage <= 0.96


def test_subset_share_ratio_edges():
    r, lo, hi = stats.subset_share_ratio(
        [50, 0, 5, 0], [200, 40, 0, 40], [50, 30, 30, 0], [200, 400, 400, 400]
    )
    # The subset is the whole population: R = 1 exactly, zero-width interval.
    assert r[0] == 1.0 and lo[0] == pytest.approx(1.0) and hi[0] == pytest.approx(1.0)
    # No BME staff in the cluster: R = 0, interval blank.
    assert r[1] == 0.0 and np.isnan(lo[1]) and np.isnan(hi[1])
    # Empty cluster, or no BME staff anywhere (reference share 0): no ratio.
    assert np.isnan(r[2:]).all() and np.isnan(lo[2:]).all()


# --- Exact Poisson, t interval, bootstrap ---------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 2, 5, 7, 8, 30, 250])
def test_exact_poisson_interval_against_poisson_tail_probabilities(k):
    lo, hi = stats.exact_poisson_interval(k)
    # Garwood: upper U solves P(X ≤ k | U) = 0.025; lower L solves P(X ≥ k | L) = 0.025.
    assert sps.poisson.cdf(k, float(hi)) == pytest.approx(0.025, abs=1e-9)
    if k == 0:
        assert lo == 0.0
        assert hi == pytest.approx(-math.log(0.025))  # 3.688879
    else:
        assert sps.poisson.sf(k - 1, float(lo)) == pytest.approx(0.025, abs=1e-9)


def test_grouped_mean_t_single_group_matches_scipy_and_skips_blanks():
    values = [7.0, 5.5, np.nan, 6.0, 8.25, 4.0, 9.0]
    out = stats.grouped_mean_t(pd.DataFrame({"g": "a", "x": values}), ["g"], "x").iloc[0]
    v = np.array([7.0, 5.5, 6.0, 8.25, 4.0, 9.0])
    ref = sps.t.interval(0.95, df=5, loc=v.mean(), scale=sps.sem(v))
    assert out["n"] == 6 and out["mean"] == pytest.approx(v.mean())
    assert (out["lo"], out["hi"]) == pytest.approx(ref, rel=1e-12)


def test_grouped_mean_t_small_samples():
    one = stats.grouped_mean_t(pd.DataFrame({"g": ["a"], "x": [3.0]}), ["g"], "x").iloc[0]
    assert one["mean"] == 3.0 and np.isnan(one["lo"]) and np.isnan(one["hi"])
    # a group with no values has no row (nothing to average)
    assert stats.grouped_mean_t(pd.DataFrame({"g": ["a"], "x": [np.nan]}), ["g"], "x").empty


def test_grouped_mean_t_matches_per_group_scipy():
    df = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 3 + ["c"], "x": [1.0, 2, 4, 8, 10, 11, np.nan, 5]})
    out = stats.grouped_mean_t(df, ["g"], "x").set_index("g")
    ref = sps.t.interval(0.95, df=3, loc=3.75, scale=sps.sem([1, 2, 4, 8]))
    assert (out.loc["a", "lo"], out.loc["a", "hi"]) == pytest.approx(ref)
    assert out.loc["b", "n"] == 2 and out.loc["b", "mean"] == 10.5
    assert out.loc["c", "n"] == 1 and np.isnan(out.loc["c", "lo"])


def test_z95_is_scipys_and_importing_stats_does_not_import_scipy():
    import subprocess
    import sys

    from scipy import stats as sps

    from edi_analysis import stats as S

    assert S.Z95 == float(sps.norm.ppf(0.975))
    code = ("import sys, edi_analysis.stats as s; "
            "print('scipy' in sys.modules); s.wilson_interval([1], [4]); "
            "print('scipy.special' in sys.modules, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # scipy.special is imported when a quantile is first needed; scipy.stats never
    assert out.stdout.split() == ["False", "True", "False"]


def test_quantile_helpers_are_bitwise_scipy_stats():
    # The helpers call the special function scipy.stats evaluates; equal to the last bit, so
    # every interval built on them is unchanged (the metrics are byte-identical).
    from scipy import stats as sps

    from edi_analysis import stats as S

    q = np.array([1e-6, 0.005, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.995])
    df = np.array([1.0, 2.0, 3.0, 3.4, 7.0, 29.0, 120.5, 1e4])
    qq, dd = np.meshgrid(q, df)
    np.testing.assert_array_equal(S.norm_ppf(q), sps.norm.ppf(q))
    np.testing.assert_array_equal(S.t_ppf(qq, dd), sps.t.ppf(qq, dd))
    np.testing.assert_array_equal(S.chi2_ppf(qq, dd), sps.chi2.ppf(qq, dd))
    x = np.array([0.0, 0.1, 1.0, 3.84, 10.0, 50.0])
    xx, dd = np.meshgrid(x, df)
    np.testing.assert_array_equal(S.chi2_sf(xx, dd), sps.chi2.sf(xx, dd))
    assert float(S.norm_ppf(0.975)) == S.Z95
