"""The Quarto publishing route: Quarto converts the executed notebooks into the site's pages.

Used when the Quarto CLI is on PATH (``--engine auto``) or asked for
(``--engine quarto``); tested with the Quarto versions in
:data:`SUPPORTED_VERSIONS`. The site is the built-in route's site, page by
page: the same page shell (skip link, header, breadcrumbs, one ``<h1>``, the
report's navigation, footer), the same landing, trust, methodology and
accessibility pages and the same board packs (the project's typst template,
compiled with the locked ``typst`` library as tagged PDF/UA-1). What Quarto
does is the notebooks' conversion: each board-view and reviewer-view page's
body is Quarto's HTML rendering of the executed notebook (never re-executed:
``execute: enabled: false``).

To stay inside what a released Quarto handles:

- one small Quarto project per trust and period (16 notebooks), so that
  Quarto's filter parameters stay far below Linux's 128 KiB argument limit
  whatever the number of trusts;
- the projects live in a private folder of the system's temporary folder, with
  no ``_quarto.yml`` above it (a project inside another is read as part of it);
- the staged notebooks are the ones the board and reviewer read (hidden cells
  and the publisher's data outputs removed, as on the built-in route), and a
  ``tbl-``/``fig-`` label is kept only on a cell whose output is exactly one
  table or one figure (Quarto 1.7's cross-reference filter fails on any other:
  upstream issue 13956).

A failed render names the page, quotes Quarto's own error line and gives the
command for the built-in route; publish then leaves the previous site as it was.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from edi_analysis.publish import content as C
from edi_analysis.publish.fallback import TEMPLATES, BuiltSite, prepare_notebook

#: Quarto versions this route was tested with (``quarto --version``).
SUPPORTED_VERSIONS = ("1.7.34",)
#: The project file of each trust and period's Quarto project.
PROJECT_FILE = TEMPLATES / "quarto" / "_quarto.yml"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PROGRESS = re.compile(r"^\s*\[\s*\d+/\d+\]\s+(\S.*?)\s*$")
_LABEL_LINE = re.compile(r"^#\|\s*label:\s*(\S+)\s*$")


class QuartoError(RuntimeError):
    """Quarto is missing, of an untested version, or failed on a page."""


def builtin_command(params_path: str | None = None) -> str:
    return f"edi-analysis publish {params_path or 'PARAMS.yaml'} --engine builtin"


def quarto_version(exe: str = "quarto") -> str:
    """``quarto --version`` (e.g. ``1.7.34``); raises :class:`QuartoError` when it cannot run."""
    try:
        proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QuartoError(f"`{exe} --version` could not run: {exc}") from None
    version = _ANSI.sub("", proc.stdout).strip().splitlines()[-1:] if proc.stdout else []
    if proc.returncode != 0 or not version:
        detail = _ANSI.sub("", proc.stderr or proc.stdout).strip()
        raise QuartoError(f"`{exe} --version` failed (exit {proc.returncode}): {detail}")
    return version[0].strip()


def check_version(version: str, params_path: str | None = None) -> None:
    """Raise :class:`QuartoError` with what to do when ``version`` is not a tested one."""
    if version not in SUPPORTED_VERSIONS:
        raise QuartoError(
            f"Quarto {version} is on PATH, but the Quarto route is tested with Quarto "
            f"{', '.join(SUPPORTED_VERSIONS)} only. Install Quarto "
            f"{SUPPORTED_VERSIONS[-1]} (see docs/publishing.md), or publish with the built-in "
            f"route, which needs no Quarto: {builtin_command(params_path)}")


# --- staging -------------------------------------------------------------------------------------

def _output_kind(outputs) -> str | None:
    """``table`` or ``figure`` when a cell's display outputs are exactly one of that, else None."""
    shown = [o for o in outputs if o.get("output_type") in ("display_data", "execute_result")]
    if len(shown) != 1:
        return None
    data = shown[0].get("data", {})
    if any(m in data for m in ("image/png", "image/jpeg", "image/svg+xml")):
        return "figure"
    html = data.get("text/html")
    html = "".join(html) if isinstance(html, list) else (html or "")
    if html.count("<table") == 1 and "<figure" not in html:
        stripped = re.sub(r"(?s)<table.*</table>", "", html)
        if not re.sub(r"<[^>]+>", "", stripped).strip():
            return "table"
    if html.count("<img") == 1 and "<table" not in html:
        return "figure"
    return None


