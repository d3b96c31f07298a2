"""Disparity model: WRES 3 / WDES 3 adjusted for staff group and pay band (CONTRACT.md §4.4).

HIA6 of the NHS EDI Improvement Plan (2023) asks boards to act "where the data shows
inconsistency" in disciplinary processes. The unadjusted WRES 3 relative likelihood mixes
two things: whether BME staff enter the process at a different rate from White colleagues
in the same kind of job, and whether they work in staff groups and bands with different
rates. This module shows how much of the trust-wide figure is composition.

**What it can and cannot show.** Pay band may itself lie on the causal path: if BME staff
are held in lower bands by unequal progression, and lower bands have more cases, adjusting
for band removes part of a real disparity. And no observational comparison of rates shows
differential *treatment*: case mix, managers, departments and everything else not recorded
differ between groups. The figures are "disparity after adjusting for staff group and pay
band", a screening measure, shown beside the unadjusted standard.

Data: one row per cell (characteristic group × staff_group × pay_cluster) with ``cases``
(in-scope staff entering the process on the rolling basis of CONTRACT.md §4.3, once per
person per reporting year) and ``exposure`` (person-years: the sum of the two in-scope
headcounts), Unknown excluded — :func:`build_cells`. Staff entering in a cell with no
person-years (their case row names a staff group and band with no in-scope staff) are left
out of observed and expected alike, and counted in the note.

Model: Poisson log-linear regression of staff entering on the characteristic with a
log-person-years offset — a rate-ratio model — fitted three times: with no adjustment
(the crude ratio, which equals WRES 3 on the model's counts), adjusted for staff group, and
adjusted for staff group and pay band (WRES pay cluster; the primary figure). Maximum
likelihood where it exists; Firth-penalised where the comparison is separated (one group
has nobody entering where the groups overlap), so a small trust still gets a finite
estimate. 95% and 90% profile-likelihood intervals. Outputs: the three rate ratios; a label
from the 90% interval (an equivalence test against the non-adverse range 0.80–1.25) with a
sentence saying what the interval allows; a penalised likelihood-ratio test of the
characteristic × staff group interaction and the per-staff-group ratios it is about; and
the funnel-plot limits for runs of many trusts.

**Convention** (CONTRACT.md §4.4): no published NHS method adjusts WRES 3 for staff group
and band; this is ours, and the unadjusted figure is always shown beside it. The method,
its simulation check and its limitations are in docs/disciplinary-model.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from edi_analysis import groups, stats
from edi_analysis.metrics import _poisson
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

ADVERSE, BELOW_RANGE, WITHIN_RANGE, INCONCLUSIVE = "adverse", "below_range", "within_range", "inconclusive"
LABELS = (ADVERSE, BELOW_RANGE, WITHIN_RANGE, INCONCLUSIVE)
DIFFERS, NO_DIFFERENCE_SHOWN, NOT_TESTED = "differs", "no_difference_shown", "not_tested"
CELL_COLUMNS = ["group", "staff_group", "pay_cluster", "cases", "exposure"]

#: The three fits, least to most adjusted: name → strata adjusted for.
ADJUSTMENTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "staff_group": ("staff_group",),
    "staff_group+pay_cluster": ("staff_group", "pay_cluster"),
}
PRIMARY = "staff_group+pay_cluster"
#: Metric id suffix of each fit.
ADJUSTMENT_METRIC = {"none": "crude_rate_ratio", "staff_group": "rate_ratio_staff_group",
                     "staff_group+pay_cluster": "adjusted_rate_ratio"}
ADJUSTMENT_TEXT = {"none": "no adjustment", "staff_group": "staff group",
                   "staff_group+pay_cluster": "staff group and pay band"}
RATIO_COLUMNS = ["ratio", "ci_lower", "ci_upper", "ci90_lower", "ci90_upper", "observed",
                 "expected", "penalised", "note"]


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
    process: str  # "disciplinary" or "capability"

    def metric(self, what: str) -> str:
        return f"{self.prefix}.{what}"


#: Ethnicity compares BME with White on disciplinary cases (WRES 3); disability compares
#: Disabled with Non-disabled on performance-capability cases (WDES 3); sex compares Male
#: with Female on disciplinary cases (reference = the larger group, as in sex.2).
CHARACTERISTICS: dict[str, Characteristic] = {
    "ethnicity": Characteristic("ethnicity", "ethnicity", groups.BME, groups.WHITE, "disciplinary",
                                "wres.3.relative_likelihood", "hia6", "disciplinary"),
    "disability": Characteristic("disability", "disability_group", groups.DISABLED,
                                 groups.NON_DISABLED, "capability_performance",
                                 "wdes.3.relative_likelihood", "hia6.disability", "capability"),
    "sex": Characteristic("sex", "sex_group", groups.MALE, groups.FEMALE, "disciplinary",
                          "sex.3.relative_likelihood", "hia6.sex", "disciplinary"),
}


# --- the label and what the interval allows ----------------------------------------------------


def disparity_label(ratio: float, lower: float, upper: float, low: float = 0.80,
                    high: float = 1.25) -> str:
    """CONTRACT.md §4.4 label of an adjusted rate ratio from its 90% interval, against the
    non-adverse range [low, high] of NHS England, *A fair experience for all* (2019).

    - ``within_range``: the whole interval lies inside [low, high] — an equivalence test,
      two one-sided 5% tests (Schuirmann, *J. Pharmacokinet. Biopharm.* 15, 1987, 657–680);
    - ``adverse``: the whole interval lies above ``high`` — the compared group's rate is
      higher by more than the range allows (a one-sided 5% test against ``high``);
    - ``below_range``: the mirror image, the whole interval below ``low``;
    - ``inconclusive``: the interval straddles a boundary of the range (it may still exclude
      equal rates: the sentence says so), or there is no estimate.

    At parity (true ratio 1) ``adverse`` needs the lower bound above 1.25, rarer than the 5%
    chance of its being above 1, so the false-adverse rate is below the nominal 5%
    (``tests/test_disciplinary_model.py`` checks it by simulation).
    """
    if not np.isfinite(ratio) or np.isnan(lower) or np.isnan(upper):
        return INCONCLUSIVE
    if np.isfinite(lower) and np.isfinite(upper) and low <= lower and upper <= high:
        return WITHIN_RANGE
    if lower > high:
        return ADVERSE
    if upper < low:
        return BELOW_RANGE
    return INCONCLUSIVE


def _fmt(v: float) -> str:
    return f"{v:.2f}" if np.isfinite(v) else "unbounded"


def interval_sentence(label: str, ratio: float, lower: float, upper: float, compared: str,
                      reference: str, *, pct: int = 90, low: float = 0.80, high: float = 1.25,
                      adjusted_for: str = "staff group and pay band") -> str:
    """What the interval allows, in words: which of below / within / above the non-adverse
    range it reaches, and whether it excludes equal rates."""
    if not np.isfinite(ratio) or np.isnan(lower) or np.isnan(upper):
        return "No estimate, so no interval can be given."
    if np.isfinite(upper):
        span = f"The {pct}% interval runs from {_fmt(lower)} to {_fmt(upper)}"
    else:
        span = f"The {pct}% interval runs from {_fmt(lower)} with no upper limit"
    same = f"in the same {adjusted_for}"
    if label == WITHIN_RANGE:
        return (f"{span}, inside the non-adverse range {low:.2f}–{high:.2f}: any difference "
                f"between {compared} and {reference} staff {same} is too small to be adverse.")
    if label == ADVERSE:
        return (f"{span}, entirely above {high:.2f}: {compared} staff enter at a higher rate than "
                f"{reference} staff {same}, by more than the non-adverse range allows.")
    if label == BELOW_RANGE:
        return (f"{span}, entirely below {low:.2f}: {compared} staff enter at a lower rate than "
                f"{reference} staff {same}, by more than the non-adverse range allows.")
    regions = []
    if lower < low:
        regions.append(f"below {low:.2f}")
    if lower <= high and upper >= low:
        regions.append(f"within the range {low:.2f}–{high:.2f}")
    if upper > high:
        regions.append(f"above {high:.2f}")
    allows = " and ".join(regions) if len(regions) < 3 else f"{regions[0]}, {regions[1]} and {regions[2]}"
    text = (f"{span}: the data allow ratios {allows}, so they cannot tell whether the difference "
            f"between {compared} and {reference} staff {same} is adverse.")
    if lower > 1:
        text += (f" The interval is above 1: {compared} staff enter at a higher rate, but not "
                 f"clearly by more than {high:.2f}.")
    elif upper < 1:
        text += (f" The interval is below 1: {compared} staff enter at a lower rate, but not "
                 f"clearly by less than {low:.2f}.")
    return text


# --- cell table ------------------------------------------------------------------------


def build_cells(
    source,
    trust: str | Sequence[str] | None = None,
    period=None,
    *,
    case_type: str | None = None,
    characteristic: str = "ethnicity",
) -> pd.DataFrame:
    """The model's cell table: staff entering and person-years per group × staff_group × pay_cluster.

    ``source`` is a ``MetricContext`` or a mapping of validated tables (``workforce`` and
    ``employee_relations``; reporting-group columns are added when absent). Counts follow
    CONTRACT.md §4.3 (``disciplinary.rolling_counts``): in-scope staff entering the process
    once per reporting year in the 24 months to the snapshot, exposure = in-scope headcount
    at the snapshot + a year earlier (12 months and one headcount where the earlier snapshot
    is absent; column ``rolling`` False). Only the compared and reference groups of the
    characteristic are kept (Unknown excluded, CONTRACT.md §3); pay band Other is its own
    stratum ``pay_cluster="none"``. ``case_type`` defaults to the characteristic's
    (disciplinary; capability_performance for disability). Vectorised: one call covers every
    trust and period.
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


