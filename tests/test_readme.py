"""The README's two set-up commands are the ones CI runs and the ones documented."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", quick, flags=re.S)]


def test_readme_has_exactly_two_setup_commands():
    build, test = _readme_commands()
    assert "edi-analysis build params/sample.yaml" in build
    assert test.endswith("uv run --locked pytest")
    for cmd in (build, test):
        assert "\n" not in cmd, "each set-up command is one line"


def test_ci_runs_the_readme_test_command_exactly():
    _, test = _readme_commands()
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines


def test_lock_file_is_committed_and_pins_python_311():
    lock = (ROOT / "uv.lock").read_text()
    assert 'requires-python = "==3.11.*"' in lock or 'requires-python = ">=3.11, <3.12"' in lock
    assert 'name = "pandas"' in lock and 'name = "papermill"' in lock
