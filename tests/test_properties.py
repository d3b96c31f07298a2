"""Property tests (hypothesis) for the laws the methodology promises (DESIGN.md §5).

(a) Suppression never publishes a count of 1..min_count−1, directly or by adding
    and subtracting any published rows of a trust, across families and periods
    (CONTRACT.md §4.8): checked on random two-way tables and on the real metric
    families over generated trusts with small groups, by an independent exact
    method (``tests/disclosure_support.py``: explicit table equations, integer
    elimination, brute-force list of protected counts), not the package's own.
(b) Relative likelihood of A vs B = 1 / (B vs A), with the interval bounds
    reciprocal and swapped (CONTRACT.md §4.7).
(c) Metrics for all trusts at once = metrics trust by trust (DESIGN.md §2).

Example counts are bounded and the real-data examples small so the suite
stays fast on two cores.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi_analysis import sample, stats
from edi_analysis.contract import validate_dataset
from edi_analysis.metrics import REGISTRY, MetricContext, compute
from edi_analysis.metrics.disciplinary import _rl_rows
from edi_analysis.metrics.recruitment import relative_likelihood_rows

from disclosure_support import exact_leaks

PERIOD = "2024-03-31"
def bounded(n: int) -> settings:
    """At most ``n`` examples, no per-example deadline (the real-data examples take seconds)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- (a) suppression on random tables ----------------------------------------------------


def two_way_workforce(counts: np.ndarray) -> pd.DataFrame:
    """In-scope nurses at one snapshot: ``counts[b, g]`` of pay band b with ethnic code g.

    WRES 1 then shows each band's cluster by ethnicity with both margins (the overall row,
    and the shares within each cluster): the shape of the old partition tests, now through
    the real declarations and decision. Band ``Other`` is in no cluster.
    """
    bands = ["Band 2", "Band 5", "Band 8a", "Other"]
    codes = ["A", "H", "Z"]
    blocks = []
    for b in range(counts.shape[0]):
        for g in range(counts.shape[1]):
            n = int(counts[b, g])
            if n:
                blocks.append(pd.DataFrame({
                    "trust_code": "RAA", "snapshot_date": pd.Timestamp(PERIOD),
                    "ethnic_category": codes[g], "sex": "F", "disability": "N",
                    "staff_group": "Nursing and Midwifery Registered", "pay_band": bands[b],
                    "contract_type": "permanent"}, index=range(n)))
    df = pd.concat(blocks, ignore_index=True)
    df["staff_id"] = [f"S{i:05d}" for i in range(len(df))]
    for col in ("staff_id", "trust_code", "ethnic_category", "sex", "disability", "staff_group",
                "pay_band", "contract_type"):
        df[col] = df[col].astype("str")
    return df


@bounded(25)
@given(
    st.integers(2, 4).flatmap(lambda b: st.lists(st.integers(0, 20), min_size=3 * b,
                                                   max_size=3 * b).map(
        lambda v: np.array(v).reshape(-1, 3))).filter(lambda a: a.sum() > 0),
    st.integers(3, 10),
)
def test_suppression_of_a_two_way_table_never_leaks(counts, min_count):
    ctx = MetricContext.from_tables({"workforce": two_way_workforce(counts)}, [PERIOD])
    rows = compute(ctx, ["wres.1.share"], internal=True, min_count=min_count)
    shown = rows[~rows["suppressed"]]
    # Directly: no published count in 1..min_count−1.
    assert not shown["numerator"].between(1, min_count - 1).any()
    assert not shown["denominator"].between(1, min_count - 1).any()
    # By subtraction across every published row: nothing small can be worked out.
    assert exact_leaks(rows, ctx, min_count, 11) == []


