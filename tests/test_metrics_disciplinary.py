"""WRES 3 / WDES 3 rates, relative likelihoods, outcomes and days to close (CONTRACT.md §4.3).

Tiny typed tables built by hand; every expected value is worked out in a comment.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from edi_analysis import stats
from edi_analysis.metrics import REGISTRY, MetricContext
from edi_analysis.metrics.disciplinary import disciplinary_metrics, rolling_counts

from disclosure_support import declared

NURSE = "Nursing and Midwifery Registered"
P24 = "2024-03-31"
_ids = itertools.count()


def staff(trust, snap, n, eth="A", dis="N", sex="F", sg=NURSE, band="Band 5", contract="permanent"):
    return [{"staff_id": f"S{next(_ids)}", "trust_code": trust, "snapshot_date": snap, "ethnic_category": eth,
                 "disability": dis, "sex": sex, "staff_group": sg, "pay_band": band, "contract_type": contract}
            for _ in range(n)]


def case(trust, start, eth="A", dis="N", sex="F", case_type="disciplinary", closed=None, outcome=None,
         sg=NURSE, band="Band 5", staff_id=None):
    """A case row; ``staff_id`` None: :func:`context` gives it an in-scope member of staff of its own."""
    return {"case_id": f"C{next(_ids)}", "staff_id": staff_id, "trust_code": trust, "case_type": case_type,
                "start_date": start, "closed_date": closed, "outcome": outcome, "ethnic_category": eth,
                "disability": dis, "sex": sex, "staff_group": sg, "pay_band": band}


def _attach(staff_rows, case_rows):
    """Give each case without a staff_id a different in-scope person of its trust, in the
    snapshot that closes the case's reporting year (the latest one after the last snapshot), so
    that every such case is one in-scope member of staff entering (WRES 3 counts people)."""
    used = set()
    out = []
    for c in case_rows:
        c = dict(c)
        if c["staff_id"] is None:
            snaps = sorted({r["snapshot_date"] for r in staff_rows if r["trust_code"] == c["trust_code"]})
            later = [d for d in snaps if d >= c["start_date"]]
            closing = later[0] if later else snaps[-1]
            pool = [r["staff_id"] for r in staff_rows if r["trust_code"] == c["trust_code"]
                    and r["snapshot_date"] == closing and r["contract_type"] != "bank"
                    and r["staff_id"] not in used]
            c["staff_id"] = pool[0]
            used.add(pool[0])
        out.append(c)
    return out


def typed(rows, dates):
    df = pd.DataFrame(rows)
    for c in df.columns:
        # validated-table dtypes: datetime64 dates, pandas str text with missing = NaN
        df[c] = pd.to_datetime(df[c]) if c in dates else df[c].astype("str")
    return df


def context(staff_rows, case_rows, periods=(P24,)):
    wf = typed(staff_rows, {"snapshot_date"})
    er = typed(_attach(staff_rows, case_rows), {"start_date", "closed_date"})
    return MetricContext.from_tables({"workforce": wf, "employee_relations": er}, periods=periods)


def row(rows, metric, group, trust="RAA", breakdown=""):
    sel = rows[(rows["metric_id"] == metric) & (rows["group"] == group)
               & (rows["trust_code"] == trust) & (rows["breakdown"] == breakdown)]
    assert len(sel) == 1, (metric, group, trust, breakdown, len(sel))
    return sel.iloc[0]


@pytest.fixture(scope="module")
def case_ctx():
    """Trust RAA has snapshots 2023-03-31 and 2024-03-31; RBB only 2024-03-31."""
    s = []
    # RAA 2023-03-31: White 8, BME 4, Unknown 2 in scope; 3 White bank staff (out of scope).
    s += staff("RAA", "2023-03-31", 8, eth="A") + staff("RAA", "2023-03-31", 4, eth="M")
    s += staff("RAA", "2023-03-31", 2, eth="Z") + staff("RAA", "2023-03-31", 3, eth="A", contract="bank")
    # RAA 2024-03-31: White 12 (2 fixed-term), BME 6, Unknown 1 (blank code); 4 BME bank staff.
    s += staff("RAA", P24, 10, eth="A") + staff("RAA", P24, 2, eth="B", contract="fixed_term")
    s += staff("RAA", P24, 6, eth="H", dis="Y") + staff("RAA", P24, 1, eth=None, dis="U")
    s += staff("RAA", P24, 4, eth="M", contract="bank")
    # RBB 2024-03-31 only: White 4, BME 2.
    s += staff("RBB", P24, 4, eth="C") + staff("RBB", P24, 2, eth="N")
    c = [
        # RAA disciplinary, window 2022-04-01..2024-03-31
        case("RAA", "2022-05-01", eth="A"),
        case("RAA", "2023-06-01", eth="A", closed="2023-07-01", outcome="first_written_warning"),  # 30 days
        case("RAA", "2022-04-01", eth="M"),  # first day of the window: in
        case("RAA", "2023-01-10", eth="M", closed="2023-05-01", outcome="dismissal"),  # closed, but started before RY
        case("RAA", "2023-09-01", eth="K", closed="2023-09-11", outcome="dismissal"),  # 10 days
        case("RAA", "2024-02-01", eth="M", closed="2024-04-15", outcome="other"),  # closed after the snapshot
        case("RAA", "2024-03-31", eth="M"),  # the snapshot day: in, open
        case("RAA", "2022-06-01", eth="Z"),  # Unknown
        case("RAA", "2022-03-31", eth="M"),  # a day before the window: out
        case("RAA", "2024-04-01", eth="M"),  # after the snapshot: out
        case("RAA", "2023-05-01", eth="A", case_type="grievance", closed="2023-05-02", outcome="other"),
        # RAA capability: performance (WDES 3) vs ill health (excluded)
        case("RAA", "2023-08-01", eth="H", dis="Y", case_type="capability_performance"),
        case("RAA", "2023-08-02", eth="H", dis="Y", case_type="capability_ill_health"),
        # RBB (12-month basis): window 2023-04-01..2024-03-31
        case("RBB", "2023-05-01", eth="C"),
        case("RBB", "2023-03-01", eth="C"),  # inside 24 months but outside 12: out
        case("RBB", "2024-01-01", eth="N"),
    ]
    return context(s, c)


@pytest.fixture(scope="module")
def rows(case_ctx):
    return disciplinary_metrics(case_ctx)


def cell_counts(rows, ctx, r) -> list[float]:
    """The declared cell counts of ``rows``' row ``r`` (edi_analysis.disclosure), by role."""
    cells = declared(rows, ctx)
    return sorted(cells.loc[cells["row"] == rows.index.get_loc(r.name), "count"])


