"""A board pack's PDF made compact after Typst has written it, losslessly.

Typst writes a tagged PDF/UA-1 file in which

- every chart, an indexed-colour PNG of at most 256 colours, becomes a full 24-bit RGB image
  (three bytes a pixel before compression, where the PNG had one), and
- every one of the structure tree's thousands of elements (the tags a screen reader follows)
  is a separate, uncompressed object.

:func:`compact_pdf` rewrites the file with pikepdf (qpdf): an RGB image of at most 256
distinct colours is stored again as an ``/Indexed`` image over the same colour space, with
exactly the same pixels (Flate with the PNG predictor), and the objects that are not streams
(the structure tree, outlines, annotations) go into compressed object streams, which PDF 1.5
and later (PDF/UA-1 is PDF 1.7) allow. Nothing else changes: the pages' content, the fonts,
the tags, the document's title, language and XMP metadata are copied as they are. The output
is deterministic (the same input gives the same bytes: qpdf's ``/ID`` is derived from the
content). An image it cannot read, or of more colours, is left as Typst wrote it.
"""

from __future__ import annotations

import zlib
from pathlib import Path

#: Most colours an image may have to be stored as an indexed image (one byte a pixel).
MAX_COLOURS = 256


def _indexed(image) -> bool:
    """Store ``image`` (a pikepdf image stream) as an indexed image when it is 8-bit RGB of at
    most 256 colours, with no soft mask or decode array; True when it was changed."""
    import numpy as np
    import pikepdf

    if image.get("/BitsPerComponent") != 8 or "/Decode" in image or "/Mask" in image \
            or image.get("/ImageMask", False):
        return False
    space = image.get("/ColorSpace")
    if space is None:
        return False
    if isinstance(space, pikepdf.Array):  # [/ICCBased stream]: three components only
        if len(space) != 2 or space[0] != pikepdf.Name.ICCBased \
                or int(space[1].get("/N", 0)) != 3:
            return False
    elif space != pikepdf.Name.DeviceRGB:
        return False
    width, height = int(image.Width), int(image.Height)
    try:
        raw = image.read_bytes()
    except pikepdf.PdfError:
        return False
    if len(raw) != width * height * 3:
        return False
    pixels = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.uint32)
    keys = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
    colours, index = np.unique(keys, return_inverse=True)  # sorted: deterministic palette
    if len(colours) > MAX_COLOURS:
        return False
    palette = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    rows = index.astype(np.uint8).reshape(height, width)
    # PNG predictor "None" on every row (a zero byte before each), as a PNG's IDAT would hold
    data = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    image.write(zlib.compress(data, 9), filter=pikepdf.Name.FlateDecode,
                decode_parms=pikepdf.Dictionary(Predictor=15, Colors=1, BitsPerComponent=8,
                                                 Columns=width))
    image.ColorSpace = pikepdf.Array([pikepdf.Name.Indexed, space, len(colours) - 1,
                                      pikepdf.String(palette.astype(np.uint8).tobytes())])
    return True


def compact_pdf(path: Path) -> dict[str, int]:
    """Rewrite the PDF at ``path`` in place as described in the module docstring. Returns
    ``{"before": bytes, "after": bytes, "images": images made indexed}``."""
    import pikepdf

    path = Path(path)
    before = path.stat().st_size
    changed = 0
    tmp = path.with_name(path.name + ".compact")
    with pikepdf.open(path) as pdf:
        for obj in pdf.objects:  # every indirect object once
            if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Image:
                changed += _indexed(obj)
        # fix_metadata_version off: the XMP packet stays byte for byte as Typst wrote it
        pdf.save(tmp, object_stream_mode=pikepdf.ObjectStreamMode.generate,
                 compress_streams=True, deterministic_id=True, fix_metadata_version=False)
    tmp.replace(path)
    return {"before": before, "after": path.stat().st_size, "images": changed}
