"""``--executor dask``: the same notebooks, records, manifests and failures as the local executor.

A ``distributed.LocalCluster`` (two worker processes, one thread each) stands
in for a cluster. One trust, one period: a notebook that works, one that
raises, and the overview report notebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from edi_analysis import runner
from edi_analysis.params import load_params

from test_faults import _manifest_without_times
from test_warm_kernels import _normalised
from test_runner import _nb, sample_dir

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2024-03-31"
TIMINGS = ("duration", "kernel_start", "imports", "work", "host")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from distributed import LocalCluster

    from edi_analysis.contract import validate_dataset

    base = tmp_path_factory.mktemp("dask")
    data = sample_dir(tmp_path_factory)
    trust = sorted(validate_dataset(data).dataset.tables["workforce"]["trust_code"].unique())[-1]
    nbs = base / "nbs"
    nbs.mkdir()
    shutil.copy(ROOT / "notebooks" / "00_overview.ipynb", nbs)
    _nb(nbs / "01_ok.ipynb", "print('ok', trust, period)")
    _nb(nbs / "02_fail.ipynb", "raise ValueError('deliberate failure for ' + trust)")
    f = base / "p.yaml"
    f.write_text(f"data: {data}\nperiods: [{PERIOD}]\nnotebooks_dir: nbs\nreports_dir: reports\n",
                 encoding="utf-8")
    params = load_params(f, {"trusts": [trust]})
    folder = params.reports_dir / PERIOD / trust
    out = {}
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out["local"] = runner.run(params, jobs=2, progress=False)
    shutil.move(folder, base / "local")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster:
        with contextlib.redirect_stderr(err):
            out["dask"] = runner.run(params, executor="dask", scheduler=cluster.scheduler_address,
                                     progress=False)
    shutil.move(folder, base / "dask")
    return base, trust, out, err.getvalue()


def _records(result):
    return [{k: v for k, v in asdict(r).items() if k not in TIMINGS} for r in result.records]


def test_same_records_and_exit_status(both):
    _, trust, out, _ = both
    assert _records(out["dask"]) == _records(out["local"])
    status = {r.notebook: r.status for r in out["dask"].records}
    assert status == {"00_overview.ipynb": "ok", "01_ok.ipynb": "ok", "02_fail.ipynb": "failed"}
    assert out["dask"].exit_code == out["local"].exit_code == 1
    failed = out["dask"].failures[0]
    assert failed.error == f"ValueError: deliberate failure for {trust}"


def test_same_files_manifest_and_notebooks(both):
    base, _, _, _ = both
    local, dask = base / "local", base / "dask"
    assert sorted(p.name for p in dask.iterdir()) == sorted(p.name for p in local.iterdir())
    assert (dask / "metrics.csv").read_bytes() == (local / "metrics.csv").read_bytes()
    assert _manifest_without_times(dask / "manifest.json") == \
        _manifest_without_times(local / "manifest.json")
    for name in ("00_overview.ipynb", "01_ok.ipynb", "02_fail.ipynb"):
        assert _normalised(dask / name) == _normalised(local / name), name
    m = json.loads((dask / "manifest.json").read_text())
    assert m["status"] == "failed"


def test_summary_is_the_same(both):
    _, trust, _, err = both
    # both runs printed the same failure line
    line = f"FAILED 02_fail.ipynb for {trust} {PERIOD}: ValueError: deliberate failure for {trust}"
    assert err.count(line) == 2
