"""The disparity model (CONTRACT.md §4.4): hand-worked cases, independent statsmodels and scipy
fits, the label rule, a seeded simulation of coverage and false-adverse rate, the staff-group
interaction test, the funnel limits and the metric family."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize as sopt
from scipy import stats as sps
from sklearn.base import clone

from edi_analysis.metrics import REGISTRY, MetricContext
from edi_analysis.metrics import _poisson
from edi_analysis.metrics.disciplinary_model import (
    ADVERSE,
    BELOW_RANGE,
    INCONCLUSIVE,
    WITHIN_RANGE,
    DisciplinaryDisparityModel,
    build_cells,
    disciplinary_model_metrics,
    disparity_label,
    funnel_limits,
    funnel_points,
    interval_sentence,
)

NURSE, ADMIN, ACS, AHP = ("Nursing and Midwifery Registered", "Administrative and Clerical",
                          "Additional Clinical Services", "Allied Health Professionals")
MED, STUDENTS, EA = "Medical and Dental", "Students", "Estates and Ancillary"
SG_EFFECT = {NURSE: -3.6, ADMIN: -4.2, ACS: -3.2, EA: -3.0}
PC_EFFECT = {"1": 0.3, "2": 0.0, "3": -0.5}


def synthetic_cells(seed=7, rate_ratio=1.8, scale=1.0, by_group=None, extra=()):
    """Cells with a known BME effect: log rate = staff group + pay cluster + log(rate_ratio)·BME.

    ``by_group`` maps a staff group to its own rate ratio (an interaction).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for (sg, a), (pc, b) in itertools.product(SG_EFFECT.items(), PC_EFFECT.items()):
        for g, share in (("White", 0.75), ("BME", 0.25)):
            n = float(round(rng.integers(40, 400) * scale * share))
            rr = (by_group or {}).get(sg, rate_ratio) if g == "BME" else 1.0
            rows.append({"group": g, "staff_group": sg, "pay_cluster": pc, "exposure": n,
                         "cases": float(rng.poisson(n * np.exp(a + b) * rr))})
    return pd.DataFrame(rows + list(extra))


def statsmodels_poisson(cells, strata=("staff_group", "pay_cluster"), drop=()):
    """Independent reference: GLM Poisson with log-exposure offset, dummy-coded by pandas."""
    cells = cells[cells["exposure"] > 0]
    X = pd.get_dummies(cells[list(strata)], drop_first=True, dtype=float) if strata else pd.DataFrame(index=cells.index)
    X = X.drop(columns=list(drop))
    X["bme"] = (cells["group"] == "BME").astype(float)
    X = sm.add_constant(X, has_constant="add")
    res = sm.GLM(cells["cases"], X, family=sm.families.Poisson(),
                 offset=np.log(cells["exposure"])).fit(tol=1e-12)
    return res


# --- hand-worked cases ------------------------------------------------------------------------

def test_two_cells_by_hand_crude_ratio_and_its_profile_interval():
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                          "cases": [6.0, 10.0], "exposure": [200.0, 1000.0]})
    m = DisciplinaryDisparityModel().fit(cells)
    # One stratum: every fit is the crude ratio (6/200) / (10/1000) = 0.03 / 0.01 = 3.0, the
    # WRES 3 ratio of these counts; expected at the White rate = 200 × 0.01 = 2.
    assert m.rate_ratios_["ratio"].tolist() == pytest.approx([3.0, 3.0, 3.0])
    assert m.expected_ == pytest.approx(2.0) and m.observed_ == 6
    # Profile likelihood of two Poisson counts = the conditional binomial likelihood of the BME
    # count given the total 16, with π = 200θ / (200θ + 1000) (the total's own factor is free).
    def binom_dev(theta):
        pi = 200 * theta / (200 * theta + 1000)
        return 2 * (sps.binom.logpmf(6, 16, 6 / 16) - sps.binom.logpmf(6, 16, pi))
    q = sps.chi2.ppf(0.95, 1)
    lo = sopt.brentq(lambda t: binom_dev(t) - q, 0.3, 3.0)
    hi = sopt.brentq(lambda t: binom_dev(t) - q, 3.0, 30.0)
    assert m.rate_ratio_ci_ == (pytest.approx(lo, rel=1e-5), pytest.approx(hi, rel=1e-5))
    q90 = sps.chi2.ppf(0.90, 1)
    lo90 = sopt.brentq(lambda t: binom_dev(t) - q90, 0.3, 3.0)
    assert m.rate_ratio_ci90_[0] == pytest.approx(lo90, rel=1e-5)
    # The interval is the likelihood's, not the exact Poisson interval on 6 ÷ 2 (which treats
    # the expected count as known): [χ²(0.025;12)/2, χ²(0.975;14)/2] / 2 = [1.101, 6.530].
    assert m.rate_ratio_ci_[0] != pytest.approx(sps.chi2.ppf(0.025, 12) / 4, rel=1e-3)
    assert not m.penalised_ and m.note_ == ""
    # The 90% interval, 1.23 to 6.89, is above 1 but reaches into the range: inconclusive, and
    # the sentence says the rate is higher, not clearly by more than 1.25.
    assert m.rate_ratio_ci90_[0] == pytest.approx(1.2282, abs=1e-4)
    assert m.label_ == INCONCLUSIVE
    assert m.sentence_ == (
        "The 90% interval runs from 1.23 to 6.89: the data allow ratios within the range "
        "0.80–1.25 and above 1.25, so they cannot tell whether the difference between BME and "
        "White staff in the same staff group and pay band is adverse. The interval is above 1: "
        "BME staff enter at a higher rate, but not clearly by more than 1.25.")
    # Twice the counts: (12/200) / (20/1000) = 3.0 again, 90% interval 1.61 to 5.41 → adverse.
    m2 = DisciplinaryDisparityModel().fit(cells.assign(cases=[12.0, 20.0]))
    assert m2.label_ == ADVERSE and "entirely above 1.25" in m2.sentence_


