"""The runner: failures collected and reported, atomic report folders, manifest, kernel."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from edi_analysis import runner
from edi_analysis.params import load_params
from edi_analysis.pipeline import UsageError

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2024-03-31"


def sample_dir(tmp_path_factory) -> Path:
    """The sample dataset: data/sample when present, else generated once per session."""
    shipped = ROOT / "data" / "sample"
    if (shipped / "workforce.csv").exists() or (shipped / "workforce.parquet").exists():
        return shipped
    out = tmp_path_factory.getbasetemp() / "sample-data"
    if not (out / "workforce.csv").exists():
        from edi_analysis import sample

        sample.write_sample(out)
    return out


def _nb(path: Path, body: str) -> None:
    params = new_code_cell("trust = None\nperiod = None\ndata = None\npeers = None\n"
                           "min_count = 8\nmin_survey_responses = 11\nseed = 0\ninputs = None\n"
                           "mapping = None\nsettings = None\ntrust_names = None\nprepared = None")
    params.metadata["tags"] = ["parameters"]
    imports = new_code_cell("import json, sys")
    imports.metadata["tags"] = ["imports"]
    nb = new_notebook(cells=[params, imports, new_code_cell(body)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A params file over the sample data with two tiny notebooks: one works, one raises."""
    base = tmp_path_factory.mktemp("runner")
    nbs = base / "nbs"
    nbs.mkdir()
    _nb(nbs / "01_ok.ipynb", "print(sys.executable, trust, period)")
    _nb(nbs / "02_fail.ipynb", "raise ValueError('deliberate failure for ' + trust)")
    data = sample_dir(tmp_path_factory)
    f = base / "p.yaml"
    f.write_text(f"data: {data}\nperiods: [{PERIOD}]\nnotebooks_dir: nbs\nreports_dir: reports\n",
                 encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def failing_run(toy, tmp_path_factory):
    import contextlib
    import io

    from edi_analysis.contract import validate_dataset

    trust = sorted(validate_dataset(load_params(toy).data).dataset.tables["workforce"]
                   ["trust_code"].unique())[0]
    params = load_params(toy, {"trusts": [trust]})
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        result = runner.run(params, jobs=2, progress=False)
    return params, trust, result, err.getvalue()


def test_one_failure_does_not_stop_the_others(failing_run):
    params, trust, result, _ = failing_run
    status = {r.notebook: r.status for r in result.records}
    assert status == {"01_ok.ipynb": "ok", "02_fail.ipynb": "failed"}
    assert result.exit_code == 1
    folder = params.reports_dir / PERIOD / trust
    ok = nbformat.read(folder / "01_ok.ipynb", as_version=4)
    # the kernel is this environment's interpreter
    import sys

    assert sys.executable in ok.cells[-1].outputs[0]["text"]


def test_summary_names_the_failure_and_where_it_is_kept(failing_run):
    params, trust, result, err = failing_run
    kept = params.reports_dir / PERIOD / trust / "02_fail.ipynb"
    assert f"FAILED 02_fail.ipynb for {trust} {PERIOD}: ValueError: deliberate failure for {trust}" in err
    assert f"kept at {kept}" in err
    assert "ran 2 notebooks (1 trust × 1 period)" in err and "1 ok, 1 failed" in err
    failed = nbformat.read(kept, as_version=4)
    errors = [o for c in failed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors and errors[0]["ename"] == "ValueError"


def test_manifest_records_the_failure_and_provenance(failing_run):
    params, trust, result, _ = failing_run
    m = json.loads((params.reports_dir / PERIOD / trust / "manifest.json").read_text())
    assert m["status"] == "failed"
    assert (m["trust"], m["period"]) == (trust, PERIOD)
    assert m["parameters"]["min_count"] == 8 and m["parameters"]["periods"] == [PERIOD]
    by_name = {n["notebook"]: n for n in m["notebooks"]}
    assert by_name["02_fail.ipynb"]["status"] == "failed"
    assert "deliberate failure" in by_name["02_fail.ipynb"]["error"]
    ok = by_name["01_ok.ipynb"]
    assert ok["status"] == "ok" and ok["duration"] > 0
    # the split is measured, and its parts fit inside the wall time
    assert ok["kernel_start"] > 0 and ok["imports"] >= 0 and ok["work"] >= 0
    assert ok["kernel_start"] + ok["imports"] + ok["work"] <= ok["duration"] + 0.01
    assert set(m["versions"]) >= {"edi-analysis", "pandas", "papermill", "nbclient", "seaborn"}
    assert "git_commit" in m and m["started"] <= m["finished"]


def test_manifest_hashes_match_the_input_files(failing_run):
    from edi_analysis.io import sha256_file

    params, trust, _, _ = failing_run
    m = json.loads((params.reports_dir / PERIOD / trust / "manifest.json").read_text())
    files = {p.name for p in params.data.iterdir() if p.suffix in (".csv", ".parquet")}
    assert set(m["inputs"]) == files
    for name, digest in m["inputs"].items():
        assert digest == sha256_file(params.data / name)


def test_metrics_csv_written_for_the_trust(failing_run):
    import pandas as pd

    params, trust, _, _ = failing_run
    rows = pd.read_csv(params.reports_dir / PERIOD / trust / "metrics.csv")
    assert set(rows["trust_code"]) == {trust} and set(rows["period"]) == {PERIOD}


def test_no_staging_or_temporary_folders_left(failing_run):
    params, _, _, _ = failing_run
    leftovers = [p.name for p in params.reports_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_interrupted_run_leaves_old_report_untouched(toy, failing_run, monkeypatch):
    params, trust, _, _ = failing_run
    folder = params.reports_dir / PERIOD / trust
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def interrupted(tasks, *a, **k):
        raise KeyboardInterrupt  # as if Ctrl-C arrived while notebooks were running

    monkeypatch.setattr(runner, "_execute_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run(params, jobs=1, progress=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p for p in params.reports_dir.iterdir() if p.name.startswith(".")] == []


def _own_report(target: Path, trust="RXA", period=PERIOD, files=("metrics.csv",)) -> None:
    """A report folder as the runner writes it: the files and a manifest listing them."""
    target.mkdir(parents=True)
    for name in files:
        (target / name).write_text("old")
    (target / "manifest.json").write_text(json.dumps({
        "trust": trust, "period": period, "notebooks": [],
        "files": {name: hashlib.sha256(b"old").hexdigest() for name in files}}))


def test_install_replaces_only_a_complete_folder(tmp_path):
    target = tmp_path / "reports" / PERIOD / "RXA"
    _own_report(target)
    stage = tmp_path / ".staging" / "RXA"
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text("{}")
    runner._install(stage, target)
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json"]
    assert not stage.exists()
    assert [p.name for p in target.parent.iterdir()] == ["RXA"]


@pytest.mark.parametrize("plant", ["notes.txt", "changed", "no-manifest", "subfolder"])
def test_install_never_replaces_what_the_tool_did_not_write(tmp_path, plant):
    target = tmp_path / "reports" / PERIOD / "RXA"
    if plant == "no-manifest":
        target.mkdir(parents=True)
        (target / "workforce.csv").write_text("a real extract")
    else:
        _own_report(target)
        if plant == "notes.txt":
            (target / "notes.txt").write_text("the analyst's notes")
        elif plant == "changed":
            (target / "metrics.csv").write_text("edited by hand")
        else:
            (target / "drafts").mkdir()
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    stage = tmp_path / ".staging" / "RXA"
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text("{}")
    with pytest.raises(Exception, match=f"{target}: ") as refused:  # report_folders.FolderRefused
        runner._install(stage, target)
    assert type(refused.value).__name__ == "FolderRefused"
    assert {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()} \
        == before
    assert stage.is_dir()


def _toy_params(tmp_path: Path, toy: Path, trust: str, **extra) -> Path:
    """The toy notebooks and data with their own reports folder under ``tmp_path``."""
    data = load_params(toy).data
    lines = [f"data: {data}", f"periods: [{PERIOD}]", f"notebooks_dir: {toy.parent / 'nbs'}",
             "reports_dir: reports", "site_dir: site", f"trusts: [{trust}]"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    f = tmp_path / "p.yaml"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f


def _quiet_run(params, **kw):
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        result = runner.run(params, jobs=1, progress=False, **kw)
    return result, err.getvalue()


def test_a_partial_rerun_keeps_the_other_notebooks_and_merges_the_manifest(tmp_path, toy,
                                                                            failing_run):
    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    first, _ = _quiet_run(load_params(f))
    folder = tmp_path / "reports" / PERIOD / trust
    failed_before = (folder / "02_fail.ipynb").read_bytes()
    old = json.loads((folder / "manifest.json").read_text())
    second, _ = _quiet_run(load_params(f, {"notebooks": ["01_ok"]}))
    assert [r.notebook for r in second.records] == ["01_ok.ipynb"]
    # the notebook it did not run is still there, byte for byte
    # (and the peers file both runs' notebooks read: the same figures, so the same file)
    names = sorted(p.name for p in folder.iterdir())
    # (metrics-trend.csv: the 2023 snapshot's rows the trend charts show beside 2024's)
    assert [n for n in names if not n.startswith(runner.PEERS_PREFIX)] == [
        "01_ok.ipynb", "02_fail.ipynb", "manifest.json", "metrics-trend.csv", "metrics.csv"]
    assert len([n for n in names if n.startswith(runner.PEERS_PREFIX)]) == 1
    assert (folder / "02_fail.ipynb").read_bytes() == failed_before
    m = json.loads((folder / "manifest.json").read_text())
    by_name = {n["notebook"]: n for n in m["notebooks"]}
    assert by_name["01_ok.ipynb"]["run"] == m["run"] != old["run"]
    assert by_name["02_fail.ipynb"]["run"] == old["run"]  # made by the first run
    assert by_name["02_fail.ipynb"]["status"] == "failed" and m["status"] == "failed"
    assert set(m["runs"]) == {m["run"], old["run"]}
    assert m["runs"][old["run"]]["started"] == old["started"]
    # every file is listed with its hash: the next run can tell the folder is the tool's
    assert {f for f in m["files"] if not f.startswith(runner.PEERS_PREFIX)} == {
        "01_ok.ipynb", "02_fail.ipynb", "metrics-trend.csv", "metrics.csv"}
    assert m["files"]["02_fail.ipynb"] == hashlib.sha256(failed_before).hexdigest()
    # and a later partial re-run with other thresholds is refused: the folder would mix rules
    stricter = dataclasses.replace(load_params(f, {"notebooks": ["01_ok"]}), min_count=11)
    with pytest.raises(UsageError, match="were run with min_count 8"):
        runner.run(stricter, jobs=1, progress=False)
    assert (folder / "02_fail.ipynb").read_bytes() == failed_before


def test_a_run_refuses_a_report_folder_holding_other_files(tmp_path, toy, failing_run):
    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    folder = tmp_path / "reports" / PERIOD / trust
    folder.mkdir(parents=True)
    (folder / "workforce.csv").write_text("a real extract\n")
    with pytest.raises(UsageError, match="not a report folder of this tool"):
        runner.run(load_params(f), jobs=1, progress=False)
    assert [p.name for p in folder.iterdir()] == ["workforce.csv"]
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [PERIOD]  # no staging left


def test_notebooks_and_manifest_hold_no_absolute_local_paths(failing_run):
    params, trust, _, _ = failing_run
    folder = params.reports_dir / PERIOD / trust
    nb = json.loads((folder / "01_ok.ipynb").read_text())
    assert nb["metadata"]["papermill"]["input_path"] == "01_ok.ipynb"
    assert nb["metadata"]["papermill"]["output_path"] == f"{PERIOD}/{trust}/01_ok.ipynb"
    m = json.loads((folder / "manifest.json").read_text())
    for key in ("data", "reports_dir", "notebooks_dir", "params_file"):
        assert not Path(m["parameters"][key]).is_absolute(), key
        # relative to the report folder, they name the same places
        assert (folder / m["parameters"][key]).resolve() == Path(getattr(params, key)).resolve()
    # the notebook records the absolute paths a re-run needs (the dataset, the kept peers
    # file); the site's copy replaces them by their file names
    recorded = nb["metadata"]["papermill"]["parameters"]
    assert recorded["data"] == os.path.abspath(params.data)
    assert Path(recorded["peers"]).parent == folder and recorded["prepared"] is None
    from edi_analysis.publish.content import published_notebook

    site_copy = published_notebook(folder / "01_ok.ipynb")
    # what the runner writes (the toy notebook itself prints sys.executable: not the runner's)
    written = [json.dumps(site_copy["metadata"]), (folder / "manifest.json").read_text()]
    written += ["".join(c["source"]) for c in site_copy["cells"]]
    for text in written:
        for root in (str(ROOT), str(Path.home()), str(params.data), str(params.reports_dir)):
            assert f'"{root}' not in text and f" {root}" not in text, (text[:80], root)


def test_staging_is_private_and_a_stale_one_is_removed_at_the_next_start(tmp_path, toy,
                                                                         failing_run,
                                                                         monkeypatch):
    from edi_analysis import folders

    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    reports = tmp_path / "reports"
    reports.mkdir()
    # what `kill -9` leaves: a staging folder with a person-level slice, owned by a dead process
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = reports / ".staging-20240101T000000-abcdef-x1"
    (stale / "_work" / "slices" / trust).mkdir(parents=True)
    (stale / "_work" / "slices" / trust / "workforce.parquet").write_bytes(b"person-level")
    (stale / folders.OWNER_FILE).write_text(json.dumps(folders.owner_record(dead.pid)))
    alive = reports / ".staging-20240101T000000-fedcba-x2"  # a run still going: kept
    alive.mkdir()
    (alive / folders.OWNER_FILE).write_text(json.dumps(folders.owner_record()))
    unmarked = reports / ".staging-old-version"  # not provably the tool's: kept, reported
    unmarked.mkdir()
    seen = {}
    real_write_slice = runner.write_slice

    def spy(folder, *a, **k):  # look at the run's own staging folder while it exists
        root = folder.parents[2]
        seen["mode"] = root.stat().st_mode & 0o777
        seen["owner"] = json.loads((root / folders.OWNER_FILE).read_text())
        return real_write_slice(folder, *a, **k)

    monkeypatch.setattr(runner, "write_slice", spy)
    result, err = _quiet_run(load_params(f, {"notebooks": ["01_ok"]}))
    assert result.exit_code == 0, err
    assert not stale.exists() and f"removed {stale}" in err
    assert alive.is_dir() and unmarked.is_dir()
    assert f"warning: {unmarked}" in err
    assert seen["mode"] == 0o700
    assert seen["owner"]["pid"] == os.getpid() and seen["owner"]["start_time"] is not None
    assert sorted(p.name for p in reports.iterdir()) == sorted([PERIOD, alive.name, unmarked.name])


def test_disk_full_while_preparing_ends_in_one_line_and_leaves_nothing(tmp_path, toy, failing_run,
                                                                       monkeypatch, capsys):
    import errno

    from edi_analysis.cli import main

    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    assert main(["run", str(f), "--notebook", "01_ok", "--no-progress"]) == 0
    folder = tmp_path / "reports" / PERIOD / trust
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()

    def full(folder, *a, **k):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "workforce.parquet").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_slice", full)
    assert main(["run", str(f), "--notebook", "01_ok", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edi-analysis run: error: ")
    assert err[-1].endswith(": No space left on device") and ".staging-" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [PERIOD]


def test_reports_dir_that_is_a_file_or_unwritable_ends_in_one_line(tmp_path, toy, failing_run,
                                                                   capsys, monkeypatch):
    from edi_analysis.cli import main

    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    (tmp_path / "reports").write_text("a file")
    assert main(["run", str(f), "--no-progress"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f"edi-analysis run: error: {tmp_path / 'reports'}: is not a folder"
    (tmp_path / "reports").unlink()

    from edi_analysis import folders

    real_mkdtemp = folders.tempfile.mkdtemp

    def denied(*a, **k):  # the reports folder is read-only
        raise PermissionError(13, "Permission denied", k.get("dir"))

    monkeypatch.setattr(folders.tempfile, "mkdtemp", denied)
    assert main(["run", str(f), "--no-progress"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f"edi-analysis run: error: {tmp_path / 'reports'}: Permission denied"
    monkeypatch.setattr(folders.tempfile, "mkdtemp", real_mkdtemp)


def test_a_read_only_reports_folder_ends_in_one_line(tmp_path, toy, failing_run, capsys,
                                                     read_only_dir):
    from edi_analysis.cli import main

    _, trust, _, _ = failing_run
    f = _toy_params(tmp_path, toy, trust)
    f.write_text(f.read_text().replace("reports_dir: reports", f"reports_dir: {read_only_dir}"))
    assert main(["run", str(f), "--no-progress"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"edi-analysis run: error: {read_only_dir}")
    assert last.endswith(("Read-only file system", "Permission denied")), last


def test_invalid_data_exits_1_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "workforce.csv").write_text("staff_id\n1\n", encoding="utf-8")
    f = tmp_path / "p.yaml"
    f.write_text(f"data: data\nperiods: [{PERIOD}]\nreports_dir: reports\n", encoding="utf-8")
    result = runner.run(load_params(f), jobs=1, progress=False)
    assert result.exit_code == 1 and result.invalid
    assert not (tmp_path / "reports").exists()
    assert "invalid:" in capsys.readouterr().err


def test_executor_options_are_checked(toy):
    from edi_analysis.pipeline import UsageError

    with pytest.raises(UsageError, match="needs --scheduler"):
        runner.run(load_params(toy), executor="dask")
    with pytest.raises(UsageError, match="only used with --executor dask"):
        runner.run(load_params(toy), scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(UsageError, match="unknown executor"):
        runner.run(load_params(toy), executor="slurm")


def test_kernelspec_runs_this_interpreter(tmp_path):
    import sys

    root = runner.kernelspec_dir(tmp_path)
    spec = json.loads((root / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    env = runner._kernel_env(root)
    assert env["JUPYTER_PATH"].split(":")[0] == str(root)


def test_split_timing_from_papermill_metadata():
    nb = new_notebook(cells=[new_code_cell("a"), new_code_cell("b"), new_code_cell("c")])
    nb.cells[1].metadata["tags"] = ["imports"]
    for cell, (start, dur) in zip(nb.cells, [("2024-01-01T00:00:03Z", 0.5),
                                             ("2024-01-01T00:00:03.5Z", 2.0),
                                             ("2024-01-01T00:00:05.5Z", 4.0)]):
        cell.metadata["papermill"] = {"start_time": start, "duration": dur}
    from datetime import datetime, timezone

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
    # kernel start = first cell start − t0 = 3 s; imports = 2.0; work = 0.5 + 4.0
    assert runner._split_timing(nb, t0) == {"kernel_start": 3.0, "imports": 2.0, "work": 4.5}


def test_trend_rows_are_written_beside_metrics_csv_from_the_same_decision(failing_run):
    # The reports show the earlier snapshot's rows as trends; they are published, so they go in
    # the report folder (metrics.csv columns) for the audit, and they are the earlier period's
    # own rows: one suppression decision over every period the run publishes.
    import pandas as pd

    from edi_analysis import audit, pipeline, report
    from edi_analysis.contract import validate_dataset

    params, trust, _, _ = failing_run
    folder = params.reports_dir / PERIOD / trust
    trend = pd.read_csv(folder / runner.TREND_CSV, keep_default_na=False)
    assert list(trend.columns) == list(audit.METRICS_COLUMNS)
    assert set(trend["trust_code"]) == {trust} and set(trend["period"]) == {"2023-03-31"}
    assert set(trend["metric_id"]) <= set(report.all_trend_ids()) and len(trend) > 20
    dataset = validate_dataset(params.data).dataset
    earlier = pipeline.compute_metrics(dataset, ["2023-03-31"], [trust],
                                       metric_ids=report.all_trend_ids())
    assert (folder / runner.TREND_CSV).read_bytes() == pipeline.metrics_csv_bytes(earlier)
    # The audit reads it with metrics.csv, across both.
    rep = audit.audit([folder / "metrics.csv", folder / runner.TREND_CSV], params.data)
    assert rep.metrics_tables == 2 and rep.ok, [f.format() for f in rep.findings[:3]]