def count_text(k: float, min_count: int = stats.DEFAULT_MIN_COUNT) -> str:
    """A count for a published note: exact from the run's disclosure threshold up, else
    "fewer than <min_count>" (CONTRACT.md §4.8: a note never states a small count)."""
    k = int(round(k))
    return str(k) if k >= min_count else f"fewer than {min_count}"


# --- fitting -----------------------------------------------------------------------------


@dataclass
class _Design:
    names: list[str]
    X: np.ndarray
    aliased: list[str]


def _design(active, strata: dict, x, base_only: bool = False, extra=()) -> _Design:
    """Full-rank design on the active cells: intercept, stratum indicators, then ``x`` last.

    Stratum baseline = the level with most person-years (stable estimates). Of an aliased set
    a stratum column is dropped before the characteristic (pay clusters 5–7 exist only in
    Medical and Dental). ``extra`` adds (name, column) pairs after the strata, instead of x
    when ``base_only``.
    """
    n_active = int(active.sum())
    names, columns = ["Intercept"], [np.ones(n_active)]
    for name, (codes, levels, weight) in strata.items():
        ns = np.bincount(codes[active], weights=weight[active], minlength=len(levels))
        present = np.flatnonzero(ns > 0)
        order = present[np.lexsort((levels[present], -ns[present]))]
        for lv in order[1:]:
            names.append(f"{name}[{levels[lv]}]")
            columns.append((codes[active] == lv).astype("float64"))
    for nm, col in extra:
        names.append(nm)
        columns.append(np.asarray(col, dtype="float64")[active])
    if not base_only:
        names.append("x")
        columns.append(x[active].astype("float64"))
    keep = _poisson.independent_columns(columns)
    kept = [nm for nm, k in zip(names, keep) if k]
    X = np.column_stack([c for c, k in zip(columns, keep) if k]) if kept else np.empty((n_active, 0))
    return _Design(kept, X, [nm for nm, k in zip(names, keep) if not k])


