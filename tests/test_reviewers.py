"""Reviewers re-run and trace executed notebooks (docs/running.md, "For reviewers").

One run of one notebook for one trust and period, on a copy of the sample data, in a temporary
folder; then, as a reviewer would: plain ``papermill NOTEBOOK OUT.ipynb`` from another folder,
``edi-analysis rerun``, a changed input, a changed figure, a wrong parameter name, no trust on
data with several, the manifest's fields, a staged publish with ``manifest.json`` beside the
reviewer pages, and a reports folder run with different thresholds.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from edi_analysis import report, rerun, runner
from edi_analysis.params import load_params

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_hia1_board"
PERIOD = "2024-03-31"
BIN = Path(sys.executable).parent


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """(params, params file, data folder, report folder) of one run of 01_hia1_board for ZZ001."""
    base = tmp_path_factory.mktemp("reviewers")
    data = base / "data"
    shutil.copytree(ROOT / "data" / "sample", data)
    text = (ROOT / "params" / "sample.yaml").read_text(encoding="utf-8")
    pfile = base / "params.yaml"
    pfile.write_text(text.replace("data: ../data/sample", "data: data")
                     .replace("notebooks_dir: ../notebooks", f"notebooks_dir: {ROOT / 'notebooks'}")
                     .replace("reports_dir: ../reports", "reports_dir: reports")
                     .replace("site_dir: ../_site", "site_dir: site"), encoding="utf-8")
    params = load_params(pfile)
    params = replace(params, trusts=("ZZ001",), periods=(PERIOD,),
                     notebooks=tuple(n for n in params.notebooks if n.stem == NOTEBOOK))
    result = runner.run(params, progress=False, jobs=1)
    assert result.exit_code == 0, [r.error for r in result.failures]
    return params, pfile, data, params.reports_dir / PERIOD / "ZZ001"


def _outputs(nb) -> list:
    """Every code cell's outputs, without execution counts (they are the same here anyway)."""
    return [[{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", [])]
            for c in nb.cells if c.cell_type == "code"]


def test_kept_notebook_reruns_with_plain_papermill_from_another_folder(kept, tmp_path):
    _, _, _, folder = kept
    nb_path = folder / f"{NOTEBOOK}.ipynb"
    recorded = nbformat.read(nb_path, as_version=4)
    params = recorded.metadata["papermill"]["parameters"]
    # what a re-run needs is recorded, nothing of the run's temporary folders
    assert params["prepared"] is None
    assert Path(params["peers"]) == folder / Path(params["peers"]).name
    assert Path(params["peers"]).is_file()
    assert params["inputs"] == json.loads((folder / "manifest.json").read_text())["inputs"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = subprocess.run([str(BIN / "papermill"), str(nb_path), "out.ipynb", "--no-progress-bar"],
                         cwd=elsewhere, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    again = nbformat.read(elsewhere / "out.ipynb", as_version=4)
    assert _outputs(again) == _outputs(recorded)
    assert any(report.ROWS_MIME in o.get("data", {}) for outs in _outputs(again) for o in outs)


def test_rerun_command_reports_identical_sections(kept, tmp_path):
    _, _, _, folder = kept
    out = tmp_path / "again.ipynb"
    res = subprocess.run([str(BIN / "edi-analysis"), "rerun", str(folder / f"{NOTEBOOK}.ipynb"),
                          "-o", str(out)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    for label in report.labels_for(NOTEBOOK):
        assert f"{label}: identical" in res.stdout
    assert out.is_file()
    # -o never overwrites: the same command again is refused (exit 2) before any work
    res = subprocess.run([str(BIN / "edi-analysis"), "rerun", str(folder / f"{NOTEBOOK}.ipynb"),
                          "-o", str(out)], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 2 and "exists" in res.stderr


def test_rerun_detects_a_changed_figure(kept, tmp_path, capsys):
    _, _, _, folder = kept
    nb = nbformat.read(folder / f"{NOTEBOOK}.ipynb", as_version=4)
    # as if the recorded notebook had shown another WRES 9 figure: change its recorded row
    cell = next(c for c in nb.cells if "hl-wres9" in c.metadata.get("tags", []))
    rows = next(o for o in cell.outputs if report.ROWS_MIME in o.get("data", {}))
    row = next(r for r in rows["data"][report.ROWS_MIME] if r["value"] is not None)
    old = row["value"]
    row["value"] = old + 0.5
    tampered = tmp_path / f"{NOTEBOOK}.ipynb"
    nbformat.write(nb, tampered)
    assert rerun.rerun(tampered) == 1
    out = capsys.readouterr().out
    assert "hl-wres9: CHANGED" in out
    assert f"value {old + 0.5!r} → {old!r}" in out
    assert "hl-wdes10: identical" in out


def test_rerun_refuses_a_changed_input(kept, capsys):
    _, _, data, folder = kept
    board = data / "board.csv"
    before = board.read_bytes()
    recorded = json.loads((folder / "manifest.json").read_text())["inputs"]["board.csv"]
    try:
        board.write_bytes(before + b"\n")  # one byte more: another file to the hash
        assert rerun.rerun(folder / f"{NOTEBOOK}.ipynb") == 2
    finally:
        board.write_bytes(before)
    err = capsys.readouterr().err
    assert "InputChanged" in err and f"{board}: changed since the report was run" in err
    assert recorded in err and hashlib.sha256(before + b"\n").hexdigest() in err
    assert "_work/slices" not in err  # not the old, misleading "validate ../../_work/…"


def test_rerun_usage_errors(tmp_path):
    from edi_analysis.errors import UsageError

    with pytest.raises(UsageError, match="no such notebook"):
        rerun.rerun(tmp_path / "missing.ipynb")
    # a template has no recorded parameters
    with pytest.raises(UsageError, match="not an executed report notebook"):
        rerun.rerun(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb")


def test_manifest_records_templates_params_python_and_lock(kept):
    params, pfile, _, folder = kept
    m = json.loads((folder / "manifest.json").read_text())
    run = m["runs"][m["run"]]
    for rec in (m, run):
        assert rec["python"] == f"{platform.python_implementation()} {platform.python_version()}"
        assert rec["uv_lock_sha256"] == _sha(ROOT / "uv.lock")
        assert rec["params_sha256"] == _sha(pfile)
        assert rec["templates"] == {f"{NOTEBOOK}.ipynb": _sha(ROOT / "notebooks" / f"{NOTEBOOK}.ipynb")}
    peers = [n for n in m["files"] if n.startswith("peers-")]
    assert len(peers) == 1 and m["files"][peers[0]] == _sha(folder / peers[0])


def test_unknown_parameter_and_missing_trust_fail_the_notebook(tmp_path):
    import papermill as pm

    template = ROOT / "notebooks" / f"{NOTEBOOK}.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as exc:
        pm.execute_notebook(str(template), str(tmp_path / "a.ipynb"), cwd=str(ROOT / "notebooks"),
                            parameters={"trust_code": "ZZ003"}, progress_bar=False,
                            kernel_name="python3")
    assert exc.value.ename == "ParameterError"
    assert "unknown parameter 'trust_code' (did you mean 'trust'?)" in exc.value.evalue
    with pytest.raises(pm.PapermillExecutionError) as exc:
        pm.execute_notebook(str(template), str(tmp_path / "b.ipynb"), cwd=str(ROOT / "notebooks"),
                            parameters={"trust": None}, progress_bar=False, kernel_name="python3")
    assert exc.value.ename == "ParameterError"
    assert "holds 4 trusts (ZZ001, ZZ002, ZZ003, ZZ004)" in exc.value.evalue
    assert "-p trust ZZ001" in exc.value.evalue


def test_parameters_check():
    ns = {name: None for name in report.PARAMETERS}
    ns.update({"In": [], "Out": {}, "_i1": "x", "report": report, "get_ipython": print})
    assert report.parameters(ns) == {name: None for name in report.PARAMETERS}
    with pytest.raises(report.ParameterError, match="unknown parameters 'min_cont' .did you mean "
                                                    "'min_count'.., 'zz'"):
        report.parameters({**ns, "min_cont": 11, "zz": "ZZ003"})


def test_every_template_defines_the_parameters():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        ns: dict = {}
        exec(cell.source, ns)
        assert [k for k in ns if k != "__builtins__"] == list(report.PARAMETERS), path.name
        assert "report.parameters(globals())" in "".join(c.source for c in nb.cells), path.name


def test_published_manifest_beside_reviewer_pages(kept):
    from edi_analysis.publish import publish

    params, _, _, folder = kept
    result = publish(params, engine="fallback", quiet=True, jobs=1)  # the audit runs on it
    assert result.exit_code == 0, result.messages
    path = params.site_dir / "reports" / PERIOD / "ZZ001" / "reviewer" / "manifest.json"
    published = json.loads(path.read_text())
    original = json.loads((folder / "manifest.json").read_text())
    assert published["inputs"] == original["inputs"]
    assert published["templates"] == original["templates"]
    text = path.read_text()
    assert '"host"' not in text and str(ROOT) not in text and str(params.data) not in text
    site_nb = zipfile.ZipFile(params.site_dir / "reports" / PERIOD / "ZZ001" / "notebooks.zip")
    assert str(params.data) not in site_nb.read(f"{NOTEBOOK}.ipynb").decode()  # file names only
    listed = json.loads((params.site_dir / "site-manifest.json").read_text())["files"]
    assert f"reports/{PERIOD}/ZZ001/reviewer/manifest.json" in listed


def test_publish_refuses_reports_run_with_different_thresholds(kept, tmp_path, capsys):
    from edi_analysis.publish import publish

    params, _, _, folder = kept
    reports = tmp_path / "reports"
    shutil.copytree(folder, reports / PERIOD / "ZZ001")
    # ZZ002 as a re-run at min_count 11 would leave it (its manifest says so)
    other = reports / PERIOD / "ZZ002"
    shutil.copytree(folder, other)
    m = json.loads((other / "manifest.json").read_text())
    m["trust"] = "ZZ002"
    m["parameters"]["min_count"] = 11
    for run in m["runs"].values():
        run["parameters"]["min_count"] = 11
    (other / "manifest.json").write_text(json.dumps(m))
    p = replace(params, reports_dir=reports, site_dir=tmp_path / "site", trusts=("ZZ001", "ZZ002"))
    result = publish(p, engine="fallback", jobs=1)
    assert result.exit_code == 2
    msg = result.messages[0]
    assert "different thresholds" in msg
    assert "min_count 8, min_survey_responses 11: ZZ001 2024-03-31" in msg
    assert "min_count 11, min_survey_responses 11: ZZ002 2024-03-31" in msg
    assert "edi-analysis run" in msg
    assert not (tmp_path / "site").exists()
    assert "publish: error: the reports were run with different thresholds" in capsys.readouterr().err


def test_load_refuses_several_trusts_without_a_trust():
    with pytest.raises(report.ParameterError, match=r"holds 4 trusts \(ZZ001, ZZ002, ZZ003, "
                                                    r"ZZ004\) and the notebook was given no trust"):
        report.load(NOTEBOOK, None, PERIOD, ROOT / "data" / "sample")
    with pytest.raises(report.ParameterError, match="trust 'ZZ009' is not in"):
        report.load(NOTEBOOK, "ZZ009", PERIOD, ROOT / "data" / "sample")


def test_audit_trail_table():
    """A section's metric ids, the function that computed them, the definition and the rows."""
    import pandas as pd

    from edi_analysis.metrics import REGISTRY

    rows = pd.DataFrame([{"metric_id": "wres.9.board_gap", "breakdown": "board=voting",
                          "group": "BME", "numerator": 2.0, "denominator": 10.0,
                          "value": -0.05, "ci_lower": float("nan"), "ci_upper": float("nan"),
                          "suppressed": False}])
    html, md, plain = report.audit_trail(["wres.9.board_gap"], rows)
    fn = report.computed_by("wres.9.board_gap")
    assert fn.startswith("edi_analysis.metrics.") and fn.count(".") >= 3
    mod, name = fn.rsplit(".", 1)
    assert getattr(__import__(mod, fromlist=[name]), name)  # a real, importable function
    assert f"<code>{fn}</code>" in html and "<td>-0.05</td>" in html and "<td>board=voting</td>" in html
    assert REGISTRY["wres.9.board_gap"].definition.split(".")[0] in md
    assert "| wres.9.board_gap | board=voting | BME | 2 | 10 | -0.05 |  |  | False |" in md
    assert plain.startswith("Audit trail: 1 metric, 1 row")
    assert "metric rows" not in plain


def test_executed_sections_show_their_audit_trail(kept):
    _, _, _, folder = kept
    nb = nbformat.read(folder / f"{NOTEBOOK}.ipynb", as_version=4)
    for label in ("hl-wres9", "hl-wdes10"):
        cell = next(c for c in nb.cells if label in c.metadata.get("tags", []))
        out = next(o for o in cell.outputs if report.ROWS_MIME in o.get("data", {}))
        ids = report.resolve(report.HEADLINES[label].metrics)
        for mid in ids:
            assert f"<code>{mid}</code>" in out["data"]["text/html"]
            assert report.computed_by(mid) in out["data"]["text/markdown"]
        assert out["data"]["text/plain"].startswith("Audit trail:")
    # nbconvert shows it (text/html), as Jupyter does
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "Audit trail:" in html and "edi_analysis.metrics." in html


def test_imports_run_one_way():
    """pipeline → runner → executors: no module under the runner imports it or the pipeline
    (at module level or inside a function), and each imports on its own in a fresh interpreter."""
    import ast

    src = ROOT / "src" / "edi_analysis"
    under = ("execution", "local_executor", "dask_executor", "slices", "staging", "provenance",
             "report_folders", "validation", "metrics_output", "errors", "report", "warm")

    def imported(mod: str) -> set[str]:
        tree = ast.parse((src / f"{mod}.py").read_text(encoding="utf-8"))
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "edi_analysis":
                    out |= {a.name for a in node.names}
                elif node.module.startswith("edi_analysis."):
                    out.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                out |= {a.name.split(".")[1] for a in node.names
                        if a.name.startswith("edi_analysis.")}
        return out

    for mod in under:
        assert not imported(mod) & {"runner", "pipeline", "cli"}, mod
    for mod in ("execution", "local_executor", "dask_executor"):
        assert not imported(mod) & {"slices", "staging", "provenance"}, mod
    assert "pipeline" not in imported("runner")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for mod in ("runner", "execution", "local_executor", "dask_executor", "slices", "staging",
                "provenance", "rerun", "pipeline"):
        res = subprocess.run([sys.executable, "-c", f"import edi_analysis.{mod}"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, (mod, res.stderr[-2000:])


def test_audit_of_a_params_file_accepts_the_kept_notebooks_recorded_paths(kept, tmp_path):
    """The kept notebooks record the dataset's absolute path so they re-run as recorded; they
    are not published, so `edi-analysis audit PARAMS` (as publish) counts a local path only in
    the site. Any other finding still counts in the reports (an identifier planted below)."""
    import io

    from edi_analysis import pipeline

    params, _, data, folder = kept
    nb = next(folder.glob("*.ipynb"))
    assert str(Path(params.data).resolve()) in nb.read_text("utf-8")  # the recorded path
    out = io.StringIO()
    assert pipeline.run_audit(params, stream=out) == 0, out.getvalue()
    assert "audit clean" in out.getvalue()
    # a local path in the site is a finding
    site = Path(params.site_dir)
    site.mkdir(parents=True, exist_ok=True)
    leak = site / "leak.json"
    leak.write_text(f'{{"data": "{Path(params.data).resolve()}"}}', encoding="utf-8")
    try:
        out = io.StringIO()
        assert pipeline.run_audit(params, stream=out) == 1
        assert "leak.json" in out.getvalue() and "local path" in out.getvalue()
    finally:
        leak.unlink()