def test_rates_on_the_rolling_two_year_basis(rows, case_ctx):
    # RAA person-years: White 8 + 12 = 20; BME 4 + 6 = 10; Unknown 2 + 1 = 3 (bank staff excluded).
    # Disciplinary cases 2022-04-01..2024-03-31: White 2; BME 5 (2022-04-01, 2023-01-10, 2023-09-01,
    # 2024-02-01, 2024-03-31); Unknown 1.
    white, bme, unk = (row(rows, "wres.3.rate", g) for g in ("White", "BME", "Unknown"))
    assert (white.numerator, white.denominator, white.value) == (2, 20, pytest.approx(10.0))  # 2/20
    assert (bme.numerator, bme.denominator, bme.value) == (5, 10, pytest.approx(50.0))  # 5/10
    assert (unk.numerator, unk.denominator, unk.value) == (1, 3, pytest.approx(100 / 3))
    lo, hi = stats.wilson_interval(5, 10)
    assert (bme.ci_lower, bme.ci_upper) == (pytest.approx(lo * 100), pytest.approx(hi * 100))
    assert white.note == "" and bme.basis == "rate"
    # Its cells: 5 cases and 10 person-years, the figures it shows.
    assert cell_counts(rows, case_ctx, bme) == [5, 10]


def test_relative_likelihood_is_bme_rate_over_white_rate_with_katz_interval(rows, case_ctx):
    r = row(rows, "wres.3.relative_likelihood", "BME")
    # (5/10) / (2/20) = 0.5 / 0.1 = 5.0; SE(log) = √(1/5 − 1/10 + 1/2 − 1/20) = √0.55
    se = np.sqrt(1 / 5 - 1 / 10 + 1 / 2 - 1 / 20)
    z = sps.norm.ppf(0.975)
    assert r.value == pytest.approx(5.0)
    assert r.ci_lower == pytest.approx(5.0 * np.exp(-z * se))
    assert r.ci_upper == pytest.approx(5.0 * np.exp(z * se))
    assert (r.reference_group, r.numerator, r.denominator) == ("White", 5, 10)
    # Built from 5, 10, 2 and 20: the two White cases make the ratio disclosive.
    assert cell_counts(rows, case_ctx, r) == [2, 5, 10, 20]