def test_firth_penalty_when_one_group_has_nobody_entering():
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                          "cases": [0.0, 10.0], "exposure": [100.0, 1000.0]})
    m = DisciplinaryDisparityModel().fit(cells)
    # Maximum likelihood would give 0 (log −∞). Two cells, two parameters: the model is
    # saturated, every hat value is 1, and Firth's estimate adds h/2 = ½ to each count:
    # (0.5/100) / (10.5/1000) = 0.476.
    assert m.rate_ratio_ == pytest.approx((0.5 / 100) / (10.5 / 1000), rel=1e-7)
    assert m.penalised_ and "Firth-penalised estimate: BME staff have nobody entering" in \
        m.rate_ratios_.loc["staff_group+pay_cluster", "note"]
    # Independent check of the penalised profile bound: maximise ℓ + ½ log det I over the
    # intercept with the log ratio fixed at b, by scipy, and find the 95% bounds.
    y, e = np.array([0.0, 10.0]), np.array([100.0, 1000.0])

    def pen(a, b):
        mu = e * np.exp(np.array([a + b, a]))
        info = np.array([[mu.sum(), mu[0]], [mu[0], mu[0]]])
        return float(np.sum(y * np.log(mu / e) - mu) + 0.5 * np.log(np.linalg.det(info)))

    best = -sopt.minimize(lambda v: -pen(*v), [np.log(10 / 1000), 0.0]).fun
    prof = lambda b: -sopt.minimize_scalar(lambda a: -pen(a, b), bounds=(-12, 0), method="bounded",  # noqa: E731
                                          options={"xatol": 1e-10}).fun
    q = sps.chi2.ppf(0.95, 1)
    lo = sopt.brentq(lambda b: 2 * (best - prof(b)) - q, -12, np.log(m.rate_ratio_))
    hi = sopt.brentq(lambda b: 2 * (best - prof(b)) - q, np.log(m.rate_ratio_), 5)
    assert np.log(m.rate_ratio_ci_[0]) == pytest.approx(lo, abs=1e-4)
    assert np.log(m.rate_ratio_ci_[1]) == pytest.approx(hi, abs=1e-4)
    # With nobody entering, the data allow a ratio of about 1.0 to 3.7: not "within range".
    assert m.label_ == INCONCLUSIVE


def test_adjusted_fit_matches_statsmodels_and_observed_over_expected_is_the_ratio():
    cells = synthetic_cells()
    m = DisciplinaryDisparityModel().fit(cells)
    res = statsmodels_poisson(cells)
    assert np.log(m.rate_ratio_) == pytest.approx(res.params["bme"], rel=1e-8)
    assert m.bse_.iloc[-1] == pytest.approx(res.bse["bme"], rel=1e-6)
    assert m.rate_ratio_ci_[0] < 1.8 < m.rate_ratio_ci_[1]  # the built-in effect is recovered
    # Score equation of the BME column at the maximum: Σ BME fitted = observed, so
    # observed ÷ expected (at White rates in the same cells) is exactly the rate ratio.
    assert m.observed_ / m.expected_ == pytest.approx(m.rate_ratio_, rel=1e-8)
    # The profile interval is close to the Wald interval here (about 100 BME cases).
    wald = np.exp(res.conf_int().loc["bme"])
    assert m.rate_ratio_ci_[0] == pytest.approx(wald[0], rel=0.02)
    assert m.rate_ratio_ci_[1] == pytest.approx(wald[1], rel=0.02)


def test_three_figures_crude_staff_group_and_staff_group_with_band():
    cells = synthetic_cells(seed=4)
    m = DisciplinaryDisparityModel().fit(cells)
    r = m.rate_ratios_
    assert list(r.index) == ["none", "staff_group", "staff_group+pay_cluster"]
    bme, white = cells[cells.group == "BME"], cells[cells.group == "White"]
    crude = (bme.cases.sum() / bme.exposure.sum()) / (white.cases.sum() / white.exposure.sum())
    assert r.loc["none", "ratio"] == pytest.approx(crude, rel=1e-9)  # the WRES 3 ratio
    assert np.log(r.loc["staff_group", "ratio"]) == pytest.approx(
        statsmodels_poisson(cells, ("staff_group",)).params["bme"], rel=1e-8)
    assert r.loc["staff_group+pay_cluster", "ratio"] == m.rate_ratio_
    assert (r["ci_lower"] < r["ratio"]).all() and (r["ratio"] < r["ci_upper"]).all()
    assert (r["ci90_lower"] > r["ci_lower"]).all() and (r["ci90_upper"] < r["ci_upper"]).all()


def test_cells_with_no_person_years_are_left_out_of_both_sides_and_counted():
    base = synthetic_cells(seed=2)
    ghost = pd.DataFrame({"group": ["BME", "White"], "staff_group": AHP, "pay_cluster": "2",
                          "cases": [3.0, 2.0], "exposure": [0.0, 0.0]})
    a = DisciplinaryDisparityModel().fit(base)
    b = DisciplinaryDisparityModel().fit(pd.concat([base, ghost]))
    assert b.excluded_cases_ == 5 and a.excluded_cases_ == 0
    assert b.observed_ == a.observed_ and b.rate_ratio_ == pytest.approx(a.rate_ratio_)
    assert b.expected_ == pytest.approx(a.expected_)


