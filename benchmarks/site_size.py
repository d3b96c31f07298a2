"""Size of a published site by kind of file, and how much of it is inline images.

    uv run python benchmarks/site_size.py SITE_DIR [SITE_DIR ...]

For each site folder prints the total and, by kind (board-view pages, reviewer pages, the
other pages, downloadable notebooks (``.ipynb`` files or the reports' ``notebooks.zip``),
image files, board packs, everything else), the bytes
and the share of them that is base64 image text inline in a page or notebook (what
``publish/images.py`` stores once as files instead). Give two folders (e.g. a site built
before a change and after it) to compare them. Not a test.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

_INLINE = re.compile(rb"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+|"
                     rb'"image/png": "[A-Za-z0-9+/=\\n]+"')


def kind(rel: Path) -> str:
    parts = rel.parts
    suffix = rel.suffix.lower()
    if suffix == ".html":
        if "reviewer" in parts:
            return "reviewer pages"
        if len(parts) >= 4 and parts[0] == "reports" and rel.name != "index.html":
            return "board-view pages"
        return "other pages"
    if suffix in (".ipynb", ".zip"):  # notebooks.zip: the report's notebooks in one archive
        return "notebooks"
    if suffix in (".png", ".jpg", ".jpeg", ".svg", ".gif", ".webp"):
        return "image files"
    if suffix == ".pdf":
        return "board packs"
    return "other"


def measure(site: Path) -> dict[str, tuple[int, int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        k = kind(path.relative_to(site))
        data = path.read_bytes()
        text = data
        if path.suffix.lower() == ".zip":  # inline images in an archive's members count too
            import zipfile

            with zipfile.ZipFile(path) as zf:
                text = b"".join(zf.read(n) for n in zf.namelist())
        inline = sum(len(m.group(0)) for m in _INLINE.finditer(text)) if k != "image files" \
            and k != "board packs" else 0
        out[k][0] += len(data)
        out[k][1] += inline
        out[k][2] += 1
    return {k: tuple(v) for k, v in out.items()}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for folder in argv:
        site = Path(folder)
        sizes = measure(site)
        total = sum(v[0] for v in sizes.values())
        print(f"\n{site}: {total / 1e6:,.1f} MB in {sum(v[2] for v in sizes.values()):,} files")
        print(f"  {'kind':<18}{'files':>7}{'MB':>9}{'inline images MB':>19}")
        for k in sorted(sizes, key=lambda k: -sizes[k][0]):
            size, inline, n = sizes[k]
            print(f"  {k:<18}{n:>7,}{size / 1e6:>9.1f}{inline / 1e6:>19.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