def safe_labels(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Cross-reference labels Quarto 1.7 can handle: a ``tbl-`` (``fig-``) label stays only on a
    cell whose output is exactly one table (figure); on any other cell it loses that prefix
    (``tbl-hia6-other`` becomes ``hia6-other``), so Quarto treats the cell as a plain cell."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            m = _LABEL_LINE.match(line)
            if not line.startswith("#|"):
                break
            if m:
                label = m.group(1)
                prefix = label.split("-", 1)[0]
                want = {"tbl": "table", "fig": "figure"}.get(prefix)
                if want and _output_kind(cell.get("outputs", [])) != want:
                    lines[i] = f"#| label: {label.split('-', 1)[1]}"
                break
        cell.source = "\n".join(lines)
    return nb


def stage_report(report: C.Report, project: Path) -> list[Path]:
    """One trust and period as a Quarto project: ``board/`` and ``reviewer/`` copies of its
    notebooks as those readers see them. Returns the staged notebooks."""
    project.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_FILE, project / "_quarto.yml")
    staged = []
    for nb_page in report.notebooks:
        nb = C.published_notebook(report.source_dir / nb_page.filename)
        for view, reviewer in (("board", False), ("reviewer", True)):
            page = safe_labels(prepare_notebook(nb, nb_page.title, reviewer=reviewer))
            target = project / view / nb_page.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(nbformat.writes(page), encoding="utf-8")
            staged.append(target)
    (project / "reviewer" / "_metadata.yml").write_text("echo: true\n", "utf-8")
    return staged


def _quarto_project_ancestor(folder: Path) -> Path | None:
    for d in (folder, *folder.parents):
        for name in ("_quarto.yml", "_quarto.yaml"):
            if (d / name).exists():
                return d / name
    return None


def scratch_folder() -> Path:
    """A private folder for the Quarto projects, outside any Quarto project."""
    base = Path(tempfile.gettempdir()).resolve()
    found = _quarto_project_ancestor(base)
    if found is not None:
        raise QuartoError(f"the temporary folder {base} is inside the Quarto project {found}, "
                          "which Quarto would read as the parent of every report's project; set "
                          "TMPDIR to a folder outside it")
    return Path(tempfile.mkdtemp(prefix="edi-analysis-quarto-", dir=base))


# --- rendering ------------------------------------------------------------------------------------

def error_summary(output: str) -> tuple[str | None, str]:
    """The page Quarto was rendering when it failed, and its own error message.

    Quarto prints ``[ 3/16] board/03_hia3_pay.ipynb`` before each page and
    ``ERROR: …`` (or pandoc's and Lua's ``Error …``) when one fails; the stack
    trace after it is Quarto's, not the page's, and is left out.
    """
    lines = [_ANSI.sub("", x).rstrip() for x in output.splitlines()]
    page, err_at = None, None
    for i, line in enumerate(lines):
        m = _PROGRESS.match(line)
        if m and err_at is None:
            page = m.group(1)
        if err_at is None and re.search(r"(^|\s)(ERROR|Error|error)\b[: ]", line):
            err_at = i
    if err_at is None:
        tail = [x for x in lines if x.strip()][-20:]
        return page, "\n".join(tail)
    message = []
    for line in lines[err_at:]:
        if line.strip().startswith("Stack trace") or (message and not line.strip()):
            break
        message.append(line)
    return page, "\n".join(message[:30])