def test_pay_clusters_only_in_medical_staff_are_aliased_not_fatal():
    rng = np.random.default_rng(11)
    medical = [{"group": g, "staff_group": MED, "pay_cluster": pc, "exposure": 800.0,
                "cases": float(rng.poisson(800 * 0.02))}
               for pc in ("5", "6", "7") for g in ("White", "BME")]
    cells = synthetic_cells(extra=medical)
    m = DisciplinaryDisparityModel().fit(cells)
    # staff_group[Medical and Dental] = pay_cluster[5] + [6] + [7]: exactly one column is aliased.
    assert len(m.aliased_columns_) == 1
    res = statsmodels_poisson(cells, drop=["pay_cluster_5"])  # a full-rank coding, by hand
    assert np.log(m.rate_ratio_) == pytest.approx(res.params["bme"], rel=1e-8)


def test_staff_group_with_nobody_entering_is_left_out_and_the_fit_equals_the_rest():
    students = [{"group": g, "staff_group": STUDENTS, "pay_cluster": pc, "exposure": 400.0,
                 "cases": 0.0} for pc in ("1", "2") for g in ("White", "BME")]
    cells = synthetic_cells(extra=students)
    m = DisciplinaryDisparityModel().fit(cells)
    assert ("staff_group=Students", "nobody entering") in m.dropped_strata_
    res = statsmodels_poisson(cells[cells.staff_group != STUDENTS])
    assert np.log(m.rate_ratio_) == pytest.approx(res.params["bme"], rel=1e-8)


@pytest.mark.parametrize("bme_cases, white_cases, bme_exposure, note", [
    (0.0, 0.0, 100.0, "no BME or White staff entering the process"),
    (0.0, 5.0, 0.0, "no BME staff in scope"),
])
def test_no_information_gives_blanks_with_a_note(bme_cases, white_cases, bme_exposure, note):
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                          "cases": [bme_cases, white_cases], "exposure": [bme_exposure, 500.0]})
    m = DisciplinaryDisparityModel().fit(cells)
    assert m.note_ == note
    assert np.isnan(m.rate_ratio_) and np.isnan(m.expected_) and np.isnan(m.rate_ratio_ci_[0])
    assert m.label_ == INCONCLUSIVE and m.staff_group_ratios_.empty
    assert "Note: " + note in m.summary()


def test_separation_in_the_comparison_gets_a_finite_penalised_estimate():
    # BME entrants only in Students (no White staff there); in Nursing, where both groups work,
    # nobody BME enters: the adjusted maximum-likelihood ratio runs off to 0 (statsmodels too).
    cells = pd.DataFrame({
        "group": ["BME", "BME", "White"], "staff_group": [STUDENTS, NURSE, NURSE],
        "pay_cluster": "2", "cases": [3.0, 0.0, 5.0], "exposure": [10.0, 50.0, 50.0]})
    m = DisciplinaryDisparityModel().fit(cells)
    assert m.penalised_ and np.isfinite(m.rate_ratio_) and m.rate_ratio_ < 1
    assert m.rate_ratios_.loc["staff_group", "penalised"]
    assert not m.rate_ratios_.loc["none", "penalised"]  # crude: 3/60 vs 5/50, finite
    with pytest.warns(Warning):
        res = statsmodels_poisson(cells, ("staff_group",))
    assert res.params["bme"] < -10


def test_many_tiny_trusts_never_raise_and_are_finite_or_explained():
    rng = np.random.default_rng(2024)
    finite = 0
    for _ in range(60):
        k = int(rng.integers(2, 14))
        cells = pd.DataFrame({
            "group": rng.choice(["BME", "White", "Unknown"], k, p=[0.45, 0.45, 0.1]),
            "staff_group": rng.choice([NURSE, ADMIN, MED], k),
            "pay_cluster": rng.choice(["1", "2", "5", None], k),
            "exposure": rng.integers(0, 30, k).astype(float), "cases": rng.integers(0, 4, k).astype(float)})
        m = DisciplinaryDisparityModel().fit(cells)
        assert m.label_ in {ADVERSE, BELOW_RANGE, WITHIN_RANGE, INCONCLUSIVE}
        if m.note_:
            assert np.isnan(m.rate_ratio_)
            continue
        ok = m.rate_ratios_["ratio"].notna()
        finite += int(ok.all())
        r = m.rate_ratios_[ok]
        assert ((r["ci_lower"] <= r["ratio"]) & (r["ratio"] <= r["ci_upper"])).all()
    assert finite >= 25  # the loop exercises real fits, not only the blank paths


# --- the label ------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio, lower, upper, label", [
    (1.08, 0.39, 3.02, INCONCLUSIVE),  # ZZ003's disability figure: was "within_range" on 1.08 alone
    (1.02, 0.85, 1.20, WITHIN_RANGE),
    (1.00, 0.80, 1.25, WITHIN_RANGE),  # the range is closed
    (1.80, 1.26, 2.60, ADVERSE),
    (1.80, 1.10, 2.60, INCONCLUSIVE),  # above 1, but not clearly beyond 1.25
    (0.60, 0.40, 0.79, BELOW_RANGE),
    (0.60, 0.40, 0.95, INCONCLUSIVE),
    (2.0, 1.3, np.inf, ADVERSE),
    (0.3, 0.0, 3.7, INCONCLUSIVE),
    (np.nan, np.nan, np.nan, INCONCLUSIVE),
])
def test_disparity_label_follows_the_90_percent_interval(ratio, lower, upper, label):
    assert disparity_label(ratio, lower, upper) == label


