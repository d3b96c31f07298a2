"""Publishing: content model, built-in route (site + typst board packs), Quarto sources.

Fast tests build a small report folder of executed notebooks in a temporary
directory (made here, never committed). The end-to-end tests at the bottom
publish the real sample reports (built once per session, tests/publish_support.py).
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

from edi_analysis.publish import PublishResult, choose_engine, publish
from edi_analysis.publish import content as C
from edi_analysis.publish import fallback

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("Black and minority ethnic staff were **1.60 times** as likely as White staff to "
            "enter a formal disciplinary process (95% CI 1.10 to 2.30; 40 of 900 BME staff).")
ALT = "Bar chart: 4.4% of BME staff entered a formal process compared with 2.8% of White staff."


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["White", "BME"], [2.8, 4.4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _code(source, outputs=(), tags=(), n=1):
    cell = nbformat.v4.new_code_cell(source, execution_count=n)
    cell.outputs = list(outputs)
    if tags:
        cell.metadata.tags = list(tags)
    return cell


def _notebook(title: str, png: bytes) -> nbformat.NotebookNode:
    b64 = base64.b64encode(png).decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    disp = nbformat.v4.new_output
    nb.cells = [
        _code("trust = 'RXX'", tags=["parameters"]),
        nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this page covers."),
        _code("import warnings", [disp("stream", name="stderr", text="DeprecationWarning: x\n")]),
        _code("r = load()", [disp("display_data", data={"text/markdown": f"# {title}\n\n**Trust:** RXX",
                                                       "text/plain": "t"})]),
        _code("#| label: hl-wres3\nr.section('hl-wres3')",
              [disp("display_data", data={"text/markdown": HEADLINE, "text/plain": "s"}),
               disp("display_data", data={
                   "text/html": f'<figure class="edi-chart"><img alt="{ALT}" src="data:image/png;'
                                f'base64,{b64}"><figcaption>Relative likelihood, 95% CI</figcaption>'
                                "</figure>", "text/plain": "chart"}),
               disp("display_data", data={
                   "text/html": "<table><caption>Disciplinary rates</caption><thead><tr>"
                                "<th scope='col'>Group</th><th scope='col'>Rate (%)</th></tr>"
                                "</thead><tbody><tr><th scope='row'>BME</th><td>4.4</td></tr>"
                                "<tr><th scope='row'>White</th><td>2.8</td></tr></tbody></table>",
                   "text/plain": "table"})],
              tags=["headline"], n=2),
        _code("#| label: fig-bare\n#| fig-alt: Line chart of the rate rising from 2.1% to 2.8%.\n"
              "#| fig-cap: Trend\nplot()",
              [disp("display_data", data={"image/png": b64, "text/plain": "fig"})],
              tags=["headline"], n=3),
        _code("print('done')", [disp("stream", name="stdout", text="done\n")], n=4),
    ]
    return nb


def make_reports(root: Path, trusts=("RXA", "RXB"), periods=("2023-03-31", "2024-03-31")) -> Path:
    """A reports/ tree shaped like the runner's output, with two small notebooks per report."""
    png = _png()
    for period in periods:
        for trust in trusts:
            d = root / period / trust
            d.mkdir(parents=True)
            nbformat.write(_notebook("Overview", png), d / "00_overview.ipynb")
            nbformat.write(_notebook("High impact action 6: disciplinary", png),
                           d / "06_hia6_bullying_disciplinary.ipynb")
            rows = ["trust_code,period,area,metric_id,breakdown,group,reference_group,numerator,"
                    "denominator,value,ci_lower,ci_upper,unit,suppressed,note"]
            for i, rag in enumerate(["red", "red", "amber", "grey"]):
                rows.append(f"{trust},{period},hia1,actions.status,action=a{i},All,,,,{rag},,,flag,false,")
            (d / "metrics.csv").write_text("\n".join(rows) + "\n")
            (d / "manifest.json").write_text(json.dumps({
                "trust": trust, "period": period, "finished": "2024-05-02T10:00:00+00:00",
                "parameters": {"min_count": 8, "min_survey_responses": 11},
                "inputs": {"workforce.csv": "0123456789abcdef" * 4},
                "versions": {"edi-analysis": "0.1.0"}, "git_commit": "abcdef1234567890",
                "notebooks": [{"name": "00_overview.ipynb", "status": "ok"}]}))
    return root


