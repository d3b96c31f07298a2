"""The disciplinary-inconsistency model (CONTRACT.md §4.4) against independent statsmodels fits."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from sklearn.base import clone

from edi_analysis.metrics import REGISTRY, MetricContext
from edi_analysis.metrics.disciplinary_model import (
    DisciplinaryInconsistencyModel,
    build_cells,
    disciplinary_model_metrics,
    inconsistency_label,
)

Z = sps.norm.ppf(0.975)
NURSE, ADMIN, ACS, AHP = ("Nursing and Midwifery Registered", "Administrative and Clerical",
                          "Additional Clinical Services", "Allied Health Professionals")
MED, STUDENTS = "Medical and Dental", "Students"


def synthetic_cells(seed=7, odds_ratio=1.8, extra=()):
    """Cells with a known BME effect: logit p = staff group + pay cluster + log(odds_ratio)·BME."""
    rng = np.random.default_rng(seed)
    sg_effect = {NURSE: -4.0, ADMIN: -3.5, ACS: -3.0, AHP: -4.5}
    pc_effect = {"1": 0.0, "2": 0.3, "3": -0.4}
    rows = []
    for (sg, a), (pc, b), g in itertools.product(sg_effect.items(), pc_effect.items(), ("White", "BME")):
        n = int(rng.integers(300, 3000))
        p = 1 / (1 + np.exp(-(a + b + (np.log(odds_ratio) if g == "BME" else 0.0))))
        rows.append({"group": g, "staff_group": sg, "pay_cluster": pc, "exposure": float(n),
                         "cases": float(rng.binomial(n, p))})
    return pd.DataFrame(rows + list(extra))


def statsmodels_fit(cells, drop=()):
    """Independent reference: GLM Binomial on (cases, exposure − cases), dummy-coded by pandas."""
    X = pd.get_dummies(cells[["staff_group", "pay_cluster"]], drop_first=True, dtype=float)
    X = X.drop(columns=list(drop))
    X["bme"] = (cells["group"] == "BME").astype(float)
    X = sm.add_constant(X)
    endog = np.column_stack([cells["cases"], cells["exposure"] - cells["cases"]])
    res = sm.GLM(endog, X, family=sm.families.Binomial()).fit()
    white = X.assign(bme=0.0)
    expected = float((cells["exposure"] * res.predict(white))[cells["group"] == "BME"].sum())
    return res, expected


def assert_matches_statsmodels(model, res, expected):
    assert np.log(model.odds_ratio_) == pytest.approx(res.params["bme"], rel=1e-7)
    assert model.bse_.iloc[-1] == pytest.approx(res.bse["bme"], rel=1e-6)
    lo, hi = np.exp(res.conf_int().loc["bme"])
    assert model.odds_ratio_ci_ == (pytest.approx(lo, rel=1e-6), pytest.approx(hi, rel=1e-6))
    assert model.expected_ == pytest.approx(expected, rel=1e-7)


def test_recovers_a_known_effect_and_matches_statsmodels():
    cells = synthetic_cells()
    m = DisciplinaryInconsistencyModel().fit(cells)
    res, expected = statsmodels_fit(cells)
    assert_matches_statsmodels(m, res, expected)
    assert m.odds_ratio_ci_[0] < 1.8 < m.odds_ratio_ci_[1]  # the built-in effect is recovered
    assert m.converged_ and m.aliased_columns_ == [] and m.dropped_strata_ == []
    assert m.label_ == "adverse" and m.note_ == ""
    # observed ÷ expected with the exact Poisson interval on the observed count
    obs = cells.loc[cells.group == "BME", "cases"].sum()
    assert m.observed_ == obs
    assert m.relative_likelihood_ == pytest.approx(obs / expected)
    assert m.relative_likelihood_ci_[0] == pytest.approx(sps.chi2.ppf(0.025, 2 * obs) / 2 / expected)
    assert m.relative_likelihood_ci_[1] == pytest.approx(sps.chi2.ppf(0.975, 2 * obs + 2) / 2 / expected)
    # Score equation of the BME column at the maximum: Σ BME trials × fitted rate = observed.
    bme = m.cells_[m.cells_.group == "BME"]
    assert (bme.trials * bme.fitted_rate).sum() == pytest.approx(obs, rel=1e-8)
    # The staff-group ratios decompose the total.
    assert m.cell_ratio_["observed"].sum() == obs
    assert m.cell_ratio_["expected"].sum() == pytest.approx(m.expected_)


def test_no_effect_is_within_range_and_interval_covers_one():
    m = DisciplinaryInconsistencyModel().fit(synthetic_cells(seed=3, odds_ratio=1.0))
    assert m.odds_ratio_ci_[0] < 1 < m.odds_ratio_ci_[1]
    assert 0.8 <= m.relative_likelihood_ <= 1.25 and m.label_ == "within_range"


def test_two_cell_indirect_standardisation_by_hand():
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                              "cases": [6.0, 10.0], "exposure": [200.0, 1000.0]})
    m = DisciplinaryInconsistencyModel().fit(cells)
    # One stratum: the model is saturated, the White rate is 10/1000 = 0.01.
    # expected = 200 × 0.01 = 2; ratio = 6 / 2 = 3.0
    assert m.expected_ == pytest.approx(2.0)
    assert m.relative_likelihood_ == pytest.approx(3.0)
    # exact Poisson on 6: [χ²(0.025; 12)/2, χ²(0.975; 14)/2] = [2.2019, 13.0591], ÷ 2
    assert m.relative_likelihood_ci_[0] == pytest.approx(2.201891 / 2, rel=1e-5)
    assert m.relative_likelihood_ci_[1] == pytest.approx(13.059474 / 2, rel=1e-5)
    # odds ratio (6/194) / (10/990) = 3.0619; SE = √(1/6 + 1/194 + 1/10 + 1/990)
    assert m.odds_ratio_ == pytest.approx((6 / 194) / (10 / 990))
    se = np.sqrt(1 / 6 + 1 / 194 + 1 / 10 + 1 / 990)
    assert m.bse_.iloc[-1] == pytest.approx(se)
    assert m.odds_ratio_ci_[0] == pytest.approx(m.odds_ratio_ * np.exp(-Z * se))
    assert m.label_ == "adverse"  # lower bound 1.10 > 1 and 3.0 > 1.25


def test_pay_clusters_only_in_medical_staff_are_aliased_not_fatal():
    rng = np.random.default_rng(11)
    medical = [{"group": g, "staff_group": MED, "pay_cluster": pc, "exposure": 800.0,
                    "cases": float(rng.binomial(800, 0.02))}
               for pc in ("5", "6", "7") for g in ("White", "BME")]
    cells = synthetic_cells(extra=medical)
    m = DisciplinaryInconsistencyModel().fit(cells)
    # staff_group[Medical and Dental] = pay_cluster[5] + [6] + [7]: exactly one column is aliased.
    assert len(m.aliased_columns_) == 1
    res, expected = statsmodels_fit(cells, drop=["pay_cluster_5"])  # a full-rank coding, by hand
    assert_matches_statsmodels(m, res, expected)


def test_staff_group_without_cases_is_left_out_and_coefficients_stay_finite():
    students = [{"group": g, "staff_group": STUDENTS, "pay_cluster": pc, "exposure": 400.0, "cases": 0.0}
                for pc in ("1", "2") for g in ("White", "BME")]
    cells = synthetic_cells(extra=students)
    m = DisciplinaryInconsistencyModel().fit(cells)
    assert ("staff_group=Students", "no cases") in m.dropped_strata_
    assert np.all(np.abs(m.coef_) < 20)
    # At the maximum-likelihood limit the Students coefficient is −∞ and its cells carry no
    # information: the fit equals statsmodels on the data without them.
    res, expected = statsmodels_fit(cells[cells.staff_group != STUDENTS])
    assert_matches_statsmodels(m, res, expected)
    assert STUDENTS not in m.cell_ratio_.index  # nothing observed, nothing expected


def test_a_cell_driven_to_a_zero_rate_is_set_aside_and_the_rest_fitted():
    # Nursing has cluster 1 and 2, Admin cluster 1 only. Nursing/1 has no cases though Nursing and
    # cluster 1 both have cases elsewhere: the main-effects fit pushes that cell's rate to 0
    # (separation) while the BME effect stays finite; it equals the fit without the cell.
    cells = pd.DataFrame({
        "group": ["BME", "White"] * 3, "staff_group": [NURSE, NURSE, NURSE, NURSE, ADMIN, ADMIN],
        "pay_cluster": ["1", "1", "2", "2", "1", "1"], "cases": [0.0, 0.0, 9.0, 12.0, 7.0, 5.0],
        "exposure": [150.0, 300.0, 200.0, 500.0, 120.0, 260.0]})
    m = DisciplinaryInconsistencyModel().fit(cells)
    assert m.note_ == "" and len(m.dropped_strata_) == 2  # the BME and the White Nursing/1 cell
    assert all("separation" in why for _, why in m.dropped_strata_)
    rest = cells[(cells.staff_group != NURSE) | (cells.pay_cluster != "1")]
    # Left with Nursing/2 and Admin/1, staff group and pay cluster coincide: code only one of them.
    res, expected = statsmodels_fit(rest, drop=["pay_cluster_2"])
    assert_matches_statsmodels(m, res, expected)


def test_a_case_for_every_person_year_is_blank_not_an_error():
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                              "cases": [1.0, 2.0], "exposure": [1.0, 2.0]})
    m = DisciplinaryInconsistencyModel().fit(cells)
    assert ("staff_group=Nursing and Midwifery Registered", "a case for every person-year") in m.dropped_strata_
    assert np.isnan(m.relative_likelihood_) and "no finite estimate" in m.note_


@pytest.mark.parametrize("bme_cases, white_cases, bme_exposure, note", [
    (0.0, 5.0, 100.0, "no cases in BME group"),
    (5.0, 0.0, 100.0, "no cases in reference group (White)"),
    (0.0, 5.0, 0.0, "no BME staff in scope"),
])
def test_no_cases_or_no_staff_on_one_side_gives_blanks_with_a_note(bme_cases, white_cases, bme_exposure,
                                                                  note):
    cells = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                              "cases": [bme_cases, white_cases], "exposure": [bme_exposure, 500.0]})
    m = DisciplinaryInconsistencyModel().fit(cells)
    assert m.note_ == note
    assert np.isnan(m.odds_ratio_) and np.isnan(m.relative_likelihood_) and np.isnan(m.expected_)
    assert np.isnan(m.relative_likelihood_ci_[0]) and m.cell_ratio_.empty
    assert m.label_ == "inconclusive"
    assert "Note: " + note in m.summary()


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore:Perfect separation")
def test_quasi_complete_separation_is_reported_not_fitted():
    # BME cases only in Students, where there are no White staff; in Nursing (both groups present)
    # BME has no cases. The conditional odds ratio has no finite maximum.
    cells = pd.DataFrame({
        "group": ["BME", "BME", "White"], "staff_group": [STUDENTS, NURSE, NURSE], "pay_cluster": "2",
        "cases": [3.0, 0.0, 5.0], "exposure": [10.0, 50.0, 50.0]})
    m = DisciplinaryInconsistencyModel().fit(cells)
    assert np.isnan(m.odds_ratio_) and m.label_ == "inconclusive"
    assert "no finite estimate" in m.note_
    # statsmodels does not stop it either: its coefficient runs off towards −∞.
    res, _ = statsmodels_fit(cells)
    assert res.params["bme"] < -10


def test_unknown_rows_are_ignored_and_more_cases_than_person_years_are_capped():
    base = pd.DataFrame({"group": ["BME", "White"], "staff_group": NURSE, "pay_cluster": "2",
                             "cases": [6.0, 10.0], "exposure": [200.0, 1000.0]})
    unknown = pd.DataFrame({"group": ["Unknown"], "staff_group": NURSE, "pay_cluster": "2",
                                "cases": [50.0], "exposure": [60.0]})
    a = DisciplinaryInconsistencyModel().fit(base)
    b = DisciplinaryInconsistencyModel().fit(pd.concat([base, unknown]))
    assert b.relative_likelihood_ == a.relative_likelihood_ and b.n_cells_ == 2
    # A BME leaver's case in a stratum with no BME staff left: trials = cases (1 of 1).
    leaver = pd.DataFrame({"group": ["BME", "White"], "staff_group": AHP, "pay_cluster": "2",
                               "cases": [1.0, 2.0], "exposure": [0.0, 300.0]})
    c = DisciplinaryInconsistencyModel().fit(pd.concat([base, leaver]))
    assert c.observed_ == 7 and c.exposure_ == 201
    assert np.isfinite(c.relative_likelihood_)


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore:Perfect separation")
def test_many_tiny_trusts_never_raise_and_are_either_finite_or_explained():
    rng = np.random.default_rng(2024)
    labels = {"adverse", "within_range", "inconclusive"}
    finite = 0
    for _ in range(100):
        k = int(rng.integers(2, 14))
        cells = pd.DataFrame({
            "group": rng.choice(["BME", "White", "Unknown"], k, p=[0.45, 0.45, 0.1]),
            "staff_group": rng.choice([NURSE, ADMIN, MED], k), "pay_cluster": rng.choice(["1", "2", "5", None], k),
            "exposure": rng.integers(0, 30, k).astype(float), "cases": rng.integers(0, 4, k).astype(float)})
        m = DisciplinaryInconsistencyModel().fit(cells)
        assert m.label_ in labels
        if m.note_:
            assert np.isnan(m.relative_likelihood_)
            continue
        finite += 1
        assert np.isfinite(m.relative_likelihood_) and np.all(np.abs(m.coef_) <= 20)
        # statsmodels, run to a tight tolerance on the same cells and columns, agrees.
        used = m.cells_[m.cells_.in_fit]
        X = pd.DataFrame({name: np.ones(len(used)) if name == "Intercept" else
                          (used["group" if name.startswith("ethnicity") else name.split("[")[0]]
                           == name[:-1].split("[")[1]).astype(float).to_numpy() for name in m.coef_.index})
        res = sm.GLM(np.column_stack([used.cases, used.trials - used.cases]), X,
                     family=sm.families.Binomial()).fit(tol=1e-13, maxiter=200)
        assert m.coef_.iloc[-1] == pytest.approx(res.params.iloc[-1], rel=1e-6, abs=1e-8)
        assert m.bse_.iloc[-1] == pytest.approx(res.bse.iloc[-1], rel=1e-6)
    assert finite >= 25  # the loop exercises real fits, not only the blank paths


@pytest.mark.parametrize("ratio, lower, label", [
    (1.30, 1.05, "adverse"), (1.30, 0.90, "inconclusive"), (1.25, 1.10, "within_range"),
    (0.80, 0.50, "within_range"), (0.79, 0.60, "inconclusive"), (np.nan, np.nan, "inconclusive"),
    (1.20, 1.01, "within_range"),
])
def test_inconsistency_label(ratio, lower, label):
    assert inconsistency_label(ratio, lower) == label


def test_estimator_follows_the_scikit_learn_api():
    m = DisciplinaryInconsistencyModel(characteristic="disability", alpha=0.1)
    assert vars(m) == m.get_params()  # __init__ stores its parameters and nothing else
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    with pytest.raises(AttributeError):
        m.summary()
    with pytest.raises(ValueError, match="characteristic"):
        DisciplinaryInconsistencyModel(characteristic="age").fit(synthetic_cells())
    cells = synthetic_cells().replace({"group": {"BME": "Disabled", "White": "Non-disabled"}})
    fitted = m.fit(cells)
    assert fitted is m and m.relative_likelihood_ > 1
    # 90% intervals are narrower than 95% ones
    wide = DisciplinaryInconsistencyModel(characteristic="disability").fit(cells)
    assert wide.odds_ratio_ci_[0] < m.odds_ratio_ci_[0] < m.odds_ratio_ < m.odds_ratio_ci_[1] < wide.odds_ratio_ci_[1]
    assert "Disabled compared with Non-disabled" in m.summary()


# --- cell table and metric family ---------------------------------------------------------

_ids = itertools.count()


def _tables(trusts=("RAA", "RBB", "RCC"), seed=5):
    """Small typed workforce/employee_relations tables; RCC has no 2023 snapshot."""
    rng = np.random.default_rng(seed)
    wf, er = [], []
    groups_ = [(NURSE, "Band 5"), (NURSE, "Band 7"), (ADMIN, "Band 3"), (MED, "Consultant"),
               (MED, "Trainee grade"), (ACS, "Other")]
    for t in trusts:
        snaps = ["2024-03-31"] if t == "RCC" else ["2023-03-31", "2024-03-31"]
        for snap in snaps:
            for sg, band in groups_:
                for eth, n in (("A", 60), ("M", 30), ("Z", 5)):
                    for i in range(n):
                        wf.append({"staff_id": f"S{next(_ids)}", "trust_code": t, "snapshot_date": snap,
                                       "ethnic_category": eth, "disability": rng.choice(["Y", "N", "U"]),
                                       "sex": rng.choice(["F", "M"]), "staff_group": sg, "pay_band": band,
                                       "contract_type": "bank" if i % 10 == 0 else "permanent"})
        for sg, band in groups_:
            for eth, k in (("A", 3), ("M", 3), ("Z", 1)):
                for _ in range(int(rng.poisson(k))):
                    er.append({"case_id": f"C{next(_ids)}", "staff_id": "S0", "trust_code": t,
                                   "case_type": rng.choice(["disciplinary", "capability_performance"]),
                                   "start_date": pd.Timestamp("2022-04-01") + pd.Timedelta(days=int(rng.integers(0, 730))),
                                   "closed_date": None, "outcome": None, "ethnic_category": eth,
                                   "disability": rng.choice(["Y", "N"]), "sex": rng.choice(["F", "M"]),
                                   "staff_group": sg, "pay_band": band})
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
    assert cell["cases"].item() == sel.sum()
    assert cells["rolling"].all()
    assert not build_cells(ctx, trust="RCC")["rolling"].any()
    # A mapping of tables without group columns works too, for one period.
    raw = _tables(trusts=("RAA",))
    again = build_cells(raw, period="2024-03-31")
    assert again[["exposure"]].sum().item() == cells[["exposure"]].sum().item()


def test_family_rows_match_per_trust_fits(ctx):
    rows = disciplinary_model_metrics(ctx)
    assert set(rows["metric_id"]) <= set(REGISTRY)
    assert not rows.duplicated(["trust_code", "period", "metric_id", "breakdown", "group"]).any()
    head = rows[rows.metric_id.isin(["hia6.adjusted_odds_ratio", "hia6.adjusted_relative_likelihood",
                                     "hia6.inconsistency"])]
    assert (head.breakdown == "").all() and set(head.group) == {"BME"} and set(head.reference_group) == {"White"}
    assert len(head) == 9  # 3 trusts × 3 headline metrics
    flags = rows.metric_id.str.endswith(".inconsistency")
    assert set(rows.loc[flags, "basis"]) == {"label"} and set(rows.loc[flags, "unit"]) == {"flag"}
    assert set(rows.loc[~flags, "basis"]) == {"model"}  # never suppressed
    for t in ("RAA", "RCC"):
        m = DisciplinaryInconsistencyModel().fit(build_cells(ctx, trust=t))
        r = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.adjusted_relative_likelihood")].iloc[0]
        assert r.value == pytest.approx(m.relative_likelihood_, nan_ok=True)
        assert r.denominator == pytest.approx(m.expected_, nan_ok=True)
        lab = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.inconsistency")].iloc[0]
        assert lab.label == m.label_
        cr = rows[(rows.trust_code == t) & (rows.metric_id == "hia6.cell_ratio")]
        assert sorted(cr.breakdown) == sorted("staff_group=" + m.cell_ratio_.index)
    rcc = rows[rows.trust_code == "RCC"]
    assert rcc["note"].str.contains("12-month basis").all()
    variants = {"hia6.disability.adjusted_relative_likelihood": ("Disabled", "Non-disabled"),
                "hia6.sex.adjusted_relative_likelihood": ("Male", "Female")}
    for mid, (g, ref) in variants.items():
        v = rows[rows.metric_id == mid]
        assert len(v) == 3 and set(v.group) == {g} and set(v.reference_group) == {ref}


def test_model_rows_follow_the_observed_count_they_publish():
    """CONTRACT.md §4.4, §4.8 (issue 12): one rule for model rows. The adjusted ratio
    publishes its observed count (and its exact Poisson interval gives it back), so it is
    suppressed exactly when that count is hidden; its odds ratio and its label follow the
    same count, and a staff group's ratio follows that group's observed count. On the
    sample, ZZ003's disability label was published ("within_range") beside its suppressed
    ratio before this rule."""
    from pathlib import Path

    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics import compute, compute_raw

    root = Path(__file__).resolve().parents[1]
    tables = validate_dataset(root / "data" / "sample").dataset.tables
    ctx = MetricContext.from_tables(tables, ["2023-03-31", "2024-03-31"], n_bootstrap=20)
    ids = [m for m, sp in REGISTRY.items() if sp.family == "disciplinary_model"]
    raw = compute_raw(ctx, ids).set_index(["trust_code", "period", "metric_id", "breakdown"])
    out = compute(ctx, ids).set_index(["trust_code", "period", "metric_id", "breakdown"])
    small = 0
    for (trust, period, mid, bd), r in raw.iterrows():
        if not mid.endswith("adjusted_relative_likelihood"):
            continue
        prefix = mid.rsplit(".", 1)[0]
        together = [out.loc[(trust, period, f"{prefix}.{m}", ""), "suppressed"]
                    for m in ("adjusted_relative_likelihood", "adjusted_odds_ratio", "inconsistency")]
        assert len(set(together)) == 1, (trust, period, prefix)
        if 0 < r["numerator"] < 8:
            small += 1
            assert together[0]
            assert out.loc[(trust, period, mid, ""), "note"] == "suppressed: based on fewer than 8 people"
    assert small > 0
    cells = raw[raw.index.get_level_values("metric_id").str.endswith("cell_ratio")]
    tiny = cells[(cells["numerator"] > 0) & (cells["numerator"] < 8)]
    assert len(tiny) > 0 and out.loc[tiny.index, "suppressed"].all()
    # The case.
    assert out.loc[("ZZ003", "2024-03-31", "hia6.disability.inconsistency", ""), "suppressed"]
