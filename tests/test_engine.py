"""The metrics engine (``metrics.compute``): all trusts in one pass, sorted rows, metrics.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edi_analysis import groups
from edi_analysis.metrics import FAMILIES, REGISTRY, MetricContext, compute, publishable
from edi_analysis.metrics.rows import KEYS

PERIODS = ["2023-03-31", "2024-03-31"]
TRUSTS = {"RAA": 320, "RBB": 110, "RCC": 35}  # headcount per snapshot: large, middling, small
# CONTRACT.md §5, in order.
METRICS_CSV_COLUMNS = [
    "trust_code",
    "period",
    "area",
    "metric_id",
    "breakdown",
    "group",
    "reference_group",
    "numerator",
    "denominator",
    "value",
    "ci_lower",
    "ci_upper",
    "unit",
    "suppressed",
    "note",
]


def _text(values) -> pd.Series:
    return pd.Series(values, dtype="object").astype("str")


def _flags(rng, n, p, p_missing=0.0):
    vals = pd.array(rng.random(n) < p, dtype="boolean")
    vals[rng.random(n) < p_missing] = pd.NA
    return vals


def synthetic_tables(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Typed workforce, recruitment and board tables for three trusts and two snapshots."""
    rng = np.random.default_rng(seed)
    ethnic = np.array(
        [*groups.WHITE_CODES] * 6 + [*groups.BME_CODES] + ["Z", "99", ""], dtype=object
    )
    wf, rec, brd = [], [], []
    for snapshot in PERIODS:
        for trust, n in TRUSTS.items():
            wf.append(
                pd.DataFrame(
                    {
                        "trust_code": trust,
                        "snapshot_date": snapshot,
                        "ethnic_category": rng.choice(ethnic, n),
                        "sex": rng.choice(["F", "F", "F", "M"], n),
                        "disability": rng.choice(["Y", "N", "N", "N", "N", "U", ""], n),
                        "staff_group": rng.choice(groups.STAFF_GROUPS, n),
                        "pay_band": rng.choice(groups.PAY_BANDS, n, p=_band_weights()),
                        "contract_type": rng.choice(["permanent"] * 8 + ["fixed_term", "bank"], n),
                        "accessed_nonmandatory_training": _flags(rng, n, 0.5, 0.05),
                    }
                )
            )
            m = int(rng.integers(7, 13))
            voting = rng.random(m) < 0.8
            brd.append(
                pd.DataFrame(
                    {
                        "trust_code": trust,
                        "snapshot_date": snapshot,
                        "role": rng.choice(groups.BOARD_ROLES, m),
                        "voting": pd.array(voting, dtype="boolean"),
                        "executive": pd.array(rng.random(m) < 0.5, dtype="boolean"),
                        "ethnic_category": rng.choice(ethnic, m),
                        "disability": rng.choice(["Y", "N", "U"], m),
                        "sex": rng.choice(["F", "M"], m),
                    }
                )
            )
    for trust, n in TRUSTS.items():
        k = 3 * n
        shortlisted = rng.random(k) < 0.45
        rec.append(
            pd.DataFrame(
                {
                    "trust_code": trust,
                    "applied_date": pd.Timestamp("2022-04-01")
                    + pd.to_timedelta(rng.integers(0, 731, k), unit="D"),
                    "ethnic_category": rng.choice(ethnic, k),
                    "disability": rng.choice(["Y", "N", "N", "U"], k),
                    "sex": rng.choice(["F", "M"], k),
                    "staff_group": rng.choice(groups.STAFF_GROUPS, k),
                    "pay_band": rng.choice(groups.PAY_BANDS, k),
                    "international_applicant": pd.array(rng.random(k) < 0.1, dtype="boolean"),
                    "shortlisted": pd.array(shortlisted, dtype="boolean"),
                    "appointed": pd.array(shortlisted & (rng.random(k) < 0.3), dtype="boolean"),
                }
            )
        )
    workforce = pd.concat(wf, ignore_index=True)
    workforce["staff_id"] = [f"S{i:06d}" for i in range(len(workforce))]
    recruitment = pd.concat(rec, ignore_index=True)
    recruitment["application_id"] = [f"A{i:06d}" for i in range(len(recruitment))]
    board = pd.concat(brd, ignore_index=True)
    board["member_id"] = [f"M{i:04d}" for i in range(len(board))]
    for df in (workforce, recruitment, board):
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = _text(df[col]).replace({"": np.nan}).astype("str")
        if "snapshot_date" in df:
            df["snapshot_date"] = pd.to_datetime(df["snapshot_date"])
    return {"workforce": workforce, "recruitment": recruitment, "board": board}


