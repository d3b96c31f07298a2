"""Intervals, ratios, bootstrap and suppression (CONTRACT.md §4.7, §4.8).

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


class _LazyScipyStats:
    """``scipy.stats``, imported the first time a function here needs a quantile: scipy
    takes seconds to import, and commands that never compute an interval should not pay it."""

    def __getattr__(self, name: str):
        from scipy import stats

        return getattr(stats, name)


_sps = _LazyScipyStats()


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def wilson_interval(k, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k/n, as proportions in [0, 1].

    Wilson (1927); the method recommended for small counts by the ONS and
    NHS Digital. NaN where n is 0.
    """
    k, n = _arr(k), _arr(n)
    z = float(_sps.norm.ppf(1 - alpha / 2))
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
    z = float(_sps.norm.ppf(1 - alpha / 2))
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
    z = float(_sps.norm.ppf(1 - alpha / 2))
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
    lo = np.where(k > 0, _sps.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    hi = _sps.chi2.ppf(1 - alpha / 2, 2 * (k + 1)) / 2
    return lo, hi


def grouped_mean_t(df: pd.DataFrame, keys: Sequence[str], col: str, alpha: float = 0.05) -> pd.DataFrame:
    """Vectorised t intervals of the mean of ``col`` within ``keys``: columns mean, lo, hi, n."""
    g = df.dropna(subset=[col]).groupby(list(keys), observed=True, sort=True)[col]
    out = g.agg(mean="mean", sd="std", n="count")
    tq = _sps.t.ppf(1 - alpha / 2, np.maximum(out["n"].to_numpy() - 1, 1))
    half = np.where(out["n"] > 1, tq * out["sd"] / np.sqrt(out["n"]), np.nan)
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out.drop(columns="sd").reset_index()


# --- Suppression (CONTRACT.md §4.8) -------------------------------------------------

#: How a row is protected. ``rate``: counts and shares/rates/ratios built from
#: counts; ``mean``: means and medians (``n_values`` values); ``survey``: survey
#: results (``n_values`` answers); ``model``, ``board``, ``label``: never suppressed.
BASES = ("rate", "mean", "survey", "model", "board", "label")
BLANKED = ("numerator", "denominator", "value", "ci_lower", "ci_upper")
DEFAULT_MIN_COUNT = 8
DEFAULT_MIN_SURVEY_RESPONSES = 11


def primary_suppression(rows: pd.DataFrame, min_count: int, min_survey_responses: int) -> np.ndarray:
    """Boolean mask of rows suppressed by the primary rules of CONTRACT.md §4.8.

    ``rate`` rows: any component count in 1..min_count−1 (``min_cell`` is the
    smallest positive count the figure is built from) or a denominator below
    min_count. ``mean`` rows: fewer than min_count values. ``survey`` rows:
    fewer than min_survey_responses answers. ``model`` rows: only where
    ``min_cell`` (an observed count the estimate publishes) is in 1..min_count−1
    — the indirectly standardised ratio's observed count is recoverable from its
    exact Poisson interval, so §4.8's rule for ratios built from small counts wins
    over "model outputs are not suppressed" there.
    """
    basis = rows["basis"].to_numpy()
    min_cell = rows["min_cell"].to_numpy(dtype="float64")
    n_values = rows["n_values"].to_numpy(dtype="float64")
    denom = rows["denominator"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        small_cell = (min_cell > 0) & (min_cell < min_count)
        rate = (basis == "rate") & (small_cell | (np.nan_to_num(denom, nan=np.inf) < min_count))
        mean = (basis == "mean") & (np.nan_to_num(n_values, nan=0) < min_count)
        survey = (basis == "survey") & (np.nan_to_num(n_values, nan=0) < min_survey_responses)
        # Model estimates are published, but one that carries (or, through its exact
        # Poisson interval, reveals) an observed count of 1..min_count-1 is not.
        model = (basis == "model") & small_cell
    return rate | mean | survey | model


PARTITION_SEPARATOR = "|"


def default_partition(metric_id, breakdown):
    """Name of the default partition of a ``total_shown`` row: its own (metric, breakdown)."""
    return metric_id + ":" + breakdown


def partition_members(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (metric row, partition it is a cell of): columns ``_pos``, trust_code, period, ``name``.

    A row is a cell when ``total_shown`` is set; its partitions are the
    ``|``-separated names in ``partition``, or :func:`default_partition` when
    that is blank (see ``metrics/rows.py``). Names are scoped to a trust and
    period.
    """
    if "total_shown" not in rows:
        return pd.DataFrame({"_pos": [], "trust_code": [], "period": [], "name": []})
    shown = rows["total_shown"].fillna(False).astype(bool).to_numpy()
    pos = np.flatnonzero(shown)
    sub = rows.iloc[pos]
    if "partition" in sub:
        explicit = sub["partition"].fillna("").astype("str")
    else:
        explicit = pd.Series("", index=sub.index, dtype="str")
    default = default_partition(sub["metric_id"].astype("str"), sub["breakdown"].astype("str"))
    names = explicit.where(explicit.ne(""), default)
    out = pd.DataFrame({
        "_pos": pos, "trust_code": sub["trust_code"].to_numpy(), "period": sub["period"].to_numpy(),
        "name": names.str.split(PARTITION_SEPARATOR, regex=False).to_numpy(),
    })
    return out.explode("name", ignore_index=True).astype({"_pos": "int64"})


def _cell_size(rows: pd.DataFrame) -> np.ndarray:
    """The count a cell is ranked by when choosing the next cell to hide.

    Survey rows are protected on their number of answers (``n_values``), other
    rows on their numerator; a row without one falls back to its denominator.
    """
    num = rows["numerator"].to_numpy(dtype="float64")
    n_values = rows["n_values"].to_numpy(dtype="float64") if "n_values" in rows else np.full(len(rows), np.nan)
    denom = rows["denominator"].to_numpy(dtype="float64")
    survey = rows["basis"].to_numpy() == "survey" if "basis" in rows else np.zeros(len(rows), bool)
    size = np.where(survey, n_values, num)
    size = np.where(np.isnan(size), num, size)
    return np.where(np.isnan(size), denom, size)


def secondary_suppression(rows: pd.DataFrame, suppressed: np.ndarray) -> np.ndarray:
    """Extend a suppression mask until no shown total can be used to recover a hidden cell.

    CONTRACT.md §4.8: where a breakdown shows a total and exactly one cell is
    suppressed, the next smallest cell is suppressed too. A *partition* is a
    set of cells adding up to a shown total (``total_shown`` rows; which set
    is named in ``partition``, default the row's own metric and breakdown).
    Subtracting the shown cells from the total gives the sum of the hidden
    ones, so a partition is *exposed* when exactly one hidden cell has a
    non-zero numerator, or exactly one a non-zero denominator: that sum then
    is that cell (a lone hidden cell, or a hidden 3 beside a hidden 0). A
    hidden cell whose counts are all zero gives nothing away. An exposed
    partition gets its next smallest cell that adds to the exposed sum hidden
    too: the smallest non-zero cell (stable: first by position), a cell with
    a zero numerator only when no other is left. A cell may be in two
    partitions (an outcome share adds up within its group and within its
    outcome) and hiding it for one can expose the other, so the rule is
    applied until no partition is exposed or nothing is left to hide: a
    partition whose one non-zero cell is hidden then has a total equal to
    that cell, which the primary rule suppresses where it is small. Rows with
    ``derived_from`` are suppressed when any cell of a named partition is,
    inside the same loop (the mask only grows, so it ends).
    """
    mask = suppressed.copy()
    members = partition_members(rows)
    derived = None
    if "derived_from" in rows:
        d = rows["derived_from"].fillna("").astype("str")
        pos = np.flatnonzero(d.ne("").to_numpy())
        if pos.size:
            derived = pd.DataFrame({
                "_pos": pos, "trust_code": rows["trust_code"].to_numpy()[pos],
                "period": rows["period"].to_numpy()[pos],
                "name": d.iloc[pos].str.split(PARTITION_SEPARATOR, regex=False).to_numpy(),
            }).explode("name", ignore_index=True).astype({"_pos": "int64"})
    if members.empty and derived is None:
        return mask
    keys = ["trust_code", "period", "name"]
    size = _cell_size(rows)[members["_pos"].to_numpy()]
    members = members.assign(_size=size, _zero=~(size > 0))
    # Sort once: within a partition the first unsuppressed member is the one to hide.
    order = members.sort_values(["_zero", "_size", "_pos"], kind="stable")
    pos = order["_pos"].to_numpy()
    num_pos = rows["numerator"].to_numpy(dtype="float64")[pos] > 0
    den_pos = rows["denominator"].to_numpy(dtype="float64")[pos] > 0
    by = [order[k] for k in keys]
    while True:
        changed = False
        if not members.empty:
            sup = mask[pos]
            hidden = pd.DataFrame({"num": sup & num_pos, "den": sup & den_pos}, index=order.index)
            per = hidden.groupby(by, sort=False, dropna=False).transform("sum")
            num_exposed = (per["num"] == 1).to_numpy()
            den_exposed = (per["den"] == 1).to_numpy()
            # Only a cell that adds to the exposed sum helps: a non-zero numerator for a
            # lone hidden numerator, a non-zero denominator for a lone hidden denominator.
            helps = (num_exposed & num_pos) | (den_exposed & den_pos)
            cand = order[helps & ~sup]
            if not cand.empty:
                first = cand.groupby(keys, sort=False, dropna=False).head(1)
                mask[first["_pos"].to_numpy()] = True
                changed = True
        if derived is not None:
            hidden = members.loc[mask[members["_pos"].to_numpy()], keys].drop_duplicates()
            hit = derived.merge(hidden, on=keys, how="inner")["_pos"].to_numpy()
            new = hit[~mask[hit]]
            if new.size:
                mask[new] = True
                changed = True
        if not changed:
            return mask


def apply_suppression(
    rows: pd.DataFrame,
    min_count: int = DEFAULT_MIN_COUNT,
    min_survey_responses: int = DEFAULT_MIN_SURVEY_RESPONSES,
) -> pd.DataFrame:
    """Apply CONTRACT.md §4.8 to metric rows: set ``suppressed`` and blank the figures."""
    out = rows.copy()
    mask = primary_suppression(out, min_count, min_survey_responses)
    mask = secondary_suppression(out, mask)
    out["suppressed"] = mask
    for col in BLANKED:
        out[col] = out[col].astype("float64").mask(mask)
    if "label" in out:
        out["label"] = out["label"].mask(mask)
    return out
