"""The report notebooks end to end: committed clean, executed on the sample, numbers = metrics.csv.

One run of the whole sample per test process (tests/publish_support.py) is shared by the tests
here and by the publishing and accessibility tests. ``test_nbval`` runs every committed notebook with its default
parameters through nbval (``--nbval-lax``).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from edi_analysis import narrative, report
from edi_analysis.params import load_params


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PERIOD = "2024-03-31"
ID_COLUMNS = ("staff_id", "application_id", "case_id", "respondent_id", "member_id")


# --- committed notebooks ---------------------------------------------------------------------

def test_one_notebook_per_action_area():
    assert [p.stem for p in NOTEBOOKS] == list(report.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_with_parameters_and_labels(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])][0].source.count("=") >= 7
    labels = []
    for c in code:
        m = re.match(r"#\| label: (\S+)\n", c.source)
        if m:
            labels.append(m.group(1))
            assert m.group(1) in c.metadata["tags"]  # cell tag and Quarto label agree
    assert labels == report.labels_for(path.stem)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_every_registered_metric_has_a_place():
    from edi_analysis.metrics import REGISTRY

    placed = report.shown_ids() | {m for a in ("hia1", "hia2", "hia3", "hia4", "hia5", "hia6",
                                               "people_plan") for m in report.other_ids(a)}
    assert placed == set(REGISTRY)


# --- the sample run --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sample_run():
    """The whole sample (every trust, both periods, every notebook), run once per test process
    and shared with the publishing and accessibility tests (tests/publish_support.py)."""
    from types import SimpleNamespace

    import publish_support
    from edi_analysis.contract import validate_dataset

    reports = publish_support.sample_reports()  # asserts the run's exit code was 0
    params = publish_support.sample_params(reports, publish_support.BUILD / "site")
    dataset = validate_dataset(params.data).dataset
    trusts = sorted(dataset.tables["workforce"]["trust_code"].unique())
    # Two trusts are enough for the per-notebook checks; the peers check sees all of them.
    return params, trusts[:2], SimpleNamespace(exit_code=0), dataset, ""


def _outputs(nb, mime):
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            if mime in o.get("data", {}):
                yield c, o["data"][mime]


def _executed(params, trusts):
    for t in trusts:
        for p in sorted((params.reports_dir / PERIOD / t).glob("*.ipynb")):
            yield t, p, nbformat.read(p, as_version=4)


def test_every_notebook_for_every_trust(sample_run):
    params, trusts, result, _, err = sample_run
    assert result.exit_code == 0, err
    for t in trusts:
        folder = params.reports_dir / PERIOD / t
        assert sorted(p.name for p in folder.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
        m = json.loads((folder / "manifest.json").read_text())
        assert m["status"] == "ok"
        assert [n["notebook"] for n in m["notebooks"]] == [p.name for p in NOTEBOOKS]


def test_notebook_figures_equal_metrics_csv(sample_run):
    params, trusts, _, _, _ = sample_run
    compared = 0
    for t, path, nb in _executed(params, trusts):
        csv = pd.read_csv(params.reports_dir / PERIOD / t / "metrics.csv", keep_default_na=False,
                          dtype=str)
        by_key = {tuple(r[k] for k in ("trust_code", "period", "metric_id", "breakdown", "group")): r
                  for r in csv.to_dict(orient="records")}
        for _, rows in _outputs(nb, report.ROWS_MIME):
            for row in rows:
                key = tuple(row[k] for k in ("trust_code", "period", "metric_id", "breakdown", "group"))
                assert key in by_key, (path.name, key)
                ref = by_key[key]
                for col in ("numerator", "denominator", "value", "ci_lower", "ci_upper"):
                    shown, expected = row[col], ref[col]
                    if expected == "":
                        assert shown is None, (key, col)
                    elif row["unit"] == "flag" and col == "value":
                        assert shown == expected
                    else:
                        assert math.isclose(float(shown), float(expected), rel_tol=1e-12,
                                            abs_tol=1e-12), (key, col, shown, expected)
                assert str(row["suppressed"]).lower() == ref["suppressed"]
                assert (row["note"] or "") == ref["note"]
                compared += 1
    assert compared > 200  # every notebook shows many rows; an empty comparison proves nothing


def test_sentences_in_notebooks_agree_with_metrics_csv(sample_run):
    """Each headline row of metrics.csv that a section shows is described on its page: a
    single-figure metric by its own sentence, a metric published per group by the comparison
    that states its figure (a sentence already on the page is not repeated, so the whole
    page's words are searched)."""
    from edi_analysis.metrics import FAMILIES, REGISTRY

    params, trusts, _, _, _ = sample_run
    checked = compared = 0
    for t, path, nb in _executed(params, trusts):
        csv = pd.read_csv(params.reports_dir / PERIOD / t / "metrics.csv", keep_default_na=False)
        csv = csv.replace({"": None})
        page = "\n".join(o["data"].get("text/markdown", "") for c in nb.cells
                         for o in c.get("outputs", []) if "data" in o)
        for c in nb.cells:
            tags = c.metadata.get("tags", [])
            label = next((x for x in tags if x in report.HEADLINES), None)
            if label is None or label in ("hl-actions", "hl-board"):
                continue
            ids = report.resolve(report.HEADLINES[label].metrics)
            for _, r in csv[csv["metric_id"].isin(ids)].iterrows():
                if r["breakdown"] or r["group"] == "Unknown":
                    continue
                r = r.copy()
                r["breakdown"] = ""
                r["suppressed"] = str(r["suppressed"]).lower() == "true"
                fam = REGISTRY[r["metric_id"]].family
                s = narrative.sentence(r, label=REGISTRY[r["metric_id"]].label,
                                       survey="staff_survey" in FAMILIES[fam].tables)
                per_group = (narrative.wording(r["metric_id"]).kind in ("rate", "absence", "score")
                             and not r["reference_group"])
                if r["suppressed"] or not per_group:
                    assert s in page, (path.name, label, s)
                    checked += 1
                elif r["group"] != "All":
                    unit = REGISTRY[r["metric_id"]].unit
                    shown = narrative.fmt_value(r["value"], unit) if unit != "score" else \
                        narrative.fmt_number(r["value"], "score")
                    assert shown in page, (path.name, label, r["metric_id"], r["group"], shown)
                    compared += 1
    assert checked > 30 and compared > 30


def test_no_identifier_in_any_output(sample_run):
    params, trusts, _, dataset, _ = sample_run
    ids = set()
    for df in dataset.tables.values():
        for col in ID_COLUMNS:
            if df is not None and col in df:
                ids |= set(df[col].dropna().astype(str))
    assert len(ids) > 1000
    for t in trusts:
        for p in (params.reports_dir / PERIOD / t).iterdir():
            if p.suffix == ".parquet":  # the kept peers file: every value of every column
                text = pd.read_parquet(p).astype(str).to_csv(index=False)
            else:
                text = p.read_text(encoding="utf-8")
            tokens = set(re.findall(r"[A-Za-z0-9_-]+", text))
            leaked = tokens & ids
            assert not leaked, (p.name, sorted(leaked)[:5])


def test_charts_have_alt_text_and_tables_are_tables(sample_run):
    params, trusts, _, _, _ = sample_run
    imgs = 0
    for _, path, nb in _executed(params, trusts):
        for _, h in _outputs(nb, "text/html"):
            for m in re.finditer(r"<img ([^>]*)>", h):
                alt = re.search(r'alt="([^"]+)"', m.group(1))
                assert alt and alt.group(1).startswith(("Chart of", "This")), path.name
                imgs += 1
            if "<table" in h:
                assert "<caption>" in h and 'scope="col"' in h
    assert imgs > 20


def test_trend_and_peers_shown(sample_run):
    params, trusts, _, _, _ = sample_run
    nb = nbformat.read(params.reports_dir / PERIOD / trusts[0] / "06_hia6_bullying_disciplinary.ipynb",
                       as_version=4)
    html = "\n".join(h for _, h in _outputs(nb, "text/html"))
    assert "Trend: " in html and "2023-03-31" in html  # the earlier snapshot in the data
    # The position among the trusts whose WRES 3 figure is published (a suppressed figure
    # has no place on the strip).
    import pandas as pd

    shown = 0
    for folder in (params.reports_dir / PERIOD).iterdir():
        rows = pd.read_csv(folder / "metrics.csv")
        r = rows[(rows["metric_id"] == "wres.3.relative_likelihood") & rows["breakdown"].isna()]
        shown += int((~r["suppressed"] & r["value"].notna()).sum())
    assert shown >= 2
    assert f"This trust ({trusts[0]}) is " in html and f" of {shown} from lowest to highest" in html


def test_methodology_shows_input_hashes(sample_run):
    params, trusts, _, dataset, _ = sample_run
    nb = nbformat.read(params.reports_dir / PERIOD / trusts[0] / "03_hia3_pay.ipynb", as_version=4)
    html = "\n".join(h for _, h in _outputs(nb, "text/html"))
    for name, digest in dataset.sha256.items():
        assert name in html and digest in html


@pytest.mark.slow
def test_nbval_runs_every_committed_notebook():
    if not (ROOT / "data" / "sample" / "workforce.csv").exists():
        pytest.skip("data/sample is not in this checkout (the notebooks' default parameters use it)")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
         "-p", "no:cacheprovider", "-n", "2", "--dist", "loadscope",
         str(ROOT / "notebooks")],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