SAMPLE = ROOT / "data" / "sample"


def params_for(tmp: Path, reports: Path, site: str = "site", **kw):
    """Params of a publish over ``reports``; ``data`` is the sample (the audit's identifiers)."""
    return SimpleNamespace(**{"reports_dir": reports, "site_dir": tmp / site, "periods": None,
                              "trusts": None, "min_count": 8, "min_survey_responses": 11,
                              "data": SAMPLE, "allow_lower_thresholds": False, **kw})


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small published site: (params, result)."""
    tmp = tmp_path_factory.mktemp("publish")
    params = params_for(tmp, make_reports(tmp / "reports"))
    return params, publish(params, engine="fallback", quiet=True, jobs=2)


# --- the content model -------------------------------------------------------------------------

@pytest.mark.parametrize("period,label", [("2024-03-31", "2023/24"), ("2023-03-31", "2022/23"),
                                          ("2024-09-30", "2024/25")])
def test_period_label_is_the_financial_year(period, label):
    assert C.period_label(period) == label


def test_cell_options_read_quarto_comments_only_at_the_top():
    src = "#| label: hl-wres3\n#| fig-cap: 'A: caption'\nx = 1\n#| label: not-this"
    assert C.cell_options(src) == {"label": "hl-wres3", "fig-cap": "A: caption"}
    assert C.cell_options("x = 1") == {}


def test_markdown_output_keeps_emphasis_lists_and_image_alt():
    png = base64.b64encode(b"\x89PNG fake").decode()
    blocks = C.markdown_blocks(f"Rate was **4.4%** here.\n\n- one\n- *two*\n\n"
                               f"![{ALT}](data:image/png;base64,{png})")
    para, bullets, fig = blocks
    assert para.runs == (C.Run("Rate was "), C.Run("4.4%", strong=True), C.Run(" here."))
    assert bullets.items == ((C.Run("one"),), (C.Run("two", emph=True),))
    assert (fig.alt, fig.data, fig.mime) == (ALT, b"\x89PNG fake", "image/png")


def test_html_output_gives_figures_with_captions_and_tables_with_row_headers():
    png = base64.b64encode(b"img").decode()
    html = (f'<figure><img alt="{ALT}" src="data:image/png;base64,{png}"><figcaption>Cap'
            "</figcaption></figure><table><caption>T</caption><thead><tr><th>Group</th>"
            "<th>Rate</th></tr></thead><tbody><tr><th>BME</th><td>4.4</td></tr></tbody></table>")
    fig, table = C.html_blocks(html)
    assert (fig.alt, fig.caption) == (ALT, "Cap")
    assert table == C.Table("T", ("Group", "Rate"), (("BME", "4.4"),), row_headers=True)


def test_load_site_reads_headlines_summary_actions_and_provenance(small):
    params, _ = small
    site = C.load_site(params)
    assert [(r.period, r.trust_code) for r in site.reports] == [
        ("2024-03-31", "RXA"), ("2024-03-31", "RXB"), ("2023-03-31", "RXA"), ("2023-03-31", "RXB")]
    report = site.reports[0]
    nb = report.notebooks[1]
    assert (nb.title, nb.area) == ("High impact action 6: disciplinary", "hia6")
    assert [h.label for h in nb.headlines] == ["hl-wres3", "fig-bare"]
    assert [h.kind for h in nb.headlines] == ["statement", "figure"]
    # the bare image gets its alt text from the fig-alt cell option
    bare = nb.headlines[1].blocks[0]
    assert bare.alt.startswith("Line chart") and bare.caption == "Trend"
    # executive summary: the area's first sentence, without markdown syntax
    assert report.summary == ((nb.title, nb.headlines[0].blocks[0]),)
    assert "1.60 times" in report.summary[0][1].text and "**" not in report.summary[0][1].text
    # actions.status rows: red, red, amber, grey → counts in RAG order
    assert report.rag_counts == (("red", 2), ("amber", 1), ("green", 0), ("grey", 1))
    # input hashes abbreviated to 12 hex digits
    assert report.provenance == (("workforce.csv", "0123456789ab"),)
    assert report.generated_on == "2024-05-02"
    assert any("Counts from 1 to 7 are suppressed" in s for s in report.method_note())


def test_data_outputs_are_never_shown_on_a_page():
    nb = _notebook("Overview", _png())
    rows = {"application/vnd.edi-analysis.metrics+json": [{"metric_id": "x"}], "text/plain": ""}
    nb.cells.append(_code("r.section('hl-board')", [
        nbformat.v4.new_output("display_data", data={"text/html": "<table class='dashboard'>"
                                                                  "<tr><td>1</td></tr></table>",
                                                     "text/plain": "t"}),
        nbformat.v4.new_output("display_data", data={C.BOARD_MIME: {"rows": []},
                                                     "text/plain": ""}),
        nbformat.v4.new_output("display_data", data=rows)], n=9))
    for reviewer in (False, True):
        cell = fallback.prepare_notebook(nb, "Overview", reviewer=reviewer).cells[-1]
        assert [list(o["data"]) for o in cell.outputs] == [["text/html", "text/plain"]]
    assert C.output_blocks(nb.cells[-1].outputs[1], {}) == []  # not a block either


def test_board_view_drops_code_noise_and_the_duplicate_title():
    nb = _notebook("Overview", _png())
    board = fallback.prepare_notebook(nb, "Overview", reviewer=False)
    sources = [c.source for c in board.cells]
    assert not any("trust = 'RXX'" in s for s in sources)  # parameters cell: no output, gone
    assert not any(o.get("name") == "stderr" for c in board.cells for o in c.get("outputs", []))
    assert board.cells[0].source == "What this page covers."
    reviewer = fallback.prepare_notebook(nb, "Overview", reviewer=True)
    assert len(reviewer.cells) == len(nb.cells)  # reviewers see every cell as run
    fig = [c for c in board.cells if "fig-bare" in c.source][0]
    assert fig.outputs[0].metadata["image/png"]["alt"].startswith("Line chart")


# --- the built-in route ---------------------------------------------------------------------------

def test_fallback_builds_every_page_and_board_pack(small):
    params, result = small
    assert isinstance(result, PublishResult) and result.exit_code == 0
    assert result.engine == "fallback"
    site = Path(params.site_dir)
    for period in ("2023-03-31", "2024-03-31"):
        for trust in ("RXA", "RXB"):
            d = site / "reports" / period / trust
            for rel in ("index.html", "00_overview.html", "reviewer/00_overview.html",
                        "06_hia6_bullying_disciplinary.html", "board-pack.pdf", "metrics.csv",
                        "notebooks.zip"):
                assert (d / rel).is_file(), d / rel
    assert len(result.pages) == 3 + 4 * (1 + 2 * 2)  # 3 site pages; per report summary + 2×2 views
    assert len(result.pdfs) == 4


def test_landing_page_links_every_trust_and_period(small):
    params, _ = small
    html = (Path(params.site_dir) / "index.html").read_text("utf-8")
    for period in ("2023-03-31", "2024-03-31"):
        for trust in ("RXA", "RXB"):
            assert f'href="reports/{period}/{trust}/index.html"' in html
            assert f'href="reports/{period}/{trust}/board-pack.pdf"' in html
    assert "2023/24" in html and "2022/23" in html


def test_pages_are_semantic_and_code_is_only_in_the_reviewer_view(small):
    params, _ = small
    d = Path(params.site_dir) / "reports" / "2024-03-31" / "RXA"
    board = (d / "06_hia6_bullying_disciplinary.html").read_text("utf-8")
    reviewer = (d / "reviewer" / "06_hia6_bullying_disciplinary.html").read_text("utf-8")
    for html in (board, reviewer):
        assert '<html lang="en-GB">' in html and 'href="#main"' in html
        assert html.count("<h1") == 1 and '<main id="main"' in html
        assert f'alt="{ALT}"' in html
    assert "r.section(" not in board and "DeprecationWarning" not in board
    assert "#| label: hl-wres3" in reviewer and "class=\"highlight" in reviewer
    assert "1.60 times" in board


def test_board_pack_pdf_is_tagged_titled_and_reads_as_a_board_paper(small):
    params, _ = small
    pdf = Path(params.site_dir) / "reports" / "2024-03-31" / "RXA" / "board-pack.pdf"
    import pypdf

    root = pypdf.PdfReader(pdf).trailer["/Root"]  # in an object stream: read, not grepped
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]  # tagged PDF
    assert root["/Lang"] and root["/ViewerPreferences"]["/DisplayDocTitle"]
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (apt-get install -y poppler-utils)")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert re.search(r"Tagged:\s+yes", info)
    assert "Equality, diversity and inclusion report 2023/24" in info  # the paper's title
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True).stdout
    flat = " ".join(text.split())
    for expected in ("Board paper", "RXA", "2023/24", "Meeting", "Executive lead", "Author",
                     "Purpose", "The Board is asked to", "Board Assurance Framework",
                     "Previously considered by", "Dashboard", "What the Board is asked to do",
                     "Summary by action area", "1.60 times as likely as White staff",
                     "Method note", "Counts from 1 to 7 are suppressed",
                     "workforce.csv (0123456789ab)"):
        assert expected in flat, expected
    # the software is on the provenance line, not in the author box
    assert "Author Equality, diversity and inclusion lead" in flat
    assert "Produced with edi-analysis 0.1.0, commit abcdef123456" in flat
    assert "0123456789abcdef" not in flat  # hashes abbreviated


def test_board_pack_keeps_charts_indexed_and_the_structure_tree_in_object_streams(small):
    import numpy as np
    import pikepdf

    params, _ = small
    pdf_path = Path(params.site_dir) / "reports" / "2024-03-31" / "RXA" / "board-pack.pdf"
    raw = pdf_path.read_bytes()
    assert b"/ObjStm" in raw and b"/StructElem" not in raw  # Typst writes each one plainly
    with pikepdf.open(pdf_path) as pdf:
        images = [o for o in pdf.objects
                  if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == pikepdf.Name.Image]
        masks = {i.SMask.objgen for i in images if "/SMask" in i}  # alpha: one byte a pixel
        colour = [i for i in images if i.objgen not in masks]
        assert colour
        for image in colour:
            space = image.ColorSpace
            if isinstance(space, pikepdf.Array) and space[0] == pikepdf.Name.Indexed:
                continue
            # left as Typst wrote it only when it has more colours than an index holds
            pixels = np.asarray(pikepdf.PdfImage(image).as_pil_image().convert("RGB"))
            assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 256


def test_notebooks_are_offered_as_one_archive_per_report(small):
    import zipfile

    params, _ = small
    d = Path(params.site_dir) / "reports" / "2024-03-31" / "RXA"
    assert not list(d.glob("*.ipynb"))
    with zipfile.ZipFile(d / "notebooks.zip") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["README.txt", "00_overview.ipynb",
                                               "06_hia6_bullying_disciplinary.ipynb"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        readme = zf.read("README.txt").decode()
        nb = nbformat.reads(zf.read("00_overview.ipynb").decode(), as_version=4)
    assert "images/" in readme and "00_overview.ipynb" in readme and "with every output" in readme
    nbformat.validate(nb)
    assert any(c.get("outputs") for c in nb.cells)  # outputs kept
    index = (d / "index.html").read_text("utf-8")
    assert re.search(r'<a href="notebooks.zip" download>Executed notebooks for [^<]*\(ZIP of 2 '
                     r"Jupyter notebooks, \d+ KB\)</a>", index)
    assert "the archive does not hold the images again" in index
    for page in ("00_overview.html", "reviewer/00_overview.html"):
        html = (d / page).read_text("utf-8")
        href = "notebooks.zip" if "/" not in page else "../notebooks.zip"
        assert f'<a href="{href}" download>Executed notebooks of this report, 00_overview.ipynb' \
            in html, page


@pytest.mark.parametrize("jobs", [1, 2])
def test_fallback_output_is_deterministic(small, tmp_path, jobs):
    # `small` was built with two worker processes; built again one report at a time (and
    # in parallel again), every byte is the same
    params, first = small
    again = publish(SimpleNamespace(**{**vars(params), "site_dir": tmp_path / "again"}),
                    engine="fallback", quiet=True, jobs=jobs)
    a, b = Path(params.site_dir), tmp_path / "again"
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    differ = [f for f in files if (a / f).read_bytes() != (b / f).read_bytes()]
    assert set(differ) <= {"site-manifest.json"}  # at most its one timestamp differs
    manifest = json.loads((a / "site-manifest.json").read_text())
    assert set(manifest) == {"generator", "built_at", "engine", "files"}
    assert manifest["generator"] == "edi-analysis" and len(manifest["files"]) == len(files) - 1


def _hashes(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_nothing_to_publish_leaves_the_old_site_alone(tmp_path):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    assert publish(params_for(tmp_path, reports), engine="fallback", quiet=True).ok
    before = _hashes(tmp_path / "site")
    result = publish(params_for(tmp_path, tmp_path / "empty-reports"), engine="fallback", quiet=True)
    assert result.exit_code == 1 and "run `edi-analysis run` first" in result.messages[0]
    assert _hashes(tmp_path / "site") == before


def test_a_failed_build_leaves_the_old_site_and_no_temporary_folder(tmp_path, monkeypatch):
    reports = make_reports(tmp_path / "reports", trusts=("RXA",), periods=("2024-03-31",))
    params = params_for(tmp_path, reports)
    assert publish(params, engine="fallback", quiet=True).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken(*a, **k):
        raise RuntimeError("typst failed")

    monkeypatch.setattr(fallback, "compile_board_pack", broken)
    result = publish(params, engine="fallback", quiet=True)
    assert result.exit_code == 1 and "typst failed" in result.messages[0]
    assert (tmp_path / "site" / "reports" / "2024-03-31" / "RXA" / "board-pack.pdf").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_engine_choice(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert choose_engine("auto") == "fallback"
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/quarto")
    assert choose_engine("auto") == "quarto"
    assert choose_engine("fallback") == "fallback"
    with pytest.raises(ValueError):
        choose_engine("latex")


# --- the Quarto route -----------------------------------------------------------------------------

# The Quarto route's tests are in tests/test_quarto.py.


# --- end to end on the sample reports ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    from publish_support import sample_site

    return sample_site()


def _identifiers(site: C.Site) -> set[str]:
    """Every pseudonymised identifier in the inputs the reports were run on (CONTRACT.md §2:
    identifiers never appear in any output). The data folder is read from each manifest."""
    import pandas as pd

    # the manifest's paths are relative to the report folder
    folders = {(r.source_dir / json.loads((r.source_dir / "manifest.json").read_text())
                ["parameters"]["data"]).resolve() for r in site.reports}
    ids: set[str] = set()
    for folder in folders:
        for name, col in (("workforce", "staff_id"), ("recruitment", "application_id"),
                          ("employee_relations", "case_id"), ("staff_survey", "respondent_id"),
                          ("board", "member_id")):
            path = Path(folder) / f"{name}.csv"
            if path.is_file():
                ids |= set(pd.read_csv(path, usecols=[col], dtype=str)[col].dropna())
    return ids


@pytest.mark.slow
def test_sample_site_has_every_report_page_and_board_pack(sample):
    params, result = sample
    site = C.load_site(params)
    assert site.reports, "no sample reports"
    out = Path(params.site_dir)
    landing = (out / "index.html").read_text("utf-8")
    for r in site.reports:
        assert f'href="{r.path}/index.html"' in landing
        assert (out / r.path / "board-pack.pdf").is_file()
        for nb in r.notebooks:
            assert (out / r.path / f"{nb.stem}.html").is_file()
            assert (out / r.path / "reviewer" / f"{nb.stem}.html").is_file()
    assert len(result.pdfs) == len(site.reports)
    sizes = {p: (out / p).stat().st_size for p in result.pages}
    pdf_sizes = {p: (out / p).stat().st_size for p in result.pdfs}
    print(f"\nsample publish: {result.seconds:.1f} s, {len(sizes)} pages "
          f"({sum(sizes.values()) / 1e6:.1f} MB, largest {max(sizes.values()) / 1e6:.2f} MB), "
          f"{len(pdf_sizes)} PDFs ({sum(pdf_sizes.values()) / 1e6:.1f} MB, "
          f"largest {max(pdf_sizes.values()) / 1e6:.2f} MB)")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="poppler-utils not installed (apt-get install -y poppler-utils)")
def test_sample_board_packs_are_tagged_show_headlines_and_no_identifiers(sample):
    params, result = sample
    site = C.load_site(params)
    ids = _identifiers(site)
    assert ids, "no identifiers found in the sample inputs"
    for r in site.reports:
        pdf = Path(params.site_dir) / r.path / "board-pack.pdf"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert re.search(r"Tagged:\s+yes", info), pdf
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        flat = " ".join(text.split())
        assert r.summary, f"{r.path}: no executive summary sentences"
        for area, para in r.summary:
            # the first words of each headline sentence (line breaks and hyphenation aside)
            words = " ".join(para.text.split()[:6])
            assert words in flat, f"{r.path}: {words!r} not in the board pack"
        leaked = ids & set(re.findall(r"[A-Za-z0-9]+", text))
        assert not leaked, f"{pdf}: identifiers {sorted(leaked)[:5]}"


@pytest.mark.slow
def test_sample_site_pages_show_no_identifiers(sample):
    params, result = sample
    ids = _identifiers(C.load_site(params))
    assert ids
    for rel in result.pages:
        text = (Path(params.site_dir) / rel).read_text("utf-8")
        leaked = ids & set(re.findall(r"[A-Za-z0-9]+", text))
        assert not leaked, f"{rel}: identifiers {sorted(leaked)[:5]}"


def test_board_pack_tables_right_align_only_number_columns():
    t = C.Table("c", ("Group", "Breakdown", "Figure", "95% CI", "Denominator"),
                (("All", "among voting members", "85.7%", "60.1% to 96.0%", "1,234"),
                 ("BME", "", "suppressed", "", "")))
    assert fallback.numeric_columns(t) == [False, False, True, True, True]


# --- the board paper on the sample (issue 13) ---------------------------------------------------

def _pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True).stdout
    return [" ".join(p.split()) for p in text.split("\f") if p.strip()]


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
#: Internal codes that must never reach a board page (the reviewer views show code).
_CODES = re.compile(r"\(characteristic|characteristic:|international_recruit|ethnicity5|"
                    r"metric rows|\bedi\.hia\d|\bpp\.(hwb|inclusion|recruit|skills|national)\.|"
                    r"actions\.status|relative_likelihood|_gap\b|board=voting|pay_cluster=")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 30]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="poppler-utils not installed (apt-get install -y poppler-utils)")
def test_sample_board_packs_open_with_cover_dashboard_and_asks_in_three_pages(sample):
    params, _ = sample
    site = C.load_site(params)
    for r in site.reports:
        pages = _pdf_pages(Path(params.site_dir) / r.path / "board-pack.pdf")
        cover, dash, asks = pages[0], pages[1], pages[2]
        assert cover.startswith("Board paper") and r.trust_name in cover
        for field in ("Meeting", "Executive lead", "Author Head of Equality, Diversity and "
                      "Inclusion", "Purpose ☒ Assurance", "The Board is asked to receive",
                      "Board Assurance Framework", "Previously considered by People Committee"):
            assert field in cover, (r.path, field)
        assert "edi-analysis" not in cover.split("Author", 1)[1].split("Purpose", 1)[0]
        # the dashboard: one page, every WRES and WDES indicator, the pay gaps, ratings in words
        assert "1 Dashboard" in dash
        for code in [f"WRES {i}" for i in range(1, 10)] + [
                f"WDES {i}" for i in (1, 2, 3, "4a", "4b", 5, 6, 7, 8, "9a", 10)] + [
                "Gender pay", "Ethnicity pay", "Disability pay", "Mend the Gap", "Plan 1a",
                "Plan 5a", "Plan 6a"]:
            assert code in dash, (r.path, code)
        assert re.search(r"▲ Red|◆ Amber|● Green", dash)
        assert "2 What the Board is asked to do" in asks and "Summary by action area" in asks
        assert "3 Action plan" in pages[3]  # the main paper's first three pages are done
        # each action area starts on its own page and takes about a page (at most two)
        appendix = next(i for i, p in enumerate(pages) if "Appendix A: figures by action area"
                        in p[:200])
        # a numbered section heading straight after the running header
        starts = [i for i, p in enumerate(pages[:appendix]) for nb in r.notebooks
                  if nb.area != "overview"
                  and re.match(rf"{re.escape(r.display_name)} EDI board pack \S+ \d+ "
                               rf"{re.escape(nb.title)}", p)]
        bounds = starts + [appendix]
        assert len(starts) == 7, (r.path, starts)
        assert all(0 < b - a <= 2 for a, b in zip(bounds, bounds[1:])), (r.path, bounds)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="poppler-utils not installed (apt-get install -y poppler-utils)")
def test_board_pages_show_no_codes_and_no_sentence_twice(sample):
    """The board's pages (each PDF page, the trust summary, the board views) show no column
    names, metric or catalogue ids, and say no sentence twice on one page."""
    from bs4 import BeautifulSoup

    params, result = sample
    out = Path(params.site_dir)
    site = C.load_site(params)
    for r in site.reports:
        for n, page in enumerate(_pdf_pages(out / r.path / "board-pack.pdf"), 1):
            assert not _CODES.search(page), (r.path, n, _CODES.search(page).group(0))
            said = _sentences(page)
            dupes = {s for s in said if said.count(s) > 1}
            assert not dupes, (r.path, n, sorted(dupes)[:2])
    board_pages = [p for p in result.pages if p.startswith("reports/") and "/reviewer/" not in p]
    assert len(board_pages) > 16
    for rel in board_pages:
        soup = BeautifulSoup((out / rel).read_text("utf-8"), "html.parser")
        main = soup.find("main")
        text = main.get_text(" ", strip=True)
        assert not _CODES.search(text), (rel, _CODES.search(text).group(0))
        paras = [p.get_text(" ", strip=True) for p in main.find_all(["p", "li"])]
        said = [s for p in paras for s in _sentences(p)]
        dupes = {s for s in said if said.count(s) > 1}
        assert not dupes, (rel, sorted(dupes)[:2])


@pytest.mark.slow
def test_trust_names_are_shown_beside_their_codes(sample):
    from edi_analysis.params import load_params

    params, _ = sample
    names = load_params(ROOT / "params" / "sample.yaml").trust_names
    out = Path(params.site_dir)
    landing = (out / "index.html").read_text("utf-8")
    for code, name in names.items():
        assert f"{name} ({code})" in landing
    page = (out / "reports" / "2024-03-31" / "ZZ001" / "06_hia6_bullying_disciplinary.html"
            ).read_text("utf-8")
    assert "<strong>Trust:</strong> Ashbrook Hospitals NHS Foundation Trust (ZZ001)" in page
    assert "Relative likelihood of BME staff entering the formal disciplinary process compared " \
           "to White staff, Ashbrook Hospitals NHS Foundation Trust (ZZ001), 2023/24" in page
    manifest = json.loads((params.reports_dir / "2024-03-31" / "ZZ001" / "manifest.json"
                           ).read_text())
    assert manifest["trust_name"] == "Ashbrook Hospitals NHS Foundation Trust"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="poppler-utils not installed (apt-get install -y poppler-utils)")
def test_dashboard_shows_previous_period_peers_and_england(sample):
    params, _ = sample
    site = C.load_site(params)
    r = site.report("2024-03-31", "ZZ001")
    lines = {x.key: x for x in r.board.lines}
    wres2 = lines["wres.2"]
    # ranked among the trusts of the run whose figure is published (a suppressed one is not)
    import pandas as pd

    shown = 0
    for other in site.reports_for_period("2024-03-31"):
        m = pd.read_csv(other.source_dir / "metrics.csv", dtype=str, keep_default_na=False)
        row = m[(m["metric_id"] == "wres.2.relative_likelihood") & (m["breakdown"] == "")]
        shown += int((row["suppressed"] == "false").any())
    assert 2 <= shown <= 4
    assert wres2.england == "1.54" and re.fullmatch(rf"\d of {shown}", wres2.peers)
    assert wres2.previous != "—" and wres2.travel in ("closer", "further", "same")
    # WRES 3 was counted over 12 months at 2023-03-31 (no earlier snapshot) and over two
    # years at 2024-03-31: shown, but not compared
    assert lines["wres.3"].travel == "not_comparable"
    assert lines["wres.3"].travel_note == ("counting basis changed from 12-month to two-year "
                                           "rolling")
    dash = _pdf_pages(Path(params.site_dir) / r.path / "board-pack.pdf")[1]
    assert "New basis" in dash and "1.54" in dash
    earliest = site.report("2023-03-31", "ZZ001").board
    assert all(x.travel == "none" for x in earliest.lines)  # no earlier period in the data
    # the dashboard is on the trust's summary page and on the overview's board view
    out = Path(params.site_dir) / r.path
    for page in ("index.html", "00_overview.html"):
        html = (out / page).read_text("utf-8")
        assert '<table class="dashboard"' in html or 'class="edi-table dashboard"' in html, page
        assert "WRES 3" in html and "▲</span> Red" in html, page


@pytest.mark.slow
def test_trust_page_and_pack_show_the_statutory_return_figures(sample):
    """The returns' figures are on each trust page and in the pack's appendix, from the
    published rows: a figure the report hides is "not shown" there, never its value."""
    import pandas as pd
    import pypdf

    from edi_analysis import returns

    params, _ = sample
    out = Path(params.site_dir)
    site = C.load_site(params)
    for r in site.reports:
        page = (out / r.path / "index.html").read_text("utf-8")
        assert 'id="returns"' in page and "Figures for the statutory returns" in page
        rows = pd.read_csv(r.source_dir / "metrics.csv", dtype=str, keep_default_na=False)
        tables = returns.published_tables(rows, min_count=r.min_count,
                                          min_survey_responses=r.min_survey_responses)
        hidden = sum(t.hidden for t in tables)
        assert hidden == sum(row.count("not shown") for t in tables for row in t.rows)
        assert page.count(">not shown<") == hidden
        # why they are not shown, and where they are, is said once
        assert page.count("not for publication") == (1 if hidden else 0)
        pdf = pypdf.PdfReader(out / r.path / "board-pack.pdf")
        text = " ".join(p.extract_text() for p in pdf.pages[-8:])
        assert "Appendix C: figures for the statutory returns" in text
        assert "DiffMeanHourlyPercent" in text
