"""Generated documentation: docs/metrics.md and docs/actions.md match the registry and catalogue.

The committed pages must equal a fresh render, so the published method can
never drift from the code. If a test here fails after a metric or action
changed, regenerate with ``uv run python -m edi_analysis.docs`` and commit.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from edi_analysis import docs
from edi_analysis.catalogue import load_actions
from edi_analysis.metrics import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _first_difference(committed: str, fresh: str) -> str:
    diff = difflib.unified_diff(
        committed.splitlines(), fresh.splitlines(), "committed", "regenerated", lineterm="", n=1
    )
    return "\n".join(list(diff)[:30])


@pytest.mark.parametrize("name", docs.FILES)
def test_committed_page_is_up_to_date(name):
    path = DOCS / name
    fresh = docs.render_all()[name]
    assert path.is_file(), f"{path} is missing: run `{docs.REGENERATE}`"
    committed = path.read_text(encoding="utf-8")
    assert committed == fresh, (
        f"{path} is out of date with the registry/catalogue: run `{docs.REGENERATE}` and commit.\n"
        + _first_difference(committed, fresh)
    )


def test_metrics_page_lists_every_registered_metric_once_grouped_by_area():
    text = docs.render_metrics()
    for metric_id, spec in REGISTRY.items():
        assert text.count(f"### `{metric_id}`\n") == 1, metric_id
        assert " ".join(spec.source.split()) in text
    # Areas in the registry's order; within an area, natural order (wdes.9a before wdes.10).
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert (
        headings[0].startswith("## High impact action 1") and headings[-1] == "## NHS People Plan"
    )
    assert text.index("### `wdes.4a.colleague`") < text.index("### `wdes.4b`")
    assert docs.render_metrics() == text  # deterministic


def test_actions_page_lists_every_catalogue_action():
    text = docs.render_actions()
    for a in load_actions():
        assert f"| `{a.id}` | {a.text.replace('|', chr(92) + '|')} |" in text
    assert "| 2021-06-30 |" in text and "| — |" in text  # dated and undated actions


def test_natural_order_and_cell_escaping():
    assert sorted(["wdes.10.board_gap", "wdes.9a", "wdes.1.share"], key=docs.natural_key) == [
        "wdes.1.share",
        "wdes.9a",
        "wdes.10.board_gap",
    ]
    assert docs._cell("a | b\n c") == "a \\| b c"


def test_command_writes_pages_and_check_detects_staleness(tmp_path):
    assert docs.main(["--check", "--out-dir", str(tmp_path)]) == 1  # nothing written yet
    assert docs.main(["--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(docs.FILES)
    assert docs.main(["--check", "--out-dir", str(tmp_path)]) == 0
    (tmp_path / "metrics.md").write_text("# Metrics\n", encoding="utf-8")
    assert docs.stale(tmp_path) == ["metrics.md"]
