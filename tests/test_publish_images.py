"""Each chart stored once per report (publish/images.py): pages and notebooks reference files."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import nbformat
import pytest

from edi_analysis.publish import publish
from edi_analysis.publish.images import ImageStore

PNG_A = b"\x89PNG\r\n\x1a\n" + b"A" * 40
PNG_B = b"\x89PNG\r\n\x1a\n" + b"B" * 40


def _uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _name(data: bytes, ext: str = ".png") -> str:
    return hashlib.sha256(data).hexdigest()[:20] + ext


def test_inline_images_become_one_file_each_named_by_their_bytes(tmp_path):
    store = ImageStore(tmp_path / "images")
    html = (f'<img alt="one" src="{_uri(PNG_A)}"><p>x</p><img alt="again" src="{_uri(PNG_A)}">'
            f"<img alt='two' src='{_uri(PNG_B)}'>")
    out = store.html(html, "../")
    assert out == (f'<img alt="one" src="../images/{_name(PNG_A)}"><p>x</p>'
                   f'<img alt="again" src="../images/{_name(PNG_A)}">'
                   f"<img alt='two' src='../images/{_name(PNG_B)}'>")
    files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert files == sorted([_name(PNG_A), _name(PNG_B)])  # the repeated image stored once
    assert (tmp_path / "images" / _name(PNG_A)).read_bytes() == PNG_A
    # base64 wrapped over lines decodes to the same bytes, hence the same file
    wrapped = _uri(PNG_A).replace("base64,", "base64,\n")
    assert store.html(f'<img src="{wrapped}">') == f'<img src="images/{_name(PNG_A)}">'
    assert len(list((tmp_path / "images").iterdir())) == 2


def test_what_it_does_not_store_is_left_as_it_is(tmp_path):
    store = ImageStore(tmp_path / "images")
    odd = ('<img src="data:image/x-unknown;base64,QUJD">'    # a type it has no extension for
           '<img src="data:image/png;base64,@@not base64@@">'  # not base64: the audit reports it
           '<a href="data:image/png;base64,QUJD">link</a>'      # not an image source
           "<p>base64, in text</p>")
    assert store.html(odd) == odd
    assert not (tmp_path / "images").exists()


def test_a_notebook_keeps_every_output_and_points_at_the_files(tmp_path):
    store = ImageStore(tmp_path / "images")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("chart()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={
            "text/html": f'<figure><img alt="A chart" src="{_uri(PNG_A)}"></figure>',
            "text/plain": "chart"}),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ]
    nb.cells = [cell]
    out = store.notebook(nb)
    data = out.cells[0].outputs[0]["data"]
    assert data["text/html"] == f'<figure><img alt="A chart" src="images/{_name(PNG_A)}"></figure>'
    assert data["text/plain"] == "chart" and out.cells[0].outputs[1]["text"] == "done\n"
    nbformat.validate(out)


def _fixture_png() -> bytes:
    from test_publish import _png

    return _png()


def _srcs(text: str) -> list[str]:
    return re.findall(r"""<img\b[^>]*\bsrc=["']([^"']+)["']""", text)


def test_published_site_stores_each_chart_once_and_every_reference_resolves(tmp_path):
    from test_publish import make_reports, params_for

    params = params_for(tmp_path, make_reports(tmp_path / "reports"))
    result = publish(params, engine="fallback", quiet=True, jobs=1)
    assert result.exit_code == 0, result.messages
    site = params.site_dir
    report = site / "reports" / "2024-03-31" / "RXA"
    images = sorted((report / "images").iterdir())
    # the fixture's one PNG, as a chart (HTML output) and as a bare image/png output, in two
    # notebooks, each in two views and the downloadable copy: one file
    assert [p.name for p in images] == [hashlib.sha256(_fixture_png()).hexdigest()[:20] + ".png"]
    seen = set()
    for page in sorted(site.rglob("*.html")):
        text = page.read_text("utf-8")
        assert "data:image" not in text, page
        for src in _srcs(text):
            target = (page.parent / src).resolve()
            assert target.is_file(), (page, src)
            seen.add(target)
    # the downloadable notebooks (each report's notebooks.zip): their charts point at the same
    # files, relative to the report's folder; a bare image/png output (the fixture's second
    # figure: no HTML form in the notebook format) stays as it is
    from publish_support import site_notebooks

    assert not list(site.rglob("*.ipynb"))  # the notebooks are offered in one archive
    notebooks = list(site_notebooks(site))
    assert len(notebooks) == 2 * 4
    for folder, name, nb in notebooks:
        html_outputs = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
                        if "text/html" in o.get("data", {})]
        assert not any("base64," in h for h in html_outputs), name
        srcs = [src for h in html_outputs for src in _srcs(h)]
        assert srcs, name
        for src in srcs:
            target = (folder / src).resolve()
            assert target.is_file(), (folder, name, src)
            seen.add(target)
        assert any("image/png" in o.get("data", {}) for c in nb.cells
                   for o in c.get("outputs", []))
    # every stored image is referenced, and every reference is a stored image
    assert {p.resolve() for p in site.rglob("images/*")} == seen
    assert len(seen) == 4  # one per report (2 trusts x 2 periods)


@pytest.mark.slow
def test_sample_site_has_no_inline_chart_and_stays_small():
    from publish_support import sample_site

    params, result = sample_site()
    site = Path(params.site_dir)
    for page in site.rglob("*"):
        if page.suffix in (".html", ".ipynb"):
            assert "data:image/png;base64" not in page.read_text("utf-8"), page
    from publish_support import site_notebooks

    notebooks = list(site_notebooks(site))
    assert len(notebooks) == 64
    charts = 0
    for folder, name, nb in notebooks:  # every chart of a downloadable notebook is a file
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                assert "image/png" not in data, name
                html = data.get("text/html", "")
                html = "".join(html) if isinstance(html, list) else html
                assert "base64," not in html, name
                for src in _srcs(html):
                    assert src.startswith("images/") and (folder / src).is_file(), (name, src)
                    charts += 1
    assert charts > 500  # ~115 charts a report
    # 122 MB when each chart was inlined in the board view, the reviewer view and the
    # notebook; 41 MB with each stored once (board packs 13.7 MB, notebooks 9.7 MB); about
    # 25 MB with compact board packs and the notebooks in one archive per report.
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert total < 30e6, f"sample site {total / 1e6:.1f} MB"
    packs = sorted(site.rglob("board-pack.pdf"))
    assert len(packs) == 8 and max(p.stat().st_size for p in packs) < 1.0e6  # 1.7 MB before
    archives = sorted(site.rglob("notebooks.zip"))
    assert len(archives) == 8 and sum(p.stat().st_size for p in archives) < 2.0e6