def test_the_sentence_says_what_the_interval_allows():
    s = interval_sentence(INCONCLUSIVE, 1.08, 0.39, 3.02, "Disabled", "Non-disabled")
    assert s.startswith("The 90% interval runs from 0.39 to 3.02: the data allow ratios below "
                        "0.80, within the range 0.80–1.25 and above 1.25")
    s = interval_sentence(INCONCLUSIVE, 1.8, 1.10, 2.6, "BME", "White")
    assert "above 1: BME staff enter at a higher rate, but not clearly by more than 1.25" in s
    assert "inside the non-adverse range" in interval_sentence(WITHIN_RANGE, 1.0, 0.9, 1.1, "BME", "White")
    assert "no upper limit" in interval_sentence(ADVERSE, 2.0, 1.3, np.inf, "BME", "White")


# --- simulation: coverage and false-adverse rate ---------------------------------------------

def _simulate(rate_ratio, scale, draws, seed):
    rng = np.random.default_rng(seed)
    covered = adverse = 0
    for i in range(draws):
        cells = synthetic_cells(seed=int(rng.integers(1 << 31)), rate_ratio=rate_ratio, scale=scale)
        m = DisciplinaryDisparityModel(staff_groups=False).fit(cells)
        lo, hi = m.rate_ratio_ci_
        covered += lo <= rate_ratio <= hi
        adverse += m.label_ == ADVERSE
    return covered / draws, adverse / draws


@pytest.mark.parametrize("rate_ratio, scale", [
    (1.0, 1.0),   # parity, about 20 BME staff entering a trust's two years
    (1.0, 0.3),   # parity, a small trust: about 6
    (1.6, 1.0),   # a real disparity
])
def test_simulated_coverage_and_false_adverse_rate(rate_ratio, scale):
    """Seeded simulation (docs/disciplinary-model.md): 95% profile intervals cover the true
    adjusted rate ratio in ≥ 93% of 400 trusts, and at parity 'adverse' is given in at most
    the nominal 5%. (The exact Poisson interval on observed ÷ expected it replaced covered
    0.82–0.93: it treats the expected count as known.)"""
    coverage, adverse = _simulate(rate_ratio, scale, draws=400, seed=20240331)
    assert coverage >= 0.93
    if rate_ratio == 1.0:
        assert adverse <= 0.05


# --- staff-group interaction -------------------------------------------------------------------

def test_interaction_test_detects_a_disparity_confined_to_one_staff_group():
    cells = synthetic_cells(seed=5, scale=4.0, by_group={EA: 4.0, NURSE: 1.0, ADMIN: 1.0, ACS: 1.0})
    m = DisciplinaryDisparityModel().fit(cells)
    assert m.interaction_label_ == "differs" and m.interaction_df_ == 3 and m.interaction_p_ < 0.001
    t = m.staff_group_ratios_
    assert t.loc[EA, "ci_lower"] > 2 and t.loc[NURSE, "ci_lower"] < 1 < t.loc[NURSE, "ci_upper"]
    # With this many cases the penalty is negligible: the statistic is close to the unpenalised
    # likelihood-ratio (deviance difference) of statsmodels' main-effects and interaction models.
    main = statsmodels_poisson(cells)
    X = pd.get_dummies(cells[["staff_group", "pay_cluster"]], drop_first=True, dtype=float)
    for sg in SG_EFFECT:
        X[f"bme_{sg}"] = ((cells.group == "BME") & (cells.staff_group == sg)).astype(float)
    inter = sm.GLM(cells["cases"], sm.add_constant(X), family=sm.families.Poisson(),
                   offset=np.log(cells["exposure"])).fit()
    assert m.interaction_lr_ == pytest.approx(main.deviance - inter.deviance, rel=0.05)
    assert np.log(t.loc[EA, "ratio"]) == pytest.approx(inter.params[f"bme_{EA}"], abs=0.02)


def test_no_interaction_is_not_read_as_one():
    m = DisciplinaryDisparityModel().fit(synthetic_cells(seed=8, rate_ratio=1.5, scale=2.0))
    assert m.interaction_label_ == "no_difference_shown" and m.interaction_p_ > 0.05
    assert m.interaction_note_.startswith("Penalised likelihood-ratio test of ethnicity × staff "
                                          "group over 4 staff groups: chi-squared ")
    assert m.interaction_note_.endswith(f"on 3 df, p = {m.interaction_p_:.3f}.")
    single = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                           "cases": [6.0, 10.0], "exposure": [200.0, 1000.0]})
    m = DisciplinaryDisparityModel().fit(single)
    assert m.interaction_label_ == "not_tested" and "only one staff group" in m.interaction_note_


def test_penalised_lr_null_fit_maximises_the_full_models_penalty_under_the_constraint():
    # The null model's penalised likelihood, by brute force with scipy, equals the one used.
    cells = synthetic_cells(seed=3, scale=0.5)
    m = DisciplinaryDisparityModel().fit(cells)
    cells = cells[cells.exposure > 0]
    X = pd.get_dummies(cells[["staff_group", "pay_cluster"]], drop_first=True, dtype=float)
    per = np.column_stack([((cells.group == "BME") & (cells.staff_group == sg)).to_numpy(float)
                           for sg in sorted(SG_EFFECT)])
    base = sm.add_constant(X).to_numpy()
    full = np.column_stack([base, per])
    y, off = cells["cases"].to_numpy(), np.log(cells["exposure"].to_numpy())
    ll = lambda beta: _poisson.loglik(full, beta, y, off, firth=True)  # noqa: E731
    k = base.shape[1]
    null = sopt.minimize(lambda v: -ll(np.concatenate([v[:k], np.full(per.shape[1], v[k])])),
                         np.zeros(k + 1), method="BFGS", options={"gtol": 1e-9})
    alt = sopt.minimize(lambda v: -ll(v), np.zeros(k + per.shape[1]), method="BFGS",
                        options={"gtol": 1e-9})
    assert m.interaction_lr_ == pytest.approx(2 * (null.fun - alt.fun), abs=1e-4)


# --- funnel -----------------------------------------------------------------------------------

