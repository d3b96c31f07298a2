"""The pre-publication disclosure audit (``edi_analysis.audit``, ``edi-analysis audit``).

CONTRACT.md §2: identifiers never appear in any output; §4.8: no published
count of 1..min_count−1. Each test plants one problem in an otherwise clean
published folder and checks the audit names the file, the place and the kind.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from edi_analysis import audit as A
from edi_analysis import cli, pipeline
from edi_analysis.contract import validate_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
STAFF_ID = "E588455056"  # first staff_id of data/sample/workforce.csv
IDS = {STAFF_ID, "A245129612", "C653136551", "R12"}  # "R12" is too short to match


def metrics_row(**kw) -> dict[str, str]:
    row = dict(trust_code="ZZ001", period="2024-03-31", area="hia2", metric_id="wres.2.appointment_rate",
               breakdown="", group="BME", reference_group="", numerator="3", denominator="40",
               value="7.5", ci_lower="2.6", ci_upper="19.9", unit="percent", suppressed="false", note="")
    row.update(kw)
    return row


def write_metrics(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=A.METRICS_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture()
def site(tmp_path) -> Path:
    """A small clean published folder: HTML, a notebook, a metrics table, Markdown, a PNG."""
    d = tmp_path / "site"
    (d / "reports").mkdir(parents=True)
    (d / "index.html").write_text(
        '<html><body><h1 title="Overview">Trust ZZ001</h1>'
        '<img alt="chart" src="data:image/png;base64,RTU4ODQ1NTA1Ng=="><p>1.6 times</p></body></html>',
        encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("rows = compute(ctx)")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "41 rows"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# HIA2"), code]
    nbformat.write(nb, d / "reports" / "hia2.ipynb")
    write_metrics(d / "metrics.csv", [metrics_row(numerator="12", denominator="40", value="30")])
    (d / "notes.md").write_text("Counts of 1 to 7 are suppressed.\n", encoding="utf-8")
    (d / "chart.png").write_bytes(b"\x89PNG\r\n" + STAFF_ID.encode())  # binary: not scanned
    return d


def run(paths, **kw) -> A.AuditReport:
    return A.audit(paths, Path("unused"), identifiers=IDS, **kw)


def test_clean_folder_is_ok(site):
    report = run([site])
    assert report.ok, [f.format() for f in report.findings]
    # index.html, hia2.ipynb, metrics.csv, notes.md scanned; chart.png not.
    assert (report.files_scanned, report.files_skipped, report.metrics_tables) == (4, 1, 1)
    # The base64 image payload decodes to the staff_id but is not text: never a finding.
    assert report.identifiers == 3
    assert any("1 identifiers shorter than 5" in w for w in report.warnings)


def test_identifier_in_html_text_and_attribute(site):
    page = site / "index.html"
    page.write_text(page.read_text() + f'\n<p>Case of {STAFF_ID}.</p>\n<a href="/staff/{STAFF_ID}">x</a>\n')
    report = run([site])
    found = [(f.file, f.location, f.what) for f in report.findings]
    assert found == [(str(page), "line 2", "identifier"), (str(page), "line 3", "identifier")]
    assert STAFF_ID in report.findings[0].message


def test_identifier_in_html_entity_encoding_is_found(site):
    page = site / "index.html"
    page.write_text("<p>&#69;588455056</p>\n")  # &#69; is "E"
    assert [f.location for f in run([page]).findings] == ["line 1"]


def test_identifier_inside_a_longer_word_is_not_an_identifier(site):
    # Token lookup: a run of word characters must equal the identifier.
    (site / "notes.md").write_text(f"X{STAFF_ID}9 and {STAFF_ID[:-1]}\n")
    assert run([site]).ok


def test_identifier_in_notebook_output(site):
    path = site / "reports" / "hia2.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs.append(nbformat.v4.new_output(
        "execute_result", data={"text/html": f"<td>{STAFF_ID}</td>", "text/plain": "table"},
        execution_count=1))
    nbformat.write(nb, path)
    report = run([site])
    assert [(f.file, f.location) for f in report.findings] == [
        (str(path), "cell 2 output 2 text/html line 1")]


def test_identifier_in_notebook_source_and_json_output(site):
    path = site / "reports" / "hia2.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = f"# HIA2\nsee {STAFF_ID}"
    nb.cells[1].outputs.append(nbformat.v4.new_output(
        "display_data", data={"application/json": {"ids": ["A245129612"]}}))
    nbformat.write(nb, path)
    locations = [f.location for f in run([path]).findings]
    assert locations == ["cell 1 source line 2", "cell 2 output 2 application/json line 1"]


def test_identifier_in_csv_names_row_and_column(site):
    path = site / "extract.csv"
    path.write_text("trust_code,who\nZZ001,fine\nZZ001,C653136551\n", encoding="utf-8")
    report = run([path])
    assert [f.format() for f in report.findings] == [
        f"{path}:row 3, column who: identifier: 'C653136551' (an input identifier) in a published table"]


def test_identifier_in_pdf_names_the_page(tmp_path):
    typst = pytest.importorskip("typst")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not on PATH")
    pdf = tmp_path / "pack.pdf"
    src = f"= Board pack\nFirst page.\n#pagebreak()\nSecond page: case of {STAFF_ID}.\n"
    pdf.write_bytes(typst.compile(src.encode("utf-8")))
    report = run([pdf])
    assert len(report.findings) == 1
    f = report.findings[0]
    assert (f.file, f.what) == (str(pdf), "identifier") and f.location.startswith("page 2 line ")


def test_pdf_without_pdftotext_is_skipped_with_a_warning(tmp_path, monkeypatch):
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    monkeypatch.setattr(A.shutil, "which", lambda name: None)
    report = run([pdf])
    assert report.ok and report.files_scanned == 0 and report.files_skipped == 1
    assert any("NOT scanned: pdftotext" in w for w in report.warnings)


def test_unsuppressed_small_numerator_is_a_finding(site):
    path = write_metrics(site / "metrics.csv", [metrics_row(numerator="3")])
    report = run([site])
    assert [(f.file, f.location, f.what) for f in report.findings] == [
        (str(path), "row 2, column numerator", "small count")]
    assert "numerator 3 is below min_count 8" in report.findings[0].message


def test_the_same_row_suppressed_is_clean(site):
    write_metrics(site / "metrics.csv", [metrics_row(
        numerator="", denominator="", value="", ci_lower="", ci_upper="", suppressed="true")])
    assert run([site]).ok


def test_suppressed_row_that_still_shows_a_figure_is_a_finding(site):
    write_metrics(site / "metrics.csv", [metrics_row(numerator="", denominator="40", value="",
                                                     ci_lower="", ci_upper="", suppressed="true")])
    assert [f.what for f in run([site]).findings] == ["suppressed figure"]


def test_threshold_is_a_parameter(site):
    write_metrics(site / "metrics.csv", [metrics_row(numerator="9")])
    assert run([site]).ok
    assert [f.what for f in run([site], min_count=10).findings] == ["small count"]


def test_count_columns_come_from_the_registry(site):
    rows = [
        # £ means: numerator/denominator are not counts.
        metrics_row(metric_id="pay.gender.mean_gap", area="hia3", numerator="3.5", denominator="4.2"),
        # Board figures are public (§4.8): never flagged.
        metrics_row(metric_id="hia1.appraised_share", area="hia1", numerator="2", denominator="9"),
        # Model: observed count is a count, the expected denominator is not.
        metrics_row(metric_id="hia6.adjusted_rate_ratio", area="hia6", numerator="20",
                    denominator="1.7"),
        # Survey: 12 answers is enough (threshold 11); the 4 Y answers are not protected.
        metrics_row(metric_id="wres.5", area="hia6", numerator="4", denominator="12"),
        # Survey: 10 answers is not.
        metrics_row(metric_id="wres.7", area="hia2", numerator="5", denominator="10"),
    ]
    path = write_metrics(site / "metrics.csv", rows)
    report = run([site])
    assert [(f.location, f.what) for f in report.findings] == [("row 6, column denominator", "small count")]
    assert "denominator 10 is below min_survey_responses 11" in report.findings[0].message
    assert path.name in report.findings[0].file


def test_fractional_counts_below_the_threshold_are_flagged(site):
    # Quartile pay bands split a tied pay rate's staff fractionally (§4.5): 2.5 women is a small count.
    write_metrics(site / "metrics.csv", [metrics_row(metric_id="pay.gender.quartile_share",
                                                     numerator="2.5", denominator="30")])
    assert [f.location for f in run([site]).findings] == ["row 2, column numerator"]


def test_missing_path_is_an_audit_error(tmp_path):
    with pytest.raises(A.AuditError, match="no such file or folder"):
        run([tmp_path / "absent"])


def test_matcher_handles_identifiers_with_punctuation():
    m = A.IdentifierMatcher({"AB-1234/7", "ZZ.99999"})
    assert m.find("see AB-1234/7, and (ZZ.99999).") == ["AB-1234/7", "ZZ.99999"]
    assert m.find("AB-1234/70 ZZ.999990") == []


# --- the real sample --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_metrics(tmp_path_factory) -> tuple[Path, set[str]]:
    report = validate_dataset(SAMPLE)
    assert report.ok
    rows = pipeline.compute_metrics(report.dataset, ["2024-03-31"])
    path = tmp_path_factory.mktemp("published") / "metrics.csv"
    path.write_bytes(pipeline.metrics_csv_bytes(rows))
    ids = set()
    for table in report.dataset.tables.values():
        for col in A.IDENTIFIER_COLUMNS:
            if table is not None and col in table:
                ids.update(table[col].dropna().astype(str))
    return path, ids


def test_sample_metrics_csv_is_clean(sample_metrics):
    path, ids = sample_metrics
    report = A.audit([path], SAMPLE, identifiers=ids)
    assert report.ok, [f.format() for f in report.findings[:5]]
    assert report.metrics_tables == 1 and report.identifiers == len(ids) > 40000


def test_sample_metrics_csv_with_one_unsuppressed_small_count_fails(sample_metrics, tmp_path):
    path, ids = sample_metrics
    text = path.read_text(encoding="utf-8").splitlines()
    # Un-suppress the first suppressed rate row, as a broken suppression step would.
    for i, line in enumerate(text[1:], 2):
        rec = next(csv.reader(io.StringIO(line)))
        if rec[13] == "true" and rec[3] == "wres.1.share":
            rec[7], rec[8], rec[13] = "3", "50", "false"
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(rec)
            text[i - 1] = buf.getvalue()
            break
    bad = tmp_path / "metrics.csv"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    report = A.audit([bad], SAMPLE, identifiers=ids)
    assert [(f.location, f.what) for f in report.findings] == [(f"row {i}, column numerator", "small count")]


# --- command line -------------------------------------------------------------------------


def test_cli_exit_codes(site, capsys):
    # Clean: 0, with the summary.
    assert cli.main(["audit", str(site), "--data", str(SAMPLE)]) == 0
    assert "audit clean: 0 findings" in capsys.readouterr().err
    # A staff_id from the real inputs in a page: 1, naming file and line.
    (site / "index.html").write_text(f"<p>{STAFF_ID}</p>\n", encoding="utf-8")
    assert cli.main(["audit", str(site), "--data", str(SAMPLE)]) == 1
    err = capsys.readouterr().err
    assert f"{site / 'index.html'}:line 1: identifier: '{STAFF_ID}'" in err
    assert "NOT SAFE TO PUBLISH: 1 finding" in err


def test_cli_usage_errors(site, tmp_path, capsys):
    assert cli.main(["audit", str(site)]) == 2  # no --data
    assert "--data DATA_DIR is required" in capsys.readouterr().err
    assert cli.main(["audit", str(site), "--data", str(tmp_path / "none")]) == 2
    assert "no such data folder" in capsys.readouterr().err
    assert cli.main(["audit", str(tmp_path / "absent"), "--data", str(SAMPLE)]) == 2
    assert cli.main(["audit", "--data", str(SAMPLE)]) == 2  # no PATH
    assert cli.main(["audit", str(tmp_path / "p.yaml"), str(site), "--data", str(SAMPLE)]) == 2


def test_cli_params_form(site, tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(json.dumps({
        "data": str(SAMPLE), "periods": ["2024-03-31"], "notebooks_dir": str(ROOT / "notebooks"),
        "reports_dir": str(site / "reports"), "site_dir": str(site), "min_count": 13,
    }), encoding="utf-8")  # JSON is YAML
    # The clean folder's metrics row has numerator 12: fine at 8, a small count at the params' 13.
    assert cli.main(["audit", str(params)]) == 1
    err = capsys.readouterr().err
    # site_dir holds reports_dir: each file is scanned once, so one finding, not two.
    assert err.count("numerator 12 is below min_count 13") == 1
    assert cli.main(["audit", str(params), "--min-count", "8"]) == 0
