"""The Quarto publishing route: the project's ``_quarto.yml`` website and typst board packs.

Used when the Quarto CLI is on PATH. The project's top-level ``_quarto.yml``,
``index.qmd``, ``methodology.qmd`` and ``accessibility.qmd`` are the sources;
this module assembles them in a temporary folder with what they need from the
content model (``content.py``, the same one the built-in route reads):

- ``reports/<period>/<trust>/``: the executed notebooks (board view: the
  project sets ``echo: false``), ``metrics.csv``, a generated ``index.qmd``
  (the trust's summary, front matter read by the landing page's listings, and
  ``{{< embed >}}`` of each labelled headline cell), and ``reviewer/`` copies of
  the notebooks whose ``_metadata.yml`` sets ``echo: true`` (reviewer view);
- ``_generated/methodology.md`` (the metric registry as tables) and
  ``_generated/accessibility.md``, included by the top-level pages.

Then ``quarto render`` builds the site (never executing a notebook:
``execute: enabled: false``) and each ``board-pack.qmd`` is rendered on its own
with ``--to typst`` to ``board-pack.pdf``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from edi_analysis.publish import content as C
from edi_analysis.publish.fallback import TEMPLATES, BuiltSite, board_pack_blocks

#: The repository root, where ``_quarto.yml`` and the top-level pages live.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
PROJECT_FILES = ("_quarto.yml", "index.qmd", "methodology.qmd", "accessibility.qmd")

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$@~^])")


def md_escape(text: str) -> str:
    """Plain text made safe for Pandoc Markdown (every syntax character backslash-escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_runs(runs) -> str:
    out = []
    for r in runs:
        t = md_escape(r.text)
        if r.code:
            t = f"`{r.text}`"
        elif r.strong and r.emph:
            t = f"***{t}***"
        elif r.strong:
            t = f"**{t}**"
        elif r.emph:
            t = f"*{t}*"
        out.append(t)
    return "".join(out)


def _front_matter(meta: dict) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _pipe_table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    def cell(s: str) -> str:
        return md_escape(str(s)).replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    if caption:
        lines += ["", f": {md_escape(caption)}"]
    return "\n".join(lines) + "\n"


# --- generated sources ---------------------------------------------------------------------------

def methodology_markdown(site: C.Site) -> str:
    """The methodology page's body: the shared method text, then the registry by area."""
    parts = [(TEMPLATES / "methodology.md").read_text("utf-8").rstrip() + "\n",
             "## The metrics\n",
             f"Every published figure is one of the {len(site.metrics)} metrics below, listed from "
             "the project's metric registry: the same list computes the figures, so this page "
             "cannot drift from them.\n"]
    for area, rows in site.metrics_by_area():
        parts.append(f"### {md_escape(C.AREA_NAMES[area])}\n")
        parts.append(_pipe_table(["Metric", "Identifier", "Unit", "Definition", "Source"],
                                 [[m.label, m.id, m.unit, m.definition, m.source] for m in rows],
                                 f"Metrics for {C.AREA_NAMES[area]}"))
    return "\n".join(parts)


def trust_page_qmd(report: C.Report) -> str:
    """``reports/<period>/<trust>/index.qmd``: front matter for the listings, summary, embeds."""
    first = report.summary[0][1].text if report.summary else ""
    meta = {
        "title": f"{report.display_name}: EDI report {report.period_label}",
        "description": first,
        "period": report.period,
        "period_label": report.period_label,
        "trust": report.display_name,
        "date": report.generated_on,
        "categories": [report.period_label, report.trust_code],
    }
    lines = [_front_matter(meta), "",
             f"Reporting year ending {C.long_date(report.period)}.", "",
             "## Downloads", "",
             f"- [Board pack for {md_escape(report.trust_name)}, {report.period_label} (PDF)]"
             "(board-pack.pdf)"]
    if report.has_metrics_csv:
        lines.append(f"- [All metrics for {md_escape(report.trust_name)}, {report.period_label} "
                     "(CSV)](metrics.csv)")
    lines += ["", "## Pages of this report", ""]
    lines += [f"{i}. [{md_escape(nb.title)}]({nb.stem}.ipynb)" for i, nb in
              enumerate(report.notebooks, 1)]
    lines += ["", "## For reviewers (with code)", ""]
    lines += [f"{i}. [{md_escape(nb.title)} (code shown)](reviewer/{nb.stem}.ipynb)" for i, nb in
              enumerate(report.notebooks, 1)]
    lines += ["", "## Executive summary", ""]
    lines += [f"**{md_escape(area)}.** {md_runs(p.runs)}\n" for area, p in report.summary]
    if report.rag_counts:
        lines.append(_pipe_table(["Status", "Meaning", "Actions"],
                                 [[lab.capitalize(), C.RAG_MEANING[lab], str(n)]
                                  for lab, n in report.rag_counts],
                                 "Plan actions by status (red, amber, green, grey)"))
    lines += _missing_and_notice(report, "##")
    for nb in report.notebooks:
        if nb.area == "overview" or not nb.headlines:
            continue
        lines += ["", f"## {md_escape(nb.title)}", ""]
        for h in nb.headlines:
            lines += [f"{{{{< embed {nb.filename}#{h.label} >}}}}", ""]
    return "\n".join(lines) + "\n"


def _missing_and_notice(report: C.Report, level: str) -> list[str]:
    """Sections not published (failed notebooks) and the lowered-thresholds notice, as Markdown."""
    lines = []
    notice = C.threshold_notice(report)
    if notice:
        lines += ["", f"**Notice:** {md_escape(notice)}", ""]
    if report.missing:
        lines += ["", f"{level} Sections not published", ""]
        lines += [f"**{md_escape(m.title)}.** {md_escape(m.reason)}\n" for m in report.missing]
    return lines


def board_pack_qmd(report: C.Report, figure_paths: dict[C.Figure, str]) -> str:
    """``board-pack.qmd``: the board paper rendered with Quarto's ``typst`` format.

    Statements and tables come through ``{{< embed >}}`` of the labelled cells.
    Raw HTML (how the notebooks show charts, to keep their alt text through
    nbconvert) has no typst form, so each chart is also given as a Markdown
    figure from the same cell's output, with its alt text and caption.
    """
    meta = {
        "title": report.board_pack_title,
        "subtitle": report.display_name,
        "date": report.generated_on,
        "date-format": "D MMMM YYYY",
        "lang": "en-GB",
        "abstract": C.BOARD_PACK_PURPOSE,
        "format": {"typst": {"papersize": "a4", "toc": True, "toc-depth": 1,
                             "section-numbering": "1.1", "fontsize": "10pt"}},
        "execute": {"enabled": False},
    }
    lines = [_front_matter(meta), "",
             f"**Reporting period:** {report.period_label} (year ending "
             f"{C.long_date(report.period)}). **Prepared by:** edi-analysis "
             f"{report.package_version}.", "",
             "# Executive summary", ""]
    lines += [f"**{md_escape(area)}.** {md_runs(p.runs)}\n" for area, p in report.summary]
    if report.rag_counts:
        lines.append(_pipe_table(["Status", "Meaning", "Actions"],
                                 [[lab.capitalize(), C.RAG_MEANING[lab], str(n)]
                                  for lab, n in report.rag_counts], "Plan actions by status"))
    lines += _missing_and_notice(report, "#")
    for nb in report.notebooks:
        if nb.area == "overview" or not nb.headlines:
            continue
        lines += ["", f"# {md_escape(nb.title)}", ""]
        for h in nb.headlines:
            if h.title:
                lines += [f"## {md_escape(h.title)}", ""]
            lines += [f"{{{{< embed {nb.filename}#{h.label} >}}}}", ""]
            for b in board_pack_blocks(h):
                if isinstance(b, C.Figure):
                    alt = b.alt.replace('"', "'")
                    lines += [f'![{md_escape(b.caption or b.alt)}]({figure_paths[b]})'
                              f'{{fig-alt="{alt}" width="100%"}}', ""]
    lines += ["", "# Method note", ""]
    lines += [md_escape(s) + "\n" for s in report.method_note()]
    return "\n".join(lines) + "\n"


REVIEWER_METADATA = {
    "echo": True,
    "subtitle": "Reviewer view: the executed notebook with its code",
}


def stage(site: C.Site, project: Path, root: Path = PROJECT_ROOT) -> list[Path]:
    """Assemble the Quarto project in ``project``; returns the board pack sources."""
    project.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copyfile(root / name, project / name)
    gen = project / "_generated"
    gen.mkdir(exist_ok=True)
    (gen / "methodology.md").write_text(methodology_markdown(site), "utf-8")
    shutil.copyfile(TEMPLATES / "accessibility.md", gen / "accessibility.md")
    packs = []
    for report in site.reports:
        rdir = project / report.path
        (rdir / "reviewer").mkdir(parents=True, exist_ok=True)
        for nb in report.notebooks:  # as published: no absolute local paths
            C.write_published_notebook(report.source_dir / nb.filename, rdir / nb.filename)
            C.write_published_notebook(report.source_dir / nb.filename,
                                       rdir / "reviewer" / nb.filename)
        (rdir / "reviewer" / "_metadata.yml").write_text(
            yaml.safe_dump(REVIEWER_METADATA, sort_keys=False), "utf-8")
        if report.has_metrics_csv:
            shutil.copyfile(report.source_dir / "metrics.csv", rdir / "metrics.csv")
        (rdir / "index.qmd").write_text(trust_page_qmd(report), "utf-8")
        # board packs render outside the website project (a standalone typst document)
        pdir = project.parent / "board-packs" / report.period / report.trust_code
        pdir.mkdir(parents=True, exist_ok=True)
        figure_paths: dict[C.Figure, str] = {}
        for h in report.headlines:
            for b in board_pack_blocks(h):
                if isinstance(b, C.Figure) and b not in figure_paths:
                    name = f"figure-{len(figure_paths) + 1:02d}.{b.extension}"
                    (pdir / name).write_bytes(b.data)
                    figure_paths[b] = name
        for nb in report.notebooks:
            C.write_published_notebook(report.source_dir / nb.filename, pdir / nb.filename)
        (pdir / "board-pack.qmd").write_text(board_pack_qmd(report, figure_paths), "utf-8")
        packs.append(pdir / "board-pack.qmd")
    return packs


def _quarto(args: list[str], cwd: Path) -> None:
    from edi_analysis.procs import die_with_parent

    # Quarto ends with the publish that started it (a killed publish leaves nothing running)
    proc = subprocess.run(["quarto", *args], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=die_with_parent)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise RuntimeError(f"quarto {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")


def build(site: C.Site, out: Path, *, scratch: Path, params=None,
          say: Callable[[str], None] = print) -> BuiltSite:
    """Render the website and every board pack with Quarto into the empty folder ``out``."""
    project = scratch / "project"
    packs = stage(site, project)
    say(f"quarto: rendering the website ({len(site.reports)} reports)")
    _quarto(["render", "--no-execute"], cwd=project)
    shutil.copytree(project / "_site", out, dirs_exist_ok=True)
    pdfs = []
    for qmd, report in zip(packs, site.reports):
        say(f"quarto: board pack {report.trust_code} {report.period_label}")
        _quarto(["render", qmd.name, "--to", "typst"], cwd=qmd.parent)
        target = out / report.path / "board-pack.pdf"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(qmd.with_suffix(".pdf"), target)
        pdfs.append(f"{report.path}/board-pack.pdf")
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    return BuiltSite(tuple(pages), tuple(sorted(pdfs)))
