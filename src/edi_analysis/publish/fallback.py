"""The built-in publishing route: the report site with nbconvert and Jinja2, board packs with Typst.

Used when ``quarto`` is not on PATH (as on CI). It reads the same content
model as the Quarto route (``content.py``) and builds the same pages at the
same addresses:

``index.html``, ``methodology.html``, ``accessibility.html``;
``reports/<period>/<trust>/index.html`` (the trust's summary, with the
headline cells), ``<notebook>.html`` (board view: code hidden),
``reviewer/<notebook>.html`` (reviewer view: code shown), ``board-pack.pdf``,
``metrics.csv``, ``images/`` (each chart once) and ``notebooks.zip`` (the executed notebooks
with every output, their charts referring to ``images/``).

Nothing is re-executed: nbconvert only converts the executed notebooks. The
output is deterministic (same inputs, same bytes); the one timestamp is in
``site-manifest.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jinja2
import nbformat

from edi_analysis.publish import content as C
from edi_analysis.publish.images import FOLDER as IMAGES, ImageStore

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (("index.html", "Reports"), ("methodology.html", "Methodology"),
       ("accessibility.html", "Accessibility"))
#: Cell tags that hide a cell from board readers (Jupyter Book / Quarto conventions).
_REMOVE_TAGS = {"remove-cell", "remove_cell", "remove-input", "hide-input", "parameters",
                "injected-parameters"}


@dataclass(frozen=True)
class BuiltSite:
    """What a build wrote: pages and PDFs, relative to the site folder."""

    pages: tuple[str, ...]
    pdfs: tuple[str, ...]


# --- helpers ---------------------------------------------------------------------------------

def human_size(n: int) -> str:
    """File size as GOV.UK writes it: ``850 KB``, ``1.2 MB``."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / "site")),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    from edi_analysis.board import RATING_LABELS, RATING_ORDER, RATING_SHAPES
    from edi_analysis.returns import NOT_SHOWN

    env.globals.update(period_label=C.period_label, long_date=C.long_date,
                       rag_meaning=C.RAG_MEANING, area_names=C.AREA_NAMES, nav=NAV,
                       rating_keys=[(k, RATING_LABELS[k], RATING_SHAPES[k])
                                    for k in RATING_ORDER], not_shown=NOT_SHOWN)
    return env


def _markdown_html(text: str) -> str:
    import mistune

    return mistune.html(text)


def _package_version() -> str:
    from edi_analysis import __version__

    return __version__


# --- notebook pages ----------------------------------------------------------------------------