def test_missing_earlier_snapshot_falls_back_to_twelve_months_with_a_note(rows):
    # RBB: one headcount (White 4, BME 2); cases 2023-04-01..2024-03-31 only: White 1, BME 1.
    white = row(rows, "wres.3.rate", "White", trust="RBB")
    bme = row(rows, "wres.3.rate", "BME", trust="RBB")
    assert (white.numerator, white.denominator, white.value) == (1, 4, pytest.approx(25.0))
    assert (bme.numerator, bme.denominator, bme.value) == (1, 2, pytest.approx(50.0))
    rl = row(rows, "wres.3.relative_likelihood", "BME", trust="RBB")
    assert rl.value == pytest.approx(2.0)  # 50 / 25
    for r in (white, bme, rl):
        assert "12-month basis" in r.note and "2023-03-31" in r.note


def test_capability_counts_performance_cases_only_and_zero_reference_is_blank(rows):
    # Disabled: 1 performance-capability case (the ill-health case is excluded) over 0 + 6 = 6
    # person-years (the six "H" staff of 2024).
    dis = row(rows, "wdes.3.rate", "Disabled")
    assert (dis.numerator, dis.denominator) == (1, 6)
    nd = row(rows, "wdes.3.rate", "Non-disabled")
    # Non-disabled: 2023: 8 + 4 + 2 = 14; 2024: 10 + 2 = 12 → 26 person-years, no cases.
    assert (nd.numerator, nd.denominator, nd.value) == (0, 26, 0.0)
    rl = row(rows, "wdes.3.relative_likelihood", "Disabled")
    assert np.isnan(rl.value) and np.isnan(rl.ci_lower)
    assert "no cases in reference group (Non-disabled)" in rl.note


def test_zero_event_compared_group_gives_zero_ratio_without_interval():
    s = staff("RAA", P24, 10, eth="A") + staff("RAA", P24, 10, eth="M")
    out = disciplinary_metrics(context(s, [case("RAA", "2023-06-01", eth="A")]))
    rl = row(out, "wres.3.relative_likelihood", "BME")
    # (0/10) / (1/10) = 0; Katz interval undefined with a zero numerator
    assert rl.value == 0.0 and np.isnan(rl.ci_lower) and np.isnan(rl.ci_upper)
    assert "no cases in BME group" in rl.note


def test_unknown_is_excluded_from_both_sides_of_the_ratio():
    # Adding Unknown staff and Unknown cases must not move the ratio.
    base = staff("RAA", P24, 10, eth="A") + staff("RAA", P24, 10, eth="M")
    cases = [case("RAA", "2023-06-01", eth="A"), case("RAA", "2023-07-01", eth="M"),
             case("RAA", "2023-08-01", eth="M")]
    plain = row(disciplinary_metrics(context(base, cases)), "wres.3.relative_likelihood", "BME")
    more = base + staff("RAA", P24, 50, eth="Z")
    noisy = row(disciplinary_metrics(context(more, cases + [case("RAA", "2023-06-05", eth="99")] * 3)),
                "wres.3.relative_likelihood", "BME")
    assert plain.value == pytest.approx(2.0)  # (2/10) / (1/10), one headcount: 12-month basis
    assert noisy.value == pytest.approx(plain.value)


def test_case_group_is_the_characteristic_on_the_case_row():
    # The case row says BME even though this trust's only staff member is White.
    s = staff("RAA", P24, 5, eth="A")
    out = disciplinary_metrics(context(s, [case("RAA", "2023-06-01", eth="M")]))
    assert row(out, "wres.3.rate", "BME").numerator == 1
    assert row(out, "wres.3.rate", "White").numerator == 0
    assert "no BME staff" not in row(out, "wres.3.relative_likelihood", "BME").note
    assert "no cases in reference group (White)" in row(out, "wres.3.relative_likelihood", "BME").note


def test_sex_comparison_is_male_over_female(rows):
    # RAA: all staff F; no male staff → ratio blank with a note, never an exception.
    r = row(rows, "sex.3.relative_likelihood", "Male")
    assert r.reference_group == "Female" and np.isnan(r.value)