def test_funnel_limits_are_spiegelhalters_interpolated_poisson_limits():
    lim = funnel_limits([10.0, 100.0]).set_index("expected")
    # E = 10, target 1: the 2.5% quantile of Poisson(10) is r = 4 (F(4) = 0.02925,
    # F(3) = 0.01034); a = (0.02925 − 0.025) / (0.02925 − 0.01034) = 0.2248; (4 − 0.2248)/10.
    f4, f3 = sps.poisson.cdf(4, 10), sps.poisson.cdf(3, 10)
    assert lim.loc[10.0, "lower_95"] == pytest.approx((4 - (f4 - 0.025) / (f4 - f3)) / 10)
    assert lim.loc[10.0, "lower_95"] == pytest.approx(0.3775, abs=1e-4)
    # 97.5%: r = 17 (F(17) = 0.98572, F(16) = 0.97296); a = 0.8402; (17 − 0.8402)/10 = 1.616.
    assert lim.loc[10.0, "upper_95"] == pytest.approx(1.616, abs=1e-3)
    # The 99.8% limits are wider, and every limit narrows towards the target as E grows.
    assert lim.loc[10.0, "lower_99.8"] < lim.loc[10.0, "lower_95"]
    assert lim.loc[100.0, "upper_95"] < lim.loc[10.0, "upper_95"]
    assert funnel_limits([50.0], target=1.5)["lower_95"].iloc[0] > 1.0


def test_funnel_points_use_published_rows_only():
    rows = pd.DataFrame({
        "trust_code": ["T1", "T2", "T3", "T4"], "metric_id": "hia6.adjusted_rate_ratio",
        "breakdown": "", "numerator": [20.0, 10.0, np.nan, 5.0], "denominator": [10.0, 10.0, 4.0, 5.0],
        "value": [2.0, 1.0, np.nan, 1.0], "suppressed": [False, False, True, False]})
    pts = funnel_points(rows)
    assert pts["trust_code"].tolist() == ["T1", "T2", "T4"]
    # pooled target: (20 + 10 + 5) / (10 + 10 + 5) = 1.4
    assert pts["target"].iloc[0] == pytest.approx(1.4)


def test_estimator_follows_the_scikit_learn_api():
    m = DisciplinaryDisparityModel(characteristic="disability", alpha=0.1)
    assert vars(m) == m.get_params()  # __init__ stores its parameters and nothing else
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    with pytest.raises(AttributeError):
        m.summary()
    with pytest.raises(ValueError, match="characteristic"):
        DisciplinaryDisparityModel(characteristic="age").fit(synthetic_cells())
    with pytest.raises(ValueError, match="label_alpha"):
        DisciplinaryDisparityModel(label_alpha=1.5).fit(synthetic_cells())
    cells = synthetic_cells().replace({"group": {"BME": "Disabled", "White": "Non-disabled"}})
    fitted = m.fit(cells)
    assert fitted is m and m.rate_ratio_ > 1
    wide = DisciplinaryDisparityModel(characteristic="disability").fit(cells)
    assert wide.rate_ratio_ci_[0] < m.rate_ratio_ci_[0] < m.rate_ratio_ < m.rate_ratio_ci_[1] \
        < wide.rate_ratio_ci_[1]
    text = m.summary()
    assert "Disabled compared with Non-disabled" in text and "staff group and pay band" in text


# --- cell table and metric family ---------------------------------------------------------

_ids = itertools.count()


def _tables(trusts=("RAA", "RBB", "RCC"), seed=5):
    """Small typed workforce/employee_relations tables; RCC has no 2023 snapshot. Each case
    belongs to a different in-scope member of staff of its trust, in the snapshot closing its
    reporting year."""
    rng = np.random.default_rng(seed)
    wf, er = [], []
    groups_ = [(NURSE, "Band 5"), (NURSE, "Band 7"), (ADMIN, "Band 3"), (MED, "Consultant"),
               (MED, "Trainee grade"), (ACS, "Other")]
    for t in trusts:
        snaps = ["2024-03-31"] if t == "RCC" else ["2023-03-31", "2024-03-31"]
        people = {s: [] for s in snaps}
        for snap in snaps:
            for sg, band in groups_:
                for eth, n in (("A", 60), ("M", 30), ("Z", 5)):
                    for i in range(n):
                        sid = f"S{next(_ids)}"
                        bank = i % 10 == 0
                        wf.append({"staff_id": sid, "trust_code": t, "snapshot_date": snap,
                                   "ethnic_category": eth, "disability": rng.choice(["Y", "N", "U"]),
                                   "sex": rng.choice(["F", "M"]), "staff_group": sg, "pay_band": band,
                                   "contract_type": "bank" if bank else "permanent"})
                        if not bank:
                            people[snap].append(sid)
        for sg, band in groups_:
            for eth, k in (("A", 3), ("M", 3), ("Z", 1)):
                for _ in range(int(rng.poisson(k))):
                    start = pd.Timestamp("2022-04-01") + pd.Timedelta(days=int(rng.integers(0, 730)))
                    closing = "2023-03-31" if start <= pd.Timestamp("2023-03-31") and t != "RCC" else "2024-03-31"
                    er.append({"case_id": f"C{next(_ids)}", "staff_id": people[closing].pop(),
                               "trust_code": t,
                               "case_type": rng.choice(["disciplinary", "capability_performance"]),
                               "start_date": start, "closed_date": None, "outcome": None,
                               "ethnic_category": eth, "disability": rng.choice(["Y", "N"]),
                               "sex": rng.choice(["F", "M"]), "staff_group": sg, "pay_band": band})
    wf, er = pd.DataFrame(wf), pd.DataFrame(er)
    for df, dates in ((wf, {"snapshot_date"}), (er, {"start_date", "closed_date"})):
        for c in df.columns:
            df[c] = pd.to_datetime(df[c]) if c in dates else df[c].astype("str")
    return {"workforce": wf, "employee_relations": er}


