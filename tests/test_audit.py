"""The pre-publication disclosure audit (``edi_analysis.audit``, ``edi-analysis audit``).

CONTRACT.md §2: identifiers never appear in any output; §4.8: no published
count of 1..min_count−1. Each test plants one problem in an otherwise clean
published folder and checks the audit names the file, the place and the kind.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import struct
import zlib
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from edi_analysis import audit as A
from edi_analysis import cli, pipeline
from edi_analysis.contract import validate_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
STAFF_ID = "E588455056"  # first staff_id of data/sample/workforce.csv
IDS = {STAFF_ID, "A245129612", "C653136551", "R12"}  # "R12" is too short to match


def png(*texts: tuple[bytes, bytes], ztxt: tuple[bytes, bytes] | None = None,
        pixels: bytes = zlib.compress(b"\x00\x00")) -> bytes:
    """A 1×1 PNG with the given tEXt chunks (and one zTXt chunk), ``pixels`` as its IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    extra = b"".join(chunk(b"tEXt", k + b"\0" + v) for k, v in texts)
    if ztxt is not None:
        extra += chunk(b"zTXt", ztxt[0] + b"\0\0" + zlib.compress(ztxt[1]))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + extra + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


CHART = png((b"Software", b"Matplotlib version3.9"))


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
    b64 = base64.b64encode(CHART).decode()
    (d / "index.html").write_text(
        '<html><body><h1 title="Overview">Trust ZZ001</h1>'
        f'<img alt="chart" src="data:image/png;base64,{b64}"><p>1.6 times</p></body></html>',
        encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("rows = compute(ctx)")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "41 rows"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# HIA2"), code]
    nbformat.write(nb, d / "reports" / "hia2.ipynb")
    # A real row of the sample (ZZ001's BME appointments, 89 of 536 shortlisted): the linked
    # check counts it on the data (tests below plant rows the data do not give, without data).
    write_metrics(d / "metrics.csv", [metrics_row(numerator="89", denominator="536", value="16.6")])
    (d / "notes.md").write_text("Counts of 1 to 7 are suppressed.\n", encoding="utf-8")
    # the pixels (IDAT) are not text: an identifier's bytes there are not a finding
    (d / "chart.png").write_bytes(png((b"Software", b"Matplotlib"), pixels=STAFF_ID.encode()))
    return d


def run(paths, **kw) -> A.AuditReport:
    return A.audit(paths, Path("unused"), identifiers=IDS, **kw)


def test_clean_folder_is_ok(site):
    report = run([site])
    assert report.ok, [f.format() for f in report.findings]
    # index.html, hia2.ipynb, metrics.csv, notes.md and chart.png are all read
    assert (report.files_scanned, report.files_skipped, report.metrics_tables) == (5, 0, 1)
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


def _pdf(tmp_path, src: str) -> Path:
    typst = pytest.importorskip("typst")
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(typst.compile(src.encode("utf-8")))
    return pdf


def test_identifier_in_pdf_names_the_page_without_any_system_tool(tmp_path, monkeypatch):
    # PDFs are read with pypdf: no pdftotext (poppler-utils) needed, none looked for
    import shutil
    import subprocess

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran a system tool"))
    pdf = _pdf(tmp_path, f"= Board pack\nFirst page.\n#pagebreak()\nSecond page: case of {STAFF_ID}.\n")
    report = run([pdf])
    assert report.files_scanned == 1 and report.files_skipped == 0
    assert len(report.findings) == 1
    f = report.findings[0]
    assert (f.file, f.what) == (str(pdf), "identifier") and f.location.startswith("page 2 line ")


def test_identifier_in_pdf_metadata_and_link_is_found(tmp_path):
    pdf = _pdf(tmp_path, f'#set document(title: "Pack for {STAFF_ID}")\n'
                         '#link("https://example.org/staff/A245129612")[a link]\n')
    found = sorted((f.location, f.message.split("'")[1]) for f in run([pdf]).findings)
    assert ("document information", STAFF_ID) in found
    assert ("page 1 annotation 1", "A245129612") in found


def test_a_pdf_that_cannot_be_read_is_a_finding(tmp_path):
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(b"%PDF-1.7\nnot really a pdf\n")
    report = run([pdf])
    assert [(f.file, f.what) for f in report.findings] == [(str(pdf), "unreadable")]


def test_identifier_in_png_text_chunks_is_found(tmp_path, site):
    (site / "chart.png").write_bytes(png((b"Title", f"case {STAFF_ID}".encode())))
    (site / "other.png").write_bytes(png(ztxt=(b"Comment", b"A245129612 again")))
    found = [(Path(f.file).name, f.location, f.what) for f in run([site]).findings]
    assert found == [("chart.png", "PNG chunk 2 tEXt", "identifier"),
                     ("other.png", "PNG chunk 2 zTXt", "identifier")]


def test_identifier_in_the_metadata_of_an_inline_image(site):
    b64 = base64.b64encode(png((b"Title", STAFF_ID.encode()))).decode()
    (site / "index.html").write_text(f'<p>chart</p>\n<img alt="x" src="data:image/png;base64,{b64}">\n')
    path = site / "reports" / "hia2.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": b64}))
    nbformat.write(nb, path)
    found = sorted((Path(f.file).name, f.location) for f in run([site]).findings)
    assert found == [("hia2.ipynb", "cell 2 output 2 image/png PNG chunk 2 tEXt"),
                     ("index.html", "line 2 image/png PNG chunk 2 tEXt")]