def test_outcome_share_of_closed_cases_started_in_the_reporting_year(rows, case_ctx):
    # RY 2023-04-01..2024-03-31, closed by 2024-03-31 with an outcome:
    # White: 2023-06-01 first_written_warning; BME: 2023-09-01 dismissal. (2024-02-01 closed after
    # the snapshot; 2023-01-10 started before the RY; the grievance is not disciplinary.)
    w = row(rows, "er.outcome_share", "White", breakdown="outcome=first_written_warning")
    assert (w.numerator, w.denominator, w.value) == (1, 1, 100.0)
    b = row(rows, "er.outcome_share", "BME", breakdown="outcome=dismissal")
    assert (b.numerator, b.denominator, b.value) == (1, 1, 100.0)
    a = row(rows, "er.outcome_share", "All", breakdown="outcome=dismissal")
    assert (a.numerator, a.denominator, a.value) == (1, 2, 50.0)  # 1 of 2 closed cases
    assert row(rows, "er.outcome_share", "BME", breakdown="outcome=other").value == 0.0
    shares = rows[(rows.metric_id == "er.outcome_share") & (rows.trust_code == "RAA")]
    assert set(shares["group"]) == {"White", "BME", "All"}  # Unknown had no closed case
    assert shares.groupby("group")["value"].sum().tolist() == [100.0] * 3  # outcomes partition each group
    # Cells: a group's outcome among its closed cases; the All rows' counts are the sums of
    # the groups' (one linked decision, edi_analysis.disclosure).
    assert cell_counts(rows, case_ctx, a) == [1, 2]


def test_days_to_close_median(rows):
    # White 30 days (2023-06-01 → 2023-07-01); BME 10 days (2023-09-01 → 2023-09-11); All median(10, 30) = 20.
    assert row(rows, "er.days_to_close_median", "White").value == 30
    assert row(rows, "er.days_to_close_median", "BME").value == 10
    a = row(rows, "er.days_to_close_median", "All")
    assert (a.value, a.n_values, a.basis, a.unit) == (20, 2, "mean", "days")


def test_rolling_counts_cells_and_no_cluster_stratum():
    s = (staff("RAA", "2023-03-31", 3, eth="A", band="Other")
         + staff("RAA", P24, 2, eth="A", band="Other") + staff("RAA", P24, 1, eth="A", band="Band 2"))
    wf = MetricContext.from_tables({"workforce": typed(s, {"snapshot_date"}),
                                    "employee_relations": typed(_attach(s, [case("RAA", "2023-01-01", band="Other")]),
                                                                {"start_date", "closed_date"})},
                                   periods=[P24])
    out = rolling_counts(wf.tables["workforce"], wf.tables["employee_relations"], wf.periods,
                         case_type="disciplinary", by=["ethnicity", "pay_cluster"]).set_index("pay_cluster")
    # Band Other: 3 + 2 = 5 person-years and the case; Band 2 (cluster 1): 0 + 1 = 1, no case.
    assert out.loc["none", ["cases", "headcount", "headcount_prev", "exposure"]].tolist() == [1, 2, 3, 5]
    assert out.loc["1", ["cases", "exposure"]].tolist() == [0, 1]
    assert out["rolling"].all()


def test_every_row_is_registered_in_hia6_and_keys_are_unique(rows):
    assert set(rows["metric_id"]) <= set(REGISTRY)
    assert {REGISTRY[m].area for m in rows["metric_id"]} == {"hia6"}
    assert not rows.duplicated(["trust_code", "period", "metric_id", "breakdown", "group"]).any()
    assert set(rows["period"]) == {P24}


def test_counting_basis_follows_the_earlier_snapshot():
    """Two-year rolling when the trust has a snapshot a year earlier, else 12 months; a
    metric not counted on the rolling basis has none (its figures are always comparable)."""
    from edi_analysis.metrics.disciplinary import TWELVE_MONTH, TWO_YEAR, counting_basis

    both = ["2023-03-31", "2024-03-31"]
    assert counting_basis("wres.3.relative_likelihood", "2024-03-31", both) == TWO_YEAR
    assert counting_basis("wres.3.relative_likelihood", "2023-03-31", both) == TWELVE_MONTH
    assert counting_basis("wdes.3.rate", "2024-03-31", ["2024-03-31"]) == TWELVE_MONTH
    assert counting_basis("hia6.adjusted_rate_ratio", "2024-03-31", both) == TWO_YEAR
    assert counting_basis("hia6.disability.staff_group_rate_ratio", "2024-03-31", both) == TWO_YEAR
    assert counting_basis("hia6.sex.disparity", "2024-03-31", both) == TWO_YEAR
    assert counting_basis("hia6.harassment_manager_team", "2024-03-31", both) == ""  # survey
    assert counting_basis("wres.5", "2024-03-31", both) == ""