@pytest.fixture(scope="module")
def ctx():
    return MetricContext.from_tables(_tables(), periods=["2024-03-31"])


def test_build_cells_counts_the_rolling_basis_per_cell(ctx):
    cells = build_cells(ctx, trust="RAA")
    assert set(cells["group"]) == {"BME", "White"}  # Unknown excluded
    assert set(cells["pay_cluster"]) == {"1", "2", "5", "7", "none"}  # Band Other → "none"
    er = ctx.tables["employee_relations"]
    cell = cells[(cells.group == "White") & (cells.staff_group == NURSE) & (cells.pay_cluster == "2")]
    # Nursing Band 5 and Band 7 share cluster 2: 2 × 60 White per snapshot, 1 in 10 bank → 108 in scope,
    # two snapshots → 216 person-years.
    assert cell["exposure"].item() == 216
    sel = ((er.trust_code == "RAA") & (er.case_type == "disciplinary") & (er.ethnicity == "White")
           & (er.staff_group == NURSE) & er.pay_band.isin(["Band 5", "Band 7"]))
    assert cell["cases"].item() == sel.sum()  # each case a different in-scope person
    assert cells["rolling"].all()
    assert not build_cells(ctx, trust="RCC")["rolling"].any()
    raw = _tables(trusts=("RAA",))
    again = build_cells(raw, period="2024-03-31")
    assert again[["exposure"]].sum().item() == cells[["exposure"]].sum().item()


MODEL_IDS = ("crude_rate_ratio", "rate_ratio_staff_group", "adjusted_rate_ratio", "disparity",
             "staff_group_rate_ratio", "staff_group_difference")


def test_family_rows_match_per_trust_fits(ctx):
    rows = disciplinary_model_metrics(ctx)
    assert set(rows["metric_id"]) <= set(REGISTRY)
    assert {f"hia6.{m}" for m in MODEL_IDS} <= set(rows["metric_id"])
    assert not rows.duplicated(["trust_code", "period", "metric_id", "breakdown", "group"]).any()
    head = rows[rows.metric_id.isin([f"hia6.{m}" for m in MODEL_IDS[:4]])]
    assert (head.breakdown == "").all() and set(head.group) == {"BME"} and set(head.reference_group) == {"White"}
    assert len(head) == 12  # 3 trusts × (3 ratios + 1 label)
    flags = rows.unit == "flag"
    assert set(rows.loc[flags, "basis"]) == {"label"} and set(rows.loc[~flags, "basis"]) == {"model"}
    for t in ("RAA", "RCC"):
        m = DisciplinaryDisparityModel().fit(build_cells(ctx, trust=t))
        for adj, suffix in (("none", "crude_rate_ratio"), ("staff_group+pay_cluster", "adjusted_rate_ratio")):
            r = rows[(rows.trust_code == t) & (rows.metric_id == f"hia6.{suffix}")].iloc[0]
            assert r.value == pytest.approx(m.rate_ratios_.loc[adj, "ratio"], nan_ok=True)
            assert r.numerator == m.observed_  # observed staff entering
            assert r.denominator == pytest.approx(m.rate_ratios_.loc[adj, "expected"], nan_ok=True)
        lab = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.disparity")].iloc[0]
        assert lab.label == m.label_ and m.sentence_ in lab.note
        diff = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.staff_group_difference")].iloc[0]
        assert diff.label == m.interaction_label_
        sg = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.staff_group_rate_ratio")]
        assert sorted(sg.breakdown) == sorted("staff_group=" + m.staff_group_ratios_.index)
    rcc = rows[rows.trust_code == "RCC"]
    assert rcc["note"].str.contains("12-month basis").all()
    for mid, (g, ref) in {"hia6.disability.adjusted_rate_ratio": ("Disabled", "Non-disabled"),
                          "hia6.sex.adjusted_rate_ratio": ("Male", "Female")}.items():
        v = rows[rows.metric_id == mid]
        assert len(v) == 3 and set(v.group) == {g} and set(v.reference_group) == {ref}


