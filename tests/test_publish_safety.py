"""Publishing never loses an input and publishes only what was audited (docs/publishing.md).

- ``site_dir`` may not be (or hold, or sit in) the data, the reports, the notebooks, the params
  file's folder, the project, the home folder or a system folder; it is replaced only when
  empty or a site the tool published, unchanged since;
- the staged site and its reports are audited before the swap: a failed audit leaves the
  previous site byte for byte;
- failed notebooks are never published, and the trust page and board pack say which section is
  missing; thresholds below the contract's are refused unless allowed, and then shown;
- published notebooks carry no absolute local paths;
- environment errors end in one line naming the path and the cause.
"""

from __future__ import annotations

import errno
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from edi_analysis import cli, pipeline
from edi_analysis.publish import fallback, publish

from test_publish import ROOT, SAMPLE, _hashes, make_reports, params_for

STAFF_ID = "E588455056"  # a staff_id of data/sample


def _text_of_pdf(path: Path) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join((page.extract_text() or "").split())
                    for page in PdfReader(str(path)).pages)


def _params_file(folder: Path, **keys) -> Path:
    base = {"data": str(SAMPLE), "periods": ["2023-03-31", "2024-03-31"],
            "notebooks_dir": str(ROOT / "notebooks"), "reports_dir": "reports",
            "site_dir": "site"}
    f = folder / "p.yaml"
    f.write_text(json.dumps({**base, **keys}), encoding="utf-8")  # JSON is YAML
    return f


# --- where a site may go ---------------------------------------------------------------------