def prepare_notebook(nb: nbformat.NotebookNode, title: str, *, reviewer: bool) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready to convert for one audience.

    The page template shows the notebook's title as the page's one ``h1``, so
    the notebook's own first ``# Title`` line is taken out (also where a setup
    cell displays it again). For board readers,
    cells that Quarto options or tags mark as hidden go, as do error and
    warning streams and code cells left with no output (their code is hidden).
    Images get their alternative text from the cell's ``fig-alt`` option when
    the output itself has none.
    """
    nb = copy.deepcopy(nb)
    cells = []
    title_removed = False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not title_removed:
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if re.match(r"^#\s+", line):
                    if line[1:].strip() == title:
                        del lines[i]
                        cell.source = "\n".join(lines).strip("\n")
                    title_removed = True
                    break
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            opts = C.cell_options(cell.source)
            tags = set(cell.get("metadata", {}).get("tags", []))
            # metric rows and the board paper's data are for the publisher and the tests
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not any(m in o.get("data", {}) for m in C.DATA_MIMES)]
            if not reviewer:
                # the methodology cell (definitions with column names, input hashes) is for
                # reviewers: the board view links to it instead
                if opts.get("include") is False or tags & {"remove-cell", "remove_cell",
                                                            "methodology"}:
                    continue
                if opts.get("output") is False or tags & {"remove-output", "remove_output"}:
                    cell.outputs = []
                cell.outputs = [o for o in cell.outputs
                                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                                and o.get("output_type") != "error"]
                if not cell.outputs:
                    continue
            for o in cell.get("outputs", []):
                # a setup cell that prints the notebook's title again would give a second h1
                md = o.get("data", {}).get("text/markdown")
                if isinstance(md, str) and md.lstrip().startswith(f"# {title}"):
                    o["data"]["text/markdown"] = md.lstrip()[len(title) + 2:].lstrip("\n")
            alt = opts.get("fig-alt") or opts.get("fig-cap")
            for o in cell.get("outputs", []):
                for mime in ("image/png", "image/jpeg", "image/svg+xml"):
                    if mime in o.get("data", {}):
                        meta = o.setdefault("metadata", {}).setdefault(mime, {})
                        if alt and not meta.get("alt"):
                            meta["alt"] = str(alt)
        cells.append(cell)
    nb.cells = cells
    return nb


class NotebookRenderer:
    """Two nbconvert exporters with the project's template: board view and reviewer view."""

    def __init__(self) -> None:
        from nbconvert import HTMLExporter

        def make(reviewer: bool) -> HTMLExporter:
            exp = HTMLExporter(
                template_name="edi",
                extra_template_basedirs=[str(TEMPLATES / "nbconvert")],
                exclude_input=not reviewer,
                exclude_input_prompt=True,
                exclude_output_prompt=True,
            )
            return exp

        self._board = make(False)
        self._reviewer = make(True)

    def body(self, nb: nbformat.NotebookNode, title: str, *, reviewer: bool) -> str:
        exporter = self._reviewer if reviewer else self._board
        html, _ = exporter.from_notebook_node(prepare_notebook(nb, title, reviewer=reviewer))
        return html.strip()