def test_every_row_of_a_fit_follows_the_same_observed_counts():
    """CONTRACT.md §4.4, §4.8 (issue 12): one rule for model rows. Every row of one
    characteristic's model for a trust and period (the three rate ratios, the disparity
    label, the staff-group test) is suppressed together: when the observed staff entering
    of either group, or either group's person-years, are hidden (a ratio publishes its
    observed count, and its profile-likelihood interval gives it back). So a label is never
    published beside a suppressed ratio (before this rule ZZ003's 2024 disability label was
    published, "within_range", beside its suppressed ratio). A staff group's ratio also
    follows that staff group's observed counts."""
    from pathlib import Path

    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics import compute, compute_raw
    from edi_analysis.metrics.disciplinary_model import ADJUSTMENT_METRIC, CHARACTERISTICS

    root = Path(__file__).resolve().parents[1]
    tables = validate_dataset(root / "data" / "sample").dataset.tables
    ctx = MetricContext.from_tables(tables, ["2023-03-31", "2024-03-31"], n_bootstrap=20)
    ids = [m for m, sp in REGISTRY.items() if sp.family == "disciplinary_model"]
    raw = compute_raw(ctx, ids).set_index(["trust_code", "period", "metric_id", "breakdown"])
    out = compute(ctx, ids).set_index(["trust_code", "period", "metric_id", "breakdown"])
    small = hidden_labels = 0
    for char in CHARACTERISTICS.values():
        fit = [char.metric(s) for s in ADJUSTMENT_METRIC.values()]
        labels = [char.metric("disparity"), char.metric("staff_group_difference")]
        for trust, period in {(t, p) for t, p, m, _ in raw.index if m == fit[0]}:
            together = [out.loc[(trust, period, m, ""), "suppressed"] for m in fit + labels]
            assert len(set(together)) == 1, (trust, period, char.name, together)
            hidden_labels += together[0]
            # a published label or ratio keeps its own note; a suppressed one says only why
            if together[0]:
                assert {out.loc[(trust, period, m, ""), "note"] for m in fit + labels} <= {
                    "suppressed: based on fewer than 8 people",
                    "hidden so that another small figure cannot be worked out"}
                assert (out.loc[(trust, period, labels[0], ""), "value"] in ("", None)
                        or pd.isna(out.loc[(trust, period, labels[0], ""), "value"]))
            observed = raw.loc[(trust, period, fit[0], ""), "numerator"]
            if 0 < observed < 8:
                small += 1
                assert together[0]
                assert (out.loc[(trust, period, fit[0], ""), "note"]
                        == "suppressed: based on fewer than 8 people")
            # staff-group rows are never published when their fit is suppressed
            sg = out.loc[(trust, period, char.metric("staff_group_rate_ratio"))]
            if together[0]:
                assert sg["suppressed"].all()
    assert small > 0 and hidden_labels > 0
    cells = raw[raw.index.get_level_values("metric_id").str.endswith("staff_group_rate_ratio")]
    tiny = cells[(cells["numerator"] > 0) & (cells["numerator"] < 8)]
    assert len(tiny) > 0 and out.loc[tiny.index, "suppressed"].all()
    # The case.
    assert out.loc[("ZZ003", "2024-03-31", "hia6.disability.disparity", ""), "suppressed"]


def test_family_notes_staff_entering_in_cells_without_person_years(ctx):
    tables = {k: v.copy() for k, v in ctx.tables.items()}
    er, wf = tables["employee_relations"], tables["workforce"]
    # Three in-scope RAA staff with no case yet enter the process; their case rows name Estates
    # and Ancillary Band 2, where the trust has no staff at all (no person-years).
    free = wf[(wf.trust_code == "RAA") & (wf.snapshot_date == "2024-03-31") & wf.in_scope
              & ~wf.staff_id.isin(er.staff_id)]["staff_id"].iloc[:3]
    extra = er[er.trust_code == "RAA"].head(3).copy().assign(
        staff_id=free.to_numpy(), case_type="disciplinary", staff_group=EA, pay_band="Band 2",
        ethnic_category="A", case_id=["X1", "X2", "X3"], start_date=pd.Timestamp("2023-06-01"))
    tables["employee_relations"] = pd.concat([er, extra], ignore_index=True)
    c2 = MetricContext.from_tables(tables, periods=["2024-03-31"])
    m = DisciplinaryDisparityModel().fit(build_cells(c2, trust="RAA"))
    before = DisciplinaryDisparityModel().fit(build_cells(ctx, trust="RAA"))
    assert m.excluded_cases_ == 3
    # Out of both sides: the fit is unchanged.
    assert m.rate_ratio_ == pytest.approx(before.rate_ratio_) and m.observed_ == before.observed_
    rows = disciplinary_model_metrics(c2)
    for mid in ("hia6.crude_rate_ratio", "hia6.adjusted_rate_ratio"):
        r = rows[(rows.trust_code == "RAA") & (rows.metric_id == mid)].iloc[0]
        # "fewer than 8": a published note never carries a count below the disclosure threshold
        assert ("fewer than 8 staff entering in a staff group and pay band with no in-scope "
                "staff left out") in r.note
    base = rows[(rows.trust_code == "RBB") & (rows.metric_id == "hia6.adjusted_rate_ratio")].iloc[0]
    assert "left out" not in base.note


def _with_three_left_out(ctx):
    """ctx's tables plus three RAA entrants in a staff group and band with no staff (as above)."""
    tables = {k: v.copy() for k, v in ctx.tables.items()}
    er, wf = tables["employee_relations"], tables["workforce"]
    free = wf[(wf.trust_code == "RAA") & (wf.snapshot_date == "2024-03-31") & wf.in_scope
              & ~wf.staff_id.isin(er.staff_id)]["staff_id"].iloc[:3]
    extra = er[er.trust_code == "RAA"].head(3).copy().assign(
        staff_id=free.to_numpy(), case_type="disciplinary", staff_group=EA, pay_band="Band 2",
        ethnic_category="A", case_id=["X1", "X2", "X3"], start_date=pd.Timestamp("2023-06-01"))
    tables["employee_relations"] = pd.concat([er, extra], ignore_index=True)
    return MetricContext.from_tables(tables, periods=["2024-03-31"])


@pytest.mark.parametrize("min_count, said", [(3, "3"), (10, "fewer than 10"), (8, "fewer than 8")])
def test_left_out_count_in_the_note_uses_the_runs_threshold(ctx, min_count, said):
    """CONTRACT.md §4.8: a count a note states is exact from the run's min_count up and
    "fewer than <min_count>" below it: 3 left out is "3" at min_count 3 (3 >= 3), "fewer than
    10" at 10 (before, the note always said "fewer than 8", whatever the run's threshold)."""
    from edi_analysis.metrics import with_thresholds

    c2 = with_thresholds(_with_three_left_out(ctx), min_count, 11)
    rows = disciplinary_model_metrics(c2)
    for mid in ("hia6.crude_rate_ratio", "hia6.rate_ratio_staff_group", "hia6.adjusted_rate_ratio"):
        note = rows[(rows.trust_code == "RAA") & (rows.metric_id == mid)].iloc[0].note
        assert f"; {said} staff entering in a staff group and pay band" in f"; {note}", note


