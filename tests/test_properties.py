"""Property tests (hypothesis) for the laws the methodology promises (DESIGN.md §5).

(a) Suppression never publishes a count of 1..min_count−1, directly or by
    subtraction within a partition whose total is shown (CONTRACT.md §4.8);
    on random tables through ``stats.apply_suppression`` and on the real
    metric families over random small datasets.
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
from edi_analysis.metrics.rows import make_rows, min_positive

PERIOD = "2024-03-31"
def bounded(n: int) -> settings:
    """At most ``n`` examples, no per-example deadline (the real-data examples take seconds)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- (a) suppression on random tables ----------------------------------------------------


def two_way_rows(counts: np.ndarray) -> pd.DataFrame:
    """Share rows of a breakdown × group table with both margins shown.

    Row b of ``counts`` is breakdown ``x=b``: its groups are shares of its
    total (partition ``m:x=b``); each group's counts across breakdowns add up
    to the overall row of that group (partition ``m:x=*:g``), which is
    published as well (breakdown "", group g) — the shape of WRES 1 by pay
    cluster, of outcome shares by group and of leaver rates by age band.
    """
    n_b, n_g = counts.shape
    parts = []
    for b in range(n_b):
        k = counts[b].astype("float64")
        n = np.full(n_g, k.sum())
        parts.append(make_rows(
            trust_code="RAA", period=PERIOD, metric_id="wres.1.share", breakdown=f"x={b}",
            group=[f"g{g}" for g in range(n_g)], numerator=k, denominator=n,
            value=np.where(n > 0, 100 * k / np.where(n > 0, n, 1), np.nan), basis="rate",
            min_cell=min_positive(k, n),
            partition=[f"m:x={b}|m:x=*:g{g}" for g in range(n_g)],
        ))
    k = counts.sum(axis=0).astype("float64")
    n = np.full(n_g, k.sum())
    parts.append(make_rows(
        trust_code="RAA", period=PERIOD, metric_id="wres.1.share", breakdown="",
        group=[f"g{g}" for g in range(n_g)], numerator=k, denominator=n,
        value=np.where(n > 0, 100 * k / np.where(n > 0, n, 1), np.nan), basis="rate",
        min_cell=min_positive(k, n), partition="m:",
    ))
    return pd.concat(parts, ignore_index=True)


def exposed_partitions(suppressed: np.ndarray, raw: pd.DataFrame) -> list[str]:
    """Partitions from whose shown total one hidden cell could be recovered, though more could be hidden.

    Shown cells subtracted from the total leave the sum of the hidden cells;
    that sum is one cell's count when exactly one hidden cell has a non-zero
    numerator (or denominator). Such a partition is a leak unless nothing
    helpful is left to hide (no shown cell with a non-zero count of that
    kind): then the total equals that one cell, and the callers check the
    total is hidden wherever that cell is small.
    """
    members = stats.partition_members(raw)
    pos = members["_pos"].to_numpy()
    num = raw["numerator"].to_numpy(dtype="float64")[pos] > 0
    den = raw["denominator"].to_numpy(dtype="float64")[pos] > 0
    hid = suppressed[pos]
    m = members.assign(num=num & hid, den=den & hid, room_num=num & ~hid, room_den=den & ~hid)
    per = m.groupby(["trust_code", "period", "name"])[["num", "den", "room_num", "room_den"]].sum()
    leak = ((per["num"] == 1) & (per["room_num"] > 0)) | ((per["den"] == 1) & (per["room_den"] > 0))
    return [" ".join(map(str, k)) for k in per.index[leak]]


@bounded(80)
@given(
    st.integers(2, 4).flatmap(lambda b: st.integers(2, 4).flatmap(
        lambda g: st.lists(st.integers(0, 20), min_size=b * g, max_size=b * g).map(
            lambda v: np.array(v).reshape(b, g)))),
    st.integers(3, 10),
)
def test_suppression_of_a_two_way_table_never_leaks(counts, min_count):
    raw = two_way_rows(counts)
    out = stats.apply_suppression(raw, min_count=min_count)
    sup = out["suppressed"].to_numpy()
    shown = out[~sup]
    # Directly: no published count in 1..min_count−1.
    assert not shown["numerator"].between(1, min_count - 1).any()
    assert not shown["denominator"].between(1, min_count - 1).any()
    # By subtraction: no partition with a shown total has one recoverable hidden cell.
    assert exposed_partitions(sup, raw) == []
    # Where one non-zero hidden cell is left with nothing else to hide, the total equals
    # it: the total must be hidden too when that count is small.
    n_b, n_g = counts.shape
    grid = sup[: n_b * n_g].reshape(n_b, n_g)
    overall = sup[n_b * n_g:]
    for g in range(n_g):
        lone = [b for b in range(n_b) if grid[b, g] and counts[b, g] > 0]
        if len(lone) == 1 and counts[lone[0], g] < min_count:
            assert overall[g], f"group g{g}: the overall count is the hidden {counts[lone[0], g]}"
    for b in range(n_b):
        lone = [g for g in range(n_g) if grid[b, g] and counts[b, g] > 0]
        if len(lone) == 1 and counts[b, lone[0]] < min_count:
            assert grid[b].all(), f"x={b}: the shown total is the hidden {counts[b, lone[0]]}"


def test_two_way_table_hand_example():
    # counts (rows x=0, x=1; groups g0, g1, g2); overall g0 = 33, g1 = 15, g2 = 32 shown.
    #   x=0: 30  3  20     primary: the two 3s.
    #   x=1:  3 12  12
    # Pass 1 (every partition on the same mask): x=0 hides its next smallest non-zero
    # cell, 20; x=1 its 12 (g1, first of the tie); column g0 (3 hidden at x=1) hides 30;
    # column g1 (3 hidden at x=0) takes x=1's 12 (already chosen).
    # Pass 2: column g2 now has one hidden cell (20), so x=1's g2 12 goes too.
    # Pass 3: every partition has 0 or ≥ 2 hidden non-zero cells: stable. The overall
    # rows stay (33, 15, 32 are not small, and their own partition has nothing hidden).
    raw = two_way_rows(np.array([[30, 3, 20], [3, 12, 12]]))
    out = stats.apply_suppression(raw, min_count=8)
    assert out["suppressed"].tolist() == [True] * 6 + [False] * 3


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
    tables = thinned(generated(seed % 7, 2, 450), keep, seed)
    ctx = MetricContext.from_tables(tables, [PERIOD], n_bootstrap=10)
    rows = compute(ctx, internal=True, min_count=min_count, min_survey_responses=min_survey)
    sup = rows["suppressed"].to_numpy()
    # Suppressed rows keep their row with every figure blank.
    assert rows.loc[sup, list(stats.BLANKED)].isna().all().all()
    # Directly: no count column of a published row holds 1..threshold−1 (MetricSpec.counts).
    threshold = {"min_count": min_count, "min_survey_responses": min_survey}
    for metric_id, shown in rows[~sup].groupby("metric_id"):
        spec = REGISTRY[metric_id]
        for col in spec.counts:
            v = shown[col]
            small = v[(v > 0) & (v < threshold[spec.count_rule])]
            assert small.empty, f"{metric_id} {col}: {small.tolist()}"
    # By subtraction: no declared partition is left exposed.
    assert exposed_partitions(sup, rows) == []


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
