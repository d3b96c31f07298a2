"""The Quarto route (edi_analysis.publish.quarto).

The first part needs no Quarto: labels, error messages, version checks, the
scratch folder, the engine option, and a link checker over the built-in site.
The second part (marker ``quarto``) renders the real sample with the Quarto
on PATH and compares it with the built-in route's site page by page; CI has
no Quarto, so it skips there with the reason. ``benchmarks/quarto_route.py``
runs it and prints both routes' times.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from edi_analysis.cli import _build_parser
from edi_analysis.publish import choose_engine, publish
from edi_analysis.publish import content as C
from edi_analysis.publish import quarto

from publish_support import link_problems, quarto_sample_site, sample_site

ROOT = Path(__file__).resolve().parents[1]


def _cell(source: str, outputs=()) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output(
        "display_data", data=d) for d in outputs])


TABLE = {"text/html": "<table><caption>Cap</caption><tr><td>1</td></tr></table>"}


# --- labels (Quarto 1.7 floatreftarget bug) -------------------------------------------------------

def test_tbl_label_kept_only_on_a_cell_of_exactly_one_table():
    nb = nbformat.v4.new_notebook(cells=[
        _cell("#| label: tbl-one\nx", [TABLE]),
        _cell("#| label: tbl-sentence\nx", [{"text/markdown": "A sentence."}]),
        _cell("#| label: tbl-two\nx", [TABLE, TABLE]),
        _cell("#| label: tbl-text-and-table\nx",
              [{"text/html": "<p>Note</p><table><tr><td>1</td></tr></table>"}]),
        _cell("#| label: tbl-empty\nx"),
        _cell("#| label: fig-chart\nx", [{"image/png": "iVBOR"}]),
        _cell("#| label: fig-table\nx", [TABLE]),
        _cell("#| label: hl-wres3\n#| echo: false\nx", [TABLE, TABLE]),
    ])
    labels = [C.cell_options(c.source)["label"] for c in quarto.safe_labels(nb).cells]
    assert labels == ["tbl-one", "sentence", "two", "text-and-table", "empty", "fig-chart",
                      "table", "hl-wres3"]
    assert nb.cells[-1].source == "#| label: hl-wres3\n#| echo: false\nx"  # other options kept


def test_sample_other_measures_cells_lose_their_tbl_prefix_when_staged(tmp_path):
    # the sample's "other measures" cells are labelled tbl-…-other but show a sentence and
    # tables: staged, no cell keeps a tbl- label unless its output is one table
    params, _ = sample_site()
    report = C.load_site(params).reports[0]
    staged = quarto.stage_report(report, tmp_path / "p")
    assert len(staged) == 2 * len(report.notebooks)
    relabelled = 0
    for path in staged:
        for cell in nbformat.read(path, as_version=4).cells:
            label = C.cell_options(cell.source).get("label", "") if cell.cell_type == "code" \
                else ""
            if label.startswith("tbl-"):
                assert quarto._output_kind(cell.outputs) == "table", (path, label)
            relabelled += label.endswith("-other") and not label.startswith("tbl-")
    assert relabelled >= 6  # hia1…hia6, people plan; in both views
    assert (tmp_path / "p" / "reviewer" / "_metadata.yml").read_text() == "echo: true\n"
    assert "execute" in (tmp_path / "p" / "_quarto.yml").read_text()


# --- error messages -------------------------------------------------------------------------------

# Quarto 1.7.34's own output when its cross-reference filter fails on the sample (shortened)
FLOATREF_FAILURE = """\
\x1b[1m\x1b[34m[ 1/16] board/00_overview.ipynb\x1b[39m\x1b[22m
\x1b[1m\x1b[34m[ 2/16] board/07_people_plan.ipynb\x1b[39m\x1b[22m
Error running filter /opt/quarto/share/filters/main.lua:
...quarto/share/filters/./customnodes/floatreftarget.lua:933: Block, list of Blocks, or \
compatible element expected, got table
stack traceback:
  [C]: in ?
  [C]: in function 'pandoc.Div'

\x1b[91mERROR: Error
    at renderFiles (file:///opt/quarto/src/command/render/render-files.ts:360:27)\x1b[39m
Stack trace:
    at renderFiles (file:///opt/quarto/src/command/render/render-files.ts:360:27)
"""


def test_error_summary_names_the_page_and_quotes_quartos_error_line():
    page, message = quarto.error_summary(FLOATREF_FAILURE)
    assert page == "board/07_people_plan.ipynb"
    assert message.startswith("Error running filter")
    assert "floatreftarget.lua:933: Block, list of Blocks" in message
    assert "Stack trace" not in message and "\x1b" not in message


def test_error_summary_without_an_error_line_keeps_the_last_lines():
    output = "[1/2] a.ipynb\n" + "\n".join(f"l{i}" for i in range(40))
    page, message = quarto.error_summary(output)
    assert page == "a.ipynb" and message.splitlines() == [f"l{i}" for i in range(20, 40)]


def _fake_quarto(folder: Path, version: str, render: str = "exit 0") -> Path:
    exe = folder / "quarto"
    exe.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo {version}; exit 0; fi\n'
                   f'{render}\n')
    exe.chmod(0o755)
    return exe


def test_unsupported_quarto_version_is_refused_with_what_to_do(tmp_path, monkeypatch):
    exe = _fake_quarto(tmp_path, "1.5.57")
    assert quarto.quarto_version(str(exe)) == "1.5.57"
    with pytest.raises(quarto.QuartoError) as err:
        quarto.check_version("1.5.57", "params/sample.yaml")
    text = str(err.value)
    assert "Quarto 1.5.57" in text and "1.7.34" in text
    assert "edi-analysis publish params/sample.yaml --engine builtin" in text
    quarto.check_version("1.7.34")  # the tested version passes


def test_publish_with_an_unsupported_quarto_leaves_the_site_alone(tmp_path, monkeypatch, capsys):
    from publish_support import sample_params, sample_reports

    _fake_quarto(tmp_path, "1.4.550")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    site = tmp_path / "site"
    params = sample_params(sample_reports(), site)
    result = publish(params, engine="auto")
    assert result.exit_code == 1 and result.engine == "quarto"
    assert "Quarto 1.4.550" in result.messages[0] and "--engine builtin" in result.messages[0]
    assert not site.exists()


def test_a_failed_render_names_the_report_page_and_error_and_keeps_the_old_site(
        tmp_path, monkeypatch):
    from publish_support import sample_params, sample_reports

    # a Quarto that fails as 1.7.34 did on the sample: progress lines, then the filter's error
    (tmp_path / "out.txt").write_text(FLOATREF_FAILURE)
    _fake_quarto(tmp_path, "1.7.34", f"cat {tmp_path / 'out.txt'} >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    site = tmp_path / "site"
    params = sample_params(sample_reports(), site)
    site.mkdir()
    built = publish(params, engine="builtin", quiet=True)
    assert built.exit_code == 0
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    result = publish(params, engine="quarto", quiet=True)
    assert result.exit_code == 1
    text = result.messages[0]
    assert re.search(r"ZZ00\d 20\d\d-03-31", text)
    assert "on board/07_people_plan.ipynb" in text
    assert "floatreftarget.lua:933" in text
    assert "--engine builtin" in text and "previous site is unchanged" in text
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before


def test_scratch_folder_refuses_a_temporary_folder_inside_a_quarto_project(tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with pytest.raises(quarto.QuartoError, match="TMPDIR"):
        quarto.scratch_folder()


def test_no_quarto_project_at_the_repository_root():
    # `quarto render` at the root says Quarto's own "not a Quarto project": the site is built by
    # `edi-analysis publish`, whose Quarto projects are written in a temporary folder
    assert not (ROOT / "_quarto.yml").exists() and not (ROOT / "_quarto.yaml").exists()
    assert quarto.PROJECT_FILE.is_file()


def test_page_body_drops_quartos_title_block_and_notebook_metadata():
    html = ('<html><head><title>x</title></head><body>\n<header id="title-block-header">\n'
            '<h1 class="title">T</h1>\n</header>\n<div id="hl-a" class="cell" '
            'data-quarto-private-1="{&quot;key&quot;:1}" data-tags="[&quot;headline&quot;]" '
            'data-execution_count="5"><p>Hi</p></div>\n</body></html>')
    assert quarto.page_body(html) == '<div id="hl-a" class="cell"><p>Hi</p></div>'
    code = ('<body><div class="cell"><div class="sourceCode cell-code" id="cb1"><pre>x</pre>'
            '</div></div></body>')
    assert quarto.page_body(code) == ('<div class="cell"><p class="code-label">Code</p>\n'
                                      '<div class="sourceCode cell-code" id="cb1"><pre>x</pre>'
                                      '</div></div>')


# --- the engine option ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["build", "publish"])
def test_engine_option_names_builtin(command):
    args = _build_parser().parse_args([command, "p.yaml", "--engine", "builtin"])
    assert args.engine == "builtin"
    assert _build_parser().parse_args([command, "p.yaml"]).engine == "auto"


def test_builtin_is_the_fallback_route(monkeypatch):
    assert choose_engine("builtin") == "fallback"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert choose_engine("auto") == "fallback"


# --- links ----------------------------------------------------------------------------------------

def test_link_checker_finds_a_missing_file_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#x">b</a><a href="#here">h</a>'
                                     '<a href="c.html">c</a><p id="here"></p>'
                                     '<a href="https://example.org/#y">e</a>')
    (tmp_path / "b.html").write_text('<p id="y"></p>')
    assert link_problems(tmp_path) == ["a.html: b.html#x (no element with id 'x')",
                                       "a.html: c.html (no such file)"]


def test_builtin_sample_site_has_no_broken_link_or_anchor():
    params, _ = sample_site()
    assert link_problems(Path(params.site_dir)) == []


# --- the real sample through Quarto ---------------------------------------------------------------

def _text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
def both_sites():
    params_q, result_q = quarto_sample_site()
    params_b, result_b = sample_site()
    return Path(params_b.site_dir), Path(params_q.site_dir), result_b, result_q


@pytest.mark.quarto
@pytest.mark.skipif(shutil.which("quarto") is None,
                    reason="quarto not on PATH (CI has none); run benchmarks/quarto_route.py "
                           "where it is")
class TestSampleThroughQuarto:
    def test_same_files_as_the_builtin_route(self, both_sites):
        builtin, q, rb, rq = both_sites
        files = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*")  # noqa: E731
                                 if p.is_file() and p.name != "site-manifest.json")
        assert files(q) == files(builtin)
        assert rq.pages == rb.pages and rq.pdfs == rb.pdfs and len(rq.pdfs) == 8
        assert json.loads((q / "site-manifest.json").read_text())["engine"] == "quarto"

    def test_every_page_has_the_site_shell_and_one_h1(self, both_sites):
        builtin, q, _, _ = both_sites
        for page in sorted(q.rglob("*.html")):
            html = page.read_text("utf-8")
            rel = page.relative_to(q).as_posix()
            assert html.count("<h1") == 1, rel
            assert '<a class="skip-link" href="#main">' in html, rel
            assert '<main id="main"' in html, rel
            if rel != "index.html":
                assert 'aria-label="Breadcrumb"' in html, rel
            if rel.startswith("reports/") and not rel.endswith("/index.html"):
                # the way back to the trust's page
                back = "../index.html" if "/reviewer/" in rel else "index.html"
                assert f'href="{back}"' in html, rel

    def test_board_pages_show_no_code_source_link_raw_text_or_empty_table(self, both_sites):
        _, q, _, _ = both_sites
        pages = [p for p in q.glob("reports/*/*/*.html") if p.name != "index.html"]
        assert len(pages) == 64
        for page in pages:
            html = page.read_text("utf-8")
            rel = page.relative_to(q).as_posix()
            assert "<pre" not in html and "sourceCode" not in html, rel  # no code, no text/plain
            assert "metric rows" not in html, rel
            assert not re.search(r">\s*Source\s*<", html), rel
            assert not re.search(r">\s*Table\s+\d+\s*<", html), rel  # no empty "Table N"
            assert "data-quarto-private" not in html and "papermill" not in html, rel
            assert "_work/" not in html, rel  # no injected parameter paths

    def test_reviewer_pages_show_the_code(self, both_sites):
        _, q, _, _ = both_sites
        html = (q / "reports/2024-03-31/ZZ001/reviewer/06_hia6_bullying_disciplinary.html"
                ).read_text("utf-8")
        assert "sourceCode" in html and "r.section(" in _text(html)
        code = len(re.findall(r'<div class="sourceCode[ "]', html))  # Quarto's code blocks
        assert code >= 8 and html.count('<p class="code-label">Code</p>') == code

    def test_pages_say_what_the_builtin_pages_say(self, both_sites):
        import difflib

        builtin, q, _, _ = both_sites
        for page in sorted(builtin.rglob("*.html")):
            rel = page.relative_to(builtin).as_posix()
            a, b = _text(page.read_text("utf-8")), _text((q / rel).read_text("utf-8"))
            if "/" not in rel or rel.endswith("/index.html"):  # the project's own templates
                assert a == b, rel
                continue
            # notebook pages: the same words (pandoc curls apostrophes; nbconvert adds ¶ links
            # and "Code" labels, Quarto hides the `#|` option lines of shown code)
            norm = lambda s: re.sub(r"\s*¶|\bCode\b|#\| [a-z-]+: \S+", "",  # noqa: E731
                                    s.replace("’", "'")).split()
            ratio = difflib.SequenceMatcher(None, norm(a), norm(b), autojunk=False).ratio()
            assert ratio > 0.97, (rel, ratio)

    def test_no_broken_link_or_anchor(self, both_sites):
        _, q, _, _ = both_sites
        assert link_problems(q) == []

    def test_board_packs_are_the_builtin_packs_tagged_pdf_ua(self, both_sites):
        from pypdf import PdfReader

        builtin, q, _, _ = both_sites
        for pdf in sorted(q.rglob("board-pack.pdf")):
            # the project's typst template through the locked typst library: the same bytes
            assert pdf.read_bytes() == (builtin / pdf.relative_to(q)).read_bytes(), pdf
            reader = PdfReader(pdf)
            assert 30 <= len(reader.pages) <= 50  # the board paper (42-46 on the sample)
            root = reader.trailer["/Root"]
            assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
            assert "pdfuaid:part" in root["/Metadata"].get_object().get_data().decode()
            assert reader.metadata.title

    def test_within_four_times_the_builtin_route(self, both_sites):
        from publish_support import ARTEFACTS

        builtin, q, rb, rq = both_sites
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        (ARTEFACTS / "quarto-route-times.json").write_text(json.dumps({
            "quarto_version": quarto.quarto_version(shutil.which("quarto")),
            "builtin_seconds": round(rb.seconds, 1), "quarto_seconds": round(rq.seconds, 1),
            "pages": len(rq.pages), "board_packs": len(rq.pdfs)}, indent=1) + "\n")
        assert rq.seconds <= 4 * rb.seconds, (rq.seconds, rb.seconds)


def test_quarto_tests_skip_with_a_reason_without_quarto():
    # CI has no Quarto: the marked tests carry a skip reason naming the script to use instead
    marks = {m.name: m for m in TestSampleThroughQuarto.pytestmark}
    assert "quarto" in marks
    assert "quarto not on PATH" in marks["skipif"].kwargs["reason"]


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.mark.quarto
@pytest.mark.browser
@pytest.mark.skipif(shutil.which("quarto") is None or shutil.which("chromium") is None
                    or shutil.which("chromedriver") is None,
                    reason="needs quarto, chromium and chromedriver on PATH")
def test_quarto_notebook_pages_pass_axe_and_reflow_at_390px(both_sites, tmp_path):
    """The pages whose bodies Quarto writes (board and reviewer views), in Chromium: no serious
    or critical axe finding, no sideways scrolling at 390 px; screenshots of both routes at
    desktop width and 390 px kept in build/test-artefacts/quarto/ to compare."""
    import base64

    from publish_support import ARTEFACTS, SiteServer, axe_js, chromium_driver

    builtin, q, _, _ = both_sites
    out = ARTEFACTS / "quarto"
    out.mkdir(parents=True, exist_ok=True)
    rels = ["reports/2024-03-31/ZZ001/03_hia3_pay.html",
            "reports/2024-03-31/ZZ001/reviewer/03_hia3_pay.html",
            "reports/2024-03-31/ZZ001/index.html"]
    axe = axe_js().read_text("utf-8")
    driver = chromium_driver(tmp_path / "profile")
    problems = []
    try:
        driver.set_script_timeout(120)
        for route, site in (("quarto", q), ("builtin", builtin)):
            with SiteServer(site) as server:
                for rel in rels:
                    for width in (1280, 390):
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                            "width": width, "height": 900, "deviceScaleFactor": 1,
                            "mobile": width < 500})
                        driver.get(server.url + rel)
                        name = f"{route}-{rel.replace('/', '_')[:-5]}-{width}"
                        size = driver.execute_cdp_cmd("Page.getLayoutMetrics",
                                                      {})["cssContentSize"]
                        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                            "format": "png", "captureBeyondViewport": True,
                            "clip": {"x": 0, "y": 0, "width": size["width"],
                                     "height": min(size["height"], 6000), "scale": 1}})
                        (out / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
                        wide = driver.execute_script(
                            "return document.documentElement.scrollWidth > "
                            "document.documentElement.clientWidth + 1;")
                        if wide:
                            problems.append(f"{route} {rel} scrolls sideways at {width} px")
                        if route != "quarto" or width != 1280:
                            continue
                        driver.execute_script(axe)
                        res = driver.execute_async_script(
                            "const done = arguments[arguments.length - 1];"
                            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},"
                            " resultTypes: ['violations']}).then(done, e => done({error: "
                            "String(e)}));", AXE_TAGS)
                        assert "error" not in res, res
                        problems += [f"{rel}: {v['id']} ({v['impact']}): {v['help']}"
                                     for v in res["violations"]
                                     if v["impact"] in ("serious", "critical")]
    finally:
        driver.quit()
    assert problems == []