def _band_weights():
    w = np.ones(len(groups.PAY_BANDS))
    w[list(groups.PAY_BANDS).index("Band 5")] = 6  # a realistic bulk in Band 5
    w[list(groups.PAY_BANDS).index("Band 6")] = 4
    return w / w.sum()


OUR_METRICS = [m for fam in ("representation", "recruitment") for m in FAMILIES[fam].metric_ids]


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables()


@pytest.fixture(scope="module")
def internal(tables):
    """Suppressed rows with the internal columns (basis, n_values, label) kept."""
    return compute(MetricContext.from_tables(tables, periods=PERIODS), OUR_METRICS, internal=True)


@pytest.fixture(scope="module")
def all_at_once(internal):
    return publishable(internal)


def test_every_metric_of_both_families_is_produced(all_at_once):
    assert set(all_at_once["metric_id"]) == set(OUR_METRICS)
    assert set(all_at_once["trust_code"]) == set(TRUSTS)
    assert set(all_at_once["period"]) == set(PERIODS)


@pytest.mark.parametrize("trust", sorted(TRUSTS))
def test_all_trusts_at_once_equal_trust_by_trust(tables, internal, trust):
    # Internal columns included: unsuppressed inputs to suppression agree too.
    alone = compute(
        MetricContext.from_tables(tables, periods=PERIODS, trusts=[trust]),
        OUR_METRICS,
        internal=True,
    )
    together = internal[internal["trust_code"] == trust].reset_index(drop=True)
    assert len(alone) > 0
    pd.testing.assert_frame_equal(alone, together)
    pd.testing.assert_frame_equal(publishable(alone), publishable(together))


