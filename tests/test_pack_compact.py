"""Compact board packs (publish/pdfpack.py): charts as indexed images again, the structure tree
in object streams; the same pixels, tags and title."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pypdf
import pytest
from PIL import Image

from edi_analysis.publish.pdfpack import compact_pdf

TYP = """#set document(title: "Compact pack test")
#set text(lang: "en")
= A heading
Some text before the charts.
#figure(image("chart.png", alt: "A chart of two groups", width: 60%), caption: [Chart])
#figure(image("noise.png", alt: "Noise of many colours", width: 30%), caption: [Noise])
#figure(image("chart.png", alt: "The same chart again", width: 60%), caption: [Again])
#table(columns: 2, table.header([Group], [Rate]), [White], [2.8%], [BME], [4.4%])
"""


def _chart() -> Image.Image:
    """An indexed image of a few flat colours, as the charts are."""
    px = np.full((120, 300, 3), 255, np.uint8)
    px[20:100, 30:120] = (31, 119, 180)
    px[50:100, 160:250] = (255, 127, 14)
    px[100:102, :] = (80, 80, 80)
    return Image.fromarray(px).quantize(colors=256, dither=Image.Dither.NONE)


def _noise() -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def typst_pdf(tmp_path_factory) -> tuple[Path, dict[str, Image.Image]]:
    typst = pytest.importorskip("typst")
    d = tmp_path_factory.mktemp("pack")
    images = {"chart.png": _chart(), "noise.png": _noise()}
    for name, im in images.items():
        im.save(d / name)
    (d / "doc.typ").write_text(TYP, "utf-8")
    typst.compile(str(d / "doc.typ"), output=str(d / "doc.pdf"), root=str(d),
                  pdf_standards=["ua-1"])
    return d / "doc.pdf", images


#: Documents opened by _images, kept open while their objects are used.
_OPEN: list[pikepdf.Pdf] = []


def _images(path: Path) -> list[pikepdf.Stream]:
    pdf = pikepdf.open(path)
    _OPEN.append(pdf)
    return [o for o in pdf.objects
            if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == pikepdf.Name.Image]


def test_typst_stores_an_indexed_png_as_rgb(typst_pdf):
    # why compact_pdf exists: three bytes a pixel where the PNG had one
    path, _ = typst_pdf
    spaces = [o.ColorSpace for o in _images(path)]
    assert spaces and all(not isinstance(s, pikepdf.Array) or s[0] != pikepdf.Name.Indexed
                          for s in spaces)


def test_charts_become_indexed_with_the_same_pixels_and_the_tags_stay(typst_pdf, tmp_path):
    source, images = typst_pdf
    out = tmp_path / "doc.pdf"
    shutil.copyfile(source, out)
    result = compact_pdf(out)
    assert result["before"] == source.stat().st_size and result["after"] == out.stat().st_size
    assert result["after"] < result["before"]  # (fonts are most of so small a document)
    assert result["images"] == 1  # the chart (once, though shown twice); not the noise
    stored = {}
    for obj in _images(out):
        pil = pikepdf.PdfImage(obj).as_pil_image().convert("RGB")
        stored[pil.size] = (obj.ColorSpace, pil)
    chart, noise = images["chart.png"], images["noise.png"]
    space, pil = stored[chart.size]
    assert isinstance(space, pikepdf.Array) and space[0] == pikepdf.Name.Indexed
    assert space[1][0] == pikepdf.Name.ICCBased  # over Typst's own colour space
    assert np.array_equal(np.asarray(pil), np.asarray(chart.convert("RGB")))  # lossless
    space, pil = stored[noise.size]
    assert not (isinstance(space, pikepdf.Array) and space[0] == pikepdf.Name.Indexed)
    assert np.array_equal(np.asarray(pil), np.asarray(noise))
    # the structure tree is in compressed object streams; it is all still there
    raw = out.read_bytes()
    assert b"/ObjStm" in raw and b"/StructElem" not in raw
    with pikepdf.open(source) as a, pikepdf.open(out) as b:  # XMP and document info as written
        assert a.Root.Metadata.read_bytes() == b.Root.Metadata.read_bytes()
        assert b"pdfuaid:part>1<" in b.Root.Metadata.read_bytes()
        assert dict(a.docinfo) == dict(b.docinfo)
    before, after = pypdf.PdfReader(source), pypdf.PdfReader(out)
    assert after.metadata.title == before.metadata.title == "Compact pack test"
    root = after.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and root["/Lang"] == before.trailer["/Root"]["/Lang"]

    def tags(node, out):
        node = node.get_object()
        if isinstance(node, pypdf.generic.DictionaryObject):
            if "/S" in node:
                out.append((str(node["/S"]), str(node.get("/Alt", ""))))
            kids = node.get("/K")
            if kids is not None:
                for kid in (kids if isinstance(kids, pypdf.generic.ArrayObject) else [kids]):
                    tags(kid, out)
        return out

    theirs = tags(before.trailer["/Root"]["/StructTreeRoot"], [])
    ours = tags(root["/StructTreeRoot"], [])
    assert ours == theirs and ("/Figure", "A chart of two groups") in ours
    assert after.pages[0].extract_text() == before.pages[0].extract_text()
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
        assert "Tagged:          yes" in info and "Compact pack test" in info


def test_compacting_is_deterministic(typst_pdf, tmp_path):
    source, _ = typst_pdf
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    shutil.copyfile(source, a)
    shutil.copyfile(source, b)
    compact_pdf(a)
    compact_pdf(b)
    assert a.read_bytes() == b.read_bytes()
    assert not list(tmp_path.glob("*.compact"))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_a_compact_pack_looks_the_same(typst_pdf, tmp_path):
    source, _ = typst_pdf
    out = tmp_path / "doc.pdf"
    shutil.copyfile(source, out)
    compact_pdf(out)

    def render(pdf: Path) -> np.ndarray:
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-singlefile", str(pdf),
                        str(pdf.with_suffix(""))], capture_output=True, check=True)
        return np.asarray(Image.open(pdf.with_suffix(".png")).convert("RGB"))

    source = shutil.copyfile(source, tmp_path / "source.pdf")

    assert np.array_equal(render(source), render(out))