def render_project(project: Path, *, quarto: str = "quarto") -> None:
    """``quarto render`` of one report's project; on failure :class:`QuartoError` naming the
    page."""
    from edi_analysis.procs import die_with_parent

    # Quarto ends with the publish that started it (a killed publish leaves nothing running)
    proc = subprocess.run([quarto, "render", "--no-execute"], cwd=project, capture_output=True,
                          text=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        page, message = error_summary((proc.stdout or "") + "\n" + (proc.stderr or ""))
        raise QuartoError(f"quarto render failed (exit {proc.returncode}) on "
                          f"{page or 'a page of the project'}:\n{message}")


_BODY = re.compile(r"(?s)<body[^>]*>(.*)</body>")
_TITLE_BLOCK = re.compile(r'(?s)<header id="title-block-header"[^>]*>.*?</header>')
_CODE_DIV = re.compile(r'<div class="sourceCode[ "]')
_PRIVATE_ATTR = re.compile(r'\s+data-(quarto-private-\d+|execution_count|tags)="[^"]*"')


def page_body(html: str) -> str:
    """The notebook's cells from Quarto's HTML page: the page shell is the site's (its one
    ``<h1>`` is the page title), so Quarto's title block goes, and so do the cells' notebook
    metadata attributes (papermill's timings, tags); shown code gets the built-in route's
    "Code" label."""
    m = _BODY.search(html)
    body = m.group(1) if m else html
    body = _TITLE_BLOCK.sub("", body, count=1)
    body = _PRIVATE_ATTR.sub("", body)
    # each shown cell's code labelled as on the built-in route's reviewer view
    body = _CODE_DIV.sub(lambda m: '<p class="code-label">Code</p>\n' + m.group(0), body)
    return body.strip()


class QuartoBodies:
    """Page bodies rendered by Quarto, read from the projects' folder (picklable, for the
    built-in route's parallel page writers)."""

    #: pandoc's id of a notebook's "## Methodology" heading
    methodology_anchor = "methodology"

    def __init__(self, root: Path):
        self.root = str(root)

    def __call__(self, report: C.Report, nb_page: C.NotebookPage, reviewer: bool) -> str:
        path = (Path(self.root) / report.period / report.trust_code
                / ("reviewer" if reviewer else "board") / f"{nb_page.stem}.html")
        return page_body(path.read_text("utf-8"))


def build(site: C.Site, out: Path, *, scratch: Path, params=None, jobs: int = 1,
          say: Callable[[str], None] = print) -> BuiltSite:
    """Render every report's notebooks with Quarto, then write the site into ``out``."""
    from edi_analysis.publish import fallback

    params_path = getattr(params, "params_file", None) if params is not None else None
    exe = shutil.which("quarto")
    if exe is None:
        raise QuartoError("`quarto` is not on PATH; publish with the built-in route: "
                          + builtin_command(params_path))
    version = quarto_version(exe)
    check_version(version, params_path)
    projects_root = scratch_folder()
    try:
        projects = []
        for report in site.reports:
            project = projects_root / report.period / report.trust_code
            stage_report(report, project)
            projects.append((report, project))
        say(f"quarto {version}: rendering {len(projects)} reports "
            f"({sum(len(r.notebooks) for r in site.reports) * 2} notebook pages)")

        def one(item):
            report, project = item
            try:
                render_project(project, quarto=exe)
            except QuartoError as exc:
                raise QuartoError(
                    f"{report.trust_code} {report.period} "
                    f"({report.path}): {exc}\nThe previous site is unchanged. To publish "
                    f"without Quarto: {builtin_command(params_path)}") from None

        with ThreadPoolExecutor(max(1, min(jobs, len(projects)))) as pool:
            for _ in pool.map(one, projects):
                pass
        return fallback.build(site, out, scratch=scratch, jobs=jobs,
                              bodies=QuartoBodies(projects_root))
    finally:
        shutil.rmtree(projects_root, ignore_errors=True)
