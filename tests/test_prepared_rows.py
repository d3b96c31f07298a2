"""The runner's prepared rows: a report reads its trust's rows from the slice instead of
computing them, and must show exactly what it would have computed on its own.

The runner computes every trust's metrics in one pass per period
(``runner.prepare_metrics``) and writes each trust's rows into its slice; a
report narrows them to its own metrics. This checks, for every report
notebook, trust and period of the sample, that the rows (and the trend rows
of earlier snapshots) are identical to those the report computes from the
dataset folder itself, the path a notebook takes when run by hand.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from edi_analysis import report, runner
from edi_analysis.contract import validate_dataset
from edi_analysis.params import load_params

from test_runner import sample_dir

PERIODS = ["2023-03-31", "2024-03-31"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    data = sample_dir(tmp_path_factory)
    folder = tmp_path_factory.mktemp("prepared")
    f = folder / "p.yaml"
    f.write_text(f"data: {data}\nperiods: [{', '.join(PERIODS)}]\n", encoding="utf-8")
    params = load_params(f)
    dataset = validate_dataset(data).dataset
    trusts = sorted(dataset.tables["workforce"]["trust_code"].unique())
    rows = runner.prepare_metrics(dataset, params, trusts)
    settings = {"min_count": params.min_count,
                "min_survey_responses": params.min_survey_responses, "seed": params.seed}
    slices = {t: runner.write_slice(folder / t, dataset.tables, t, {"inputs": {}}, metrics={
        "settings": settings,
        "periods": {p: {k: rows[p][k][t] for k in ("rows", "trend")} for p in PERIODS}})
        for t in trusts}
    return data, trusts, slices, rows


# The largest and smallest sample trusts: the smallest has the most suppression.
@pytest.mark.parametrize("which", [0, -1])
@pytest.mark.parametrize("period", PERIODS)
def test_every_report_shows_the_rows_it_would_compute_itself(prepared, which, period):
    data, trusts, slices, _ = prepared
    trust = trusts[which]
    for nb in report.NOTEBOOKS:
        fast = report.load(nb, trust, period, slices[trust])
        slow = report.load(nb, trust, period, data)
        assert fast.prepared is not None and slow.prepared is None
        assert not fast.rows.empty
        pd.testing.assert_frame_equal(fast.rows, slow.rows, check_exact=True)
        pd.testing.assert_frame_equal(fast.trend_rows, slow.trend_rows, check_exact=True)
        # the overview's earlier rows are the dashboard's previous period (report.trend_ids)
        if period == PERIODS[0]:
            assert fast.trend_rows.empty
        else:
            assert set(fast.trend_rows["period"]) == {PERIODS[0]}


def test_prepared_rows_are_metrics_csv_rows(prepared):
    # The period rows are the trust's metrics.csv rows; flag labels survive the Parquet file.
    _, trusts, slices, rows = prepared
    trust = trusts[0]
    back = report.read_rows(slices[trust] / report.ROWS_DIR / f"{PERIODS[1]}-rows.parquet")
    pd.testing.assert_frame_equal(back, rows[PERIODS[1]]["rows"][trust], check_exact=True)
    # (a suppressed label row, e.g. a model label whose observed count is hidden, is blank)
    flags = back[back["unit"] == "flag"]
    labels = flags.loc[~flags["suppressed"], "value"]
    assert len(labels) > 0 and all(isinstance(v, str) for v in labels)
    assert flags.loc[flags["suppressed"], "value"].isna().all()
    assert back.loc[back["unit"] != "flag", "value"].map(lambda v: isinstance(v, float)).all()


def test_rows_prepared_with_other_settings_are_not_used(prepared):
    data, trusts, slices, _ = prepared
    trust = trusts[-1]
    r = report.load("02_hia2_recruitment", trust, PERIODS[1], slices[trust], min_count=10)
    assert r.prepared is None  # computed afresh with min_count 10, not the runner's 8
    assert r.rows["suppressed"].sum() >= report.load(
        "02_hia2_recruitment", trust, PERIODS[1], slices[trust]).rows["suppressed"].sum()


def test_a_slice_holding_another_trusts_rows_is_refused(prepared, tmp_path):
    import shutil

    _, trusts, slices, _ = prepared
    bad = tmp_path / "bad"
    shutil.copytree(slices[trusts[0]], bad)
    shutil.copy(slices[trusts[1]] / report.ROWS_DIR / f"{PERIODS[1]}-rows.parquet",
                bad / report.ROWS_DIR / f"{PERIODS[1]}-rows.parquet")
    meta = json.loads((bad / report.SLICE_MARKER).read_text())
    assert meta["trust"] == trusts[0]
    with pytest.raises(report.SliceError, match="prepared rows of"):
        report.load("02_hia2_recruitment", trusts[0], PERIODS[1], bad)