# --- scope and staff entering (issue: bank staff's cases leaked into the numerators) ----------

def _person(sid, trust, snap, eth="A", contract="permanent", dis="N", sex="F", band="Band 5"):
    return {"staff_id": sid, "trust_code": trust, "snapshot_date": snap, "ethnic_category": eth,
            "disability": dis, "sex": sex, "staff_group": NURSE, "pay_band": band,
            "contract_type": contract}


def test_bank_staffs_cases_are_out_of_the_numerator_as_of_the_denominator():
    # One snapshot (12-month basis). In scope: White 10, BME 10; bank: 5 BME (not in the headcount).
    s = staff("RAA", P24, 10, eth="A") + staff("RAA", P24, 10, eth="M")
    s += [_person(f"BANK{i}", "RAA", P24, eth="M", contract="bank") for i in range(5)]
    c = [case("RAA", "2023-06-01", eth="A"), case("RAA", "2023-07-01", eth="M"),
         case("RAA", "2023-08-01", eth="M")]
    c += [case("RAA", "2023-09-01", eth="M", staff_id=f"BANK{i}") for i in range(5)]
    out = disciplinary_metrics(context(s, c))
    bme = row(out, "wres.3.rate", "BME")
    # BME: 2 in-scope staff entering ÷ 10 person-years = 20%; the bank workers' 5 cases are not
    # counted (the old code counted them: 7 / 10 = 70%).
    assert (bme.numerator, bme.denominator) == (2, 10)
    # RL = (2/10) / (1/10) = 2.0 (the old code gave 7.0)
    assert row(out, "wres.3.relative_likelihood", "BME").value == pytest.approx(2.0)


def test_scope_is_the_contract_in_the_snapshot_closing_the_cases_reporting_year():
    p23, p24 = "2023-03-31", P24
    s = staff("RAA", p23, 10, eth="A") + staff("RAA", p24, 10, eth="A")
    s += [
        _person("X", "RAA", p23, eth="M", contract="bank"), _person("X", "RAA", p24, eth="M"),
        _person("Y", "RAA", p23, eth="M"),                       # left during 2023/24
        _person("W", "RAA", p23, eth="M"), _person("W", "RAA", p24, eth="M", contract="bank"),
        _person("V", "RAA", p23, eth="M", contract="fixed_term"),
        _person("V", "RAA", p24, eth="M", contract="fixed_term"),
    ]
    c = [
        case("RAA", "2022-06-01", eth="M", staff_id="X"),  # year to 2023-03-31: X was bank → out
        case("RAA", "2023-06-01", eth="M", staff_id="X"),  # year to 2024-03-31: X permanent → in
        case("RAA", "2023-09-01", eth="M", staff_id="Y"),  # Y not in 2024: 2023 row (permanent) → in
        case("RAA", "2023-10-01", eth="M", staff_id="W"),  # W bank at 2024 → out
        case("RAA", "2022-10-01", eth="M", staff_id="W"),  # W permanent at 2023 → in
        case("RAA", "2023-11-01", eth="M", staff_id="GHOST"),  # in no snapshot → out
        case("RAA", "2024-03-31", eth="M", staff_id="V"),  # the snapshot day closes its year → in
        case("RAA", "2023-06-01", eth="A"),
    ]
    out = disciplinary_metrics(context(s, c, periods=(p24,)))
    bme = row(out, "wres.3.rate", "BME")
    # BME staff entering: X (2023/24), Y, W (2022/23), V = 4.
    # BME person-years: 2023: X bank (out), Y, W, V = 3; 2024: X, V = 2 (W bank) → 5.
    assert (bme.numerator, bme.denominator) == (4, 5)


