"""Disclosure control by population cell (CONTRACT.md §4.8; ``edi_analysis.disclosure``).

Hand-worked cases of the linked decision (primary and secondary suppression,
one decision per count across families and periods, notes), the structural
model behind it, and the registry's declarations. The property tests
(``tests/test_properties.py``) check generated trusts against an independent
exact method (``tests/disclosure_support.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edi_analysis import disclosure, narrative
from edi_analysis.disclosure import linear
from edi_analysis.disclosure.structure import Structure
from edi_analysis.metrics import REGISTRY, MetricContext, compute, compute_raw

from disclosure_support import declared, exact_leaks

P23, P24 = "2023-03-31", "2024-03-31"
PRIMARY = "suppressed: based on fewer than 8 people"
SECONDARY = "hidden so that another small figure cannot be worked out"


def staff(n, code, *, snapshot=P24, trained=None, band="Band 5", contract="permanent",
          disability="N", trust="RAA"):
    """``n`` nurses with one ethnic category code; ``trained``: how many accessed training."""
    trained = n if trained is None else trained
    return pd.DataFrame({
        "trust_code": trust, "snapshot_date": snapshot, "ethnic_category": code, "sex": "F",
        "disability": disability, "staff_group": "Nursing and Midwifery Registered",
        "pay_band": band, "contract_type": contract,
        "accessed_nonmandatory_training": [i < trained for i in range(n)],
    }, index=range(n))


def workforce(*blocks) -> pd.DataFrame:
    df = pd.concat(blocks, ignore_index=True)
    df["staff_id"] = [f"S{i:05d}" for i in range(len(df))]
    for col in ("staff_id", "trust_code", "ethnic_category", "sex", "disability", "staff_group",
                "pay_band", "contract_type"):
        df[col] = df[col].astype("str")
    df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    df["accessed_nonmandatory_training"] = df["accessed_nonmandatory_training"].astype("boolean")
    return df


def cases(rows) -> pd.DataFrame:
    """Disciplinary cases: (start date, ethnic category code) per case."""
    df = pd.DataFrame([{
        "case_id": f"C{i:04d}", "staff_id": f"S{i:05d}", "trust_code": "RAA",
        "case_type": "disciplinary", "start_date": d, "closed_date": None, "outcome": None,
        "ethnic_category": code, "disability": "N", "sex": "F",
        "staff_group": "Nursing and Midwifery Registered", "pay_band": "Band 5",
    } for i, (d, code) in enumerate(rows)])
    for col in ("start_date", "closed_date"):
        df[col] = pd.to_datetime(df[col])
    for col in ("case_id", "staff_id", "trust_code", "case_type", "ethnic_category", "disability",
                "sex", "staff_group", "pay_band"):
        df[col] = df[col].astype("str")
    df["outcome"] = df["outcome"].astype("str").where(df["outcome"].notna())
    return df


def table(out: pd.DataFrame) -> pd.DataFrame:
    return out.set_index(["period", "metric_id", "breakdown", "group"])


# --- the structural model ----------------------------------------------------------------


def test_structure_links_tables_only_through_their_shared_columns():
    # Two tables over (s, e) and (s, d): the reader knows ethnicity and disability counts
    # per snapshot, not how they combine.
    st = Structure({"s": ["x"], "e": ["W", "B", "U"], "d": ["Y", "N"]}, [("s", "e"), ("s", "d")])
    v = lambda c: st.dense(st.vector(c))  # noqa: E731
    total_e = v({"e": ("W", "B", "U")})  # every ethnicity = everyone
    total_d = v({"d": ("Y", "N")})
    assert np.allclose(total_e, total_d)  # the same count, whichever table it is read from
    # U = total − W − B, exactly (the corner coordinates need no consistency equations):
    assert np.allclose(v({"e": ("U",)}), total_e - v({"e": ("W",)}) - v({"e": ("B",)}))
    # From W, B, the total and Y: U is recoverable, N is (total − Y), a cross of the two is not
    # even a cell of one table.
    b = linear.basis(st.size, [total_e, v({"e": ("W",)}), v({"e": ("B",)}), v({"d": ("Y",)})],
                     [0, 1, 2, 3])
    assert b.contains(v({"e": ("U",)})) and b.contains(v({"d": ("N",)}))
    with pytest.raises(ValueError, match="no table"):
        st.vector({"e": ("B",), "d": ("Y",)})
    # Without the total, U is not determined.
    b = linear.basis(st.size, [v({"e": ("W",)}), v({"e": ("B",)}), v({"d": ("Y",)})], [1, 2, 3])
    assert not b.contains(v({"e": ("U",)}))
    combo, needed = linear.basis(st.size, [total_e, v({"e": ("W",)}), v({"e": ("B",)})],
                                 [0, 1, 2]).combination(v({"e": ("U",)}))
    assert combo == pytest.approx({0: 1.0, 1: -1.0, 2: -1.0}) and needed == {0, 1, 2}


# --- hand-worked decisions ---------------------------------------------------------------


def test_a_small_count_hides_the_next_smallest_count_it_could_be_worked_out_from():
    # 37 in-scope nurses on Band 5 (cluster 2): White 30, BME 7, Unknown 0. BME 7 is small
    # (primary); 7 = 37 − 30 − 0, so one more of the counts giving it is hidden: the smallest
    # needed by every way of working it out, White 30 (the total 37 is larger). Every
    # breakdown holds the same staff, so the same counts: one decision each.
    ctx = MetricContext.from_tables({"workforce": workforce(staff(30, "A"), staff(7, "H"))},
                                    [P24])
    out = table(compute(ctx, ["wres.1.share", "wdes.1.share"]))
    for bd in ("", "pay_cluster=2", "clinical=Y", "clinical=Y;pay_cluster=2"):
        rows = out.loc[(P24, "wres.1.share", bd)]
        assert rows["note"].to_dict() == {"BME": PRIMARY, "Unknown": "", "White": SECONDARY}
        assert (rows.loc["Unknown", "numerator"], rows.loc["Unknown", "denominator"]) == (0, 37)
        assert rows.loc[["BME", "White"], ["numerator", "denominator", "value"]].isna().all().all()
    # The disability shares (all Non-disabled, 37 of 37) give nothing away and stay.
    assert not out.loc[(P24, "wdes.1.share"), "suppressed"].any()


def test_at_the_threshold_nothing_is_hidden():
    # BME 8 is not small: nothing is suppressed.
    ctx = MetricContext.from_tables({"workforce": workforce(staff(30, "A"), staff(8, "H"))},
                                    [P24])
    assert not compute(ctx, ["wres.1.share", "wdes.1.share"])["suppressed"].any()


def test_the_same_count_gets_one_decision_in_every_family():
    # The case, by hand: 176 in scope, White 103, BME 67, Unknown 6. Per family,
    # WRES 1 hid Unknown (and BME beside it) but WRES 4 showed the BME headcount 67 as its
    # denominator, so Unknown = 176 − 103 − 67 = 6. Decided together, the BME headcount is
    # one count: hidden in WRES 1 and in WRES 4 (Unknown 6 also has 3 who trained: small).
    wf = workforce(staff(103, "A", trained=57), staff(67, "H", trained=34),
                   staff(6, "Z", trained=3))
    ctx = MetricContext.from_tables({"workforce": wf}, [P24])
    ids = ["wres.1.share", "wres.4.access_rate", "wres.4.relative_likelihood"]
    out = table(compute(ctx, ids))
    assert out.loc[(P24, "wres.1.share", ""), "note"].to_dict() == {
        "BME": SECONDARY, "Unknown": PRIMARY, "White": ""}
    assert out.loc[(P24, "wres.4.access_rate", ""), "note"].to_dict() == {
        "BME": SECONDARY, "Unknown": PRIMARY, "White": ""}
    assert out.loc[(P24, "wres.4.relative_likelihood", "", "White"), "note"] == SECONDARY
    # White stays: 103 of 176 and 57 of 103.
    w = out.loc[(P24, "wres.1.share", "", "White")]
    assert (w["numerator"], w["denominator"]) == (103, 176)
    assert exact_leaks(compute(ctx, ids, internal=True), ctx, 8, 11) == []
    # Asking for WRES 4 alone gives the same rows (the decision covers every family).
    alone = compute(ctx, ["wres.4.access_rate"])
    pd.testing.assert_frame_equal(
        alone, compute(ctx, ids).query("metric_id == 'wres.4.access_rate'").reset_index(drop=True))


def test_a_count_is_decided_once_over_every_period():
    # 2023: White 40, BME 20, Unknown 5 (small). 2024: White 40, BME 20, Unknown 9 (not small).
    # WRES 3's 2024 denominator is the two snapshots' sum: Unknown 5 + 9 = 14. Decided per
    # period, 2024 published 9 (Unknown) and 14, so 2023's hidden 5 = 14 − 9. Decided over
    # both snapshots, a count that would give the 5 back is hidden too.
    wf = workforce(staff(40, "A", snapshot=P23), staff(20, "H", snapshot=P23),
                   staff(5, "Z", snapshot=P23), staff(40, "A"), staff(20, "H"), staff(9, "Z"))
    er = cases([("2023-06-01", "A")] * 8 + [("2023-06-01", "H")] * 8)
    ctx = MetricContext.from_tables({"workforce": wf, "employee_relations": er}, [P23, P24])
    ids = ["wres.1.share", "wres.3.rate"]
    out = compute(ctx, ids, internal=True)
    t = table(out)
    assert t.loc[(P23, "wres.1.share", "", "Unknown"), "note"] == PRIMARY
    u24 = t.loc[(P24, "wres.1.share", "", "Unknown")]
    den = t.loc[(P24, "wres.3.rate", "", "Unknown")]
    # 9 and 14 are not both published, or 5 = 14 − 9 (with the 2024 total, White and BME).
    assert u24["suppressed"] or den["suppressed"] or t.loc[(P24, "wres.1.share", ""), "suppressed"].any()
    assert exact_leaks(out, ctx, 8, 11) == []
    # The 2024 rows are the same whether 2023 is asked for too or not.
    only = compute(ctx := MetricContext.from_tables({"workforce": wf, "employee_relations": er},
                                                    [P24]), ids)
    both = compute(MetricContext.from_tables({"workforce": wf, "employee_relations": er},
                                             [P23, P24]), ids)
    pd.testing.assert_frame_equal(only, both[both["period"] == P24].reset_index(drop=True))


def test_a_suppressed_row_says_only_that_it_is_suppressed():
    # Without White staff, WRES 4's relative likelihood notes "no in-scope staff in reference
    # group": on a suppressed row (BME 5) the note says only why it is suppressed.
    ctx = MetricContext.from_tables({"workforce": workforce(staff(5, "H"), staff(40, "Z"))}, [P24])
    raw = compute_raw(ctx, ["wres.4.relative_likelihood", "wres.4.access_rate"])
    assert raw["note"].str.contains("no ").any()
    out = compute(ctx, ["wres.4.relative_likelihood", "wres.4.access_rate"])
    hidden = out[out["suppressed"]]
    assert len(hidden) and set(hidden["note"]) <= {PRIMARY, SECONDARY}
    # The sentence a report shows says the same.
    sec = {"metric_id": "wres.1.share", "unit": "percent", "group": "White", "suppressed": True,
           "note": SECONDARY}
    assert narrative.sentence(sec, label="Share").endswith(
        "this figure is hidden so that another small figure cannot be worked out.")
    assert "fewer than 8 people" in narrative.sentence({**sec, "note": PRIMARY}, label="Share")


def test_survey_results_are_protected_on_their_answers_not_their_positive_answers():
    # NHS Staff Survey practice: a % of 11 or more answers is published whatever its count of
    # positive answers (CONTRACT.md §4.8), so a 2 of 30 is shown; 10 answers are not.
    def respondents(n, code, yes):
        return pd.DataFrame({"respondent_id": [f"R{code}{i}" for i in range(n)],
                             "trust_code": "RAA", "survey_year": 2023, "ethnic_category": code,
                             "disability": "N", "sex": "F",
                             "staff_group": "Nursing and Midwifery Registered",
                             "international_recruit": False,
                             "harassment_public": [i < yes for i in range(n)]})
    sv = pd.concat([respondents(30, "A", 2), respondents(10, "H", 4), respondents(15, "Z", 5)],
                   ignore_index=True)
    for col in ("harassment_manager", "harassment_colleague", "reported_harassment",
                "equal_opportunities", "discrimination_colleague", "pressure_unwell",
                "valued_by_org", "adjustments_made", "org_action_health_wellbeing", "belonging"):
        sv[col] = pd.array([pd.NA] * len(sv), dtype="boolean")  # not answered
    sv["engagement_score"] = np.nan
    for col in ("respondent_id", "trust_code", "ethnic_category", "disability", "sex",
                "staff_group"):
        sv[col] = sv[col].astype("str")
    sv["international_recruit"] = sv["international_recruit"].astype("boolean")
    sv["harassment_public"] = sv["harassment_public"].astype("boolean")
    ctx = MetricContext.from_tables({"staff_survey": sv}, [P24])
    out = table(compute(ctx, ["wres.5"])).loc[(P24, "wres.5", "")]
    assert (out.loc["White", "numerator"], out.loc["White", "denominator"]) == (2, 30)
    assert out.loc["BME", "note"] == "suppressed: based on fewer than 11 answers"
    # BME 10 = All 55 − White 30 − Unknown 15: one of them goes too (Unknown 15, the smallest).
    assert out.loc["Unknown", "note"] == SECONDARY and not out.loc["All", "suppressed"]


# --- declarations ------------------------------------------------------------------------


def test_every_registered_metric_declares_its_cells_or_why_it_has_none():
    both = set(disclosure.DECLARATIONS) & set(disclosure.NO_CELLS)
    assert both == set()
    assert set(disclosure.DECLARATIONS) | set(disclosure.NO_CELLS) == set(REGISTRY)
    # A metric publishing a count, or built from counts (a rate, a ratio, a model row), has cells.
    for mid, sp in REGISTRY.items():
        if sp.counts:
            assert mid in disclosure.DECLARATIONS, mid
    for mid in disclosure.NO_CELLS:
        assert not REGISTRY[mid].counts, mid


@pytest.fixture(scope="module")
def sample_decision():
    from pathlib import Path

    from edi_analysis.contract import validate_dataset

    tables = validate_dataset(Path(__file__).resolve().parents[1] / "data" / "sample").dataset.tables
    ctx = MetricContext.from_tables(tables, [P23, P24], n_bootstrap=20)
    raw = compute_raw(ctx)
    return ctx, raw, declared(raw, ctx)


def test_cells_hold_the_same_records_wherever_they_appear(sample_decision):
    # One count, one unit: the in-scope BME headcount of WRES 1 is WRES 4's BME denominator and
    # every People Plan rate's BME denominator; senior leadership is WRES 1's pay cluster 4.
    ctx, raw, cells = sample_decision
    key = raw.set_index(["trust_code", "period", "metric_id", "breakdown", "group"]).index

    def unit(metric, breakdown, group, role, trust="ZZ001"):
        r = key.get_loc((trust, P24, metric, breakdown, group))
        c = cells[(cells["row"] == r) & (cells["role"] == role)]
        assert len(c) == 1
        return int(c["unit"].iloc[0])

    bme = unit("wres.1.share", "", "BME", "numerator")
    assert bme == unit("wres.4.access_rate", "", "BME", "denominator")
    assert bme == unit("pp.hwb.flu_vaccinated_rate", "", "BME", "denominator")
    for g in ("White", "BME", "Unknown"):
        assert (unit("wres.1.share", "pay_cluster=4", g, "numerator")
                == unit("hia2.senior_share", "characteristic=ethnicity", g, "numerator"))


def _data_tables(tmp_path_factory, seed: int, keep: float):
    from edi_analysis import sample
    from edi_analysis.contract import validate_dataset

    out = tmp_path_factory.mktemp(f"gen{seed}")
    sample.write_sample(out, trusts=2, staff=450, seed=seed)
    tables = dict(validate_dataset(out).dataset.tables)
    rng = np.random.default_rng(seed)
    return {n: df[rng.random(len(df)) < keep].reset_index(drop=True) if df is not None else df
            for n, df in tables.items()}


@pytest.fixture(scope="module")
def generated_decision(tmp_path_factory):
    tables = _data_tables(tmp_path_factory, 5, 0.3)
    ctx = MetricContext.from_tables(tables, [P23, P24], n_bootstrap=10)
    raw = compute_raw(ctx)
    return ctx, raw, declared(raw, ctx)


@pytest.mark.parametrize("which", ["sample_decision", "generated_decision"])
def test_declared_cells_count_what_every_row_publishes(which, request):
    # Every declared numerator and denominator, counted on the records, is the figure the
    # row publishes: a change to a metric's definition that the declarations do not follow
    # fails here (edi_analysis/disclosure/declarations.py).
    ctx, raw, cells = request.getfixturevalue(which)
    checked = 0
    for col in ("numerator", "denominator"):
        c = cells[cells["published"] == col]
        pub = raw[col].to_numpy()[c["row"].to_numpy()]
        has = ~np.isnan(pub)
        bad = c[has & ~np.isclose(pub, c["count"].to_numpy(), rtol=1e-9, atol=1e-9)]
        assert bad.empty, raw.iloc[bad["row"].to_numpy()][["metric_id", "breakdown", "group", col]]
        checked += int(has.sum())
    assert checked > 1000
    # Every row of a metric with cells has them; figures built from counts come back from them.
    with_cells = raw["metric_id"].isin(list(disclosure.DECLARATIONS)).to_numpy()
    assert set(cells["row"]) == set(np.flatnonzero(with_cells))
    by_row = {r: part for r, part in cells.groupby("row")}
    rl = raw.index[raw["metric_id"].str.endswith("relative_likelihood")
                   & ~raw["metric_id"].str.startswith("hia6") & raw["value"].notna()]
    assert len(rl) > 5
    for r in rl:
        part = by_row[r]
        g, ref = raw.loc[r, "group"], raw.loc[r, "reference_group"]
        own = part[part["role"] != "input"].set_index("role")["count"]
        # the reference group's numerator then denominator (declaration order)
        c, n2 = part[part["role"] == "input"]["count"].tolist()
        a, n1 = own["numerator"], own["denominator"]
        assert raw.loc[r, "value"] == pytest.approx((a / n1) / (c / n2)), (raw.loc[r, "metric_id"], g, ref)


# --- decisions shared out among processes -------------------------------------------------

def test_decisions_made_in_worker_processes_are_those_of_one_process(monkeypatch):
    """Each trust's decision depends on its own rows and records only: the sample's four trusts
    decided in two forked workers (each on a context narrowed to its trusts) give the same
    rows, in the same order, byte for byte in metrics.csv, as one process deciding them all."""
    from pathlib import Path

    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics_output import compute_metrics, metrics_csv_bytes

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    ds = validate_dataset(sample).dataset
    ran = []
    real = disclosure._suppress_in_workers
    monkeypatch.setattr(disclosure, "_suppress_in_workers",
                        lambda *a: ran.append(len(a[3])) or real(*a))
    out = {}
    for jobs in (1, 2):
        monkeypatch.setattr(disclosure, "JOBS", jobs)
        out[jobs] = compute_metrics(ds, [P23, P24])
        # one process for JOBS = 1; for JOBS = 2 every decision shared four trusts out
        # between two workers
        assert ran == ([] if jobs == 1 else ran) and all(n == 2 for n in ran)
    assert ran
    pd.testing.assert_frame_equal(out[1], out[2])
    assert metrics_csv_bytes(out[1]) == metrics_csv_bytes(out[2])
    assert out[2]["suppressed"].any()  # the sample has decisions to make


def test_trusts_are_grouped_by_their_rows_and_few_trusts_stay_in_one_process():
    # rows per trust: A 6, B 5, C 3, D 2. Largest first, each to the lighter group:
    # A → 1 (6), B → 2 (5), C → 2 (8), D → 1 (8).
    rows = pd.DataFrame({"trust_code": list("AAAAAA" "BBBBB" "CCC" "DD")})
    assert disclosure._trust_groups(rows, list("ABCD"), 2) == [["A", "D"], ["B", "C"]]
    assert disclosure._trust_groups(rows, list("ABCD"), 1) == [["A", "B", "C", "D"]]
    assert disclosure._jobs(8, 3) == 1  # fewer than PARALLEL_MIN_TRUSTS trusts
    assert disclosure._jobs(8, 5) == 5 and disclosure._jobs(2, 5) == 2