def test_two_way_table_hand_example():
    # Bands 2 and 5 (clusters 1, 2), codes A, H, Z:
    #   cluster 1: White 30, BME  3, Unknown 20   (total 53)   primary: the two 3s.
    #   cluster 2: White  3, BME 12, Unknown 12   (total 27)
    #   overall:   White 33, BME 15, Unknown 32   (total 80)
    # The cluster totals are published anyway (WDES 1: all 53 and 27 are Non-disabled), so
    # a lone hidden count in a cluster would be its total minus the others (3 = 53 − 30 − 20):
    # each cluster hides at least one more. And a lone hidden count in a column would be the
    # overall count minus the other cluster's (3 = 33 − 30). The decision ends when no count
    # of 1–7 is a combination of what is shown.
    counts = np.array([[30, 3, 20], [3, 12, 12]])
    ctx = MetricContext.from_tables({"workforce": two_way_workforce(counts)}, [PERIOD])
    out = compute(ctx, ["wres.1.share", "wdes.1.share"], internal=True)
    t = out.set_index(["metric_id", "breakdown", "group"])
    primary = "suppressed: based on fewer than 8 people"
    assert t.loc[("wres.1.share", "pay_cluster=1", "BME"), "note"] == primary
    assert t.loc[("wres.1.share", "pay_cluster=2", "White"), "note"] == primary
    for cluster in ("pay_cluster=1", "pay_cluster=2"):
        assert t.loc[("wres.1.share", cluster), "suppressed"].sum() >= 2
        assert t.loc[("wdes.1.share", cluster, "Non-disabled"), "numerator"] in (53, 27)
    for group in ("White", "BME", "Unknown"):  # column: 0 or at least 2 hidden clusters
        hidden = sum(t.loc[("wres.1.share", c, group), "suppressed"]
                     for c in ("pay_cluster=1", "pay_cluster=2"))
        assert hidden != 1 or t.loc[("wres.1.share", "", group), "suppressed"]
    w = t.loc[("wres.1.share", "", "White")]
    assert (w["numerator"], w["denominator"]) == (33, 80)  # nothing small behind it
    assert exact_leaks(out, ctx, 8, 11) == []


# --- (a) suppression on the real metric families -------------------------------------------


@functools.lru_cache(maxsize=8)
def generated(seed: int, trusts: int, staff: int) -> dict[str, pd.DataFrame]:
    """Validated tables of a synthetic dataset (``sample.generate`` → CSV → ``validate_dataset``)."""
    with tempfile.TemporaryDirectory() as d:
        sample.write_sample(Path(d), trusts=trusts, staff=staff, seed=seed)
        report = validate_dataset(Path(d), periods=[PERIOD])
        assert report.ok, [i.format() for i in report.errors[:3]]
        return dict(report.dataset.tables)


def thinned(tables: dict[str, pd.DataFrame], keep: float, seed: int) -> dict[str, pd.DataFrame]:
    """Every table reduced to a random fraction of its rows: tiny groups everywhere."""
    rng = np.random.default_rng(seed)
    return {name: df[rng.random(len(df)) < keep].reset_index(drop=True) if df is not None else df
            for name, df in tables.items()}


@bounded(4)
@given(seed=st.integers(1, 2**31 - 1), keep=st.sampled_from([0.08, 0.25, 1.0]),
       min_count=st.sampled_from([5, 8, 10]), min_survey=st.sampled_from([11, 20]))
def test_real_metrics_never_publish_a_small_count(seed, keep, min_count, min_survey):
    # Generated trusts with small groups, two snapshots: every family, every period.
    tables = thinned(generated(seed % 7, 2, 450), keep, seed)
    ctx = MetricContext.from_tables(tables, ["2023-03-31", PERIOD], n_bootstrap=10)
    rows = compute(ctx, internal=True, min_count=min_count, min_survey_responses=min_survey)
    sup = rows["suppressed"].to_numpy()
    # Suppressed rows keep their row with every figure blank, and say only why.
    assert rows.loc[sup, list(stats.BLANKED)].isna().all().all()
    assert set(rows.loc[sup, "note"]) <= {
        f"suppressed: based on fewer than {min_count} people",
        f"suppressed: based on fewer than {min_survey} answers",
        "hidden so that another small figure cannot be worked out"}
    # Directly: no count column of a published row holds 1..threshold−1 (MetricSpec.counts).
    threshold = {"min_count": min_count, "min_survey_responses": min_survey}
    for metric_id, shown in rows[~sup].groupby("metric_id"):
        spec = REGISTRY[metric_id]
        for col in spec.counts:
            v = shown[col]
            small = v[(v > 0) & (v < threshold[spec.count_rule])]
            assert small.empty, f"{metric_id} {col}: {small.tolist()}"
    # By subtraction across every published row of a trust and both periods: nothing.
    assert exact_leaks(rows, ctx, min_count, min_survey) == []


# --- (b) relative likelihood is reciprocal -----------------------------------------------


