"""`sample-data` and `metrics` never overwrite what they did not write; environment errors end in
one line naming the path and the cause (exit 1) and leave nothing half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from edi_analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MARKER = ".edi-analysis-sample.json"  # edi_analysis.sample.SAMPLE_MARKER
SAMPLE = ROOT / "data" / "sample"
PERIOD = "2024-03-31"
SMALL = ["--trusts", "1", "--staff", "200", "--seed", "3"]
FAST = ["--period", PERIOD, "--trust", "ZZ001", "--metric", "wres.1.share"]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _last_line(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


# --- sample-data ----------------------------------------------------------------------------

def test_sample_data_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    out = tmp_path / "extract"
    out.mkdir()
    (out / "workforce.csv").write_text("staff_id,trust_code\nREAL0001,RXA\n")
    before = _hashes(out)
    assert main(["sample-data", str(out), *SMALL]) == 2
    assert "the folder is not empty (workforce.csv)" in _last_line(capsys)
    assert _hashes(out) == before


def test_force_never_overwrites_a_file_sample_data_did_not_write(tmp_path, capsys):
    out = tmp_path / "extract"
    out.mkdir()
    (out / "workforce.csv").write_text("staff_id,trust_code\nREAL0001,RXA\n")
    (out / "notes.txt").write_text("mine")
    before = _hashes(out)
    assert main(["sample-data", str(out), *SMALL, "--force"]) == 2
    assert "refusing to overwrite workforce.csv (not written by sample-data)" in _last_line(capsys)
    assert _hashes(out) == before  # and no temporary file is left either


def test_force_rewrites_its_own_sample_and_leaves_other_files(tmp_path):
    out = tmp_path / "sample"
    assert main(["sample-data", str(out), *SMALL]) == 0
    marker = json.loads((out / SAMPLE_MARKER).read_text())
    assert marker["generator"] == "edi-analysis" and "workforce.csv" in marker["files"]
    (out / "notes.txt").write_text("mine")
    first = (out / "workforce.csv").read_bytes()
    assert main(["sample-data", str(out), "--trusts", "1", "--staff", "200", "--seed", "4",
                 "--force"]) == 0
    assert (out / "workforce.csv").read_bytes() != first  # a new seed: new rows
    assert (out / "notes.txt").read_text() == "mine"
    # the other format: its own CSV files are replaced by Parquet (never both: ambiguous)
    assert main(["sample-data", str(out), *SMALL, "--format", "parquet", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        ["notes.txt"] + [f"{n}.parquet" for n in (
            "actions", "board", "employee_relations", "external_indicators", "recruitment",
            "staff_survey", "staff_survey_results", "workforce")])
    assert main(["validate", str(out)]) == 0


def test_force_regenerates_the_committed_sample_as_it_is(tmp_path):
    out = tmp_path / "sample"
    shutil.copytree(SAMPLE, out)
    before = _hashes(out)
    assert main(["sample-data", str(out), "--force"]) == 0  # identical bytes: nothing lost
    after = _hashes(out)
    assert {k: v for k, v in after.items() if k != SAMPLE_MARKER} == before


def test_sample_data_into_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["sample-data", str(tmp_path / "f"), *SMALL]) == 2
    assert "is a file, not a folder" in _last_line(capsys)


def test_disk_full_while_writing_the_sample_leaves_no_file_and_no_folder(tmp_path, monkeypatch,
                                                                       capsys):
    out = tmp_path / "new" / "sample"
    calls = []
    real = pd.DataFrame.to_csv

    def full(self, path, *a, **k):
        calls.append(path)
        if len(calls) == 3:  # two tables written, the third hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["sample-data", str(out), *SMALL]) == 1
    last = _last_line(capsys)
    assert last.startswith(f"edi-analysis sample-data: error: {out}/")
    assert last.endswith(".csv: No space left on device")
    assert list(tmp_path.iterdir()) == []  # not even the folders it created


def test_sample_data_into_a_read_only_folder(read_only_dir, capsys):
    assert main(["sample-data", str(read_only_dir / "sample"), *SMALL]) == 1
    last = _last_line(capsys)
    assert last.startswith(f"edi-analysis sample-data: error: {read_only_dir}/sample: ")
    assert last.endswith(("Read-only file system", "Permission denied"))


# --- metrics -o ------------------------------------------------------------------------------

@pytest.fixture()
def data(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(SAMPLE, d)
    return d


@pytest.mark.parametrize("target", ["data/workforce.csv", "data/metrics.csv", "data",
                                    "data/sub/metrics.csv"])
def test_metrics_output_inside_the_data_folder_is_refused(tmp_path, data, target, capsys):
    before = _hashes(data)
    assert main(["metrics", str(data), *FAST, "-o", str(tmp_path / target)]) == 2
    assert "inside the data folder" in _last_line(capsys)
    assert _hashes(data) == before


def test_metrics_output_that_is_an_input_by_another_name_is_refused(tmp_path, data, capsys):
    link = tmp_path / "out.csv"
    link.symlink_to(data / "workforce.csv")
    before = _hashes(data)
    assert main(["metrics", str(data), *FAST, "-o", str(link)]) == 2
    assert "inside the data folder" in _last_line(capsys) or "is the input table" in _last_line(capsys)
    assert _hashes(data) == before


def test_metrics_never_overwrites_a_file_that_is_not_a_metrics_csv(tmp_path, capsys):
    other = tmp_path / "budget.csv"
    other.write_text("line,amount\nstaff,100\n")
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(other)]) == 2
    assert "exists and is not a metrics.csv" in _last_line(capsys)
    assert other.read_text() == "line,amount\nstaff,100\n"
    # its own output is replaced as before
    out = tmp_path / "metrics.csv"
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(out)]) == 0
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(out)]) == 0


def test_metrics_output_that_is_a_folder_is_one_line(tmp_path, capsys):
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(tmp_path)]) == 1
    assert _last_line(capsys) == f"edi-analysis metrics: error: {tmp_path}: is a folder, not a file"


def test_disk_full_while_writing_metrics_keeps_the_old_file_and_no_temporary(tmp_path,
                                                                             monkeypatch,
                                                                             capsys):
    import os

    out = tmp_path / "metrics.csv"
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(out)]) == 0
    before = out.read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["metrics", str(SAMPLE), *FAST, "--trust", "ZZ002", "-o", str(out)]) == 1
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert _last_line(capsys) == f"edi-analysis metrics: error: {out}: No space left on device"
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_metrics_into_a_read_only_folder(read_only_dir, capsys):
    out = read_only_dir / "m" / "metrics.csv"
    assert main(["metrics", str(SAMPLE), *FAST, "-o", str(out)]) == 1
    last = _last_line(capsys)
    assert last.startswith(f"edi-analysis metrics: error: {read_only_dir}/m")
    assert last.endswith(("Read-only file system", "Permission denied"))


def test_lower_thresholds_need_the_flag_and_are_announced(tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["metrics", str(SAMPLE), *FAST, "--min-count", "5", "-o", str(out)]) == 2
    err = _last_line(capsys)
    assert "--min-count 5 is below the data contract's minimum 8" in err
    assert "--allow-lower-thresholds" in err and not out.exists()
    assert main(["metrics", str(SAMPLE), *FAST, "--min-survey-responses", "10", "-o",
                 str(out)]) == 2
    assert main(["metrics", str(SAMPLE), *FAST, "--min-count", "5", "--allow-lower-thresholds",
                 "-o", str(out)]) == 0
    assert "counts are suppressed below 5, not below 8" in capsys.readouterr().err
    assert out.is_file()
