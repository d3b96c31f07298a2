"""Intervals, ratios, bootstrap and the suppression thresholds (CONTRACT.md §4.7, §4.8).

Vectorised over NumPy arrays / pandas Series so one call serves every trust,
period and group at once. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The 97.5th percentile of the standard normal, scipy.stats.norm.ppf(0.975) (a test checks
#: it), written out so that importing this module does not import scipy.
Z95 = 1.959963984540054


class _LazyScipySpecial:
    """``scipy.special``, imported the first time a function here needs a quantile. scipy takes
    a second or more to import, and ``scipy.stats`` (which a command computing intervals used to
    load for its ``ppf`` methods) over a second more: the quantiles below call the special
    functions those methods evaluate, so commands that never compute an interval import no
    scipy, and those that do import only ``scipy.special``."""

    def __getattr__(self, name: str):
        from scipy import special

        return getattr(special, name)


_sc = _LazyScipySpecial()


# Quantiles and tail areas used by the metrics, each the special function that scipy.stats
# evaluates for it (scipy 1.17, ``scipy/stats/_continuous_distns.py``; a test checks they are
# bitwise equal to scipy.stats over a grid). Arguments must lie inside the distribution's
# domain (0 < q < 1, df > 0): scipy.stats' own checks of the edges are not repeated.

def norm_ppf(q):
    """``scipy.stats.norm.ppf(q)``: ``scipy.special.ndtri``."""
    return _sc.ndtri(q)


def t_ppf(q, df):
    """``scipy.stats.t.ppf(q, df)``: ``scipy.special.stdtrit(df, q)``."""
    return _sc.stdtrit(df, q)


def chi2_ppf(q, df):
    """``scipy.stats.chi2.ppf(q, df)``: 2 · ``scipy.special.gammaincinv(df / 2, q)``."""
    return 2 * _sc.gammaincinv(np.asarray(df) / 2, q)


def chi2_sf(x, df):
    """``scipy.stats.chi2.sf(x, df)``: ``scipy.special.chdtrc(df, x)``."""
    return _sc.chdtrc(df, x)


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def wilson_interval(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k/n, as proportions in [0, 1].

    Wilson (1927); the method recommended for small counts by the ONS and
    NHS Digital. NaN where n is 0.
    """
    k, n = _arr(k), _arr(n)
    z = float(norm_ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo, hi = centre - half, centre + half
    bad = ~(n > 0)
    # At k = 0 (k = n) the bound is exactly 0 (1); the closed form leaves rounding noise.
    lo = np.where(bad, np.nan, np.where(k <= 0, 0.0, np.clip(lo, 0.0, 1.0)))
    hi = np.where(bad, np.nan, np.where(k >= n, 1.0, np.clip(hi, 0.0, 1.0)))
    return lo, hi


def relative_likelihood(a, n1, c, n2, alpha: float = 0.05):
    """Relative likelihood (a/n1) ÷ (c/n2) with its log (Katz) interval.

    SE(log RL) = √(1/a − 1/n1 + 1/c − 1/n2) (Katz et al., 1978; WRES
    technical guidance uses the same ratio of rates). Returns (rl, lo, hi):
    rl is NaN where the reference rate c/n2 is zero or undefined (the caller
    notes why); the interval is NaN where either numerator is 0.
    """
    a, n1, c, n2 = _arr(a), _arr(n1), _arr(c), _arr(n2)
    z = float(norm_ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = a / n1
        r2 = c / n2
        rl = np.where((r2 > 0) & (n1 > 0), r1 / r2, np.nan)
        se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
        ok = (a > 0) & (c > 0) & np.isfinite(rl)
        lo = np.where(ok, np.exp(np.log(rl) - z * se), np.nan)
        hi = np.where(ok, np.exp(np.log(rl) + z * se), np.nan)
    return rl, lo, hi


def subset_share_ratio(a, n_sub, b, n_all, alpha: float = 0.05):
    """Ratio of a subset's share to the whole population's share, (a/n_sub) ÷ (b/n_all), with a log interval.

    Used for the Model Employer representation ratio (BME share of a pay
    cluster ÷ BME share of the whole workforce; parity = 1). The subset is
    part of the whole (a ≤ b, n_sub ≤ n_all), so the two shares are not
    independent and the two-sample Katz formula does not apply. **Convention**
    (ours; no published NHS method gives an interval): delta method on
    log R with the subset share p_s = a/n_sub and the share in the rest
    p_r = (b − a)/(n_all − n_sub) as independent binomial proportions, the
    whole share being p = w·p_s + (1 − w)·p_r with w = n_sub/n_all:

        Var(log R) = (1/p_s − w/p)²·p_s(1 − p_s)/n_sub + ((1 − w)/p)²·p_r(1 − p_r)/(n_all − n_sub)

    As w → 0 this tends to the Katz variance 1/a − 1/n_sub + 1/b − 1/n_all;
    when the subset is the whole population R = 1 with a zero-width interval.
    Returns (ratio, lo, hi): ratio NaN where n_sub is 0 or the whole share is
    0 (the caller notes why); interval NaN where a is 0.
    """
    a, n_sub, b, n_all = _arr(a), _arr(n_sub), _arr(b), _arr(n_all)
    z = float(norm_ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_s = a / n_sub
        p = b / n_all
        n_r = n_all - n_sub
        p_r = np.where(n_r > 0, (b - a) / n_r, 0.0)
        w = n_sub / n_all
        ratio = np.where((n_sub > 0) & (p > 0), p_s / p, np.nan)
        var_sub = (1 / p_s - w / p) ** 2 * p_s * (1 - p_s) / n_sub
        var_rest = np.where(n_r > 0, ((1 - w) / p) ** 2 * p_r * (1 - p_r) / n_r, 0.0)
        se = np.sqrt(var_sub + var_rest)
        ok = (a > 0) & np.isfinite(ratio) & np.isfinite(se)
        lo = np.where(ok, np.exp(np.log(ratio) - z * se), np.nan)
        hi = np.where(ok, np.exp(np.log(ratio) + z * se), np.nan)
    return ratio, lo, hi


def exact_poisson_interval(k, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count k: χ² quantiles / 2."""
    k = _arr(k)
    with np.errstate(invalid="ignore"):  # k = 0: no lower quantile (the bound is 0)
        lo = np.where(k > 0, chi2_ppf(alpha / 2, 2 * k) / 2, 0.0)
    hi = chi2_ppf(1 - alpha / 2, 2 * (k + 1)) / 2
    return lo, hi


def grouped_mean_t(df: pd.DataFrame, keys: Sequence[str], col: str, alpha: float = 0.05) -> pd.DataFrame:
    """Vectorised t intervals of the mean of ``col`` within ``keys``: columns mean, lo, hi, n."""
    g = df.dropna(subset=[col]).groupby(list(keys), observed=True, sort=True)[col]
    out = g.agg(mean="mean", sd="std", n="count")
    tq = t_ppf(1 - alpha / 2, np.maximum(out["n"].to_numpy() - 1, 1))
    half = np.where(out["n"] > 1, tq * out["sd"] / np.sqrt(out["n"]), np.nan)
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out.drop(columns="sd").reset_index()


# --- Suppression (CONTRACT.md §4.8) -------------------------------------------------
# Decided in edi_analysis.disclosure: one decision per trust over every count published.

#: How a row is protected by its own rule (``edi_analysis.disclosure.decision.row_rule``):
#: ``mean``: means and medians of fewer than ``min_count`` values (``n_values``);
#: ``survey``: survey results of fewer than ``min_survey_responses`` answers; ``rate``,
#: ``model``, ``board``, ``label``: no rule of their own — such a row is suppressed when a
#: count it is built from is hidden (its cells, ``edi_analysis.disclosure.declarations``).
BASES = ("rate", "mean", "survey", "model", "board", "label")
BLANKED = ("numerator", "denominator", "value", "ci_lower", "ci_upper")
DEFAULT_MIN_COUNT = 8
DEFAULT_MIN_SURVEY_RESPONSES = 11