@bounded(200)
@given(st.integers(1, 400), st.integers(1, 400), st.floats(0, 1), st.floats(0, 1))
def test_stats_relative_likelihood_reciprocal(n1, n2, fa, fc):
    a, c = np.floor(fa * n1), np.floor(fc * n2)
    rl, lo, hi = stats.relative_likelihood(a, n1, c, n2)
    back, blo, bhi = stats.relative_likelihood(c, n2, a, n1)
    if a > 0 and c > 0:
        assert rl * back == pytest.approx(1.0, rel=1e-12)
        assert lo == pytest.approx(1 / bhi, rel=1e-12) and hi == pytest.approx(1 / blo, rel=1e-12)
    else:
        # A zero rate on either side: one direction is blank (reference rate 0) and the
        # interval is blank both ways (Katz needs both numerators > 0).
        assert np.isnan(lo) and np.isnan(blo)
        assert np.isnan(rl) or np.isnan(back) or (a == 0 and c == 0)


counts4 = st.tuples(st.integers(0, 60), st.integers(0, 200), st.integers(0, 60), st.integers(0, 200))


@bounded(60)
@given(st.lists(counts4, min_size=1, max_size=5))
def test_metric_rows_relative_likelihood_reciprocal(cells):
    # WRES 2 rows (recruitment.relative_likelihood_rows) and WRES 3 rows
    # (disciplinary._rl_rows), built for White vs BME and for BME vs White.
    cells = [(min(a, n1), n1, min(c, n2), n2) for a, n1, c, n2 in cells]
    trusts = [f"T{i:02d}" for i in range(len(cells))]
    long = pd.DataFrame(
        [(t, PERIOD, "White", a, n1) for t, (a, n1, _, _) in zip(trusts, cells)]
        + [(t, PERIOD, "BME", c, n2) for t, (_, _, c, n2) in zip(trusts, cells)],
        columns=["trust_code", "period", "group", "k", "n"],
    )
    kw = dict(event="appointments", base="shortlisted applicants")
    fwd = relative_likelihood_rows("wres.2.relative_likelihood", long, "White", "BME", **kw)
    rev = relative_likelihood_rows("wres.2.relative_likelihood", long, "BME", "White", **kw)
    wide = pd.DataFrame({
        "trust_code": trusts, "period_str": PERIOD,
        "cases:White": [a for a, *_ in cells], "exposure:White": [n1 for _, n1, *_ in cells],
        "cases:BME": [c for *_, c, _ in cells], "exposure:BME": [n2 for *_, n2 in cells],
    })
    note = np.full(len(cells), "", dtype=object)
    fwd3 = _rl_rows(wide, "wres.3.relative_likelihood", "White", "BME", note)
    rev3 = _rl_rows(wide, "wres.3.relative_likelihood", "BME", "White", note)
    for f, r in ((fwd, rev), (fwd3, rev3)):
        f, r = f.set_index("trust_code"), r.set_index("trust_code")
        assert (f["group"] == r["reference_group"]).all() and (f["reference_group"] == r["group"]).all()
        both = f["value"].notna() & r["value"].notna()
        np.testing.assert_allclose(f.loc[both, "value"] * r.loc[both, "value"], 1.0, rtol=1e-12)
        ci = both & f["ci_lower"].notna()
        assert (ci == (both & r["ci_upper"].notna())).all()
        np.testing.assert_allclose(f.loc[ci, "ci_lower"], 1 / r.loc[ci, "ci_upper"], rtol=1e-12)
        np.testing.assert_allclose(f.loc[ci, "ci_upper"], 1 / r.loc[ci, "ci_lower"], rtol=1e-12)


# --- (c) all trusts at once = trust by trust ---------------------------------------------


@bounded(2)
@given(seed=st.integers(1, 2**31 - 1))
def test_all_trusts_at_once_equal_trust_by_trust(seed):
    tables = generated(seed % 7 + 100, 3, 650)
    ctx = MetricContext.from_tables(tables, ["2023-03-31", PERIOD], n_bootstrap=20)
    together = compute(ctx)
    trusts = sorted(tables["workforce"]["trust_code"].unique())
    assert len(trusts) == 3
    apart = pd.concat(
        [compute(MetricContext.from_tables(tables, ["2023-03-31", PERIOD], trusts=[t],
                                           n_bootstrap=20)) for t in trusts],
        ignore_index=True,
    )
    keys = ["trust_code", "period", "metric_id", "breakdown", "group"]
    apart = apart.sort_values(keys, kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(together, apart)
