"""The command line (CONTRACT.md §7): exit statuses, messages, and no output on bad data."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from edi_analysis.cli import main
from edi_analysis.metrics.rows import PUBLISHED

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
PERIOD = "2024-03-31"


def test_console_script_is_installed_and_answers_help():
    exe = Path(sys.executable).with_name("edi-analysis")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for command in ("sample-data", "validate", "metrics", "run", "publish", "build"):
        assert command in out.stdout


@pytest.mark.parametrize(
    "argv",
    [
        [],                                                    # no command
        ["frobnicate"],                                        # unknown command
        ["metrics", str(SAMPLE)],                              # --period is required
        ["run", "params/sample.yaml", "--jobs", "0"],          # jobs must be ≥ 1
        ["sample-data", "x", "--trusts", "two"],               # not a number
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_period_is_a_usage_error(capsys, tmp_path):
    out = tmp_path / "m.csv"
    assert main(["metrics", str(SAMPLE), "--period", "2024-13-31", "-o", str(out)]) == 2
    assert "'2024-13-31' is not a date (expected YYYY-MM-DD)" in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_folder_is_a_usage_error(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_validate_sample_exits_0_with_a_summary(capsys):
    assert main(["validate", str(SAMPLE)]) == 0
    err = capsys.readouterr().err
    assert "valid: 0 errors" in err


def _copy_sample(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    return data


def test_invalid_data_exits_1_and_writes_no_metrics(tmp_path, capsys):
    data = _copy_sample(tmp_path)
    wf = data / "workforce.csv"
    lines = wf.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[1].rstrip("\n").split(",")
    row[header.index("sex")] = "X"
    lines[1] = ",".join(row) + "\n"
    wf.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "metrics.csv"
    assert main(["metrics", str(data), "--period", PERIOD, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{data / 'workforce.csv'}:2: sex:" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_period_without_snapshot_is_invalid(tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["metrics", str(SAMPLE), "--period", "2021-03-31", "-o", str(out)]) == 1
    assert "2021-03-31" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_trust_and_metric_are_usage_errors(tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["metrics", str(SAMPLE), "--period", PERIOD, "--trust", "NOPE1", "-o", str(out)]) == 2
    assert "NOPE1" in capsys.readouterr().err
    assert main(["metrics", str(SAMPLE), "--period", PERIOD, "--metric", "wres.99", "-o", str(out)]) == 2
    assert "wres.99" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture(scope="module")
def sample_metrics(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("metrics") / "metrics.csv"
    assert main(["metrics", str(SAMPLE), "--period", PERIOD, "-o", str(out)]) == 0
    return out


def test_metrics_csv_has_the_contract_columns_and_every_registered_metric(sample_metrics):
    from edi_analysis.metrics import REGISTRY

    df = pd.read_csv(sample_metrics, dtype=str, keep_default_na=False)
    assert list(df.columns) == PUBLISHED
    trusts = sorted(pd.read_csv(SAMPLE / "workforce.csv", usecols=["trust_code"])["trust_code"].unique())
    assert sorted(df["trust_code"].unique()) == trusts
    for trust in trusts:
        got = set(df.loc[df["trust_code"] == trust, "metric_id"])
        assert got == set(REGISTRY), f"{trust}: missing {sorted(set(REGISTRY) - got)}"
    assert set(df["period"]) == {PERIOD}
    assert set(df["suppressed"]) <= {"true", "false"}
    # suppressed rows keep their row with blank figures (CONTRACT.md §4.8)
    sup = df[df["suppressed"] == "true"]
    assert not sup.empty
    assert (sup[["numerator", "denominator", "value", "ci_lower", "ci_upper"]] == "").all().all()
    keys = ["trust_code", "period", "metric_id", "breakdown", "group"]
    assert not df.duplicated(keys).any()
    assert df[keys].equals(df[keys].sort_values(keys, kind="stable").reset_index(drop=True))


def test_metrics_csv_is_byte_identical_on_rerun(sample_metrics, tmp_path):
    again = tmp_path / "again.csv"
    assert main(["metrics", str(SAMPLE), "--period", PERIOD, "-o", str(again)]) == 0
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(again) == digest(sample_metrics)


def test_metrics_for_one_trust_equal_that_trusts_rows_of_all(sample_metrics, tmp_path):
    one = tmp_path / "one.csv"
    assert main(["metrics", str(SAMPLE), "--period", PERIOD, "--trust", "ZZ003", "-o", str(one)]) == 0
    all_rows = pd.read_csv(sample_metrics, dtype=str, keep_default_na=False)
    mine = pd.read_csv(one, dtype=str, keep_default_na=False)
    expected = all_rows[all_rows["trust_code"] == "ZZ003"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, expected)


def test_sample_data_command_writes_a_valid_dataset(tmp_path, capsys):
    out = tmp_path / "small"
    assert main(["sample-data", str(out), "--trusts", "2", "--staff", "800", "--seed", "7"]) == 0
    assert {p.stem for p in out.iterdir()} >= {"workforce", "recruitment", "employee_relations",
                                               "staff_survey", "board"}
    assert main(["validate", str(out)]) == 0