@pytest.fixture()
def inputs(tmp_path):
    """A project-like folder: data (a copy of two sample tables), reports, notebooks, params."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("workforce.csv", "board.csv"):
        (data / name).write_bytes((SAMPLE / name).read_bytes())
    make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    (nbs / "00_overview.ipynb").write_text("{}")
    return tmp_path


@pytest.mark.parametrize("site_dir, why", [
    ("data", "site_dir .* equals data"),
    ("data/site", "site_dir .* is inside data"),
    ("reports", "site_dir .* equals reports_dir"),
    ("reports/site", "site_dir .* is inside reports_dir"),
    (".", "site_dir .* contains"),  # the params file's folder, holding data and reports
    ("nbs", "site_dir .* equals notebooks_dir"),
    ("/tmp", "site_dir /tmp equals a system folder \\(/tmp\\)"),
    ("/", "site_dir / equals a system folder"),
    ("HOME", "site_dir .* your home folder"),
    ("ROOT", "site_dir .* the project folder"),
])
def test_site_dir_over_inputs_is_refused_and_nothing_is_touched(inputs, site_dir, why, capsys):
    site_dir = {"HOME": str(Path.home()), "ROOT": str(ROOT)}.get(site_dir, site_dir)
    f = _params_file(inputs, site_dir=site_dir, notebooks_dir="nbs", data="data")
    before = _hashes(inputs)
    assert cli.main(["publish", str(f), "--engine", "fallback"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    import re

    assert re.search(why, err), err
    assert _hashes(inputs) == before


@pytest.mark.parametrize("reports_dir, why", [
    ("data", "reports_dir .* equals data"), ("data/reports", "reports_dir .* is inside data"),
    ("site/reports", "reports_dir .* is inside site_dir"), ("/tmp", "equals a system folder"),
])
def test_reports_dir_over_inputs_is_refused(inputs, reports_dir, why):
    from edi_analysis.params import ParamsError, load_params

    with pytest.raises(ParamsError, match=why):
        load_params(_params_file(inputs, reports_dir=reports_dir, data="data"))


def test_the_api_checks_the_layout_too(inputs):
    # a params object made in code (not read from a file) is checked by publish itself
    before = _hashes(inputs)
    result = publish(params_for(inputs, inputs / "reports", site="data", data=inputs / "data"),
                     engine="fallback",
                     quiet=True)
    assert result.exit_code == 2 and "equals data" in result.messages[0]
    assert _hashes(inputs) == before


def test_a_folder_that_is_not_a_site_of_the_tool_is_never_replaced(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    site = tmp_path / "site"
    site.mkdir()
    (site / "workforce.csv").write_text("a real extract\n")
    (site / "site-manifest.json").write_text('{"files": {}}')  # present, but not the tool's
    before = _hashes(site)
    result = publish(params_for(tmp_path, reports), engine="fallback", quiet=True)
    assert result.exit_code == 2
    assert f"site_dir {site} is not empty and holds no site-manifest.json written by" \
        in result.messages[0]
    assert _hashes(site) == before


@pytest.mark.parametrize("change", ["added", "edited", "folder"])
def test_a_published_site_with_files_added_or_changed_is_not_replaced(tmp_path, change):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    params = params_for(tmp_path, reports)
    assert publish(params, engine="fallback", quiet=True).ok
    site = tmp_path / "site"
    if change == "added":
        (site / "reports" / "notes.txt").write_text("mine")
    elif change == "edited":
        (site / "index.html").write_text("edited by hand")
    else:
        (site / "drafts").mkdir()
    before = _hashes(site)
    result = publish(params, engine="fallback", quiet=True)
    assert result.exit_code == 2
    assert {"added": "reports/notes.txt (not written by edi-analysis)",
            "edited": "index.html (changed since edi-analysis wrote it)",
            "folder": "drafts/ (not written by edi-analysis)"}[change] in result.messages[0]
    assert _hashes(site) == before and (site / "drafts").exists() == (change == "folder")
    # an unchanged published site is replaced as before
    if change == "added":
        (site / "reports" / "notes.txt").unlink()
        assert publish(params, engine="fallback", quiet=True).ok


# --- the audit comes before the swap ---------------------------------------------------------

def _plant_identifier(reports: Path, trust="RXA", period="2024-03-31") -> Path:
    path = reports / period / trust / "06_hia6_bullying_disciplinary.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].outputs.append(nbformat.v4.new_output(
        "stream", name="stdout", text=f"case of {STAFF_ID}\n"))
    nbformat.write(nb, path)
    return path


def test_a_failed_audit_leaves_the_previous_site_byte_identical(tmp_path, capsys):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    params = params_for(tmp_path, reports)
    first = publish(params, engine="fallback")
    assert first.ok and first.audit is not None and first.audit.ok
    before = _hashes(tmp_path / "site")
    _plant_identifier(reports)
    capsys.readouterr()
    result = publish(params, engine="fallback")
    err = capsys.readouterr().err
    assert result.exit_code == 1 and not result.audit.ok
    assert "nothing was published" in result.messages[0]
    # the findings name the report and where the file would have been published
    files = {f.file for f in result.audit.findings}
    assert str(reports / "2024-03-31" / "RXA" / "06_hia6_bullying_disciplinary.ipynb") in files
    # the site's copy is in the report's notebooks.zip; the location names the member
    archive = str(tmp_path / "site" / "reports" / "2024-03-31" / "RXA" / "notebooks.zip")
    assert archive in files
    assert any(f.file == archive and f.location.startswith("06_hia6_bullying_disciplinary.ipynb ")
               for f in result.audit.findings)
    assert ".build-" not in err and "NOT SAFE TO PUBLISH" in err
    assert _hashes(tmp_path / "site") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "site"]


def test_a_failed_publish_leaves_no_folder_it_created(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    _plant_identifier(reports)
    params = params_for(tmp_path, reports, site="new/deeper/site")
    assert publish(params, engine="fallback", quiet=True).exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_build_audits_before_publishing_and_takes_an_engine(tmp_path, monkeypatch, capsys):
    from edi_analysis import publish as publish_module

    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    f = _params_file(tmp_path, periods=["2024-03-31"])
    seen = {}

    def fake_run(args):  # the run itself is tested elsewhere; here: what build does after it
        seen["run"] = True
        return 0

    real = publish_module.publish

    def spy(params, engine="auto", **kw):
        seen["engine"] = engine
        return real(params, engine=engine, **kw)

    monkeypatch.setattr(pipeline, "cmd_run", fake_run)
    monkeypatch.setattr(publish_module, "publish", spy)
    assert cli.main(["build", str(f), "--engine", "fallback"]) == 0
    assert seen == {"run": True, "engine": "fallback"}
    before = _hashes(tmp_path / "site")
    _plant_identifier(reports)
    assert cli.main(["build", str(f), "--engine", "fallback"]) == 1
    err = capsys.readouterr().err
    assert "NOT SAFE TO PUBLISH" in err and "build: nothing was published" in err
    assert _hashes(tmp_path / "site") == before


# --- failed notebooks, lowered thresholds, local paths ---------------------------------------

def _fail_notebook(folder: Path, name="06_hia6_bullying_disciplinary.ipynb") -> None:
    nb = nbformat.read(folder / name, as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output(
        "error", ename="KeyError", evalue=STAFF_ID,
        traceback=[f"KeyError: '{STAFF_ID}' in row for /home/analyst/extract.csv"])]
    nbformat.write(nb, folder / name)
    m = json.loads((folder / "manifest.json").read_text())
    m["notebooks"] = [{"notebook": "00_overview.ipynb", "status": "ok"},
                      {"notebook": name, "status": "failed", "error": "KeyError"},
                      {"notebook": "07_people_plan.ipynb", "status": "failed",
                       "error": "DeadKernelError"}]  # its kernel died: nothing was saved
    (folder / "manifest.json").write_text(json.dumps(m))


def test_failed_notebooks_are_never_published_and_the_pages_say_what_is_missing(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    folder = reports / "2024-03-31" / "RXA"
    _fail_notebook(folder)
    result = publish(params_for(tmp_path, reports), engine="fallback", quiet=True)
    assert result.ok, result.messages  # the traceback's identifier is not published
    rdir = tmp_path / "site" / "reports" / "2024-03-31" / "RXA"
    assert sorted(p.name for p in rdir.glob("*06_hia6*")) == []
    assert not (rdir / "reviewer" / "06_hia6_bullying_disciplinary.html").exists()
    page = (rdir / "index.html").read_text()
    assert "Sections not published" in page
    for title in ("High impact action 6: bullying, harassment and disciplinary consistency",
                  "NHS People Plan priorities"):
        assert title in page
    assert "did not finish when the report was run" in page
    pack = _text_of_pdf(rdir / "board-pack.pdf")
    assert "Sections not published" in pack and "did not finish when the report" in pack
    assert STAFF_ID not in json.dumps(_hashes(tmp_path / "site")) + page + pack


def test_lower_thresholds_are_refused_unless_allowed_and_then_shown_everywhere(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    m_path = reports / "2024-03-31" / "RXA" / "manifest.json"
    m = json.loads(m_path.read_text())
    m["parameters"]["min_count"] = 5
    m_path.write_text(json.dumps(m))
    refused = publish(params_for(tmp_path, reports), engine="fallback", quiet=True)
    assert refused.exit_code == 2 and "allow_lower_thresholds: true" in refused.messages[0]
    assert not (tmp_path / "site").exists()
    ok = publish(params_for(tmp_path, reports, min_count=5, allow_lower_thresholds=True),
                 engine="fallback", quiet=True)
    assert ok.ok, ok.messages
    site = tmp_path / "site"
    notice = "counts are suppressed below 5, not below 8"
    for page in ok.pages:  # every page
        assert notice in (site / page).read_text(), page
    for pdf in ok.pdfs:
        text = _text_of_pdf(site / pdf)
        assert "Notice:" in text and "suppressed below 5, not below 8" in text
        assert text.count("lower suppression thresholds (see page 1)") >= 2  # every page's foot
    assert notice in json.loads((site / "site-manifest.json").read_text())["lower_thresholds"]


def test_thresholds_below_the_contract_in_a_params_file(tmp_path):
    from edi_analysis.params import ParamsError, load_params

    with pytest.raises(ParamsError, match="min_count 5 is below the data contract's minimum 8"):
        load_params(_params_file(tmp_path, min_count=5))
    with pytest.raises(ParamsError, match="min_survey_responses 10 is below"):
        load_params(_params_file(tmp_path, min_survey_responses=10))
    with pytest.raises(ParamsError, match="allow_lower_thresholds: expected true or false"):
        load_params(_params_file(tmp_path, min_count=5, allow_lower_thresholds="yes"))
    p = load_params(_params_file(tmp_path, min_count=5, allow_lower_thresholds=True))
    assert p.lower_thresholds == {"min_count": 5}
    assert p.as_record()["allow_lower_thresholds"] is True


def test_published_notebooks_carry_no_absolute_local_paths(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    name = "00_overview.ipynb"
    src = reports / "2024-03-31" / "RXA" / name
    nb = nbformat.read(src, as_version=4)
    # as earlier versions of the runner wrote them
    nb.metadata["papermill"] = {
        "input_path": str(ROOT / "notebooks" / name),
        "output_path": str(src), "parameters": {"data": str(SAMPLE), "trust": "RXA"}}
    nb.cells[0].source = f"# Parameters\ndata = {str(SAMPLE)!r}\ntrust = 'RXA'\n"
    nb.cells[0].metadata["tags"] = ["injected-parameters"]
    nbformat.write(nb, src)
    result = publish(params_for(tmp_path, reports), engine="fallback", quiet=True)
    assert result.ok, result.messages
    rdir = tmp_path / "site" / "reports" / "2024-03-31" / "RXA"
    with zipfile.ZipFile(rdir / "notebooks.zip") as zf:  # the site's downloadable copy
        published = zf.read(name).decode("utf-8")
        readme = zf.read("README.txt").decode("utf-8")
    assert str(ROOT) not in readme and str(SAMPLE) not in readme
    reviewer = (rdir / "reviewer" / "00_overview.html").read_text()
    for text in (published, reviewer):
        assert str(ROOT) not in text and str(SAMPLE) not in text
    meta = json.loads(published)["metadata"]["papermill"]
    assert (meta["input_path"], meta["output_path"], meta["parameters"]["data"]) == \
        (name, name, "sample")
    # the report itself (what the analyst keeps) is untouched
    assert nbformat.read(src, as_version=4).metadata["papermill"]["output_path"] == str(src)


# --- environment errors ----------------------------------------------------------------------

def test_disk_full_during_a_publish_is_one_line_and_the_old_site_stays(tmp_path, monkeypatch,
                                                                      capsys):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    f = _params_file(tmp_path, periods=["2024-03-31"])
    assert cli.main(["publish", str(f), "--engine", "fallback"]) == 0
    before = _hashes(tmp_path / "site")
    real_write = fallback._write

    def full(path, text):
        if path.name == "index.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, text)

    monkeypatch.setattr(fallback, "_write", full)
    capsys.readouterr()
    assert cli.main(["publish", str(f), "--engine", "fallback", "--jobs", "1"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("publish: error: ") and last.endswith(
        "/index.html: No space left on device")
    assert _hashes(tmp_path / "site") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "reports", "site"]


def test_a_site_dir_that_is_a_file_or_in_a_read_only_folder(tmp_path, read_only_dir, capsys):
    make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    (tmp_path / "site").write_text("a file")
    f = _params_file(tmp_path, periods=["2024-03-31"])
    assert cli.main(["publish", str(f), "--engine", "fallback"]) == 2
    assert f"site_dir {tmp_path / 'site'} is not a folder" in capsys.readouterr().err
    f = _params_file(tmp_path, periods=["2024-03-31"], site_dir=str(read_only_dir / "site"))
    assert cli.main(["publish", str(f), "--engine", "fallback"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"publish: error: {read_only_dir}")
    assert last.endswith(("Read-only file system", "Permission denied")), last
    assert list(read_only_dir.iterdir()) == []
