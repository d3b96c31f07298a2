"""The synthetic data generator and the committed sample in data/sample.

The committed files must be exactly what `write_sample` makes with default
arguments; every table must carry the contract's columns and value domains;
and the disparities built in on purpose (docs/sample-data.md) must be visible
with plain pandas arithmetic, and must vanish when their parameter is turned off.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from edi_analysis import groups, sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "sample"
P0, P1 = "2023-03-31", "2024-03-31"

# Written out from CONTRACT.md §2 (not taken from sample.COLUMNS, so the test is independent).
CONTRACT_COLUMNS = {
    "workforce": [
        "staff_id", "trust_code", "snapshot_date", "ethnic_category", "sex", "disability",
        "staff_group", "pay_band", "contract_type", "fte", "start_date", "age_band",
        "hourly_pay", "full_pay_relevant", "bonus_pay_12m", "bonus_pay_period", "specialty",
        "accessed_nonmandatory_training", "flexible_working", "international_recruit",
        "sickness_days_12m", "available_days_12m", "risk_assessment_completed",
        "flu_vaccinated", "wellbeing_conversation",
    ],
    "recruitment": [
        "application_id", "trust_code", "applied_date", "staff_group", "pay_band",
        "ethnic_category", "disability", "sex", "international_applicant", "shortlisted",
        "appointed",
    ],
    "employee_relations": [
        "case_id", "staff_id", "trust_code", "case_type", "start_date", "closed_date",
        "outcome", "ethnic_category", "disability", "sex", "staff_group", "pay_band",
    ],
    "staff_survey": [
        "respondent_id", "trust_code", "survey_year", "ethnic_category", "disability", "sex",
        "staff_group", "international_recruit", "harassment_public", "harassment_manager",
        "harassment_colleague", "reported_harassment", "equal_opportunities",
        "discrimination_colleague", "pressure_unwell", "valued_by_org", "adjustments_made",
        "org_action_health_wellbeing", "belonging", "engagement_score",
    ],
    "board": [
        "member_id", "trust_code", "snapshot_date", "role", "voting", "executive",
        "ethnic_category", "disability", "sex", "has_smart_edi_objectives",
        "appraised_on_edi_objectives",
    ],
    "actions": ["trust_code", "action_id", "status", "owner", "evidence", "updated_on"],
    "external_indicators": ["trust_code", "period", "indicator_id", "group", "value", "source"],
    "staff_survey_results": ["trust_code", "survey_year", "item", "characteristic", "group",
                             "responses", "positive"],
}
BOOL_COLUMNS = {
    "workforce": ["full_pay_relevant", "accessed_nonmandatory_training", "flexible_working",
                  "international_recruit", "risk_assessment_completed", "flu_vaccinated",
                  "wellbeing_conversation"],
    "recruitment": ["international_applicant", "shortlisted", "appointed"],
    "staff_survey": CONTRACT_COLUMNS["staff_survey"][7:19],
    "board": ["voting", "executive", "has_smart_edi_objectives", "appraised_on_edi_objectives"],
}
DATE_COLUMNS = {
    "workforce": ["snapshot_date", "start_date"], "recruitment": ["applied_date"],
    "employee_relations": ["start_date", "closed_date"], "board": ["snapshot_date"],
    "actions": ["updated_on"], "external_indicators": ["period"],
}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return sample.generate()


LARGE_SECONDS: list[float] = []


@pytest.fixture(scope="module")
def large() -> dict[str, pd.DataFrame]:
    """An England-like call at a size where disparities show through sampling noise."""
    t0 = time.perf_counter()
    out = sample.generate(trusts=30, staff=60_000, seed=7)
    LARGE_SECONDS.append(time.perf_counter() - t0)
    return out


def yes(s: pd.Series) -> pd.Series:
    return s.eq("Y")


def in_scope_headcount(w: pd.DataFrame, by: str) -> pd.Series:
    """Headcount over both snapshots (the WRES 3 rolling-window denominator)."""
    return w[w.contract_type.ne("bank")].groupby(by).size()


# --- reproducibility --------------------------------------------------------------------

def test_committed_sample_is_exactly_what_the_defaults_regenerate(tmp_path):
    paths = sample.write_sample(tmp_path)
    assert sorted(p.name for p in paths) == sorted(p.name for p in SAMPLE_DIR.glob("*.csv"))
    for p in paths:
        assert p.read_bytes() == (SAMPLE_DIR / p.name).read_bytes(), p.name


def test_csv_is_utf8_without_bom_with_lf_line_endings():
    for p in SAMPLE_DIR.glob("*.csv"):
        data = p.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), p.name
        assert b"\r" not in data, p.name
        assert data.endswith(b"\n"), p.name
        data.decode("utf-8")


def test_committed_sample_is_a_few_megabytes():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.glob("*.csv"))
    assert 4e6 <= total <= 8e6


def test_a_different_seed_gives_different_data(tables):
    other = sample.generate(seed=1)
    for name in ("workforce", "recruitment", "employee_relations", "staff_survey"):
        assert not other[name].equals(tables[name]), name
    assert other["workforce"].staff_id.iloc[0] != tables["workforce"].staff_id.iloc[0]


def test_parquet_holds_the_same_values_as_csv(tmp_path):
    sample.write_sample(tmp_path / "csv", trusts=2, staff=2_000, seed=3)
    sample.write_sample(tmp_path / "pq", trusts=2, staff=2_000, seed=3, fmt="parquet")
    for name in CONTRACT_COLUMNS:
        from_csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv", dtype=str,
                               keep_default_na=False, na_values=[""])
        from_pq = pd.read_parquet(tmp_path / "pq" / f"{name}.parquet")
        assert list(from_pq.columns) == CONTRACT_COLUMNS[name]
        # Compare as text: numbers print the same both ways (shortest round-trip form).
        pq_text = from_pq.astype("str").where(from_pq.notna())
        pd.testing.assert_frame_equal(from_csv, pq_text, check_dtype=False, obj=name)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        sample.generate(trusts=0)
    with pytest.raises(ValueError):
        sample.generate(trusts=4, staff=500)  # fewer than 200 per trust
    with pytest.raises(ValueError):
        sample.write_sample(tmp_path, fmt="json")


# --- helpers ----------------------------------------------------------------------------

def test_trust_sizes_follow_lognormal_quantiles_and_sum_exactly():
    # q = .125 .375 .625 .875 → z = ±1.1503, ±0.3186 (largest first);
    # w = exp(0.6 z) = 1.9941, 1.2107, 0.8260, 0.5015 (sum 4.5323);
    # 1000 w / sum = 439.97, 267.13, 182.25, 110.65 → floors 439 267 182 110 (998);
    # the two largest remainders (.97, .65) get the 2 left over → 440 267 182 111.
    assert sample._trust_sizes(4, 1000).tolist() == [440, 267, 182, 111]


def test_ids_are_distinct_pseudonyms():
    ids = pd.Series(sample._ids("E", np.arange(200_000), salt=12345).to_pylist())
    assert ids.is_unique
    assert ids.str.fullmatch(r"E\d{9}").all()
    # index 0 → (0 · 2654435761 + 12345) mod 10^9 = 12345
    assert ids.iloc[0] == "E000012345"


def test_draw_matches_probabilities_and_never_picks_impossible_categories():
    rng = np.random.default_rng(0)
    probs = np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0]])
    rows = np.repeat([0, 1], 50_000)
    k = sample._draw(rng, probs, rows)
    assert set(k[rows == 1]) == {1}
    assert 1 not in set(k[rows == 0])
    # Binomial(50 000, 0.2): sd = √(50 000 · 0.2 · 0.8) ≈ 89; allow ±5 sd.
    assert abs((k[rows == 0] == 0).sum() - 10_000) < 450


# --- contract shape and value domains -----------------------------------------------------

def test_every_contract_table_and_column_is_present_in_order(tables):
    assert set(tables) == set(CONTRACT_COLUMNS)
    for name, cols in CONTRACT_COLUMNS.items():
        assert list(tables[name].columns) == cols, name
        assert len(tables[name]) > 0, name


def test_codes_come_from_the_contract_lists(tables):
    eth_ok = set(groups.ETHNIC_CODES)
    for name in ("workforce", "recruitment", "employee_relations", "staff_survey", "board"):
        df = tables[name]
        assert set(df.ethnic_category.dropna()) <= eth_ok, name
        assert set(df.sex.dropna()) <= {"F", "M"}, name
        assert set(df.disability.dropna()) <= {"Y", "N", "U"}, name
        assert df.trust_code.str.fullmatch(r"[A-Z0-9]{3,5}").all(), name
        # Fictional: real NHS trust codes are 3 characters starting R or T.
        assert not df.trust_code.str.fullmatch(r"[RT][A-Z0-9]{2}").any(), name
    for name in ("workforce", "recruitment", "employee_relations"):
        assert set(tables[name].staff_group) == set(groups.STAFF_GROUPS), name
        assert set(tables[name].pay_band) <= set(groups.PAY_BANDS), name
    w = tables["workforce"]
    assert set(w.contract_type) == set(groups.CONTRACT_TYPES)
    assert set(w.age_band) == set(groups.AGE_BANDS)
    assert set(w.snapshot_date) == {P0, P1}
    er = tables["employee_relations"]
    assert set(er.case_type) == set(groups.CASE_TYPES)
    assert set(er.outcome.dropna()) == set(groups.OUTCOMES)
    assert set(tables["board"].role) == set(groups.BOARD_ROLES)
    assert set(tables["actions"].status) <= set(groups.ACTION_STATUSES)
    assert set(tables["staff_survey"].survey_year) == {2022, 2023}
    for name, cols in BOOL_COLUMNS.items():
        for c in cols:
            assert set(tables[name][c].dropna()) <= {"Y", "N"}, (name, c)
    for name, cols in DATE_COLUMNS.items():
        for c in cols:
            assert tables[name][c].dropna().str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), (name, c)


def test_unknown_values_appear_in_every_form(tables):
    w = tables["workforce"]
    assert {"Z", "99"} <= set(w.ethnic_category.dropna()) and w.ethnic_category.isna().any()
    assert "U" in set(w.disability) and w.disability.isna().any()


def test_row_rules_hold(tables):
    w = tables["workforce"]
    assert not w.duplicated(["trust_code", "snapshot_date", "staff_id"]).any()
    assert (w.start_date <= w.snapshot_date).all()  # ISO strings compare as dates
    assert ((w.fte > 0) & (w.fte <= 1.5)).all()
    assert (w.hourly_pay[yes(w.full_pay_relevant)] > 0).all() and (w.hourly_pay >= 0).all()
    assert (w.bonus_pay_12m >= 0).all()
    assert (w.available_days_12m > 0).all()
    assert ((w.sickness_days_12m >= 0) & (w.sickness_days_12m <= w.available_days_12m)).all()
    r = tables["recruitment"]
    assert not (yes(r.appointed) & ~yes(r.shortlisted)).any()
    assert r.applied_date.between("2022-04-01", P1).all()
    assert r.application_id.is_unique
    er = tables["employee_relations"]
    assert er.case_id.is_unique
    assert er.start_date.between("2022-04-01", P1).all()
    closed = er.closed_date.notna()
    assert (er.closed_date[closed] >= er.start_date[closed]).all()
    assert (er.outcome.isna() == ~closed).all()
    assert 0.03 < (~closed).mean() < 0.4  # most cases closed, some still open
    s = tables["staff_survey"]
    assert s.respondent_id.is_unique
    assert s.engagement_score.dropna().between(0, 10).all()
    assert tables["board"].groupby(["trust_code", "snapshot_date"]).size().between(10, 14).all()


def test_sample_validates_with_only_the_intended_warnings():
    from edi_analysis.contract import validate_dataset

    report = validate_dataset(SAMPLE_DIR)
    assert report.errors == []
    # The warnings are the few deliberately unmatched case staff_ids (leavers between snapshots).
    assert 1 <= len(report.warnings) <= 10
    assert all(i.column == "staff_id" and "employee_relations" in i.file for i in report.warnings)


def test_actions_use_catalogue_ids(tables):
    from edi_analysis.catalogue import load_actions

    known = {a.id for a in load_actions()}
    assert set(sample.ACTION_IDS) <= known
    assert set(tables["actions"].action_id) <= set(sample.ACTION_IDS)


# --- population structure -------------------------------------------------------------------

def test_staff_is_the_latest_headcount_over_trusts_of_clearly_different_sizes():
    w = sample.generate(trusts=3, staff=12_345, seed=5)["workforce"]
    sizes = w[w.snapshot_date == P1].groupby("trust_code").size()
    assert sizes.sum() == 12_345
    assert sizes.max() / sizes.min() > 2


def test_leavers_joiners_and_stayers_between_snapshots(tables):
    w = tables["workforce"]
    w0, w1 = w[w.snapshot_date == P0], w[w.snapshot_date == P1]
    left = ~w0.staff_id.isin(w1.staff_id)
    assert 0.09 < left.mean() < 0.13  # NHS turnover ~10-12 %/yr
    # Over-55s leave more often (retirement).
    assert left[w0.age_band == "55+"].mean() > 1.4 * left[w0.age_band != "55+"].mean()
    joiners = w1[~w1.staff_id.isin(w0.staff_id)]
    assert (joiners.start_date > P0).all() and len(joiners) > 0.08 * len(w1)
    stayers = w1[w1.staff_id.isin(w0.staff_id)].set_index("staff_id")
    before = w0.set_index("staff_id").loc[stayers.index]
    assert (stayers.start_date == before.start_date).all()
    assert (stayers.ethnic_category.fillna("") == before.ethnic_category.fillna("")).all()


def test_workforce_mix_is_near_national(tables):
    w = tables["workforce"]
    w1 = w[(w.snapshot_date == P1)]
    ins = w1[w1.contract_type != "bank"]
    sg = ins.staff_group.value_counts(normalize=True)
    assert 0.22 < sg["Nursing and Midwifery Registered"] < 0.29
    assert 0.21 < sg["Additional Clinical Services"] < 0.28
    assert 0.17 < sg["Administrative and Clerical"] < 0.25
    assert 0.08 < sg["Medical and Dental"] < 0.13
    assert 0.05 < (w1.contract_type == "bank").mean() < 0.10
    eth = groups.ethnicity(ins.ethnic_category)
    assert 0.22 < (eth == "BME").mean() < 0.32
    known = eth != "Unknown"
    senior = ins.pay_band.isin(groups.SENIOR_BANDS)
    med = ins.staff_group == "Medical and Dental"
    assert (eth[senior & known] == "BME").mean() < (eth[known] == "BME").mean()
    assert (eth[med & known] == "BME").mean() > 0.35
    assert 0.035 < (ins.disability == "Y").mean() < 0.065
    med_bands = set(ins.pay_band[med])
    assert med_bands == set(groups.MEDICAL_GRADES)
    assert not set(ins.pay_band[~med]) & set(groups.MEDICAL_GRADES)
    intl = ins[yes(ins.international_recruit)]
    assert (intl.staff_group == "Nursing and Midwifery Registered").mean() > 0.5
    assert (groups.ethnicity(intl.ethnic_category) == "BME").mean() > 0.75
    sick = w1.sickness_days_12m.sum() / w1.available_days_12m.sum()
    assert 0.04 < sick < 0.065


def test_hourly_pay_follows_band(tables):
    w = tables["workforce"]
    w1 = w[(w.snapshot_date == P1) & yes(w.full_pay_relevant)]
    med = w1.groupby("pay_band").hourly_pay.median()
    # 2023/24 Band 5 entry £28,407 ÷ (52.143 × 37.5) = £14.53/h; top £34,581 → £17.69/h.
    assert med["Band 2"] < med["Band 5"] < med["Band 6"] < med["Band 7"] < med["Band 8a"]
    assert med["Band 8a"] < med["Band 8c"] < med["Band 9"]
    band5 = w1.hourly_pay[w1.pay_band == "Band 5"]
    assert band5.min() >= 14.5 and band5.quantile(0.5) < 20
    assert med["Trainee grade"] < med["Consultant"]
    # The earlier snapshot is on 2022/23 rates (5% AfC award in 2023/24).
    w0 = w[(w.snapshot_date == P0) & yes(w.full_pay_relevant)]
    ratio = w1.hourly_pay[w1.pay_band == "Band 2"].median() / \
        w0.hourly_pay[w0.pay_band == "Band 2"].median()
    assert ratio == pytest.approx(1.05, abs=0.02)


# --- the built-in disparities ------------------------------------------------------------------

def wres3(tables) -> float:
    """BME ÷ White rate of entering a disciplinary process, rolling 24 months (CONTRACT §4.3)."""
    w = tables["workforce"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category))
    er = tables["employee_relations"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category))
    cases = er[er.case_type == "disciplinary"].groupby("eth").size()
    hc = in_scope_headcount(w, "eth")
    return (cases["BME"] / hc["BME"]) / (cases["White"] / hc["White"])


def test_bme_staff_more_likely_to_enter_disciplinary(tables):
    assert wres3(tables) > 1.3


def test_disciplinary_disparity_sits_in_two_staff_groups(large):
    w = large["workforce"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category))
    er = large["employee_relations"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category))
    cases = er[er.case_type == "disciplinary"].groupby(["staff_group", "eth"]).size()
    hc = w[w.contract_type != "bank"].groupby(["staff_group", "eth"]).size()
    rate = cases / hc

    def rl(g):
        return rate[(g, "BME")] / rate[(g, "White")]

    assert rl("Additional Clinical Services") > 1.7
    assert rl("Nursing and Midwifery Registered") > 1.5
    assert 0.7 < rl("Administrative and Clerical") < 1.35
    assert 1.4 < wres3(large) < 1.9


def test_disparity_disappears_when_its_parameter_is_off():
    off = replace(sample.SampleParams(), disciplinary_bme_rr={})
    t = sample.generate(trusts=30, staff=60_000, seed=7, params=off)
    assert 0.8 < wres3(t) < 1.2


def test_disciplinary_counts_survive_suppression_in_every_trust(tables):
    w = tables["workforce"]
    er = tables["employee_relations"]
    disc = er[er.case_type == "disciplinary"].assign(
        eth=lambda d: groups.ethnicity(d.ethnic_category))
    counts = disc.groupby(["trust_code", "eth"]).size().unstack()
    assert (counts[["BME", "White"]] >= 8).all().all()
    assert set(counts.index) == set(w.trust_code)


def test_disabled_staff_more_likely_to_enter_capability(large):
    w = large["workforce"].assign(dis=lambda d: groups.disability(d.disability))
    er = large["employee_relations"].assign(dis=lambda d: groups.disability(d.disability))
    cases = er[er.case_type == "capability_performance"].groupby("dis").size()
    hc = in_scope_headcount(w, "dis")
    rl = (cases["Disabled"] / hc["Disabled"]) / (cases["Non-disabled"] / hc["Non-disabled"])
    assert 1.2 < rl < 1.9


def test_recruitment_disparities(tables):
    r = tables["recruitment"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category),
                                     dis=lambda d: groups.disability(d.disability))
    short_rate = yes(r.shortlisted).mean()
    assert 0.28 < short_rate < 0.42
    sl = r[yes(r.shortlisted)]
    assert 0.15 < yes(sl.appointed).mean() < 0.25
    app = sl.groupby("eth").appointed.apply(lambda s: yes(s).mean())
    assert app["White"] / app["BME"] > 1.3  # WRES 2
    short = r.groupby("dis").shortlisted.apply(lambda s: yes(s).mean())
    assert short["Disabled"] < 0.9 * short["Non-disabled"]
    assert yes(r.international_applicant).mean() > 0.1


def test_gender_pay_gap_mainly_from_band_mix_with_larger_bonus_gap(tables):
    w = tables["workforce"]
    w1 = w[w.snapshot_date == P1]
    fp = w1[yes(w1.full_pay_relevant)]
    mean = fp.groupby("sex").hourly_pay.mean()
    gap = (mean["M"] - mean["F"]) / mean["M"] * 100
    assert 12 < gap < 30
    # Women are the large majority in Bands 2-6 and a minority of consultants.
    female = fp.groupby("pay_band").sex.apply(lambda s: (s == "F").mean())
    assert female["Band 5"] > 0.75 and female["Consultant"] < 0.45
    # Within each AfC band the gap is small (only time on the scale differs).
    within = fp[fp.pay_band == "Band 6"].groupby("sex").hourly_pay.mean()
    assert abs(within["M"] - within["F"]) / within["M"] < 0.05
    bonus = w1[w1.bonus_pay_12m > 0]
    assert (bonus.pay_band == "Consultant").mean() > 0.6
    bmean = bonus.groupby("sex").bonus_pay_12m.mean()
    assert (bmean["M"] - bmean["F"]) / bmean["M"] * 100 > gap


def test_medical_within_grade_gender_gap(large):
    w = large["workforce"]
    cons = w[(w.snapshot_date == P1) & yes(w.full_pay_relevant) & (w.pay_band == "Consultant")]
    mean = cons.groupby("sex").hourly_pay.mean()
    assert 0.02 < (mean["M"] - mean["F"]) / mean["M"] < 0.15


def test_training_access_lower_for_international_recruits(tables):
    w = tables["workforce"]
    w1 = w[(w.snapshot_date == P1) & (w.contract_type != "bank")]
    t = w1[w1.accessed_nonmandatory_training.notna()]
    rate = t.groupby("international_recruit").accessed_nonmandatory_training.apply(
        lambda s: yes(s).mean())
    assert rate["N"] / rate["Y"] > 1.15


def test_survey_answers_worse_for_bme_and_disabled_staff(tables):
    s = tables["staff_survey"].assign(eth=lambda d: groups.ethnicity(d.ethnic_category),
                                      dis=lambda d: groups.disability(d.disability))

    def pct(col, by):
        answered = s[s[col].notna()]
        return answered.groupby(by)[col].apply(lambda x: yes(x).mean() * 100)

    assert pct("discrimination_colleague", "eth")["BME"] > 1.5 * pct(
        "discrimination_colleague", "eth")["White"]
    assert pct("equal_opportunities", "eth")["BME"] < pct("equal_opportunities", "eth")["White"] - 5
    assert pct("harassment_colleague", "dis")["Disabled"] > pct(
        "harassment_colleague", "dis")["Non-disabled"] + 5
    # Reasonable adjustments are asked of disabled respondents only.
    assert s.adjustments_made[s.dis != "Disabled"].isna().all()
    # Response ~45% of in-scope staff; self-reported disability far above ESR's ~5%.
    w = tables["workforce"]
    in_scope_2024 = ((w.snapshot_date == P1) & (w.contract_type != "bank")).sum()
    assert 0.38 < (s.survey_year == 2023).sum() / in_scope_2024 < 0.52
    assert (s.disability == "Y").mean() > 0.15


# --- scale ----------------------------------------------------------------------------------

def test_england_like_call_scales(large):
    w = large["workforce"]
    assert (w.snapshot_date == P1).sum() == 60_000
    assert w.trust_code.nunique() == 30
    sizes = w[w.snapshot_date == P1].groupby("trust_code").size()
    assert sizes.max() / sizes.min() > 5
    # Recruitment, cases and survey keep their ratios to headcount at any size:
    # applications 1.1 per staff member per year over two years ≈ 2.1 × staff;
    # survey ≈ 0.46 response × ~93% in scope × (1 + 1/1.035) snapshots ≈ 0.84 × staff.
    assert 1.9 < len(large["recruitment"]) / 60_000 < 2.3
    assert 0.7 < len(large["staff_survey"]) / 60_000 < 1.0
    assert 0.03 < len(large["employee_relations"]) / 60_000 < 0.15
    assert len(large["board"]) == pytest.approx(30 * 2 * 12, rel=0.15)
    # Whole-array generation: this size takes about a second (generous bound for loaded CI).
    assert LARGE_SECONDS[0] < 30


def test_period_bonus_and_specialty_columns(tables):
    """bonus_pay_period: a twelfth of a consultant's award (CEAs are paid monthly), nothing for
    other staff; specialty: doctors only, the same in both snapshots."""
    wf = tables["workforce"]
    cons = wf["pay_band"] == "Consultant"
    bonus, period = wf["bonus_pay_12m"].astype(float), wf["bonus_pay_period"].astype(float)
    assert np.allclose(period[cons], np.round(bonus[cons] / 12, 2), atol=0.006)
    assert (period[~cons] == 0).all() and (period[cons] > 0).any()
    med = wf["staff_group"] == "Medical and Dental"
    assert wf.loc[med, "specialty"].notna().all() and wf.loc[~med, "specialty"].isna().all()
    both = wf[med].pivot_table(index=["trust_code", "staff_id"], columns="snapshot_date",
                               values="specialty", aggfunc="first").dropna()
    assert len(both) > 500 and (both.iloc[:, 0] == both.iloc[:, 1]).all()