def test_left_out_count_is_a_declared_cell_counted_like_the_model(ctx):
    """The note's left-out figure is declared (``stated``) on the entrants the model leaves out
    (model.ethnicity@P = N, BME or White): counted on the disclosure records it is the model's
    excluded_cases_ (3 here, 0 for RBB), and the model's observed count is the crude ratio's
    published numerator: the records select what build_cells selects."""
    from edi_analysis.metrics import compute_raw

    from disclosure_support import declared

    c2 = _with_three_left_out(ctx)
    raw = compute_raw(c2, ["hia6.crude_rate_ratio"])
    cells = declared(raw, c2)
    left = cells[cells["key"].str.contains("model.ethnicity@2024-03-31=N", regex=False)]
    by_trust = dict(zip(raw.loc[left["row"], "trust_code"], left["count"]))
    assert by_trust["RAA"] == 3.0 and by_trust.get("RBB", 0.0) == 0.0
    for trust in ("RAA", "RBB"):
        m = DisciplinaryDisparityModel().fit(build_cells(c2, trust=trust))
        assert by_trust.get(trust, 0.0) == m.excluded_cases_
        num = cells[(cells["published"] == "numerator")
                    & raw.loc[cells["row"], "trust_code"].eq(trust).to_numpy()]
        assert num["count"].tolist() == [m.observed_]


def test_report_shows_the_funnel_only_when_the_run_has_several_trusts(tmp_path, monkeypatch):
    """Notebook 06's funnel section appears for a national or ICS run (≥ 3 trusts with a
    figure) and is absent, heading and all, for a single trust."""
    from pathlib import Path

    from edi_analysis import report, runner
    from edi_analysis.metrics import compute

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    shown = []
    monkeypatch.setattr(report, "_display", lambda bundle, raw=True: shown.append(bundle))
    r = report.load("06_hia6_bullying_disciplinary", "ZZ002", "2024-03-31", sample)
    tables = {k: v for k, v in r.tables.items()}
    from edi_analysis.contract import validate_dataset

    every = {k: v for k, v in validate_dataset(sample).dataset.tables.items() if v is not None}
    ids = ["hia6.adjusted_rate_ratio"]
    for trusts, expect in ((["ZZ002"], False), (["ZZ001", "ZZ002", "ZZ003", "ZZ004"], True)):
        rows = compute(MetricContext.from_tables(every, ["2024-03-31"], trusts=trusts), ids)
        peers = tmp_path / f"peers{len(trusts)}.parquet"
        runner._peers_rows(rows).to_parquet(peers, index=False)
        shown.clear()
        rep = report.Report(trust="ZZ002", period="2024-03-31", data=sample,
                            notebook="06_hia6_bullying_disciplinary", peers=peers, tables=tables)
        rep.section("hl-hia6-funnel")
        # the page's words (not the reviewers' audit trail that comes with the rows)
        text = "\n".join(b.get("text/markdown", "") for b in shown if report.ROWS_MIME not in b)
        imgs = [b for b in shown if "text/html" in b and "<img" in b["text/html"]]
        if expect:
            assert text.startswith("## Compared with the other trusts in this run: funnel plot")
            assert "ZZ002's ratio, 1.29, is inside the 95% limits" in text and imgs
        else:
            assert text == "" and not imgs
        assert report.ROWS_MIME in shown[-1]  # rows still emitted for the check


def test_funnel_section_says_so_when_no_trust_had_a_case_in_the_group(tmp_path, monkeypatch):
    """A run where no trust with a figure had a case for one group (a 20-trust run's 2023
    disability figures): that group's funnel is replaced by a sentence, the other groups'
    funnels are still drawn, and nothing raises (the log-scaled plot of a pooled ratio of 0
    failed the notebook)."""
    from pathlib import Path

    from edi_analysis import report, runner
    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics import compute

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    shown = []
    monkeypatch.setattr(report, "_display", lambda bundle, raw=True: shown.append(bundle))
    r = report.load("06_hia6_bullying_disciplinary", "ZZ002", "2024-03-31", sample)
    every = {k: v for k, v in validate_dataset(sample).dataset.tables.items() if v is not None}
    ids = ["hia6.adjusted_rate_ratio", "hia6.disability.adjusted_rate_ratio"]
    rows = compute(MetricContext.from_tables(every, ["2024-03-31"],
                                             trusts=["ZZ001", "ZZ002", "ZZ003", "ZZ004"]), ids)
    peers = runner._peers_rows(rows)
    dis = (peers["metric_id"] == "hia6.disability.adjusted_rate_ratio") & (peers["breakdown"] == "")
    peers.loc[dis, ["numerator", "value"]] = 0.0
    peers.loc[dis, "denominator"] = [1.5, 1.8, 1.4, 0.6]
    peers.loc[dis, "suppressed"] = False
    f = tmp_path / "peers.parquet"
    peers.to_parquet(f, index=False)
    rep = report.Report(trust="ZZ002", period="2024-03-31", data=sample,
                        notebook="06_hia6_bullying_disciplinary", peers=f, tables=r.tables)
    rep.section("hl-hia6-funnel")
    text = "\n".join(b.get("text/markdown", "") for b in shown if report.ROWS_MIME not in b)
    imgs = [b for b in shown if "text/html" in b and "<img" in b["text/html"]]
    assert text.startswith("## Compared with the other trusts in this run: funnel plot")
    assert ("**Disabled compared with Non-disabled staff.** None of the 4 trusts in this run "
            "with a published figure had a case in this group, so the pooled ratio is 0 and "
            "there is no funnel to draw.") in text
    assert "ZZ002's ratio, 1.29, is inside the 95% limits" in text and len(imgs) == 1
