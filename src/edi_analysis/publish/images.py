"""Each chart stored once per report: inline ``data:`` images become files in ``images/``.

A chart is an output of a notebook (``charts.Chart``: an ``<img>`` holding a base64 PNG).
Published as it is, every chart would be stored three times more per report: in the board
view, in the reviewer view and in the downloadable notebook, each as base64 text (a third
larger than the image). :class:`ImageStore` writes each image once, as
``<report>/images/<sha256 of its bytes, 20 hex digits>.<ext>``, and points the pages and the
notebooks at that file: ``images/…`` from the board view and the notebook, ``../images/…``
from the reviewer view. The same bytes always get the same name, so a re-run writes the same
files, and an image shown in several places (or twice on one page) is still stored once.

The downloadable notebooks (one ``notebooks.zip`` per report, ``fallback.write_notebook_archive``)
keep every output; their charts are the files in ``images/`` of the report (Jupyter and VS
Code resolve an output's relative ``src`` against the notebook's folder), so a notebook
opened beside a copy of that folder shows its charts.
The alternative text stays on the ``<img>``. The audit reads the image files as it read the
inline images (PNG metadata), so everything published is still scanned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path

import nbformat

FOLDER = "images"
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
               "image/svg+xml": ".svg", "image/webp": ".webp"}
#: An ``<img>``'s (or ``<source>``'s) ``src`` holding a base64 image, in double or single quotes.
_SRC = re.compile(r"""(\bsrc\s*=\s*)(["'])data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=\s]*)\2""",
                  re.IGNORECASE)


class ImageStore:
    """Writes the images of one report folder (``folder`` is ``<report>/images``)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.names: dict[str, bytes] = {}

    def put(self, mime: str, data: bytes) -> str:
        """The file name of ``data`` in the folder, writing it the first time it is seen."""
        ext = _EXTENSIONS[mime.lower()]
        name = hashlib.sha256(data).hexdigest()[:20] + ext
        if name not in self.names:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_bytes(data)
            self.names[name] = data
        return name

    def html(self, text: str, prefix: str = "") -> str:
        """``text`` with each inline base64 image replaced by ``prefix + "images/<name>"``.
        An image of a type it does not store, or whose base64 does not decode, is left as it
        is (the audit then reads, or reports, it where it is)."""

        def swap(m: re.Match) -> str:
            mime = m.group(3).lower()
            if mime not in _EXTENSIONS:
                return m.group(0)
            try:
                data = base64.b64decode(re.sub(r"\s+", "", m.group(4)), validate=True)
            except (binascii.Error, ValueError):
                return m.group(0)
            name = self.put(mime, data)
            return f"{m.group(1)}{m.group(2)}{prefix}{FOLDER}/{name}{m.group(2)}"

        return _SRC.sub(swap, text) if "base64," in text else text

    def notebook(self, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        """``nb`` (changed in place, and returned) with the inline images of its HTML outputs
        pointing at the stored files; every output is kept."""
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                value = data.get("text/html")
                if value is None:
                    continue
                text = "".join(value) if isinstance(value, list) else value
                new = self.html(text, "")
                if new != text:
                    data["text/html"] = new
        return nb