def pygments_css() -> str:
    """Syntax colours for the reviewer view; the "default" style's colours pass AA on #f6f8f8."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


# --- board packs -------------------------------------------------------------------------------

def _runs_json(runs: Iterable[C.Run]) -> list[dict]:
    return [{"text": r.text, "strong": r.strong, "emph": r.emph, "code": r.code} for r in runs]


#: Longest table a board paper shows in full; longer ones are left to the site.
MAX_TABLE_ROWS = 12
#: The overview's table of every plan action with its status (the board pack's appendix).
ACTIONS_LABEL = "hl-actions"


def board_pack_blocks(headline: C.Headline) -> list[C.Block]:
    """What a board paper shows of a headline cell: its sentences, first chart and first table.

    A headline cell on the site also shows the trend over earlier periods and
    the trust's position among its peers; a board paper keeps to the period's
    figures (the sentences carry each figure with its 95% CI and denominator,
    the chart and table show them by group) so that it stays readable.
    """
    out, fig, table = [], False, False
    for b in headline.blocks:
        if isinstance(b, C.Figure):
            if not fig:
                out.append(b)
            fig = True
        elif isinstance(b, C.Table):
            if not table:
                if len(b.rows) <= MAX_TABLE_ROWS:
                    out.append(b)
                else:  # long breakdowns (every pay cluster × group) belong on the site
                    out.append(C.Paragraph((C.Run(
                        f"The full table ({b.caption or 'figures by group'}, {len(b.rows)} rows) "
                        "is in this trust's report on the report site and in its metrics.csv."),)))
            table = True
        elif not (fig or table):
            out.append(b)
    return out


_NUMBER = re.compile(r"^[-−–]?[£]?[\d.,]+(%| pp)?( to [-−–]?[£]?[\d.,]+(%| pp)?)?$|^suppressed$|^$")


def numeric_columns(table: C.Table) -> list[bool]:
    """Which columns hold numbers (right-aligned so digits line up); text stays left-aligned."""
    n = max([len(table.header)] + [len(r) for r in table.rows])
    return [bool(table.rows) and all(_NUMBER.match(r[i].strip()) for r in table.rows if i < len(r))
            and any(r[i].strip() not in ("", "suppressed") for r in table.rows if i < len(r))
            for i in range(n)]


def _block_json(b: C.Block, figure_paths: dict[C.Figure, str]) -> dict:
    if isinstance(b, C.Paragraph):
        return {"type": "paragraph", "runs": _runs_json(b.runs)}
    if isinstance(b, C.Heading):
        return {"type": "heading", "level": b.level, "runs": _runs_json(b.runs)}
    if isinstance(b, C.BulletList):
        return {"type": "list", "ordered": b.ordered, "items": [_runs_json(i) for i in b.items]}
    if isinstance(b, C.Figure):
        return {"type": "figure", "path": figure_paths[b], "alt": b.alt, "caption": b.caption}
    return {"type": "table", "caption": b.caption, "header": list(b.header),
            "rows": [list(r) for r in b.rows], "row_headers": b.row_headers,
            "numeric": numeric_columns(b)}


def _first_figure(report: C.Report, label: str) -> C.Figure | None:
    for h in report.headlines:
        if h.label == label:
            for b in board_pack_blocks(h):
                if isinstance(b, C.Figure):
                    return b
    return None


def _plan_json(p: C.PlanItem) -> dict:
    return {"title": p.title, "text": p.text, "owner": p.owner, "due": p.due,
            "status": p.status, "evidence": p.evidence, "rag": p.rag, "rag_label": p.rag_label,
            "rag_shape": p.rag_shape, "flags": list(p.flags)}


#: Sentences an action area's page shows at most; the rest are in Appendix A and on the site.
AREA_SENTENCES = 5


def area_pages(report: C.Report, figure_paths: dict[C.Figure, str]) -> list[dict]:
    """One page per action area: its ratings, the sentences of its dashboard lines (red
    first, terms explained at first use on the page), the chart of its most adverse line and
    its actions."""
    from edi_analysis.narrative import explain_terms

    bp = report.board
    out = []
    for nb in report.notebooks:
        if nb.area == "overview":
            continue
        lines = bp.area_lines(nb.area) if bp is not None else ()
        seen: set[str] = set()
        said: list[str] = []
        for line in lines:
            if line.sentence and line.sentence not in said:
                said.append(line.sentence)
        shown = said[:AREA_SENTENCES]
        text = [explain_terms(x, seen) for x in shown]
        figure = None
        for line in lines:
            fig = _first_figure(report, line.headline)
            if fig is not None and line.rating != "none":
                figure = fig
                break
        counts = {k: sum(1 for x in lines if x.rating == k) for k in ("red", "amber", "green",
                                                                      "none")}
        actions = list(bp.area_plan(nb.area)) if bp else []
        unlisted = 0
        if nb.area == "people_plan":  # dozens of 2021 actions: the recorded ones here, all in B
            keep = [p for p in actions if p.status != "No record"]
            unlisted, actions = len(actions) - len(keep), keep
        out.append({
            "title": nb.title, "area": nb.area, "counts": counts,
            "sentences": text,
            "more": max(0, len(said) - len(shown)),
            "figure": _block_json(figure, figure_paths) if figure is not None else None,
            "actions": [_plan_json(p) for p in actions],
            "unlisted": unlisted,
        })
    return out


def appendix_sections(report: C.Report, figure_paths: dict[C.Figure, str]) -> list[dict]:
    """Appendix A: every area's sections as on the site (sentences, first chart, first table),
    with a paragraph already shown earlier in the appendix left out."""
    seen: set[str] = set()
    sections = []
    for nb in report.notebooks:
        if nb.area == "overview":  # its headlines are the dashboard, asks and action plan
            continue
        parts = []
        for h in nb.headlines:
            blocks = []
            for b in board_pack_blocks(h):
                if isinstance(b, C.Paragraph):
                    if b.text in seen:
                        continue
                    seen.add(b.text)
                blocks.append(_block_json(b, figure_paths))
            if blocks:
                parts.append({"title": h.title, "blocks": blocks})
        if parts:
            sections.append({"title": nb.title, "parts": parts})
    return sections


def _compact(line: C.DashLine) -> str:
    """The figure and its interval in the fewest characters: "20.4% (17.1 to 23.3)"."""
    if not line.interval:
        return line.figure
    interval = line.interval.replace("%", "") if line.figure.endswith("%") else line.interval
    return f"{line.figure} ({interval})"


def _summary_json(report: C.Report) -> list[dict]:
    """The summary by action area, its terms explained at first use on its page."""
    from edi_analysis.narrative import explain_terms

    seen: set[str] = set()
    return [{"area": area, "runs": [{"text": explain_terms(para.text, seen), "strong": False,
                                     "emph": False, "code": False}]}
            for area, para in report.summary]


def board_pack_content(report: C.Report, figure_paths: dict[C.Figure, str]) -> dict:
    """The board pack of one report as plain data for the Typst template."""
    from edi_analysis.narrative import GLOSSARY
    from edi_analysis.returns import NOT_SHOWN
    from edi_analysis.params import BOARD_PAPER_DEFAULTS

    version = report.package_version or _package_version()
    cover = report.cover or C.Cover(**{k: v for k, v in BOARD_PAPER_DEFAULTS.items()})
    bp = report.board
    dashboard = [] if bp is None else [
        {"title": sec.title, "note": sec.note, "rows": [{
            "code": x.code, "label": x.short or x.label, "figure": _compact(x),
            "groups": x.groups or "—", "previous": x.previous, "travel": x.travel_short,
            "travel_key": x.travel, "peers": x.peers, "england": x.england,
            "rating": x.rating, "rating_label": x.rating_label, "rating_shape": x.rating_shape,
        } for x in sec.lines]} for sec in bp.sections]
    plan = [] if bp is None else list(bp.plan)
    return {
        "title": report.paper_title,
        "short_title": report.board_pack_title,
        "author": cover.author or C.SITE_TITLE,
        "trust": report.display_name,
        "period_label": report.period_label,
        "period_long": C.long_date(report.period),
        "date": C.long_date(report.generated_on),
        "cover": {
            "meeting": cover.meeting or "Board of Directors",
            "meeting_date": C.long_date(cover.meeting_date) if cover.meeting_date
            else "To be confirmed",
            "agenda_item": cover.agenda_item or "To be confirmed",
            "executive_lead": cover.executive_lead or "Not named",
            "author": cover.author or "Not named",
            "purpose": cover.purpose or "assurance",
            "purposes": [{"key": k, "label": v, "chosen": k == (cover.purpose or "assurance")}
                         for k, v in C.PURPOSES.items()],
            "recommendation": report.recommendation(),
            "baf_risk": cover.baf_risk or "No Board Assurance Framework risk named for this paper",
            "previously": cover.previously_considered_by or "Not previously considered",
        },
        "purpose": C.BOARD_PACK_PURPOSE,
        "prepared_by": report.provenance_line if report.package_version else (
            f"Produced with edi-analysis {version}" + (f", commit {report.git_commit}"
                                                       if report.git_commit else "") + "."),
        "classification": "OFFICIAL",
        "notices": list(report.notices),
        "disclosure": (f"Small numbers are suppressed (counts below {report.min_count}; survey "
                       f"results from fewer than {report.min_survey_responses} respondents). "
                       "No individual can be identified from this paper."),
        "counts": {k: (bp.count(k) if bp else 0) for k in ("red", "amber", "green", "none")},
        "previous_period": C.period_label(bp.previous_period) if bp and bp.previous_period
        else "",
        "dashboard": dashboard,
        "asks": [{"text": a.text, "due": a.due} for a in (bp.asks if bp else ())],
        "summary": _summary_json(report),
        "plan_edi": [_plan_json(p) for p in plan if p.plan == "EDI Improvement Plan"],
        "plan_people": [_plan_json(p) for p in plan if p.plan != "EDI Improvement Plan"],
        "plan_counts": {k: sum(1 for p in plan if p.rag == k and p.plan == "EDI Improvement Plan")
                        for k in ("red", "amber", "green", "grey")},
        "rag": [{"key": lab, "label": lab.capitalize(), "meaning": C.RAG_MEANING[lab], "count": n}
                for lab, n in report.rag_counts],
        "areas": area_pages(report, figure_paths),
        "sections": appendix_sections(report, figure_paths),
        "rule": list(bp.rule) if bp else [],
        "glossary": [text for _, text in GLOSSARY.values()],
        "method": list(report.method_note()),
        "returns_hidden": NOT_SHOWN if any(t.hidden for t in report.returns) else "",
        "returns": [{"key": t.key, "title": t.title, "source": t.source, "header": list(t.header),
                     "rows": [list(r) for r in t.rows], "footnote": t.footnote}
                    for t in report.returns],
        # sections not published (failed notebooks), in plain words
        "missing": [{"title": m.title, "reason": m.reason} for m in report.missing],
    }


def _fonts() -> list[str]:
    """DejaVu Sans from matplotlib's own font folder: the same font on every machine."""
    import matplotlib

    return [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")]


def compile_board_pack(report: C.Report, out_pdf: Path, workdir: Path) -> Path:
    """Write one board pack PDF (tagged, PDF/UA-1) with the typst package, then make it
    compact (:func:`edi_analysis.publish.pdfpack.compact_pdf`)."""
    import typst

    workdir.mkdir(parents=True, exist_ok=True)
    figure_paths: dict[C.Figure, str] = {}
    for i, fig in enumerate(f for h in report.headlines for f in board_pack_blocks(h)
                            if isinstance(f, C.Figure)):
        if fig not in figure_paths:
            name = f"figure-{i + 1:02d}.{fig.extension}"
            (workdir / name).write_bytes(fig.data)
            figure_paths[fig] = name
    data = board_pack_content(report, figure_paths)
    (workdir / "content.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    shutil.copyfile(TEMPLATES / "typst" / "board-pack.typ", workdir / "board-pack.typ")
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    try:
        typst.compile(str(workdir / "board-pack.typ"), output=str(out_pdf), root=str(workdir),
                      font_paths=_fonts(), ignore_system_fonts=True,
                      sys_inputs={"content": "content.json"}, pdf_standards=["ua-1"])
    except typst.TypstError as exc:  # name the report and show where the layout failed
        where = getattr(exc, "diagnostic", "") or exc
        raise RuntimeError(f"board pack of {report.trust_code} {report.period}: {where}") from None
    # the charts as indexed images again and the structure tree in object streams: 55% smaller,
    # the same pages and tags (publish/pdfpack.py)
    from edi_analysis.publish.pdfpack import compact_pdf

    compact_pdf(out_pdf)
    return out_pdf


# --- the site ----------------------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


class _Pages:
    """Renders site pages: the Jinja2 environment and nbconvert exporters, made once per process."""

    def __init__(self, site: C.Site, out: Path, bodies=None):
        self.env = _env()
        #: ``bodies(report, notebook_page, reviewer)``: a notebook page's body rendered
        #: elsewhere (the Quarto route's); None: nbconvert's
        self.bodies = bodies
        #: the id of a notebook's "Methodology" heading (nbconvert keeps the heading's case,
        #: pandoc lowers it)
        self.methodology_anchor = getattr(bodies, "methodology_anchor", "Methodology")
        self.version = _package_version()
        self.site, self.out = site, out
        self.pages: list[str] = []
        self._renderer: NotebookRenderer | None = None

    @property
    def renderer(self) -> NotebookRenderer:
        if self._renderer is None:
            self._renderer = NotebookRenderer()
        return self._renderer

    def page(self, rel: str, template: str, **ctx) -> None:
        depth = rel.count("/")
        html = self.env.get_template(template).render(
            site=self.site, root="../" * depth, current=rel, version=self.version,
            methodology_anchor=self.methodology_anchor,
            description="", **ctx)
        _write(self.out / rel, html)
        self.pages.append(rel)


def build_report(pages: _Pages, report: C.Report, scratch: Path) -> str:
    """One trust and period: board pack, summary page, board and reviewer views, downloads.
    Returns the board pack's size as the landing page shows it."""
    out = pages.out
    rdir = out / report.path
    rdir.mkdir(parents=True, exist_ok=True)
    pdf = compile_board_pack(report, rdir / "board-pack.pdf",
                             scratch / "board-packs" / report.period / report.trust_code)
    size = human_size(pdf.stat().st_size)
    if report.has_metrics_csv:
        shutil.copyfile(report.source_dir / "metrics.csv", rdir / "metrics.csv")
    def body(nb, nb_page, reviewer: bool) -> str:
        # the page body from Quarto (the Quarto route) or nbconvert (the built-in route)
        return (pages.bodies(report, nb_page, reviewer) if pages.bodies is not None
                else pages.renderer.body(nb, nb_page.title, reviewer=reviewer))

    # each chart stored once, in <report>/images/, and referenced by both views and the
    # downloadable notebooks (publish/images.py)
    store = ImageStore(rdir / IMAGES)
    bodies = []
    archived: list[tuple[str, str]] = []  # the downloadable notebooks: one archive per report
    for nb_page in report.notebooks:
        # as published: no absolute local paths (the page and the downloadable copy alike)
        nb = C.published_notebook(report.source_dir / nb_page.filename)
        bodies.append((store.html(body(nb, nb_page, False)),
                       store.html(body(nb, nb_page, True), "../")))
        archived.append((nb_page.filename, nbformat.writes(store.notebook(nb)) + "\n"))
    archive = write_notebook_archive(rdir / NOTEBOOK_ARCHIVE, archived, report)
    downloads = {"archive": NOTEBOOK_ARCHIVE, "archive_size": human_size(archive.stat().st_size),
                 "archive_count": len(archived)}

    images: dict[C.Figure, str] = {}  # the summary shows sentences; charts are on area pages
    crumbs_base = [("index.html", "Reports"),
                   (f"index.html#period-{report.period}", report.period_label)]
    summary = [(area, run["text"]) for item in _summary_json(report)
               for area, run in [(item["area"], item["runs"][0])]]
    pages.page(f"{report.path}/index.html", "report.html.j2", report=report, images=images,
               summary=summary,
               page_title=f"{report.display_name}: EDI report {report.period_label}",
               crumbs=crumbs_base + [(None, report.display_name)], has_pdf=True,
               pdf_size=size, here_prefix="", current_page="index", **downloads)
    for nb_page, (board_body, reviewer_body) in zip(report.notebooks, bodies):
        crumbs = crumbs_base + [(f"{report.path}/index.html", report.display_name)]
        pages.page(f"{report.path}/{nb_page.stem}.html", "notebook.html.j2", report=report,
                   nb=nb_page, reviewer=False, here_prefix="", current_page=nb_page.stem,
                   body=jinja2.utils.markupsafe.Markup(board_body),
                   page_title=f"{nb_page.title} – {report.display_name} {report.period_label}",
                   crumbs=crumbs + [(None, nb_page.title)], **downloads)
        pages.page(f"{report.path}/reviewer/{nb_page.stem}.html", "notebook.html.j2",
                   report=report, nb=nb_page, reviewer=True, here_prefix="../",
                   current_page=f"reviewer/{nb_page.stem}",
                   body=jinja2.utils.markupsafe.Markup(reviewer_body),
                   page_title=f"{nb_page.title} (reviewer view) – {report.display_name} "
                              f"{report.period_label}",
                   crumbs=crumbs + [(None, f"{nb_page.title} (reviewer view)")], **downloads)
    return size


#: The downloadable notebooks of a report, in one archive beside its pages.
NOTEBOOK_ARCHIVE = "notebooks.zip"
#: Fixed for every member, so that the same notebooks give the same archive bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def archive_readme(report: C.Report, names: list[str]) -> str:
    """The archive's README.txt: what it holds and where its charts are."""
    lines = [
        f"Executed notebooks: {report.display_name}, {report.period_label}",
        "",
        "The notebooks of this report as they were run, with every output (nothing was re-run",
        "for the report site). Absolute local paths are shown as file names only.",
        "",
        *[f"  {n}" for n in names],
        "",
        f"Each chart is an output that refers to its image file, {IMAGES}/<name>.png, in this",
        "report's folder on the site, where every chart is stored once; the archive does not",
        f"hold the images again. Open the notebooks beside a copy of that {IMAGES}/ folder to see",
        "the charts; each chart's text alternative is in the notebook in any case.",
        "Each notebook re-runs with papermill, given the data it names (docs/running.md in",
        "the edi-analysis repository).",
        "",
    ]
    return "\n".join(lines)


def write_notebook_archive(path: Path, notebooks: list[tuple[str, str]],
                           report: C.Report) -> Path:
    """``notebooks.zip``: README.txt and each ``(file name, notebook JSON)``, deflated, in the
    report's order, with fixed dates and permissions (the same notebooks, the same bytes)."""
    import zipfile

    members = [("README.txt", archive_readme(report, [n for n, _ in notebooks])), *notebooks]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, text.encode("utf-8"), compresslevel=9)
    return path


# One _Pages per worker process of a parallel build (made by _init_worker).
_worker_pages: _Pages | None = None


def _init_worker(site: C.Site, out: str, parent_pid: int | None = None, bodies=None) -> None:
    global _worker_pages
    from edi_analysis.procs import die_with_parent

    die_with_parent(parent_pid)  # a killed publish leaves no worker running
    _worker_pages = _Pages(site, Path(out), bodies)


def _build_report_in_worker(report: C.Report, scratch: str) -> tuple[list[str], str]:
    pages = _worker_pages
    pages.pages = []
    size = build_report(pages, report, Path(scratch))
    return pages.pages, size


def build(site: C.Site, out: Path, *, scratch: Path, jobs: int = 1, bodies=None) -> BuiltSite:
    """Write the whole site (pages, assets, board packs) into the empty folder ``out``.

    ``jobs`` > 1 builds the trusts' reports in that many worker processes
    (each with its own exporters); the pages are the same bytes either way.
    ``bodies``: where the notebook pages' bodies come from when not from nbconvert (the
    Quarto route's :class:`edi_analysis.publish.quarto.QuartoBodies`; picklable).
    """
    pages = _Pages(site, out, bodies)
    pdfs: dict[str, str] = {}
    (out / "assets").mkdir(parents=True, exist_ok=True)
    css = (TEMPLATES / "static" / "site.css").read_text("utf-8")
    _write(out / "assets" / "site.css", css + "\n/* syntax colours (Pygments) */\n" + pygments_css() + "\n")

    jobs = max(1, min(jobs, len(site.reports)))
    if jobs == 1:
        for report in site.reports:
            pdfs[report.path] = build_report(pages, report, scratch)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # the reports go to the workers one by one; the pages of a report need the site's
        # title and thresholds only, not every other report
        light = dataclasses.replace(site, reports=())
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker,
                                 initargs=(light, str(out), os.getpid(), bodies)) as pool:
            futures = [(r, pool.submit(_build_report_in_worker, r, str(scratch)))
                       for r in site.reports]
            for report, fut in futures:
                written, pdfs[report.path] = fut.result()
                pages.pages.extend(written)

    pages.page("index.html", "index.html.j2", page_title="Reports", crumbs=None, pdfs=pdfs)
    intro = _markdown_html((TEMPLATES / "methodology.md").read_text("utf-8"))
    pages.page("methodology.html", "methodology.html.j2", page_title="Methodology",
               crumbs=[("index.html", "Reports"), (None, "Methodology")],
               intro_html=jinja2.utils.markupsafe.Markup(intro))
    statement = _markdown_html((TEMPLATES / "accessibility.md").read_text("utf-8"))
    pages.page("accessibility.html", "page.html.j2", page_title="Accessibility statement",
               crumbs=[("index.html", "Reports"), (None, "Accessibility statement")],
               body=jinja2.utils.markupsafe.Markup(statement))
    return BuiltSite(tuple(sorted(pages.pages)),
                     tuple(sorted(f"{p}/board-pack.pdf" for p in pdfs)))


def write_manifest(out: Path, built_at: str, engine: str, extra: dict | None = None) -> Path:
    """``site-manifest.json``: every file's sha256, the engine, and the build's one timestamp
    (``extra``: more keys, e.g. the tool's marker)."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "site-manifest.json":
            files[p.relative_to(out).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    path = out / "site-manifest.json"
    path.write_text(json.dumps({**(extra or {}), "built_at": built_at, "engine": engine,
                                "files": files}, indent=1) + "\n", encoding="utf-8")
    return path