def test_a_person_entering_twice_in_a_year_counts_once_in_that_year():
    p23 = "2023-03-31"
    s = (staff("RAA", p23, 10, eth="A") + staff("RAA", P24, 10, eth="A")
         + [_person("Q", "RAA", p23, eth="M"), _person("Q", "RAA", P24, eth="M")]
         + staff("RAA", p23, 4, eth="M") + staff("RAA", P24, 4, eth="M"))
    c = [
        case("RAA", "2023-05-01", eth="M", staff_id="Q"),
        case("RAA", "2023-11-01", eth="M", staff_id="Q"),  # same person, same reporting year: once
        case("RAA", "2022-11-01", eth="M", staff_id="Q"),  # the year before: counts again
        case("RAA", "2023-06-01", eth="A"),
        case("RAA", "2023-04-02", eth="A", case_type="capability_performance", dis="Y"),
        case("RAA", "2023-04-03", eth="A", case_type="capability_performance", dis="Y"),
    ]
    out = disciplinary_metrics(context(s, c, periods=(P24,)))
    bme = row(out, "wres.3.rate", "BME")
    # Q enters in 2022/23 and in 2023/24: 2 (three cases; the old code counted 3).
    # Person-years 5 + 5 = 10 → 20%.
    assert (bme.numerator, bme.denominator) == (2, 10)
    assert bme.value == pytest.approx(20.0)
    # The two capability cases are two different people (each their own staff_id): 2 entrants.
    assert row(out, "wdes.3.rate", "Disabled").numerator == 2


def test_an_entrant_is_grouped_by_their_first_case_of_the_year():
    s = staff("RAA", P24, 10, eth="A") + [_person("Q", "RAA", P24, eth="M")]
    # The later case row records another ethnicity (a changed self-declaration): the first wins.
    c = [case("RAA", "2023-11-01", eth="A", staff_id="Q"), case("RAA", "2023-05-01", eth="M", staff_id="Q")]
    out = disciplinary_metrics(context(s, c, periods=(P24,)))
    assert row(out, "wres.3.rate", "BME").numerator == 1
    assert row(out, "wres.3.rate", "White").numerator == 0


def test_entrant_records_and_case_in_scope_are_the_reusable_selection():
    from edi_analysis.metrics.disciplinary import case_in_scope, entrant_records

    s = staff("RAA", P24, 3, eth="A") + [_person("B1", "RAA", P24, contract="bank")]
    c = [case("RAA", "2023-06-01"), case("RAA", "2023-07-01", staff_id="B1"),
         case("RAA", "2023-08-01", staff_id="NOBODY")]
    ctx = context(s, c, periods=(P24,))
    wf, er = ctx.tables["workforce"], ctx.tables["employee_relations"]
    assert case_in_scope(wf, er).tolist() == [True, False, False]
    ent = entrant_records(wf, er, ctx.periods, case_type="disciplinary")
    assert len(ent) == 1 and ent["year"].tolist() == ["current"] and not ent["rolling"].any()


def test_five_bank_only_bme_cases_no_longer_move_the_sample_wres3(tmp_path):
    """The issue's observation: five bank-only BME cases added to ZZ004 moved WRES 3 from 1.71 to
    2.00 with the denominator unchanged. Bank staff's cases are now out of the numerator."""
    from pathlib import Path

    from edi_analysis.contract import validate_dataset
    from edi_analysis.metrics import compute

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    tables = {k: v for k, v in validate_dataset(sample).dataset.tables.items() if v is not None}
    ctx = MetricContext.from_tables(tables, periods=[P24], trusts=["ZZ004"])
    wf = ctx.tables["workforce"]
    bank_bme = wf[(wf.snapshot_date == P24) & (wf.contract_type == "bank") & (wf.ethnicity == "BME")]
    assert len(bank_bme) >= 5
    extra = pd.DataFrame([{**tables["employee_relations"].iloc[0].to_dict(), "case_id": f"XTRA{i}",
                           "staff_id": sid, "trust_code": "ZZ004", "case_type": "disciplinary",
                           "start_date": pd.Timestamp("2023-10-01"), "closed_date": pd.NaT,
                           "outcome": None, "ethnic_category": "M"}
                          for i, sid in enumerate(bank_bme["staff_id"].iloc[:5])])
    er = pd.concat([tables["employee_relations"], extra.astype(tables["employee_relations"].dtypes)],
                   ignore_index=True)
    ids = ["wres.3.relative_likelihood"]
    before = compute(ctx, ids).iloc[0]
    after = compute(MetricContext.from_tables({**tables, "employee_relations": er}, periods=[P24],
                                              trusts=["ZZ004"]), ids).iloc[0]
    # BME 29 staff entering in 993 person-years; White 19 in 1,171 (the old code also counted a
    # White case whose staff_id is in no snapshot: 20, giving 1.71):
    # (29/993) / (19/1171) = 0.029204 / 0.016225 = 1.7999.
    assert before.value == pytest.approx((29 / 993) / (19 / 1171))
    assert after.value == before.value and after.numerator == before.numerator == 29
    assert after.denominator == before.denominator == 993