def test_rows_sorted_by_keys_and_unique(all_at_once):
    keys = all_at_once[KEYS]
    assert KEYS == ["trust_code", "period", "metric_id", "breakdown", "group"]
    resorted = keys.sort_values(KEYS, kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(keys, resorted)
    assert not keys.duplicated().any()


def test_publishable_columns_are_exactly_contract_section_5(all_at_once):
    assert list(all_at_once.columns) == METRICS_CSV_COLUMNS


def test_area_and_unit_come_from_the_registry(all_at_once):
    assert (all_at_once["area"] == all_at_once["metric_id"].map(lambda m: REGISTRY[m].area)).all()
    assert (all_at_once["unit"] == all_at_once["metric_id"].map(lambda m: REGISTRY[m].unit)).all()


def test_suppression_is_applied(all_at_once):
    # The small trust has cells of 1–7 somewhere; every shown count is 0 or at least 8.
    # Board counts (WRES 9, WDES 10, HIA1: the registry's counts=()) are public and never
    # suppressed for their own sake (CONTRACT.md §4.8).
    assert all_at_once["suppressed"].any()
    shown = all_at_once[~all_at_once["suppressed"]]
    counted = shown["metric_id"].map(lambda m: "numerator" in REGISTRY[m].counts)
    assert not shown.loc[counted, "numerator"].between(1, 7).any()
    board = shown[shown["metric_id"].isin(["wres.9.board_gap", "wdes.10.board_gap"])]
    assert board["numerator"].notna().all()  # the board's own counts (public) are published
    # Board gaps are not suppressed for their own sake, only with a workforce count they
    # subtract (the public board make-up would give it away): a gap is never shown beside an
    # overall share of its group that is suppressed for its own small count (the share row
    # may be hidden for its denominator, which the gap does not give away).
    for gap, share, group in (("wres.9.board_gap", "wres.1.share", "BME"),
                              ("wdes.10.board_gap", "wdes.1.share", "Disabled")):
        overall = all_at_once[(all_at_once["metric_id"] == share) & (all_at_once["breakdown"] == "")
                              & (all_at_once["group"] == group)].set_index(["trust_code", "period"])
        gaps = all_at_once[(all_at_once["metric_id"] == gap) & ~all_at_once["suppressed"]]
        assert len(gaps) > 0
        for t, p in zip(gaps["trust_code"], gaps["period"]):
            assert not overall.loc[(t, p), "note"].startswith("suppressed: based on"), (gap, t, p)


def test_selected_ids_only(tables):
    out = compute(
        MetricContext.from_tables(tables, periods=PERIODS), ["wres.2.relative_likelihood"]
    )
    assert set(out["metric_id"]) == {"wres.2.relative_likelihood"}
    assert len(out) == len(TRUSTS) * len(PERIODS)


def test_unknown_metric_id_raises(tables):
    ctx = MetricContext.from_tables(tables, periods=PERIODS)
    with pytest.raises(KeyError, match="no.such.metric"):
        compute(ctx, ["wres.1.share", "no.such.metric"])


def test_same_inputs_same_rows(tables, all_at_once):
    again = compute(MetricContext.from_tables(tables, periods=PERIODS), OUR_METRICS)
    assert again.to_csv(index=False) == all_at_once.to_csv(index=False)


# --- Every registered family, on the sample generator's data through the validator -------------


@pytest.fixture(scope="module")
def sample_tables(tmp_path_factory):
    from edi_analysis import sample
    from edi_analysis.contract import validate_dataset

    out = tmp_path_factory.mktemp("sample")
    sample.write_sample(out, trusts=2, staff=800, seed=11)
    report = validate_dataset(out)
    assert report.ok, report.errors[:5]
    return report.dataset.tables


def test_every_family_all_trusts_at_once_equal_trust_by_trust(sample_tables):
    # n_bootstrap kept small: equality, not precision, is under test.
    together = compute(
        MetricContext.from_tables(sample_tables, PERIODS, n_bootstrap=40), internal=True
    )
    assert set(together["metric_id"]) >= set(OUR_METRICS)
    assert list(publishable(together).columns) == METRICS_CSV_COLUMNS
    keys = together[KEYS]
    pd.testing.assert_frame_equal(keys, keys.sort_values(KEYS, kind="stable", ignore_index=True))
    assert not keys.duplicated().any()
    trust = sorted(together["trust_code"].unique())[-1]
    alone = compute(
        MetricContext.from_tables(sample_tables, PERIODS, trusts=[trust], n_bootstrap=40),
        internal=True,
    )
    pd.testing.assert_frame_equal(
        alone, together[together["trust_code"] == trust].reset_index(drop=True)
    )


def test_published_rows_do_not_depend_on_which_other_metrics_are_requested(sample_tables):
    # A report notebook asks for its own metrics only; what it shows must be exactly what
    # metrics.csv (every metric) shows for them: same rows, same suppression.
    from edi_analysis import report

    ctx = MetricContext.from_tables(sample_tables, PERIODS, n_bootstrap=40)
    everything = compute(ctx)
    requests = [report.Report(trust=None, period=PERIODS[-1], data="", notebook=nb).ids()
                for nb in report.NOTEBOOKS]
    requests += [[m] for m in ("wres.9.board_gap", "wdes.10.board_gap",
                               "hia2.representation_ratio", "hia6.disparity")]
    for ids in requests:
        got = compute(ctx, ids)
        want = everything[everything["metric_id"].isin(ids)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
