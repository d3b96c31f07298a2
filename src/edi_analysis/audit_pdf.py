"""PDF text for the disclosure audit, read with pypdf (a Python library in the lock; no system
tool such as pdftotext is needed or used).

Kept apart from :mod:`edi_analysis.audit` so that the worker processes that read PDFs in
parallel import pypdf only (text extraction is the audit's slowest step: about 0.02 s a page).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path


def _lines(text: str, prefix: str = "") -> Iterator[tuple[str, str]]:
    for i, line in enumerate(text.splitlines(), 1):
        yield f"{prefix}line {i}", line


def _pdf_value(value) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken object is still reported, not fatal
        return repr(value)


def pdf_pieces(path: Path) -> Iterator[tuple[str, str]]:
    """Text of a PDF, read with pypdf (a Python library in the lock, no system tool): document
    information and XMP metadata, outline titles, each page's text and annotations, and
    embedded files. Raises ValueError when the file cannot be read."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("the PDF is encrypted")
        for key, value in (reader.metadata or {}).items():
            yield "document information", f"{key} {_pdf_value(value)}"
        root = reader.trailer["/Root"]
        if "/Metadata" in root:
            xmp = root["/Metadata"].get_object().get_data().decode("utf-8", errors="replace")
            yield from _lines(xmp, "XMP metadata ")

        def outline(items, depth=1):
            for item in items:
                if isinstance(item, list):
                    yield from outline(item, depth + 1)
                else:
                    yield "outline", _pdf_value(getattr(item, "title", item))

        yield from outline(reader.outline or [])
        for pi, page in enumerate(reader.pages, 1):
            for loc, line in _lines(page.extract_text() or "", f"page {pi} "):
                yield loc, line
            for ai, annot in enumerate(page.get("/Annots") or [], 1):
                a = annot.get_object()
                parts = [_pdf_value(a.get(k, "")) for k in ("/Contents", "/T", "/TU")]
                action = a.get("/A")
                if action is not None:
                    parts.append(_pdf_value(action.get_object().get("/URI", "")))
                yield f"page {pi} annotation {ai}", " ".join(parts)
        for name, contents in (reader.attachments or {}).items():
            yield "attachment", name
            for content in contents:
                yield from _lines(content.decode("utf-8", errors="replace"),
                                  f"attachment {name} ")
    except (PyPdfError, KeyError, TypeError, AttributeError, IndexError, zlib.error,
            RecursionError) as exc:
        raise ValueError(f"the PDF cannot be read: {type(exc).__name__}: {exc}") from None


def _pdf_read(path: str) -> tuple[list | None, str | None]:
    """:func:`_pdf_pieces` of one file, as a list, or the reason it cannot be read (for a worker
    process: PDF text extraction is the audit's slowest step, so PDFs are read in parallel)."""
    try:
        return list(pdf_pieces(Path(path))), None
    except (OSError, ValueError) as exc:
        return None, str(exc)


def _pdf_worker_init(parent_pid: int) -> None:
    from edi_analysis.procs import die_with_parent

    die_with_parent(parent_pid)


def read_pdfs(paths: list[Path], jobs: int | None = None) -> dict[Path, tuple]:
    """Every PDF read (``_pdf_read``), in worker processes when there are several and cores
    to spare; the result is the same either way."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1 or len(paths) < 4:  # starting workers costs more than a few PDFs take
        return {p: _pdf_read(str(p)) for p in paths}
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_pdf_worker_init, initargs=(os.getpid(),)) as pool:
            return dict(zip(paths, pool.map(_pdf_read, [str(p) for p in paths])))
    except (BrokenProcessPool, OSError):
        # no worker processes here (e.g. a script without a __main__ guard, or no fork
        # allowed): the same reading, one file after another
        return {p: _pdf_read(str(p)) for p in paths}