class _DisparityModel:
    """Rate ratio of entering a formal process, crude and adjusted (CONTRACT.md §4.4, HIA6).

    The public class is :class:`DisciplinaryDisparityModel`, this with scikit-learn's
    ``BaseEstimator`` (``get_params``, ``clone``, its repr), built the first time it is
    asked for (module ``__getattr__``): scikit-learn takes seconds to import and the metrics
    engine, which fits this class thousands of times, needs none of it.

    Poisson regression of staff entering on the characteristic (``compared`` vs
    ``reference`` group) with an offset of log person-years: no adjustment, staff group
    main effects, and staff group plus pay band (WRES pay cluster) main effects. Maximum
    likelihood where the estimate exists; Firth-penalised where the comparison is
    separated. Profile-likelihood intervals (95% shown, 90% for the label). A penalised
    likelihood-ratio test of the characteristic × staff group interaction, with the
    per-staff-group ratios of the interaction model.

    Parameters
    ----------
    characteristic : {'ethnicity', 'disability', 'sex'}
        BME vs White; Disabled vs Non-disabled; Male vs Female.
    alpha : float
        1 − level of the intervals shown (0.05 → 95%).
    label_alpha : float
        1 − level of the interval the label uses (0.10 → 90%: two one-sided 5% tests).
    low, high : float
        The non-adverse range (NHS England, 2019: 0.80–1.25).
    interaction_alpha : float
        Level of the interaction test below which the report points at staff groups.
    staff_groups : bool
        Fit the interaction model (the test and the per-staff-group ratios); False skips it,
        e.g. in simulations of the headline figure.
    max_iter, tol : Newton–Raphson limits.
    max_abs_coef : float
        A maximum-likelihood coefficient beyond this (a ratio beyond e^20) can only come from
        (quasi-)separation; the cells driving it are then set at their limit and the model
        refitted, or the comparison is fitted with Firth's penalty.

    Fitted attributes
    -----------------
    rate_ratios_ : pd.DataFrame, one row per adjustment ('none', 'staff_group',
        'staff_group+pay_cluster'): ratio, 95% and 90% interval, observed, expected,
        penalised (Firth used), note.
    rate_ratio_, rate_ratio_ci_, rate_ratio_ci90_, expected_, penalised_ : the primary
        (staff group and pay band) figure.
    coef_, bse_, cov_ : its coefficients (log scale), Wald standard errors and covariance.
    observed_, exposure_, reference_cases_, reference_exposure_ : totals behind the comparison.
    excluded_cases_ : staff entering in cells with no person-years (left out of both sides).
    label_, sentence_ : 'adverse' | 'below_range' | 'within_range' | 'inconclusive' and what
        the 90% interval allows.
    interaction_lr_, interaction_df_, interaction_p_, interaction_label_, interaction_note_ :
        the penalised likelihood-ratio test of characteristic × staff group ('differs',
        'no_difference_shown', 'not_tested').
    staff_group_ratios_ : pd.DataFrame per staff group (observed, expected, ratio, ci_lower,
        ci_upper) from the interaction model.
    note_ : why figures are blank ('' when they are not).
    cells_ : the cells, with fitted and reference-group rates of the primary fit.
    dropped_strata_, aliased_columns_, converged_, n_iter_, n_cells_ : diagnostics.
    """

    def __init__(self, characteristic: str = "ethnicity", alpha: float = 0.05,
                 label_alpha: float = 0.10, low: float = 0.80, high: float = 1.25,
                 interaction_alpha: float = 0.05, staff_groups: bool = True,
                 max_iter: int = 100, tol: float = 1e-9, max_abs_coef: float = 20.0):
        self.characteristic = characteristic
        self.alpha = alpha
        self.label_alpha = label_alpha
        self.low = low
        self.high = high
        self.interaction_alpha = interaction_alpha
        self.staff_groups = staff_groups
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

    def _levels(self) -> tuple[float, float]:
        for name in ("alpha", "label_alpha", "interaction_alpha"):
            v = getattr(self, name)
            if not 0 < v < 1:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        return 1 - self.alpha, 1 - self.label_alpha

    def _blank_level(self, note: str) -> dict:
        nan = float("nan")
        return dict(ratio=nan, ci_lower=nan, ci_upper=nan, ci90_lower=nan, ci90_upper=nan,
                    observed=self.observed_, expected=nan, penalised=False, note=note,
                    coef=pd.Series(dtype="float64"), cov=pd.DataFrame(dtype="float64"),
                    fitted=np.full(len(self._y), nan), reference=np.full(len(self._y), nan),
                    in_fit=np.zeros(len(self._y), dtype=bool), dropped=[], aliased=[],
                    n_iter=0, converged=False)

    def _blank(self, note: str) -> DisciplinaryDisparityModel:
        level = self._blank_level(note)
        self._set_primary({name: level for name in ADJUSTMENTS})
        self._set_interaction(NOT_TESTED, note, np.nan, 0, np.nan, None)
        self.note_ = note
        return self

    def _comparison_note(self, char: Characteristic, strata: tuple[str, ...]) -> str:
        return (f"not identifiable: {char.compared} and {char.reference} staff do not share a "
                f"{ADJUSTMENT_TEXT[PRIMARY if len(strata) == 2 else 'staff_group']}")

    # -- API ----------------------------------------------------------------------------

    def fit(self, cells: pd.DataFrame, y=None) -> DisciplinaryDisparityModel:
        """Fit on a cell table (columns group, staff_group, pay_cluster, cases, exposure).

        Rows of other groups (Unknown) are ignored; repeated cells are summed. Never raises
        on sparse data: where no figure can be estimated the fitted values are NaN,
        ``label_`` is 'inconclusive' and ``note_`` says why.
        """
        missing = [c for c in CELL_COLUMNS if c not in cells]
        if missing:
            raise ValueError(f"cell table lacks columns {missing}")
        self._fit_arrays(*_cell_arrays(cells, self._char()))
        self.cells_ = pd.DataFrame(self._cells)
        return self

    def _fit_arrays(self, x, sg, pc, cases, exposure) -> DisciplinaryDisparityModel:
        """The fit on aligned arrays (x: compared-group flag; sg, pc: stratum labels).

        Kept apart from :meth:`fit` so the metric family can fit hundreds of trusts without
        building a DataFrame per trust.
        """
        char = self._char()
        self._levels()
        sg_levels, sg_code = np.unique(np.asarray(sg, dtype=object).astype(str), return_inverse=True)
        pc_levels, pc_code = np.unique(np.asarray(pc, dtype=object).astype(str), return_inverse=True)
        n_sg, n_pc = max(len(sg_levels), 1), max(len(pc_levels), 1)
        key = (np.asarray(x, dtype=np.int64) * n_sg + sg_code) * n_pc + pc_code
        ukey, inv = np.unique(key, return_inverse=True)
        y_all = np.bincount(inv, weights=np.asarray(cases, dtype="float64"), minlength=len(ukey))
        e_all = np.bincount(inv, weights=np.asarray(exposure, dtype="float64"), minlength=len(ukey))
        x_all = ukey // (n_sg * n_pc) == 1
        sg_all = (ukey // n_pc) % n_sg
        pc_all = ukey % n_pc
        # Staff entering in a cell with no person-years (their case row names a staff group and
        # band with no in-scope staff) have no exposure to set them against: out of both sides.
        use = e_all > 0
        self.excluded_cases_ = float(y_all[~use].sum())
        x, sgc, pcc, y, e = x_all[use], sg_all[use], pc_all[use], y_all[use], e_all[use]
        self._x, self._sgc, self._pcc, self._y, self._e = x, sgc, pcc, y, e
        self._sg_levels, self._pc_levels = sg_levels, pc_levels
        self.n_cells_ = int(use.sum())
        self.observed_ = float(y[x].sum())
        self.reference_cases_ = float(y[~x].sum())
        self.exposure_ = float(e[x].sum())
        self.reference_exposure_ = float(e[~x].sum())
        self._cells = {
            "group": np.where(x, char.compared, char.reference), "staff_group": sg_levels[sgc],
            "pay_cluster": pc_levels[pcc], "cases": y, "exposure": e,
            "fitted_rate": np.full(len(y), np.nan), "reference_rate": np.full(len(y), np.nan),
            "expected": np.full(len(y), np.nan), "in_fit": np.zeros(len(y), dtype=bool),
        }
        if self.exposure_ == 0:
            return self._blank(f"no {char.compared} staff in scope")
        if self.reference_exposure_ == 0:
            return self._blank(f"no {char.reference} staff in scope")
        if self.observed_ == 0 and self.reference_cases_ == 0:
            return self._blank(f"no {char.compared} or {char.reference} staff entering the process")

        levels = {name: self._fit_level(name, strata) for name, strata in ADJUSTMENTS.items()}
        self._set_primary(levels)
        if self.staff_groups:
            self._interaction()
        else:
            self._set_interaction(NOT_TESTED, "interaction not fitted (staff_groups=False)",
                                  np.nan, 0, np.nan, None)
        self.note_ = ""
        return self

    def _strata(self, strata: Sequence[str]) -> dict:
        return {name: ((self._sgc, self._sg_levels, self._e) if name == "staff_group"
                       else (self._pcc, self._pc_levels, self._e)) for name in strata}

    def _drop_empty_strata(self, strata: Sequence[str]):
        """Leave out strata with nobody entering: their coefficient is −∞ at the maximum and
        their cells then fit exactly, carrying no information on the comparison (repeat:
        leaving one out can empty another)."""
        y = self._y
        active = np.ones(len(y), dtype=bool)
        dropped = []
        changed = True
        while changed:
            changed = False
            for name, (codes, levels, _) in self._strata(strata).items():
                ys = np.bincount(codes[active], weights=y[active], minlength=len(levels))
                present = np.bincount(codes[active], minlength=len(levels)) > 0
                for lv in np.flatnonzero(present & (ys == 0)):
                    active &= codes != lv
                    dropped.append((f"{name}={levels[lv]}", "nobody entering"))
                    changed = True
        return active, dropped

    def _fit_level(self, name: str, strata: tuple[str, ...]) -> dict:
        char = self._char()
        x, y, e = self._x, self._y, self._e
        shown, lab = self._levels()
        active, dropped = self._drop_empty_strata(strata)
        if not active.any():
            return self._blank_level(f"no {char.compared} or {char.reference} staff entering "
                                     "the process")
        strata_arrays = self._strata(strata)
        design = _design(active, strata_arrays, x)
        if not design.names or design.names[-1] != "x":
            return self._blank_level(self._comparison_note(char, strata) + " with staff entering")
        penalised = not (y[active & x].sum() > 0 and y[active & ~x].sum() > 0)
        fixed_zero = np.zeros(len(y), dtype=bool)
        fit = None
        if not penalised:
            # Maximum likelihood; a single cell with nobody entering can still be driven to a
            # zero rate (quasi-separation) though its strata have cases elsewhere: such cells
            # sit at their limit and are set aside, the rest refitted (the "extended" MLE).
            act = active.copy()
            while True:
                d = _design(act, strata_arrays, x)
                if not d.names or d.names[-1] != "x" or not (y[act & x].sum() > 0
                                                            and y[act & ~x].sum() > 0):
                    fit = None
                    break
                f = _poisson.fit(d.X, y[act], np.log(e[act]), max_iter=self.max_iter, tol=self.tol)
                if f.converged and np.max(np.abs(f.beta[1:]), initial=0) <= self.max_abs_coef:
                    fit, design, active = f, d, act
                    break
                rate = f.mu / e[act]
                at_zero = (y[act] == 0) & (rate < 1e-8 * max(y.sum() / e.sum(), 1e-12))
                if not at_zero.any():
                    fit = None
                    break
                idx = np.flatnonzero(act)[at_zero]
                act[idx] = False
                fixed_zero[idx] = True
                for i in idx:
                    dropped.append((f"group={char.compared if x[i] else char.reference}, "
                                    f"staff_group={self._sg_levels[self._sgc[i]]}, "
                                    f"pay_cluster={self._pc_levels[self._pcc[i]]}",
                                    "fitted rate at its limit (separation)"))
            if fit is None:
                penalised = True
                fixed_zero[:] = False
                active, dropped = self._drop_empty_strata(strata)
                design = _design(active, strata_arrays, x)
        if penalised:
            fit = _poisson.fit(design.X, y[active], np.log(e[active]), firth=True,
                               max_iter=self.max_iter, tol=self.tol)
            if not fit.converged:
                return self._blank_level("no finite estimate: the penalised fit did not converge")
        j = design.X.shape[1] - 1
        bounds = _poisson.profile_interval(design.X, y[active], np.log(e[active]), j, fit,
                                           (shown, lab))
        b = float(fit.beta[j])
        fitted = np.where(fixed_zero, 0.0, np.nan)
        reference = fitted.copy()
        fitted[active] = fit.mu / e[active]
        reference[active] = fitted[active] * np.exp(-b * x[active])
        expected = float(np.nansum(np.where(x, e * reference, np.nan)))
        names = design.names[:-1] + [f"{char.column}[{char.compared}]"]
        note = ""
        if penalised:
            if y[active & x].sum() == 0 or y[active & ~x].sum() == 0:
                side = char.compared if y[active & x].sum() == 0 else char.reference
                why = f"{side} staff have nobody entering the process where the groups overlap"
            else:
                why = (f"the {char.compared} and {char.reference} staff entering are separated by "
                       f"{ADJUSTMENT_TEXT[name]} (quasi-complete separation)")
            note = f"Firth-penalised estimate: {why}, so the unpenalised estimate is not finite"
        return dict(
            ratio=float(np.exp(b)), ci_lower=float(np.exp(bounds[shown][0])),
            ci_upper=float(np.exp(bounds[shown][1])), ci90_lower=float(np.exp(bounds[lab][0])),
            ci90_upper=float(np.exp(bounds[lab][1])), observed=self.observed_, expected=expected,
            penalised=penalised, note=note, coef=pd.Series(fit.beta, index=names),
            cov=pd.DataFrame(fit.cov, index=names, columns=names), fitted=fitted,
            reference=reference, in_fit=active.copy(), dropped=dropped, aliased=design.aliased,
            n_iter=fit.n_iter, converged=fit.converged,
        )

    def _set_primary(self, levels: dict) -> None:
        self.rate_ratios_ = pd.DataFrame(
            [{k: lv[k] for k in RATIO_COLUMNS} for lv in levels.values()],
            index=pd.Index(list(levels), name="adjusted_for"),
        )
        p = levels[PRIMARY]
        self.rate_ratio_ = p["ratio"]
        self.rate_ratio_ci_ = (p["ci_lower"], p["ci_upper"])
        self.rate_ratio_ci90_ = (p["ci90_lower"], p["ci90_upper"])
        self.expected_ = p["expected"]
        self.penalised_ = bool(p["penalised"])
        self.coef_ = p["coef"]
        self.cov_ = p["cov"]
        self.bse_ = pd.Series(np.sqrt(np.diag(p["cov"].to_numpy())), index=p["coef"].index,
                              dtype="float64")
        self.dropped_strata_ = p["dropped"]
        self.aliased_columns_ = p["aliased"]
        self.converged_ = bool(p["converged"])
        self.n_iter_ = int(sum(lv["n_iter"] for lv in levels.values()))
        char = self._char()
        self.label_ = disparity_label(self.rate_ratio_, *self.rate_ratio_ci90_, self.low, self.high)
        self.sentence_ = interval_sentence(self.label_, self.rate_ratio_, *self.rate_ratio_ci90_,
                                           char.compared, char.reference,
                                           pct=round((1 - self.label_alpha) * 100),
                                           low=self.low, high=self.high)
        if hasattr(self, "_cells"):
            x, e = self._x, self._e
            self._cells.update(fitted_rate=p["fitted"], reference_rate=p["reference"],
                               expected=np.where(x, e * p["reference"], np.nan), in_fit=p["in_fit"])

    def _set_interaction(self, label, note, lr, df, pval, table) -> None:
        self.interaction_label_ = label
        self.interaction_note_ = note
        self.interaction_lr_ = float(lr)
        self.interaction_df_ = int(df)
        self.interaction_p_ = float(pval)
        self.staff_group_ratios_ = table if table is not None else pd.DataFrame(
            columns=["observed", "expected", "ratio", "ci_lower", "ci_upper"], dtype="float64",
        ).rename_axis("staff_group")

    def _interaction(self) -> None:
        """Penalised likelihood-ratio test of characteristic × staff group, and per-group ratios.

        The full model gives each staff group in which both groups have person-years its own
        log rate ratio (columns x·[staff group = g]), with staff group and pay band main
        effects; the null model holds those ratios equal. Both are Firth-penalised — a staff
        group where one side has nobody entering is the norm in a trust, and unpenalised
        there the full model has no finite maximum — and the null model maximises the full
        model's penalised likelihood under the constraint (Heinze & Schemper 2002, as
        logistf's penalised likelihood-ratio test). χ² on (number of groups − 1) df.
        """
        char = self._char()
        x, y, e, sgc = self._x, self._y, self._e, self._sgc
        shown, _ = self._levels()
        strata = ("staff_group", "pay_cluster")
        active, _ = self._drop_empty_strata(strata)
        both = [g for g in np.unique(sgc[active])
                if e[active & x & (sgc == g)].sum() > 0 and e[active & ~x & (sgc == g)].sum() > 0]
        sname = lambda g: str(self._sg_levels[g])  # noqa: E731
        if len(both) < 1:
            self._set_interaction(NOT_TESTED, f"no staff group has both {char.compared} and "
                                  f"{char.reference} staff", np.nan, 0, np.nan, None)
            return
        cols = [(f"x[{sname(g)}]", (x & (sgc == g)).astype("float64")) for g in both]
        full = _design(active, self._strata(strata), x, base_only=True, extra=cols)
        per_group = [nm for nm in full.names if nm.startswith("x[")]
        k_base = len(full.names) - len(per_group)
        off = np.log(e[active])
        yy = y[active]
        fit_full = _poisson.fit(full.X, yy, off, firth=True, max_iter=self.max_iter, tol=self.tol)
        rows = []
        if fit_full.converged:
            for i, nm in enumerate(per_group):
                j = k_base + i
                g = both[[f"x[{sname(b)}]" for b in both].index(nm)]
                bounds = _poisson.profile_interval(full.X, yy, off, j, fit_full, (shown,))[shown]
                in_g = active & x & (sgc == g)
                mu_ref = fit_full.mu[in_g[active]] * np.exp(-fit_full.beta[j])
                rows.append({"staff_group": sname(g), "observed": float(y[in_g].sum()),
                             "expected": float(mu_ref.sum()), "ratio": float(np.exp(fit_full.beta[j])),
                             "ci_lower": float(np.exp(bounds[0])), "ci_upper": float(np.exp(bounds[1]))})
        table = (pd.DataFrame(rows).set_index("staff_group") if rows else None)
        if not fit_full.converged or len(per_group) < 2:
            why = ("the penalised fit did not converge" if not fit_full.converged else
                   f"only one staff group has both {char.compared} and {char.reference} staff")
            self._set_interaction(NOT_TESTED, f"interaction not tested: {why}", np.nan, 0, np.nan,
                                  table)
            return
        # Null model: the same penalised likelihood with every group's ratio equal. Columns
        # x_all = Σ x[g] and x[g] for g after the first span the same space (a unit-triangular
        # change of parameters, so the same penalised likelihood); fix the latter at 0.
        Z = full.X.copy()
        Z[:, k_base] = full.X[:, k_base:].sum(axis=1)
        fixed = {k_base + i: 0.0 for i in range(1, len(per_group))}
        start = np.concatenate([fit_full.beta[:k_base], [fit_full.beta[k_base:].mean()],
                                np.zeros(len(per_group) - 1)])
        fit_null = _poisson.fit(Z, yy, off, firth=True, start=start, fixed=fixed,
                                max_iter=self.max_iter, tol=self.tol)
        df = len(per_group) - 1
        lr = max(0.0, 2.0 * (fit_full.loglik - fit_null.loglik))
        pval = float(stats.chi2_sf(lr, df))
        label = DIFFERS if pval < self.interaction_alpha else NO_DIFFERENCE_SHOWN
        note = (f"Penalised likelihood-ratio test of {char.name} × staff group over "
                f"{len(per_group)} staff groups: chi-squared {lr:.2f} on {df} df, p = {pval:.3f}.")
        self._set_interaction(label, note, lr, df, pval, table)

    def summary(self) -> str:
        """A plain-text report of the fit for reviewers (in the manner of statsmodels' summary)."""
        if not hasattr(self, "label_"):
            raise AttributeError("this model is not fitted yet; call fit(cells) first")
        char = self._char()
        pct = round((1 - self.alpha) * 100)
        pct_l = round((1 - self.label_alpha) * 100)
        lines = [
            "Disparity model (CONTRACT.md §4.4)",
            (f"Characteristic: {char.name} — {char.compared} compared with {char.reference}; "
             f"case type {char.case_type}"),
            ("Poisson regression of staff entering the process on the characteristic, offset log "
             "person-years; maximum likelihood, Firth-penalised under separation; "
             "profile-likelihood intervals."),
            f"Cells: {self.n_cells_}   Newton iterations: {self.n_iter_}   converged: {self.converged_}",
            (f"{char.compared}: {self.observed_:g} entering in {self.exposure_:g} person-years; "
             f"{char.reference}: {self.reference_cases_:g} entering in "
             f"{self.reference_exposure_:g} person-years"),
        ]
        if self.excluded_cases_:
            lines.append(f"Left out (no person-years in their cell): {self.excluded_cases_:g} entering")
        if self.dropped_strata_:
            lines.append("Left out of the primary fit (rate fixed at 0): "
                         + "; ".join(f"{s} ({why})" for s, why in self.dropped_strata_))
        if self.aliased_columns_:
            lines.append("Aliased design columns dropped: " + ", ".join(self.aliased_columns_))
        if self.note_:
            lines.append(f"Note: {self.note_}")
        if len(self.coef_):
            from scipy import stats as sps  # a reviewer's report, not the metrics: imported here

            z = self.coef_ / self.bse_
            p = pd.Series(2 * sps.norm.sf(np.abs(z.to_numpy())), index=z.index)
            lines += ["", f"{'term (primary fit, log scale)':<48}{'coef':>10}{'std err':>10}{'z':>8}{'P>|z|':>8}"]
            for name in self.coef_.index:
                lines.append(f"{name:<48}{self.coef_[name]:>10.4f}{self.bse_[name]:>10.4f}"
                             f"{z[name]:>8.2f}{p[name]:>8.3f}")
        lines += ["", f"{'adjusted for':<28}{'ratio':>8}{f'{pct}% interval':>20}{f'{pct_l}% interval':>20}"
                  f"{'expected':>10}"]
        for adj, r in self.rate_ratios_.iterrows():
            lines.append(f"{ADJUSTMENT_TEXT[adj]:<28}{r['ratio']:>8.3f}"
                         f"{f'{r.ci_lower:.3f}–{r.ci_upper:.3f}':>20}"
                         f"{f'{r.ci90_lower:.3f}–{r.ci90_upper:.3f}':>20}{r['expected']:>10.2f}"
                         + ("  (Firth)" if r["penalised"] else ""))
        lines += ["", f"Label: {self.label_} (non-adverse range {self.low:.2f}–{self.high:.2f})",
                  self.sentence_, "", f"Staff groups: {self.interaction_label_}. {self.interaction_note_}"]
        if len(self.staff_group_ratios_):
            lines += ["", f"{'staff group':<36}{'observed':>10}{'expected':>10}{'ratio':>8}{f'{pct}% interval':>20}"]
            for sgn, r in self.staff_group_ratios_.iterrows():
                lines.append(f"{sgn:<36}{r['observed']:>10g}{r['expected']:>10.2f}{r['ratio']:>8.3f}"
                             f"{f'{r.ci_lower:.3f}–{r.ci_upper:.3f}':>20}")
        return "\n".join(lines)


def _estimator_class() -> type:
    from sklearn.base import BaseEstimator

    cls = type("DisciplinaryDisparityModel", (_DisparityModel, BaseEstimator),
               {"__module__": __name__, "__doc__": _DisparityModel.__doc__,
                "__qualname__": "DisciplinaryDisparityModel"})
    globals()["DisciplinaryDisparityModel"] = cls
    return cls


#: Names served by :func:`__getattr__`. ``DisciplinaryInconsistencyModel`` is the name the
#: estimator had before its figures were renamed (it described a disparity, not an
#: inconsistency of treatment); kept so code written against it still runs.
_LAZY_CLASSES = ("DisciplinaryDisparityModel", "DisciplinaryInconsistencyModel")


def __getattr__(name: str):
    if name in _LAZY_CLASSES:
        cls = globals().get("DisciplinaryDisparityModel") or _estimator_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- funnel plot (a run of many trusts) ------------------------------------------------------

#: Funnel-plot control limits (Spiegelhalter, *Statistics in Medicine* 24, 2005, 1185–1202):
#: 95% ("warning") and 99.8% ("alarm").
FUNNEL_LEVELS = (0.95, 0.998)


def funnel_limits(expected, target: float = 1.0, levels: Sequence[float] = FUNNEL_LEVELS
                  ) -> pd.DataFrame:
    """Exact Poisson funnel limits for an observed ÷ expected ratio at each expected count.

    Spiegelhalter (2005), appendix A.1.1: with O ~ Poisson(θ₀·E), the p-quantile r_p of O is
    interpolated to a continuous limit (r_p − a)/E, a = (F(r_p) − p) ÷ (F(r_p) − F(r_p − 1)),
    for p = (1 − level)/2 and (1 + level)/2. Columns: expected, then lower_<level>,
    upper_<level> per level (level as a percentage, e.g. ``lower_95``, ``upper_99.8``).
    """
    from scipy import stats as sps  # charts of many trusts, not the metrics: imported here

    E = np.asarray(expected, dtype="float64")
    out = {"expected": E}
    mean = target * E
    for level in levels:
        tag = f"{level * 100:g}"
        for side, p in (("lower", (1 - level) / 2), ("upper", (1 + level) / 2)):
            r = sps.poisson.ppf(p, mean)
            f_r = sps.poisson.cdf(r, mean)
            f_r1 = np.where(r > 0, sps.poisson.cdf(r - 1, mean), 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                a = np.where(f_r > f_r1, (f_r - p) / (f_r - f_r1), 0.0)
                limit = np.where(E > 0, np.maximum(r - a, 0.0) / E, np.nan)
            out[f"{side}_{tag}"] = limit
    return pd.DataFrame(out)


def funnel_points(rows: pd.DataFrame, metric_id: str = "hia6.adjusted_rate_ratio") -> pd.DataFrame:
    """Trusts that can be placed on the funnel: a published ratio with its observed and expected.

    From published rows of one period (every trust in a run): ``value`` is the adjusted rate
    ratio, ``numerator`` the observed count and ``denominator`` the expected count at the
    reference group's rates (for a maximum-likelihood fit, observed ÷ expected = the ratio).
    Suppressed or blank rows are left out. Columns: trust_code, ratio (observed ÷ expected,
    the quantity the limits are for), observed, expected, the pooled target Σ observed ÷
    Σ expected in ``target``, and ``position_95`` / ``position_99.8``: "above", "below" or
    "within" the trust's limits at its expected count.
    """
    sel = rows[(rows["metric_id"] == metric_id) & (rows["breakdown"].astype("str") == "")]
    if "suppressed" in sel:
        sel = sel[~sel["suppressed"].astype(bool)]
    num = pd.to_numeric(sel["numerator"], errors="coerce")
    den = pd.to_numeric(sel["denominator"], errors="coerce")
    val = pd.to_numeric(sel["value"], errors="coerce")
    ok = num.notna() & den.gt(0) & val.notna()
    pts = pd.DataFrame({"trust_code": sel.loc[ok, "trust_code"].astype("str").to_numpy(),
                        "ratio": (num[ok] / den[ok]).to_numpy(dtype="float64"),
                        "observed": num[ok].to_numpy(dtype="float64"),
                        "expected": den[ok].to_numpy(dtype="float64")})
    target = float(pts["observed"].sum() / pts["expected"].sum()) if len(pts) else np.nan
    pts = pts.assign(target=target)
    if len(pts):
        lim = funnel_limits(pts["expected"], target)
        for level in FUNNEL_LEVELS:
            tag = f"{level * 100:g}"
            pts[f"position_{tag}"] = np.select(
                [pts["ratio"].to_numpy() > lim[f"upper_{tag}"].to_numpy(),
                 pts["ratio"].to_numpy() < lim[f"lower_{tag}"].to_numpy()],
                ["above", "below"], default="within")
    else:
        for level in FUNNEL_LEVELS:
            pts[f"position_{level * 100:g}"] = pd.Series(dtype="str")
    return pts.sort_values("trust_code", ignore_index=True)


# --- metric family -------------------------------------------------------------------------

_MODEL_SOURCE = (
    f"{HIA6_SOURCE}; CONTRACT.md §4.4 (Convention: no published NHS method adjusts for staff group "
    "and pay band; shown beside the unadjusted figure)"
)
_CANNOT = ("Pay band may be on the causal path (unequal progression), and no comparison of rates "
           "can show differential treatment.")
#: CONTRACT.md §4.4 and §4.8: one rule for every row of the model (declared in
#: ``edi_analysis.disclosure.declarations``).
_SUPPRESSED = ("Suppressed, with every row of the same characteristic's model for the trust and "
               "period, when the observed staff entering of either group or either group's "
               "person-years are hidden (CONTRACT.md §4.8): the ratios and their "
               "profile-likelihood intervals give the observed counts back.")


def _specs() -> list[MetricSpec]:
    specs = []
    for char in CHARACTERISTICS.values():
        base = WDES3_SOURCE if char.name == "disability" else WRES3_SOURCE
        src = f"{_MODEL_SOURCE}; counts as {base}"
        what = f"{char.compared} vs {char.reference}, formal {char.process} process"
        ratio_def = (
            "Rate ratio exp(β) of the {cmp} indicator in a Poisson regression of in-scope staff "
            "entering (once per person per reporting year, rolling basis of §4.3, Unknown "
            "excluded) with an offset of log person-years, {adj}; maximum likelihood, "
            "Firth-penalised where one group has nobody entering where the groups overlap "
            "(noted); 95% profile-likelihood interval. numerator = observed {cmp} staff "
            "entering, denominator = expected at {ref} rates in the same strata (for a "
            "maximum-likelihood fit, numerator ÷ denominator = the ratio). Staff entering in a "
            "staff group and band with no in-scope staff are left out (noted). " + _SUPPRESSED
        )
        for adj, suffix in ADJUSTMENT_METRIC.items():
            adj_words = {"none": "no adjustment (the crude ratio: WRES/WDES 3 on the model's "
                                 "counts)",
                         "staff_group": "adjusted for staff group (main effects)",
                         "staff_group+pay_cluster": "adjusted for staff group and pay band "
                                                    "(WRES pay cluster; main effects)"}[adj]
            label = {"none": f"Crude rate ratio of entering the formal {char.process} process "
                             f"({what})",
                     "staff_group": f"Rate ratio of entering the formal {char.process} process "
                                    f"adjusted for staff group ({what})",
                     "staff_group+pay_cluster": f"Disparity in entering the formal "
                                                f"{char.process} process after adjusting for "
                                                f"staff group and pay band ({what})"}[adj]
            specs.append(MetricSpec(
                char.metric(suffix), "hia6", label, "ratio", src,
                ratio_def.format(cmp=char.compared, ref=char.reference, adj=adj_words)
                + (f" The primary figure; shown beside {char.unadjusted}. {_CANNOT}"
                   if adj == PRIMARY else ""),
                counts=("numerator",),  # observed staff entering; the denominator is an expected value
            ))
        specs += [
            MetricSpec(
                char.metric("disparity"), "hia6",
                f"Disparity after adjusting for staff group and pay band: label ({what})", "flag",
                src,
                f"From the 90% profile-likelihood interval of {char.metric('adjusted_rate_ratio')}: "
                "'within_range' when it lies inside 0.80–1.25 (equivalence test, NHS England, A "
                "fair experience for all, 2019); 'adverse' when it lies entirely above 1.25; "
                "'below_range' when it lies entirely below 0.80; 'inconclusive' otherwise (also "
                "when blank). The note says what the interval allows. "
                f"{_CANNOT} {_SUPPRESSED}",
                counts=(),  # a label
            ),
            MetricSpec(
                char.metric("staff_group_rate_ratio"), "hia6",
                f"Rate ratio within each staff group, adjusted for pay band ({what})", "ratio", src,
                f"exp(β_g) of the {char.compared} indicator within staff group g in a "
                "Firth-penalised Poisson regression with one ratio per staff group (where both "
                "groups have staff) and staff group and pay band main effects; 95% profile "
                "penalised-likelihood interval. numerator = observed, denominator = expected. "
                f"Read only when {char.metric('staff_group_difference')} is 'differs'. "
                f"{_SUPPRESSED} A staff group's row is also suppressed when that staff group's "
                "observed staff entering (of either group) are hidden.",
                breakdowns=tuple(f"staff_group={s}" for s in groups.STAFF_GROUPS),
                counts=("numerator",),  # observed staff entering; the denominator is an expected value
            ),
            MetricSpec(
                char.metric("staff_group_difference"), "hia6",
                f"Does the disparity differ between staff groups? ({what})", "flag", src,
                f"Penalised likelihood-ratio test of {char.name} × staff group (the per-group "
                f"ratios of {char.metric('staff_group_rate_ratio')} against one common ratio): "
                "'differs' when p < 0.05, 'no_difference_shown' otherwise, 'not_tested' with "
                "fewer than two staff groups holding both groups. The note gives the statistic, "
                f"degrees of freedom and p. {_SUPPRESSED}",
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


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


@family("disciplinary_model", SPECS, tables=("workforce", "employee_relations"))
def disciplinary_model_metrics(ctx) -> pd.DataFrame:
    """Fit the disparity model for every trust, period and characteristic (CONTRACT.md §4.4)."""
    if "workforce" not in ctx.tables or "employee_relations" not in ctx.tables:
        return empty_rows()
    # Thousands of fits of matrices a few dozen wide: BLAS threads only add their start-up
    # and contention (measured: a third slower with them on a shared 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _model_rows(ctx)


def _model_rows(ctx) -> pd.DataFrame:
    tp = _trust_periods(ctx)
    if tp.empty:
        return empty_rows()
    parts = []
    for char in CHARACTERISTICS.values():
        cells = build_cells(ctx, characteristic=char.name)
        index = cells.groupby(["trust_code", "period"], sort=False).indices
        arrays = _cell_arrays(cells, char)  # build_cells kept only the two groups: rows align
        none = np.array([], dtype=np.int64)
        ratios, labels, staff = [], [], []
        for t, p, prev, rolling in zip(tp["trust_code"], tp["snapshot_date"], tp["prev"], tp["rolling"]):
            pos = index.get((t, p), none)
            m = _DisparityModel(characteristic=char.name)._fit_arrays(*(a[pos] for a in arrays))
            basis_note = "" if rolling else ROLLING_NOTE.format(prev=_period_str(prev))
            excluded = (f"{count_text(m.excluded_cases_, ctx.min_count)} staff entering in a "
                        "staff group and "
                        "pay band with no in-scope staff left out" if m.excluded_cases_ else "")
            ps = _period_str(p)
            for adj, r in m.rate_ratios_.iterrows():
                ratios.append((t, ps, char.metric(ADJUSTMENT_METRIC[adj]), r["ratio"], r["ci_lower"],
                               r["ci_upper"], r["observed"], r["expected"],
                               _join(m.note_ or r["note"], excluded, basis_note)))
            labels.append((t, ps, char.metric("disparity"), m.label_,
                           _join(m.note_ or m.sentence_, basis_note)))
            labels.append((t, ps, char.metric("staff_group_difference"), m.interaction_label_,
                           _join(m.interaction_note_, basis_note)))
            if len(m.staff_group_ratios_):
                staff.append(m.staff_group_ratios_.reset_index().assign(trust_code=t, period=ps,
                                                                        note=basis_note))
        common = {"group": char.compared, "reference_group": char.reference}
        r = pd.DataFrame(ratios, columns=["trust_code", "period", "metric_id", "value", "lo", "hi",
                                          "obs", "exp", "note"])
        for mid, sub in r.groupby("metric_id", sort=False):
            parts.append(make_rows(
                trust_code=sub["trust_code"], period=sub["period"], metric_id=mid,
                value=sub["value"], ci_lower=sub["lo"], ci_upper=sub["hi"], numerator=sub["obs"],
                denominator=sub["exp"], note=sub["note"], basis="model", **common))
        lab = pd.DataFrame(labels, columns=["trust_code", "period", "metric_id", "label", "note"])
        for mid, sub in lab.groupby("metric_id", sort=False):
            parts.append(make_rows(trust_code=sub["trust_code"], period=sub["period"],
                                   metric_id=mid, value=np.nan, label=sub["label"],
                                   note=sub["note"], basis="label", **common))
        if staff:
            c = pd.concat(staff, ignore_index=True)
            parts.append(make_rows(
                trust_code=c["trust_code"], period=c["period"],
                metric_id=char.metric("staff_group_rate_ratio"),
                breakdown="staff_group=" + c["staff_group"].astype("str"), numerator=c["observed"],
                denominator=c["expected"], value=c["ratio"], ci_lower=c["ci_lower"],
                ci_upper=c["ci_upper"], note=c["note"], basis="model", **common,
            ))
    return pd.concat(parts, ignore_index=True)