def test_a_file_of_another_type_or_a_broken_image_is_a_finding_not_a_skip(site):
    (site / "font.woff2").write_bytes(b"wOF2" + STAFF_ID.encode())
    (site / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 5)
    report = run([site])
    found = sorted((Path(f.file).name, f.what) for f in report.findings)
    assert found == [("broken.png", "unreadable"), ("font.woff2", "unreadable")]
    assert report.files_skipped == 1  # the .woff2: "of other types not scanned", and a finding
    assert "font.woff2:1: unreadable: a .woff2 file cannot be read" in "\n".join(
        f.format() for f in report.findings)


def test_gif_in_a_notebook_output_is_a_finding(site):
    path = site / "reports" / "hia2.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs.append(nbformat.v4.new_output(
        "display_data", data={"image/gif": base64.b64encode(b"GIF89a").decode()}))
    nbformat.write(nb, path)
    assert [(f.location, f.what) for f in run([site]).findings] == [
        ("cell 2 output 2 image/gif", "unreadable")]


def test_parquet_values_names_and_metrics_rows_are_checked(tmp_path):
    import pandas as pd

    pd.DataFrame({"who": ["fine", "C653136551"], "n": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    rows = pd.DataFrame([metrics_row(numerator="3"), metrics_row(numerator="12")])
    for c in ("numerator", "denominator", "value", "ci_lower", "ci_upper"):
        rows[c] = rows[c].astype(float)
    rows["suppressed"] = False
    rows.to_parquet(tmp_path / "m.parquet")
    report = run([tmp_path])
    found = sorted((Path(f.file).name, f.location, f.what) for f in report.findings)
    assert found == [("m.parquet", "row 1, column numerator", "small count"),
                     ("t.parquet", "row 2, column who", "identifier")]
    assert report.metrics_tables == 1


def test_absolute_local_paths_are_findings(site, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = site / "reports" / "hia2.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["papermill"] = {"input_path": "00_overview.ipynb",  # relative: fine
                                "output_path": str(data / "x.ipynb")}
    nbformat.write(nb, path)
    (site / "notes.md").write_text(f"Run from {Path.home()}/work by hand.\n")
    report = A.audit([site], data, identifiers=IDS)
    found = sorted((Path(f.file).name, f.location, f.what) for f in report.findings)
    assert found == [("hia2.ipynb", "metadata", "local path"), ("notes.md", "line 1", "local path")]
    assert "(the data folder)" in " ".join(f.message for f in report.findings)


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


def test_the_contract_minimum_holds_whatever_threshold_is_given(site):
    # numerator 6 and 4: with min_count 5 only the 4 is below the params' threshold, but 6 is
    # below the contract's 8
    write_metrics(site / "metrics.csv", [metrics_row(numerator="6"), metrics_row(numerator="4")])
    report = run([site], min_count=5)
    assert [(f.location, f.what) for f in report.findings] == [
        ("row 2, column numerator", "small count"), ("row 3, column numerator", "small count")]
    assert "numerator 6 is below the data contract's min_count 8" in report.findings[0].message
    # allowed: the 6 becomes a warning naming the params key; the 4 is still a finding
    report = run([site], min_count=5, allow_lower_thresholds=True)
    assert [f.location for f in report.findings] == ["row 3, column numerator"]
    low = [w for w in report.warnings if "allow_lower_thresholds: true" in w]
    assert len(low) == 1 and "row 2, column numerator" in low[0] and "numerator 6" in low[0]


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
    # Un-suppress a row hidden for its own small count and put its true figures back, as a
    # broken suppression step would.
    from edi_analysis.metrics import MetricContext, compute_raw

    raw = compute_raw(MetricContext.from_tables(validate_dataset(SAMPLE).dataset.tables,
                                                ["2024-03-31"]), ["wres.1.share"])
    true = raw.set_index(["trust_code", "breakdown", "group"])
    text = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(text[1:], 2):
        rec = next(csv.reader(io.StringIO(line)))
        if rec[3] == "wres.1.share" and rec[14].startswith("suppressed: based on"):
            t = true.loc[(rec[0], rec[4], rec[5])]
            rec[7], rec[8], rec[9] = f"{t['numerator']:g}", f"{t['denominator']:g}", "1"
            rec[13], rec[14] = "false", ""
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(rec)
            text[i - 1] = buf.getvalue()
            break
    bad = tmp_path / "metrics.csv"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    report = A.audit([bad], SAMPLE, identifiers=ids)
    found = {(f.location, f.what) for f in report.findings}
    small = "numerator" if 0 < t["numerator"] < 8 else "denominator"
    assert (f"row {i}, column {small}", "small count") in found  # the row on its own
    assert (f"row {i}", "small count") in found  # the linked check: a published small cell


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
    reports = tmp_path / "reports"
    reports.mkdir()
    params = tmp_path / "p.yaml"
    params.write_text(json.dumps({
        "data": str(SAMPLE), "periods": ["2024-03-31"], "notebooks_dir": str(ROOT / "notebooks"),
        "reports_dir": str(reports), "site_dir": str(site), "min_count": 90,
    }), encoding="utf-8")  # JSON is YAML
    # The clean folder's metrics row has numerator 89: fine at 8, a small count at the params' 90.
    assert cli.main(["audit", str(params)]) == 1
    err = capsys.readouterr().err
    assert err.count("numerator 89 is below min_count 90") == 1
    assert cli.main(["audit", str(params), "--min-count", "8"]) == 0


def test_cli_scans_a_file_under_two_given_folders_once(site, capsys):
    assert cli.main(["audit", str(site), str(site / "reports"), str(site / "metrics.csv"),
                     "--data", str(SAMPLE), "--min-count", "90"]) == 1
    assert capsys.readouterr().err.count("numerator 89 is below min_count 90") == 1


def test_cli_thresholds_below_the_contract_need_the_flag(site, capsys):
    assert cli.main(["audit", str(site), "--data", str(SAMPLE), "--min-count", "5"]) == 2
    assert "--allow-lower-thresholds" in capsys.readouterr().err
    assert cli.main(["audit", str(site), "--data", str(SAMPLE), "--min-count", "5",
                     "--allow-lower-thresholds"]) == 0


# --- linked cells: what subtraction across every published table reveals -----------------


@pytest.fixture(scope="module")
def issue_case(tmp_path_factory):
    """`edi-analysis sample-data --trusts 2 --staff 600`: the issue's trust ZZ002."""
    from edi_analysis import sample

    data = tmp_path_factory.mktemp("issue") / "data"
    sample.write_sample(data, trusts=2, staff=600)
    dataset = validate_dataset(data).dataset
    return data, dataset


def test_old_per_family_suppression_is_found_and_the_new_one_passes(issue_case, tmp_path):
    # Issue 11: ZZ002's WRES 1 hid BME and Unknown but showed White 103 of 176; WRES 4 showed
    # the BME headcount 67 as its denominator; so Unknown = 176 − 103 − 67 = 6. The old
    # suppression (one decision per family) published exactly that; the audit must find it.
    from edi_analysis.metrics import MetricContext, compute_raw

    data, dataset = issue_case
    raw = compute_raw(MetricContext.from_tables(dataset.tables, ["2024-03-31"]),
                      ["wres.1.share", "wres.4.access_rate"])
    z = raw[(raw["trust_code"] == "ZZ002") & (raw["breakdown"] == "")].set_index(["metric_id", "group"])
    total = z.loc[("wres.1.share", "White"), "denominator"]
    white = z.loc[("wres.1.share", "White"), "numerator"]
    bme = z.loc[("wres.4.access_rate", "BME"), "denominator"]
    unknown = z.loc[("wres.1.share", "Unknown"), "numerator"]
    assert total - white - bme == unknown and 0 < unknown < 8  # 176 − 103 − 67 = 6

    def rec(metric, group, num, den, suppressed=False):
        return metrics_row(trust_code="ZZ002", metric_id=metric, group=group, area="hia2",
                           numerator="" if suppressed else f"{num:g}",
                           denominator="" if suppressed else f"{den:g}",
                           value="" if suppressed else f"{100 * num / den:g}",
                           ci_lower="", ci_upper="", suppressed="true" if suppressed else "false")

    old = write_metrics(tmp_path / "old.csv", [
        rec("wres.1.share", "BME", 0, 0, suppressed=True),
        rec("wres.1.share", "Unknown", 0, 0, suppressed=True),
        rec("wres.1.share", "White", white, total),
        rec("wres.4.access_rate", "BME", z.loc[("wres.4.access_rate", "BME"), "numerator"], bme),
    ])
    report = A.audit([old], data)
    found = [f for f in report.findings if f.what == "recoverable count"]
    assert len(found) == 1, [f.format() for f in report.findings]
    msg = found[0].message
    assert "ethnicity=Unknown" in msg and f"= {unknown:g}," in msg
    assert f"{total:g} [" in msg and f"− {white:g} [" in msg and f"− {bme:g} [" in msg
    assert found[0].location == "row 3"  # the suppressed Unknown row
    # The same rows from the linked decision: nothing can be worked out.
    rows = pipeline.compute_metrics(dataset, ["2024-03-31"])
    new = tmp_path / "new" / "metrics.csv"
    new.parent.mkdir()
    new.write_bytes(pipeline.metrics_csv_bytes(rows))
    clean = A.audit([new.parent], data)
    assert clean.ok, [f.format() for f in clean.findings[:5]]
    assert clean.linked_cells > 500 and f"{clean.linked_cells} linked cells checked" in clean.summary()


def test_a_count_published_in_one_period_and_inside_another_is_checked_across_files(
        issue_case, tmp_path):
    # The 2023 Unknown headcount, hidden in 2023's WRES 1, is inside 2024's two-year WRES 3
    # denominator: with 2024's Unknown headcount published, subtraction gives it back. The
    # check reads both periods' tables together.
    from edi_analysis.metrics import MetricContext, compute_raw

    data, dataset = issue_case
    raw = compute_raw(MetricContext.from_tables(dataset.tables, ["2023-03-31", "2024-03-31"]),
                      ["wres.1.share", "wres.3.rate"])
    z = raw[(raw["trust_code"] == "ZZ002") & (raw["breakdown"] == "")
            & (raw["group"] == "Unknown")].set_index(["period", "metric_id"])
    u23 = z.loc[("2023-03-31", "wres.1.share"), "numerator"]
    u24 = z.loc[("2024-03-31", "wres.1.share"), "numerator"]
    den = z.loc[("2024-03-31", "wres.3.rate"), "denominator"]
    assert den == u23 + u24 and 0 < u23 < 8
    r23 = metrics_row(trust_code="ZZ002", period="2023-03-31", metric_id="wres.1.share",
                      group="Unknown", numerator="", denominator="", value="", ci_lower="",
                      ci_upper="", suppressed="true")
    r24 = metrics_row(trust_code="ZZ002", metric_id="wres.1.share", group="Unknown",
                      numerator=f"{u24:g}", denominator=f"{z.loc[('2024-03-31', 'wres.1.share'), 'denominator']:g}",
                      value="1", ci_lower="", ci_upper="")
    r3 = metrics_row(trust_code="ZZ002", metric_id="wres.3.rate", area="hia6", group="Unknown",
                     numerator=f"{z.loc[('2024-03-31', 'wres.3.rate'), 'numerator']:g}",
                     denominator=f"{den:g}", value="1", ci_lower="", ci_upper="")
    (tmp_path / "2023").mkdir()
    (tmp_path / "2024").mkdir()
    write_metrics(tmp_path / "2023" / "metrics.csv", [r23])
    write_metrics(tmp_path / "2024" / "metrics.csv", [r24, r3])
    report = A.audit([tmp_path], data)
    found = [f for f in report.findings if f.what == "recoverable count"]
    assert any("snapshot=2023-03-31" in f.message and f"= {u23:g}," in f.message for f in found)
    assert any(f.file.endswith("2023/metrics.csv") for f in found)


def test_the_same_row_published_twice_with_different_figures_is_a_finding(tmp_path):
    write_metrics(tmp_path / "a.csv", [metrics_row(numerator="89", denominator="536")])
    write_metrics(tmp_path / "b.csv", [metrics_row(numerator="90", denominator="536")])
    report = A.audit([tmp_path], SAMPLE)
    assert [(f.file, f.what) for f in report.findings] == [
        (str(tmp_path / "b.csv"), "inconsistent publication")]
    assert f"{tmp_path / 'a.csv'}:2" in report.findings[0].message


def test_a_ratio_built_from_a_small_count_is_found_though_it_shows_no_count(tmp_path):
    # A relative likelihood shows no numerator or denominator: the row check cannot see its
    # small input. The linked check counts its cells.
    from edi_analysis.metrics import REGISTRY, MetricContext, compute, compute_raw

    ctx = MetricContext.from_tables(validate_dataset(SAMPLE).dataset.tables, ["2024-03-31"])
    ids = [m for m in REGISTRY if m.endswith("relative_likelihood") and not m.startswith("hia6")]
    out = compute(ctx, ids)
    raw = compute_raw(ctx, ids)
    r = out.index[out["note"] == "suppressed: based on fewer than 8 people"][0]
    rec = {k: ("" if pd.isna(v) else str(v)) for k, v in raw.loc[r, list(A.METRICS_COLUMNS)].items()}
    rec["suppressed"] = "false"
    path = write_metrics(tmp_path / "metrics.csv", [rec])
    report = A.audit([path], SAMPLE)
    assert [(f.location, f.what) for f in report.findings] == [("row 2", "small count")]
    assert "is built from" in report.findings[0].message


# --- archives: the site's notebooks.zip --------------------------------------------------------

def _archive(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_notebooks_in_an_archive_are_read_as_notebooks(site):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("table()")
    code.outputs = [nbformat.v4.new_output(
        "execute_result", data={"text/html": f"<td>{STAFF_ID}</td>", "text/plain": "table"},
        execution_count=1)]
    nb.cells = [code]
    clean = nbformat.v4.new_notebook()
    path = _archive(site / "reports" / "notebooks.zip", {
        "README.txt": b"Executed notebooks\n", "a.ipynb": nbformat.writes(clean).encode(),
        "b.ipynb": nbformat.writes(nb).encode()})
    report = run([site])
    assert [(f.file, f.location, f.what) for f in report.findings] == [
        (str(path), "b.ipynb cell 1 output 1 text/html line 1", "identifier")]
    assert report.files_scanned == 6 and report.files_skipped == 0


def test_an_archive_member_the_audit_cannot_read_is_a_finding(site):
    path = _archive(site / "reports" / "notebooks.zip", {
        "chart.png": CHART, "inner.zip": b"PK", "notes.txt": f"case {STAFF_ID}\n".encode()})
    found = [(f.file, f.location, f.what) for f in run([site]).findings]
    assert found == [(str(path), "chart.png", "unreadable"), (str(path), "inner.zip", "unreadable"),
                     (str(path), "notes.txt line 1", "identifier")]
    (site / "reports" / "notebooks.zip").write_bytes(b"not a zip")
    found = [(f.file, f.what) for f in run([site]).findings]
    assert found == [(str(path), "unreadable")]
