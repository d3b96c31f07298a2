"""Disciplinary-inconsistency model: WRES 3 adjusted for staff group and pay cluster (CONTRACT.md §4.4).

HIA6 of the NHS EDI Improvement Plan (2023) asks boards to act "where the
data shows inconsistency" in disciplinary processes. The unadjusted WRES 3
relative likelihood mixes two things: whether BME staff are treated
differently, and whether they work in staff groups and bands with different
case rates. This module separates them.

Data: one row per cell (characteristic group × staff_group × pay_cluster) with
``cases`` (formal cases on the rolling basis of CONTRACT.md §4.3) and
``exposure`` (person-years: the sum of the two in-scope headcounts), Unknown
excluded — see :func:`build_cells`.

Model: binomial logistic regression of entering the process on the
characteristic (compared vs reference group) with main effects for staff
group and pay cluster, unpenalised, fitted by Newton–Raphson (IRLS) on
successes = cases, trials = exposure. Outputs: the adjusted odds ratio with
its 95% Wald interval; the adjusted relative likelihood by indirect
standardisation (observed compared-group cases ÷ the cases expected if they
had the model's reference-group rate in their own cells) with an exact
Poisson interval on the observed count; the same ratio per staff group; and
a label (adverse / within_range / inconclusive).

**Convention** (CONTRACT.md §4.4): no published NHS method adjusts WRES 3 for
staff group and band; this is ours, and the unadjusted figure is always shown
beside it. The method is written out for reviewers in docs/disciplinary-model.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special as _sp
from scipy import stats as _sps
from sklearn.base import BaseEstimator

from edi_analysis import groups, stats
from edi_analysis.metrics.disciplinary import (
    HIA6_SOURCE,
    ROLLING_NOTE,
    WDES3_SOURCE,
    WRES3_SOURCE,
    _period_str,
    rolling_counts,
)
from edi_analysis.metrics.registry import MetricSpec, family
from edi_analysis.metrics.rows import empty_rows, make_rows

ADVERSE, WITHIN_RANGE, INCONCLUSIVE = "adverse", "within_range", "inconclusive"
CELL_COLUMNS = ["group", "staff_group", "pay_cluster", "cases", "exposure"]


@dataclass(frozen=True)
class Characteristic:
    """A protected characteristic the model compares, with the case type and metric ids it uses."""

    name: str
    column: str  # group column made by groups.add_groups
    compared: str
    reference: str
    case_type: str
    unadjusted: str  # the unadjusted metric shown beside the adjusted one
    prefix: str  # metric id prefix

    def metric(self, what: str) -> str:
        return f"{self.prefix}.{what}"


#: Ethnicity compares BME with White on disciplinary cases (WRES 3); disability compares
#: Disabled with Non-disabled on performance-capability cases (WDES 3); sex compares Male
#: with Female on disciplinary cases (reference = the larger group, as in sex.2).
CHARACTERISTICS: dict[str, Characteristic] = {
    "ethnicity": Characteristic("ethnicity", "ethnicity", groups.BME, groups.WHITE, "disciplinary",
                                "wres.3.relative_likelihood", "hia6"),
    "disability": Characteristic("disability", "disability_group", groups.DISABLED, groups.NON_DISABLED,
                                 "capability_performance", "wdes.3.relative_likelihood", "hia6.disability"),
    "sex": Characteristic("sex", "sex_group", groups.MALE, groups.FEMALE, "disciplinary",
                          "sex.3.relative_likelihood", "hia6.sex"),
}


def inconsistency_label(ratio: float, lower_bound: float, low: float = 0.80, high: float = 1.25) -> str:
    """CONTRACT.md §4.4 label of an adjusted relative likelihood and its lower 95% bound.

    ``adverse`` when the lower bound > 1 and the ratio > ``high``;
    ``within_range`` when ``low`` ≤ ratio ≤ ``high`` (the non-adverse range of
    NHS England, *A fair experience for all*, 2019); ``inconclusive`` otherwise,
    including a blank ratio.
    """
    if not np.isfinite(ratio):
        return INCONCLUSIVE
    if np.isfinite(lower_bound) and lower_bound > 1 and ratio > high:
        return ADVERSE
    if low <= ratio <= high:
        return WITHIN_RANGE
    return INCONCLUSIVE


# --- cell table ------------------------------------------------------------------------


def build_cells(
    source,
    trust: str | Sequence[str] | None = None,
    period=None,
    *,
    case_type: str | None = None,
    characteristic: str = "ethnicity",
) -> pd.DataFrame:
    """The model's cell table: cases and person-years per group × staff_group × pay_cluster.

    ``source`` is a ``MetricContext`` or a mapping of validated tables
    (``workforce`` and ``employee_relations``; reporting-group columns are
    added when absent). Counts follow CONTRACT.md §4.3's rolling basis
    (``disciplinary.rolling_counts``): cases starting in the 24 months to the
    snapshot, exposure = in-scope headcount at the snapshot + a year earlier
    (12 months and one headcount where the earlier snapshot is absent; column
    ``rolling`` False). Only the compared and reference groups of the
    characteristic are kept (Unknown excluded, CONTRACT.md §3); pay band
    Other is its own stratum ``pay_cluster="none"``. ``case_type`` defaults
    to the characteristic's (disciplinary; capability_performance for
    disability). ``trust`` and ``period`` restrict the table; without
    ``period`` the context's periods (or every workforce snapshot) are used.
    Vectorised: one call covers every trust and period.
    """
    char = CHARACTERISTICS[characteristic]
    tables: Mapping[str, pd.DataFrame] = getattr(source, "tables", source)
    wf, er = tables["workforce"], tables["employee_relations"]
    if trust is not None:
        codes = [trust] if isinstance(trust, str) else list(trust)
        wf = wf[wf["trust_code"].isin(codes)]
        er = er[er["trust_code"].isin(codes)]
    if char.column not in wf or "in_scope" not in wf:
        wf = groups.add_groups(wf)
    if char.column not in er or "pay_cluster" not in er:
        er = groups.add_groups(er)
    if period is not None:
        periods = [pd.Timestamp(period)]
    elif getattr(source, "periods", None):
        periods = list(source.periods)
    else:
        periods = sorted(pd.Timestamp(p) for p in wf["snapshot_date"].unique())
    counts = rolling_counts(wf, er, periods, case_type=case_type or char.case_type,
                            by=[char.column, "staff_group", "pay_cluster"])
    counts = counts[counts[char.column].isin([char.compared, char.reference]).to_numpy()]
    counts = counts.rename(columns={char.column: "group"})
    cols = ["trust_code", "period", *CELL_COLUMNS, "rolling", "prev_snapshot"]
    return counts[cols].sort_values(cols[:5], kind="stable", ignore_index=True)


# --- fitting -----------------------------------------------------------------------------


def _loglik(X: np.ndarray, beta: np.ndarray, y: np.ndarray, n: np.ndarray) -> float:
    # Binomial log-likelihood without the constant log C(n, y): y·η − n·log(1 + e^η).
    eta = X @ beta
    return float(np.sum(y * eta - n * np.logaddexp(0.0, eta)))


def _irls(X: np.ndarray, y: np.ndarray, n: np.ndarray, max_iter: int, tol: float):
    """Newton–Raphson for the binomial logit with step halving; returns (beta, cov, n_iter, converged)."""
    beta = np.zeros(X.shape[1])
    pooled = np.clip(y.sum() / n.sum(), 1e-10, 1 - 1e-10)
    beta[0] = np.log(pooled / (1 - pooled))  # column 0 is the intercept
    ll = _loglik(X, beta, y, n)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        p = _sp.expit(X @ beta)
        w = n * p * (1 - p)
        info = (X * w[:, None]).T @ X
        try:
            step = np.linalg.solve(info, X.T @ (y - n * p))
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while True:
            new = beta + t * step
            ll_new = _loglik(X, new, y, n)
            if ll_new >= ll - 1e-12 * abs(ll) or t < 1e-10:
                break
            t /= 2
        change = np.max(np.abs(new - beta))
        beta, ll = new, ll_new
        # Newton converges quadratically when the maximum exists; under separation a
        # coefficient keeps moving by about one unit a step and this never holds.
        if change < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    p = _sp.expit(X @ beta)
    info = (X * (n * p * (1 - p))[:, None]).T @ X
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
        converged = False
    return beta, cov, it, converged


def _independent_columns(columns: list[np.ndarray], tol: float = 1e-9) -> list[bool]:
    """Greedy rank test (Gram–Schmidt): keep a column only if it is not a combination of those kept.

    Columns are tried in order, so the design's order decides which of an
    aliased set is dropped (the characteristic goes last: it is never
    dropped in favour of a stratum; if it is aliased the comparison is not
    identifiable).
    """
    basis: list[np.ndarray] = []
    keep = []
    for v in columns:
        r = v.astype("float64").copy()
        for _ in range(2):  # re-orthogonalise once for numerical stability
            for q in basis:
                r -= (q @ r) * q
        norm = float(np.linalg.norm(r))
        ok = norm > tol * max(float(np.linalg.norm(v)), 1.0)
        keep.append(ok)
        if ok:
            basis.append(r / norm)
    return keep


def _design(active, sgc, sg_levels, pcc, pc_levels, x, n, x_name):
    """Full-rank design on the active cells: (candidate column names, kept names, matrix of kept columns).

    Intercept, staff group and pay cluster indicators (baseline = the level
    with most person-years, so estimates are stable), then the
    characteristic last, so that of an aliased set a stratum column is
    dropped before it (pay clusters 5–7 exist only in Medical and Dental).
    """
    names, columns = ["Intercept"], [np.ones(int(active.sum()))]
    for name, codes, levels in (("staff_group", sgc, sg_levels), ("pay_cluster", pcc, pc_levels)):
        ns = np.bincount(codes[active], weights=n[active], minlength=len(levels))
        present = np.flatnonzero(ns > 0)
        order = present[np.lexsort((levels[present], -ns[present]))]
        for lv in order[1:]:
            names.append(f"{name}[{levels[lv]}]")
            columns.append((codes[active] == lv).astype("float64"))
    names.append(x_name)
    columns.append(x[active].astype("float64"))
    keep = _independent_columns(columns)
    kept = [nm for nm, k in zip(names, keep) if k]
    X = np.column_stack([c for c, k in zip(columns, keep) if k]) if kept else np.empty((0, 0))
    return names, kept, X


def _cell_arrays(cells: pd.DataFrame, char: Characteristic):
    """(x, staff_group, pay_cluster, cases, exposure) arrays of the compared and reference rows."""
    g = cells["group"].to_numpy(dtype=object)
    keep = (g == char.compared) | (g == char.reference)
    pc = cells["pay_cluster"].to_numpy(dtype=object)[keep]
    return (
        g[keep] == char.compared,
        cells["staff_group"].to_numpy(dtype=object)[keep],
        np.where(pd.isna(pc), "none", pc),
        cells["cases"].to_numpy(dtype="float64")[keep],
        cells["exposure"].to_numpy(dtype="float64")[keep],
    )


class DisciplinaryInconsistencyModel(BaseEstimator):
    """Adjusted relative likelihood of entering a formal process (CONTRACT.md §4.4, HIA6).

    Binomial logistic regression of cases out of person-years on the
    characteristic (``compared`` vs ``reference`` group) with staff group and
    pay cluster main effects, unpenalised; then indirect standardisation:
    expected = Σ over compared-group cells of exposure × the fitted rate for
    the reference group in that cell; adjusted relative likelihood =
    observed ÷ expected with an exact (Garwood) Poisson interval on observed.

    Parameters
    ----------
    characteristic : {'ethnicity', 'disability', 'sex'}
        BME vs White; Disabled vs Non-disabled; Male vs Female.
    alpha : float
        1 − confidence level of every interval (0.05 → 95%).
    low, high : float
        The non-adverse range used by the label (NHS England, 2019: 0.80–1.25).
    max_iter, tol : Newton–Raphson limits.
    max_abs_coef : float
        A coefficient larger than this in absolute value (odds ratio beyond
        e^20) can only come from (quasi-)separation; the fit is then reported
        as having no finite estimate instead of an absurd number.

    Fitted attributes
    -----------------
    coef_, bse_ : pd.Series over the design columns kept; cov_ : their covariance.
    odds_ratio_, odds_ratio_ci_ : adjusted odds ratio and its Wald interval.
    observed_, expected_ : compared-group cases and the indirectly standardised expectation.
    exposure_, reference_cases_, reference_exposure_ : the other totals behind the comparison.
    relative_likelihood_, relative_likelihood_ci_ : observed ÷ expected and its interval.
    cell_ratio_ : pd.DataFrame per staff group (observed, expected, ratio, ci_lower, ci_upper).
    label_ : 'adverse' | 'within_range' | 'inconclusive'.
    note_ : why figures are blank ('' when they are not).
    cells_ : the cells used, with fitted and reference-group rates.
    dropped_strata_, aliased_columns_ : what the design left out and why.
    converged_, n_iter_, n_cells_ : fitting diagnostics.
    """

    def __init__(self, characteristic: str = "ethnicity", alpha: float = 0.05, low: float = 0.80,
                 high: float = 1.25, max_iter: int = 100, tol: float = 1e-8,
                 max_abs_coef: float = 20.0):
        self.characteristic = characteristic
        self.alpha = alpha
        self.low = low
        self.high = high
        self.max_iter = max_iter
        self.tol = tol
        self.max_abs_coef = max_abs_coef

    # -- helpers ------------------------------------------------------------------------

    def _char(self) -> Characteristic:
        try:
            return CHARACTERISTICS[self.characteristic]
        except KeyError:
            raise ValueError(
                f"characteristic must be one of {sorted(CHARACTERISTICS)}, got {self.characteristic!r}"
            ) from None

    def _blank(self, note: str) -> DisciplinaryInconsistencyModel:
        nan = float("nan")
        self.coef_ = pd.Series(dtype="float64")
        self.bse_ = pd.Series(dtype="float64")
        self.cov_ = pd.DataFrame(dtype="float64")
        self.odds_ratio_, self.odds_ratio_ci_ = nan, (nan, nan)
        self.expected_ = nan
        self.relative_likelihood_, self.relative_likelihood_ci_ = nan, (nan, nan)
        self.cell_ratio_ = pd.DataFrame(
            columns=["observed", "expected", "ratio", "ci_lower", "ci_upper"], dtype="float64",
        ).rename_axis("staff_group")
        self.label_ = INCONCLUSIVE
        self.note_ = note
        return self

    @staticmethod
    def _separation_note(char: Characteristic) -> str:
        return (f"no finite estimate: the {char.compared} and {char.reference} cases are separated by "
                "staff group and pay cluster (quasi-complete separation)")

    # -- API ----------------------------------------------------------------------------

    def fit(self, cells: pd.DataFrame, y=None) -> DisciplinaryInconsistencyModel:
        """Fit on a cell table (columns group, staff_group, pay_cluster, cases, exposure).

        Rows of other groups (Unknown) are ignored; repeated cells are summed.
        Never raises on sparse data: where no figure can be estimated the
        fitted values are NaN, ``label_`` is 'inconclusive' and ``note_`` says why.
        """
        missing = [c for c in CELL_COLUMNS if c not in cells]
        if missing:
            raise ValueError(f"cell table lacks columns {missing}")
        self._fit_arrays(*_cell_arrays(cells, self._char()))
        self.cells_ = pd.DataFrame(self._cells)
        return self

    def _fit_arrays(self, x, sg, pc, cases, exposure) -> DisciplinaryInconsistencyModel:
        """The fit on aligned arrays (x: compared-group flag; sg, pc: stratum labels).

        Kept apart from :meth:`fit` so the metric family can fit hundreds of
        trusts without building a DataFrame per trust.
        """
        char = self._char()
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        # Sum repeated cells; this also puts the cells in a fixed (sorted) order.
        sg_levels, sg_code = np.unique(np.asarray(sg, dtype=object).astype(str), return_inverse=True)
        pc_levels, pc_code = np.unique(np.asarray(pc, dtype=object).astype(str), return_inverse=True)
        key = (np.asarray(x, dtype=np.int64) * len(sg_levels) + sg_code) * len(pc_levels) + pc_code
        ukey, inv = np.unique(key, return_inverse=True)
        y_all = np.bincount(inv, weights=np.asarray(cases, dtype="float64"), minlength=len(ukey))
        e_all = np.bincount(inv, weights=np.asarray(exposure, dtype="float64"), minlength=len(ukey))
        x_all = ukey // (len(sg_levels) * len(pc_levels)) == 1
        sg_all = (ukey // len(pc_levels)) % max(len(sg_levels), 1)
        pc_all = ukey % max(len(pc_levels), 1)
        # A cell cannot have more cases than trials in a binomial model; more cases than
        # person-years (repeat cases, or cases of leavers) counts every person-year as a case.
        n_all = np.maximum(e_all, y_all)
        use = n_all > 0
        x, sgc, pcc, y, n, e = x_all[use], sg_all[use], pc_all[use], y_all[use], n_all[use], e_all[use]

        self.n_cells_ = int(use.sum())
        self.observed_ = float(y[x].sum())
        self.reference_cases_ = float(y[~x].sum())
        self.exposure_ = float(n[x].sum())
        self.reference_exposure_ = float(n[~x].sum())
        self.dropped_strata_ = []
        self.aliased_columns_ = []
        self.converged_, self.n_iter_ = False, 0
        nan_col = np.full(len(y), np.nan)
        self._cells = {
            "group": np.where(x, char.compared, char.reference), "staff_group": sg_levels[sgc],
            "pay_cluster": pc_levels[pcc], "cases": y, "exposure": e, "trials": n,
            "fitted_rate": nan_col, "reference_rate": nan_col, "expected": nan_col,
            "in_fit": np.zeros(len(y), dtype=bool),
        }

        if self.exposure_ == 0:
            return self._blank(f"no {char.compared} staff in scope")
        if self.reference_exposure_ == 0:
            return self._blank(f"no {char.reference} staff in scope")
        if self.observed_ == 0:
            return self._blank(f"no cases in {char.compared} group")
        if self.reference_cases_ == 0:
            return self._blank(f"no cases in reference group ({char.reference})")

        # Strata (a staff group or a pay cluster) with no cases, or a case for every
        # person-year, push their coefficient to ∓∞; at that limit their cells fit
        # perfectly and say nothing about the characteristic, so they are left out of
        # the fit with their rate fixed at 0 (or 1). Repeat: leaving one out can empty another.
        active = np.ones(len(y), dtype=bool)
        fixed = np.full(len(y), np.nan)
        changed = True
        while changed:
            changed = False
            for name, codes, levels in (("staff_group", sgc, sg_levels), ("pay_cluster", pcc, pc_levels)):
                ys = np.bincount(codes[active], weights=y[active], minlength=len(levels))
                ns = np.bincount(codes[active], weights=n[active], minlength=len(levels))
                present = np.bincount(codes[active], minlength=len(levels)) > 0
                for lv in np.flatnonzero(present & ((ys == 0) | (ys == ns))):
                    m = active & (codes == lv)
                    none = ys[lv] == 0
                    fixed[m] = 0.0 if none else 1.0
                    active[m] = False
                    self.dropped_strata_.append(
                        (f"{name}={levels[lv]}", "no cases" if none else "a case for every person-year"))
                    changed = True

        # Remaining (quasi-)separation, e.g. one staff group × pay cluster cell with no cases
        # whose levels have cases elsewhere: Newton drives those cells' fitted rate to 0 (or
        # 1). As above, such cells sit at their limit and are fixed there; the model is refitted
        # on the rest (the "extended" maximum-likelihood estimate). If the characteristic can no
        # longer be estimated once they are out, the separation is in the comparison itself
        # and no finite odds ratio exists.
        separated = False
        while True:  # each pass fixes at least one cell, so this ends
            names, kept, X = _design(active, sgc, sg_levels, pcc, pc_levels, x, n,
                                     f"{char.column}[{char.compared}]")
            self.aliased_columns_ = [nm for nm in names if nm not in kept]
            if not kept or kept[-1] != names[-1]:
                self._cells["in_fit"] = active
                if separated or not active.any():
                    return self._blank(self._separation_note(char))
                return self._blank(
                    f"not identifiable: {char.compared} and {char.reference} staff do not share a "
                    "staff group and pay cluster with cases"
                )
            beta, cov, n_iter, converged = _irls(X, y[active], n[active], self.max_iter, self.tol)
            self.n_iter_ += int(n_iter)
            if converged and np.max(np.abs(beta[1:]), initial=0) <= self.max_abs_coef:
                break
            p_fit = _sp.expit(X @ beta)
            idx = np.flatnonzero(active)
            at_zero = (y[active] == 0) & (p_fit < 1e-8)
            at_one = (y[active] == n[active]) & (p_fit > 1 - 1e-8)
            if not (at_zero | at_one).any():
                self._cells["in_fit"] = active
                return self._blank(self._separation_note(char))
            fixed[idx[at_zero]], fixed[idx[at_one]] = 0.0, 1.0
            active[idx[at_zero | at_one]] = False
            for i in idx[at_zero | at_one]:
                self.dropped_strata_.append(
                    ((f"group={char.compared if x[i] else char.reference}, staff_group={sg_levels[sgc[i]]}, "
                     f"pay_cluster={pc_levels[pcc[i]]}"), "fitted rate at its limit (separation)"))
            separated = True
        self.converged_ = True
        self._cells["in_fit"] = active
        names = kept

        self.coef_ = pd.Series(beta, index=names)
        self.cov_ = pd.DataFrame(cov, index=names, columns=names)
        self.bse_ = pd.Series(np.sqrt(np.diag(cov)), index=names)
        z = float(_sps.norm.ppf(1 - self.alpha / 2))
        b, se = float(beta[-1]), float(np.sqrt(cov[-1, -1]))
        self.odds_ratio_ = float(np.exp(b))
        self.odds_ratio_ci_ = (float(np.exp(b - z * se)), float(np.exp(b + z * se)))

        # Indirect standardisation: the compared group's cells at the reference group's rate.
        eta = X @ beta
        fitted = fixed.copy()
        ref_rate = fixed.copy()
        fitted[active] = _sp.expit(eta)
        ref_rate[active] = _sp.expit(eta - b * x[active])
        expected = np.where(x, n * ref_rate, np.nan)
        self._cells.update(fitted_rate=fitted, reference_rate=ref_rate, expected=expected)
        self.expected_ = float(np.nansum(expected))
        lo, hi = stats.exact_poisson_interval(self.observed_, self.alpha)
        self.relative_likelihood_ = self.observed_ / self.expected_
        self.relative_likelihood_ci_ = (float(lo) / self.expected_, float(hi) / self.expected_)

        obs_s = np.bincount(sgc[x], weights=y[x], minlength=len(sg_levels))
        exp_s = np.bincount(sgc[x], weights=expected[x], minlength=len(sg_levels))
        shown = exp_s > 0
        plo, phi = stats.exact_poisson_interval(obs_s[shown], self.alpha)
        self.cell_ratio_ = pd.DataFrame(
            {"observed": obs_s[shown], "expected": exp_s[shown], "ratio": obs_s[shown] / exp_s[shown],
             "ci_lower": plo / exp_s[shown], "ci_upper": phi / exp_s[shown]},
            index=pd.Index(sg_levels[shown], name="staff_group"),
        )
        self.label_ = inconsistency_label(self.relative_likelihood_, self.relative_likelihood_ci_[0],
                                          self.low, self.high)
        self.note_ = ""
        return self

    def summary(self) -> str:
        """A plain-text report of the fit for reviewers (in the manner of statsmodels' summary)."""
        if not hasattr(self, "label_"):
            raise AttributeError("this model is not fitted yet; call fit(cells) first")
        char = self._char()
        pct = round((1 - self.alpha) * 100)
        lines = [
            "Disciplinary-inconsistency model (CONTRACT.md §4.4)",
            (f"Characteristic: {char.name} — {char.compared} compared with {char.reference}; "
            f"case type {char.case_type}"),
            ("Binomial logit of cases out of person-years on the characteristic, adjusted for staff "
            "group and pay cluster (unpenalised)."),
            f"Cells: {self.n_cells_}   Newton iterations: {self.n_iter_}   converged: {self.converged_}",
            (f"{char.compared}: {self.observed_:g} cases in {self.exposure_:g} person-years; "
            f"{char.reference}: {self.reference_cases_:g} cases in {self.reference_exposure_:g} person-years"),
        ]
        if self.dropped_strata_:
            lines.append("Strata left out of the fit (rate fixed at its limit): "
                         + "; ".join(f"{s} ({why})" for s, why in self.dropped_strata_))
        if self.aliased_columns_:
            lines.append("Aliased design columns dropped: " + ", ".join(self.aliased_columns_))
        if self.note_:
            lines.append(f"Note: {self.note_}")
        if len(self.coef_):
            z = self.coef_ / self.bse_
            p = pd.Series(2 * _sps.norm.sf(np.abs(z.to_numpy())), index=z.index)
            lines += ["", f"{'term':<48}{'coef':>10}{'std err':>10}{'z':>8}{'P>|z|':>8}"]
            for name in self.coef_.index:
                lines.append(f"{name:<48}{self.coef_[name]:>10.4f}{self.bse_[name]:>10.4f}"
                             f"{z[name]:>8.2f}{p[name]:>8.3f}")
        lines += [
            "",
            (f"Adjusted odds ratio: {self.odds_ratio_:.3f} ({pct}% Wald CI {self.odds_ratio_ci_[0]:.3f}"
            f" to {self.odds_ratio_ci_[1]:.3f})"),
            (f"Observed {char.compared} cases {self.observed_:g}; expected at {char.reference} rates "
            f"{self.expected_:.2f}"),
            (f"Adjusted relative likelihood: {self.relative_likelihood_:.3f} ({pct}% exact Poisson CI "
            f"{self.relative_likelihood_ci_[0]:.3f} to {self.relative_likelihood_ci_[1]:.3f})"),
            f"Label: {self.label_} (non-adverse range {self.low:.2f}–{self.high:.2f})",
        ]
        if len(self.cell_ratio_):
            lines += ["", f"{'staff group':<36}{'observed':>10}{'expected':>10}{'ratio':>8}"]
            for sgn, r in self.cell_ratio_.iterrows():
                lines.append(f"{sgn:<36}{r['observed']:>10g}{r['expected']:>10.2f}{r['ratio']:>8.3f}")
        return "\n".join(lines)


# --- metric family -------------------------------------------------------------------------

_MODEL_SOURCE = (
    f"{HIA6_SOURCE}; CONTRACT.md §4.4 (Convention: no published NHS method adjusts for staff group "
    "and pay cluster; shown beside the unadjusted figure)"
)


def _specs() -> list[MetricSpec]:
    specs = []
    for char in CHARACTERISTICS.values():
        base = WDES3_SOURCE if char.name == "disability" else WRES3_SOURCE
        src = f"{_MODEL_SOURCE}; counts as {base}"
        what = f"{char.compared} vs {char.reference}, {char.case_type.replace('_', ' ')} cases"
        specs += [
            MetricSpec(
                char.metric("adjusted_odds_ratio"), "hia6",
                f"Adjusted odds ratio of entering the formal process ({what})", "ratio", src,
                f"exp(β) of the {char.compared} indicator in a binomial logistic regression of cases "
                "out of person-years (rolling basis of §4.3, Unknown excluded) on the characteristic "
                "with staff group and pay cluster main effects, unpenalised; 95% Wald interval. "
                "Suppressed with the observed count of the adjusted ratio (CONTRACT.md §4.8).",
                counts=(),  # publishes no count
            ),
            MetricSpec(
                char.metric("adjusted_relative_likelihood"), "hia6",
                f"Relative likelihood of entering the formal process adjusted for staff group and pay "
                f"cluster ({what})", "ratio", src,
                f"Observed {char.compared} cases ÷ expected, expected = Σ over {char.compared} cells of "
                f"person-years × the model's rate for {char.reference} staff in that cell (indirect "
                "standardisation); 95% CI = exact Poisson interval on the observed count ÷ expected. "
                f"numerator = observed, denominator = expected. Shown beside {char.unadjusted}. "
                "Suppressed when its observed count is hidden (CONTRACT.md §4.8): the exact "
                "interval gives the count back.",
                counts=("numerator",),  # observed cases; the denominator is an expected value
            ),
            MetricSpec(
                char.metric("cell_ratio"), "hia6",
                f"Observed ÷ expected cases by staff group ({what})", "ratio", src,
                f"As {char.metric('adjusted_relative_likelihood')}, within one staff group: where the "
                "inconsistency sits. Suppressed when the staff group's observed count is hidden "
                "(CONTRACT.md §4.8).",
                breakdowns=tuple(f"staff_group={s}" for s in groups.STAFF_GROUPS),
                counts=("numerator",),  # observed cases; the denominator is an expected value
            ),
            MetricSpec(
                char.metric("inconsistency"), "hia6",
                f"Inconsistency in entering the formal process ({what})", "flag", src,
                f"From {char.metric('adjusted_relative_likelihood')}: 'adverse' when its lower 95% "
                "bound > 1 and the ratio > 1.25; 'within_range' when 0.80 ≤ ratio ≤ 1.25 (NHS England, "
                "A fair experience for all, 2019); 'inconclusive' otherwise (also when blank). "
                "Suppressed with the adjusted ratio's observed count (CONTRACT.md §4.8).",
                counts=(),  # a label
            ),
        ]
    return specs


SPECS = _specs()


def _trust_periods(ctx) -> pd.DataFrame:
    """Each trust and period with a workforce snapshot, and whether the snapshot a year earlier exists."""
    snaps = ctx.tables["workforce"][["trust_code", "snapshot_date"]].drop_duplicates()
    have = set(zip(snaps["trust_code"], snaps["snapshot_date"]))
    tp = snaps[snaps["snapshot_date"].isin(list(ctx.periods)).to_numpy()]
    prev = [p - pd.DateOffset(years=1) for p in tp["snapshot_date"]]
    tp = tp.assign(prev=prev, rolling=[(t, q) in have for t, q in zip(tp["trust_code"], prev)])
    return tp.sort_values(["trust_code", "snapshot_date"], ignore_index=True)


@family("disciplinary_model", SPECS, tables=("workforce", "employee_relations"))
def disciplinary_model_metrics(ctx) -> pd.DataFrame:
    """Fit the inconsistency model for every trust, period and characteristic (CONTRACT.md §4.4)."""
    if "workforce" not in ctx.tables or "employee_relations" not in ctx.tables:
        return empty_rows()
    tp = _trust_periods(ctx)
    if tp.empty:
        return empty_rows()
    parts = []
    for char in CHARACTERISTICS.values():
        cells = build_cells(ctx, characteristic=char.name)
        index = cells.groupby(["trust_code", "period"], sort=False).indices
        arrays = _cell_arrays(cells, char)  # build_cells kept only the two groups: rows align
        none = np.array([], dtype=np.int64)
        scalars = []
        cell_parts = []
        for t, p, prev, rolling in zip(tp["trust_code"], tp["snapshot_date"], tp["prev"], tp["rolling"]):
            pos = index.get((t, p), none)
            m = DisciplinaryInconsistencyModel(characteristic=char.name)._fit_arrays(*(a[pos] for a in arrays))
            basis_note = "" if rolling else ROLLING_NOTE.format(prev=_period_str(prev))
            note = "; ".join(s for s in (m.note_, basis_note) if s)
            scalars.append((t, _period_str(p), m.odds_ratio_, *m.odds_ratio_ci_, m.observed_,
                            m.expected_, m.relative_likelihood_, *m.relative_likelihood_ci_,
                            m.label_, note))
            if len(m.cell_ratio_):
                cell_parts.append(m.cell_ratio_.reset_index().assign(trust_code=t, period=_period_str(p),
                                                                      note=basis_note))
        s = pd.DataFrame(scalars, columns=["trust_code", "period", "or", "or_lo", "or_hi", "obs", "exp",
                                           "rl", "rl_lo", "rl_hi", "label", "note"])
        common = {"trust_code": s["trust_code"], "period": s["period"], "group": char.compared,
                      "reference_group": char.reference, "note": s["note"]}
        parts += [
            make_rows(metric_id=char.metric("adjusted_odds_ratio"), value=s["or"], ci_lower=s["or_lo"],
                      ci_upper=s["or_hi"], basis="model", **common),
            make_rows(metric_id=char.metric("adjusted_relative_likelihood"), value=s["rl"],
                      numerator=s["obs"], denominator=s["exp"], ci_lower=s["rl_lo"], ci_upper=s["rl_hi"],
                      basis="model", **common),
            make_rows(metric_id=char.metric("inconsistency"), value=np.nan, label=s["label"],
                      basis="label", **common),
        ]
        if cell_parts:
            c = pd.concat(cell_parts, ignore_index=True)
            parts.append(make_rows(
                trust_code=c["trust_code"], period=c["period"], metric_id=char.metric("cell_ratio"),
                breakdown="staff_group=" + c["staff_group"].astype("str"), group=char.compared,
                reference_group=char.reference, numerator=c["observed"], denominator=c["expected"],
                value=c["ratio"], ci_lower=c["ci_lower"], ci_upper=c["ci_upper"], note=c["note"],
                basis="model",
            ))
    return pd.concat(parts, ignore_index=True)
