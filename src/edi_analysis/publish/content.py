"""The one content model that both publishing routes read.

``load_site(params)`` turns the runner's output (``reports/<period>/<trust>/``:
executed notebooks, ``manifest.json``, ``metrics.csv``) and the metric
registry into plain, frozen objects: which reports exist, what each page is
called, which labelled headline cells a board pack embeds, and those cells'
outputs as simple blocks (paragraphs, figures, tables). The Quarto route
(``quarto.py``) writes page sources that *embed* the same labelled cells; the
built-in route (``fallback.py``) renders the same blocks itself. Wording that
both routes show (page titles, the purpose of a board pack, the method note)
is defined here once.

Headline cells follow Quarto's conventions, so Quarto's ``{{< embed >}}``
finds exactly the cells this module reads: a ``#| label: NAME`` cell option
(plus the cell tag ``headline``); figure labels start ``fig-``, table labels
``tbl-`` (Quarto's cross-reference prefixes), anything else is a statement.
Nothing here executes a notebook or computes a metric.

A notebook that failed when it was run is never published (its error output
can hold anything, identifiers included): it is left out of the model and
recorded as a :class:`MissingSection` with the reason, which the trust page
and the board pack show. What is published of an executed notebook is
:func:`published_notebook`: the notebook without absolute local paths.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

#: Cell tag that marks a headline cell (the runner's notebooks set it beside the label).
HEADLINE_TAG = "headline"
#: Site title, shown on every page and as the PDF author line.
SITE_TITLE = "EDI Improvement Plan and People Plan reports"
#: The purpose line of every board pack's title page.
BOARD_PACK_PURPOSE = (
    "For assurance: progress against the six high impact actions of the NHS EDI "
    "Improvement Plan (2023) and the NHS People Plan, with the Workforce Race and "
    "Workforce Disability Equality Standards and the pay gaps behind them."
)
#: What each purpose of a board paper means (the cover sheet's "purpose" box).
PURPOSES = {
    "assurance": "Assurance: the Board is asked to be assured, or to say where it is not",
    "approval": "Approval: the Board is asked to approve the action plan and the asks",
    "discussion": "Discussion: the Board is asked to discuss the findings and the asks",
    "information": "Information: for the Board to note",
}
#: MIME type of the overview notebook's board paper data (``report.BOARD_MIME``).
BOARD_MIME = "application/vnd.edi-analysis.board+json"
#: Outputs that are data for the publisher, never shown on a page (``report.DATA_MIMES``).
DATA_MIMES = ("application/vnd.edi-analysis.metrics+json", BOARD_MIME)
BOARD_LABEL = "hl-board"
#: RAG labels of ``actions.status`` (CONTRACT.md §4.6), in display order.
RAG_ORDER = ("red", "amber", "green", "grey")
RAG_MEANING = {
    "red": "not started, or past due and not complete",
    "amber": "in progress and not past due",
    "green": "complete",
    "grey": "no record",
}
#: Short names of the action areas (CONTRACT.md §5 ``area``).
AREA_NAMES = {
    "hia1": "High impact action 1: board accountability",
    "hia2": "High impact action 2: recruitment and representation",
    "hia3": "High impact action 3: pay gaps",
    "hia4": "High impact action 4: health inequalities",
    "hia5": "High impact action 5: internationally recruited staff",
    "hia6": "High impact action 6: bullying, harassment and disciplinary",
    "people_plan": "NHS People Plan",
}

#: Label prefix of the overview notebook's one-sentence summary of each area.
OVERVIEW_PREFIX = "hl-overview-"
_OPTION = re.compile(r"^\s*#\|\s?(.*)$")
_DATA_URI = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.S)
_AREA_IN_NAME = re.compile(r"(hia[1-6]|people_plan)")


# --- blocks: the outputs of a headline cell, in a form both routes can render ---------------

@dataclass(frozen=True)
class Run:
    """A stretch of inline text with its emphasis."""

    text: str
    strong: bool = False
    emph: bool = False
    code: bool = False


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass(frozen=True)
class Heading:
    level: int
    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


@dataclass(frozen=True)
class BulletList:
    items: tuple[tuple[Run, ...], ...]
    ordered: bool = False


@dataclass(frozen=True)
class Figure:
    """A chart: image bytes, its alternative text and caption."""

    data: bytes = field(repr=False)
    mime: str
    alt: str
    caption: str = ""

    @property
    def extension(self) -> str:
        return {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}.get(self.mime, "png")


@dataclass(frozen=True)
class Table:
    """A table as text cells; ``row_headers`` when the first cell of a body row is a header."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_headers: bool = False


Block = Paragraph | Heading | BulletList | Figure | Table


@dataclass(frozen=True)
class Headline:
    """One labelled headline cell of an executed notebook and its outputs."""

    notebook: str  # file name, e.g. "01_hia1_board.ipynb"
    label: str
    caption: str
    blocks: tuple[Block, ...]
    title: str = ""

    @property
    def kind(self) -> str:
        """``figure``, ``table`` or ``statement``, from Quarto's label prefixes."""
        if self.label.startswith("fig-"):
            return "figure"
        if self.label.startswith("tbl-"):
            return "table"
        return "statement"


@dataclass(frozen=True)
class NotebookPage:
    """One executed notebook: one board page and one reviewer page on the site."""

    filename: str
    stem: str
    title: str
    area: str
    headlines: tuple[Headline, ...]
    status: str = "ok"

    @property
    def summary(self) -> Paragraph | None:
        """The headline sentence of the area: the first paragraph of its first statement."""
        for h in self.headlines:
            if h.kind == "statement":
                for b in h.blocks:
                    if isinstance(b, Paragraph) and b.text.strip():
                        return b
        return None


@dataclass(frozen=True)
class MissingSection:
    """A notebook of a report that is not published, and why, in plain words."""

    notebook: str  # file name
    title: str
    reason: str


#: Why a failed notebook's section is missing (trust page and board pack).
FAILED_REASON = ("This section is missing because its notebook did not finish when the report "
                 "was run. It is not published, so that an error message cannot show "
                 "anything it should not; it will appear when the notebook is run again "
                 "successfully.")


@dataclass(frozen=True)
class DashLine:
    """One line of the dashboard, as the overview notebook wrote it (``board.DashboardRow``)."""

    key: str
    section: str
    code: str
    label: str
    area: str
    headline: str
    figure: str
    interval: str
    groups: str
    previous: str
    travel: str
    travel_label: str
    peers: str
    england: str
    rating: str
    rating_label: str
    rating_shape: str
    reason: str
    sentence: str
    travel_note: str = ""
    short: str = ""

    @property
    def figure_with_interval(self) -> str:
        return self.figure + (f" ({self.interval})" if self.interval else "")

    @property
    def travel_short(self) -> str:
        """The direction of travel in a word or two (the one-page dashboard)."""
        return {"closer": "Closer", "further": "Further", "same": "No change",
                "not_comparable": "New basis", "higher": "Higher", "lower": "Lower",
                "none": "—"}.get(self.travel, self.travel_label)


@dataclass(frozen=True)
class DashSection:
    title: str
    note: str
    lines: tuple[DashLine, ...]


@dataclass(frozen=True)
class AskItem:
    text: str
    due: str


@dataclass(frozen=True)
class PlanItem:
    """One action of the trust's action plan (never its catalogue id)."""

    area: str
    plan: str
    title: str
    text: str
    owner: str
    due: str
    status: str
    evidence: str
    rag: str
    rag_label: str
    rag_shape: str
    flags: tuple[str, ...] = ()
    overdue: bool = False


@dataclass(frozen=True)
class BoardPaper:
    """The dashboard, the asks and the action plan of one report (from its overview notebook)."""

    sections: tuple[DashSection, ...]
    asks: tuple[AskItem, ...]
    plan: tuple[PlanItem, ...]
    counts: tuple[tuple[str, int], ...]
    rule: tuple[str, ...]
    previous_period: str = ""

    @property
    def lines(self) -> tuple[DashLine, ...]:
        return tuple(x for sec in self.sections for x in sec.lines)

    def count(self, key: str) -> int:
        return dict(self.counts).get(key, 0)

    def area_lines(self, area: str) -> tuple[DashLine, ...]:
        """The area's dashboard lines, red first, then amber, green, not rated."""
        order = {"red": 0, "amber": 1, "green": 2, "none": 3}
        lines = [x for x in self.lines if x.area == area]
        return tuple(sorted(lines, key=lambda x: order.get(x.rating, 9)))

    def area_plan(self, area: str) -> tuple[PlanItem, ...]:
        return tuple(p for p in self.plan if p.area == area)

    @property
    def overdue(self) -> tuple[PlanItem, ...]:
        """The EDI Improvement Plan's actions past their due date and not complete (the People
        Plan's, due in 2021, are listed in the appendix)."""
        return tuple(p for p in self.plan if p.overdue and p.plan == "EDI Improvement Plan")


@dataclass(frozen=True)
class Cover:
    """The board pack's cover sheet (params file ``board_paper``; defaults in params.py)."""

    meeting: str
    meeting_date: str
    agenda_item: str
    executive_lead: str
    author: str
    purpose: str
    recommendation: str
    baf_risk: str
    previously_considered_by: str


@dataclass(frozen=True)
class Report:
    """One trust and period: its notebooks, headlines, action summary and provenance."""

    period: str
    trust_code: str
    trust_name: str
    source_dir: Path
    notebooks: tuple[NotebookPage, ...]
    rag_counts: tuple[tuple[str, int], ...]
    provenance: tuple[tuple[str, str], ...]  # (input file, abbreviated sha256)
    min_count: int
    min_survey_responses: int
    generated_on: str  # date the notebooks were run (from the manifest), ISO
    package_version: str = ""
    git_commit: str = ""
    #: notebooks not published (they failed when run), with the reason
    missing: tuple[MissingSection, ...] = ()
    board: BoardPaper | None = None
    cover: Cover | None = None
    #: notices every page of the report and its board pack show at the top (e.g. that a
    #: section is missing or that lower thresholds were allowed)
    notices: tuple[str, ...] = ()
    #: the statutory returns' figures as published (``returns.published_tables``)
    returns: tuple = ()

    @property
    def period_label(self) -> str:
        return period_label(self.period)

    @property
    def path(self) -> str:
        """Folder of the report's pages within the site (POSIX, no leading slash)."""
        return f"reports/{self.period}/{self.trust_code}"

    @property
    def title(self) -> str:
        return f"{self.trust_name}: {self.period_label}"

    @property
    def display_name(self) -> str:
        return (self.trust_name if self.trust_name == self.trust_code
                else f"{self.trust_name} ({self.trust_code})")

    @property
    def board_pack_title(self) -> str:
        return f"EDI board pack {self.period_label}"

    @property
    def paper_title(self) -> str:
        """The title a board agenda shows."""
        return (f"Equality, diversity and inclusion report {self.period_label}: WRES, WDES, pay "
                "gaps and the EDI Improvement Plan")

    def recommendation(self) -> str:
        """"The Board is asked to …": the params file's words, else written from the report."""
        if self.cover is not None and self.cover.recommendation:
            return self.cover.recommendation
        purpose = self.cover.purpose if self.cover is not None else "assurance"
        if self.board is None:
            return "note the report."
        red = self.board.count("red")
        overdue = len(self.board.overdue)
        asks = len(self.board.asks)
        noted = (f"note the {red} indicator{'s' * (red != 1)} rated red"
                 + (f" and the {overdue} EDI Improvement Plan action"
                    f"{'s' * (overdue != 1)} past {'their' if overdue != 1 else 'its'} due date"
                    if overdue else ""))
        agree = (f"agree the {asks} ask{'s' * (asks != 1)} set out in this paper" if asks else "")
        lead = {"assurance": "receive this report for assurance",
                "approval": "approve the action plan",
                "discussion": "discuss the findings",
                "information": "receive this report for information"}.get(purpose,
                                                                          "receive this report")
        parts = [lead, noted] + ([agree] if agree else [])
        return ", ".join(parts[:-1]) + " and " + parts[-1] + "."

    @property
    def provenance_line(self) -> str:
        version = self.package_version or ""
        commit = f", commit {self.git_commit}" if self.git_commit else ""
        return (f"Produced with edi-analysis{' ' + version if version else ''}{commit} from the "
                f"trust's data at {long_date(self.period)}; the figures were computed on "
                f"{long_date(self.generated_on)}.")

    @property
    def headlines(self) -> tuple[Headline, ...]:
        return tuple(h for nb in self.notebooks for h in nb.headlines)

    @property
    def summary(self) -> tuple[tuple[str, Paragraph], ...]:
        """The executive summary: one headline sentence per action area.

        The overview notebook's ``hl-overview-<area>`` cells when present (the
        notebooks choose which figure speaks for each area), otherwise the first
        sentence of each area notebook's first statement.
        """
        out = []
        if self.board is not None:
            by_area = {}
            for line in self.board.lines:
                cur = by_area.get(line.area)
                order = {"red": 0, "amber": 1, "green": 2, "none": 3}
                if line.sentence and (cur is None or order[line.rating] < order[cur.rating]):
                    by_area[line.area] = line
            for area in AREA_NAMES:
                if area in by_area:
                    out.append((AREA_NAMES[area], Paragraph((Run(by_area[area].sentence),))))
            if out:
                return tuple(out)
        for h in self.headlines:
            if h.label.startswith(OVERVIEW_PREFIX):
                para = next((b for b in h.blocks if isinstance(b, Paragraph)), None)
                area = h.label[len(OVERVIEW_PREFIX):]
                if para is not None:
                    out.append((AREA_NAMES.get(area, area), _strip_lead(para)))
        if out:
            return tuple(out)
        return tuple((nb.title, nb.summary) for nb in self.notebooks
                     if nb.area != "overview" and nb.summary is not None)

    @property
    def has_metrics_csv(self) -> bool:
        return (self.source_dir / "metrics.csv").is_file()

    def method_note(self) -> tuple[str, ...]:
        """The board pack's short method note, as plain sentences."""
        files = "; ".join(f"{name} ({digest})" for name, digest in self.provenance)
        return (
            f"Figures are for the trust's staff at the snapshot of {long_date(self.period)}, "
            f"with staff survey results from {int(self.period[:4]) - 1} and recruitment and "
            "employee relations cases over the reporting year (two years for disciplinary "
            "and capability rates).",
            "Intervals are 95% confidence intervals: Wilson score intervals for percentages, "
            "the log (Katz) method for relative likelihoods, bootstrap percentile intervals "
            "for pay gaps; a comparison of two groups' percentages is their ratio, with the "
            "MOVER interval from the two published intervals (Donner and Zou, 2012). Board "
            "figures are a census of the board and carry no interval.",
            f"Counts from 1 to {self.min_count - 1} are suppressed, as is any figure built "
            f"from them or from fewer than {self.min_count} people; survey results from fewer "
            f"than {self.min_survey_responses} respondents are suppressed. Suppressed figures "
            "are shown as \u201csuppressed\u201d.",
            "Data provenance: " + (files if files else "input hashes are in the report manifest")
            + ". Each hash is the first 12 characters of the file's SHA-256; the full hashes, "
            "package versions and run times are in the report's manifest.",
        )


@dataclass(frozen=True)
class MetricRow:
    """One metric of the registry, as the methodology page lists it."""

    id: str
    area: str
    label: str
    unit: str
    definition: str
    source: str


@dataclass(frozen=True)
class Site:
    """Everything published: the reports and the registry, ordered for display."""

    title: str
    reports: tuple[Report, ...]
    metrics: tuple[MetricRow, ...]
    min_count: int
    min_survey_responses: int
    #: shown on every page and board pack when thresholds below the contract's were used
    threshold_notice: str = ""

    @property
    def periods(self) -> tuple[str, ...]:
        """Periods, latest first (the landing page lists the newest year first)."""
        return tuple(sorted({r.period for r in self.reports}, reverse=True))

    @property
    def trusts(self) -> tuple[tuple[str, str], ...]:
        """(code, name) of every trust, by code."""
        return tuple(sorted({(r.trust_code, r.trust_name) for r in self.reports}))

    def reports_for_period(self, period: str) -> tuple[Report, ...]:
        return tuple(r for r in self.reports if r.period == period)

    def report(self, period: str, trust: str) -> Report | None:
        return next((r for r in self.reports
                     if r.period == period and r.trust_code == trust), None)

    def metrics_by_area(self) -> tuple[tuple[str, tuple[MetricRow, ...]], ...]:
        out = []
        for area in AREA_NAMES:
            rows = tuple(m for m in self.metrics if m.area == area)
            if rows:
                out.append((area, rows))
        return tuple(out)


# --- small helpers ------------------------------------------------------------------------

def period_label(period: str) -> str:
    """A 31 March snapshot as its financial year: ``2024-03-31`` → ``2023/24`` (CONTRACT.md §1)."""
    d = _dt.date.fromisoformat(period)
    end = d.year if (d.month, d.day) <= (3, 31) else d.year + 1
    return f"{end - 1}/{str(end)[-2:]}"


def long_date(iso: str) -> str:
    """``2024-03-31`` → ``31 March 2024`` (GOV.UK style)."""
    d = _dt.date.fromisoformat(iso[:10])
    return f"{d.day} {d:%B %Y}"


def cell_options(source: str) -> dict[str, Any]:
    """Quarto cell options: the leading ``#| key: value`` lines of a code cell, read as YAML."""
    lines = []
    for line in source.splitlines():
        m = _OPTION.match(line)
        if not m:
            break
        lines.append(m.group(1))
    if not lines:
        return {}
    try:
        opts = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError:
        return {}
    return opts if isinstance(opts, dict) else {}


def _strip_lead(para: Paragraph) -> Paragraph:
    """Drop a leading bold title ("**High impact action 1: ….** ") that the summary shows itself."""
    runs = list(para.runs)
    if len(runs) > 1 and runs[0].strong:
        runs = runs[1:]
        runs[0] = Run(runs[0].text.lstrip(), runs[0].strong, runs[0].emph, runs[0].code)
    return Paragraph(tuple(runs))


def _headline_titles() -> dict[str, str]:
    """Section titles by label, from the notebooks' helper module when it is installed."""
    try:
        from edi_analysis import report
    except ImportError:
        return {}
    labels = getattr(report, "HEADLINES", {})
    return {k: str(getattr(v, "title", "")) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _headline_labels() -> frozenset[str] | None:
    """Labels the notebooks declare as headlines, if the report module publishes them."""
    try:
        from edi_analysis import report  # the notebooks' helper module
    except ImportError:
        return None
    labels = getattr(report, "HEADLINES", None)
    if labels is None:
        return None
    if isinstance(labels, Mapping):
        labels = labels.keys()
    return frozenset(str(x) for x in labels)


def _decode_image(mime: str, payload: Any) -> bytes:
    if mime == "image/svg+xml":
        return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    if isinstance(payload, list):
        payload = "".join(payload)
    return base64.b64decode(payload)


# --- markdown and HTML outputs → blocks --------------------------------------------------------

def _runs(children: Iterable[Mapping], strong=False, emph=False) -> list[Run]:
    out: list[Run] = []
    for node in children:
        t = node.get("type")
        if t in ("text", "inline_html"):
            raw = node.get("raw", "")
            if t == "inline_html":
                raw = re.sub(r"<[^>]+>", "", raw)
            if raw:
                out.append(Run(raw, strong, emph))
        elif t == "codespan":
            out.append(Run(node.get("raw", ""), strong, emph, code=True))
        elif t == "strong":
            out += _runs(node.get("children", ()), True, emph)
        elif t == "emphasis":
            out += _runs(node.get("children", ()), strong, True)
        elif t in ("softbreak", "linebreak"):
            out.append(Run(" ", strong, emph))
        elif "children" in node:  # links and anything else: keep the words
            out += _runs(node["children"], strong, emph)
    merged: list[Run] = []
    for r in out:  # adjacent runs with the same style read better as one
        if merged and (merged[-1].strong, merged[-1].emph, merged[-1].code) == (r.strong, r.emph, r.code):
            merged[-1] = Run(merged[-1].text + r.text, r.strong, r.emph, r.code)
        else:
            merged.append(r)
    return merged


def _plain(children: Iterable[Mapping]) -> str:
    return "".join(r.text for r in _runs(children)).strip()


def markdown_blocks(text: str, caption: str = "") -> list[Block]:
    """Blocks of a Markdown output (paragraphs, lists, headings, images, pipe tables)."""
    import mistune

    ast = mistune.create_markdown(renderer="ast", plugins=["table", "strikethrough"])(text)
    out: list[Block] = []
    for node in ast:
        t = node.get("type")
        if t == "paragraph":
            kids = node.get("children", [])
            images = [k for k in kids if k.get("type") == "image"]
            for img in images:
                fig = _figure_from_src(img["attrs"].get("url", ""), _plain(img.get("children", [])),
                                       caption or img["attrs"].get("title") or "")
                if fig is not None:
                    out.append(fig)
            rest = [k for k in kids if k.get("type") != "image"]
            runs = tuple(_runs(rest))
            if "".join(r.text for r in runs).strip():
                out.append(Paragraph(runs))
        elif t == "heading":
            out.append(Heading(int(node["attrs"]["level"]), tuple(_runs(node.get("children", [])))))
        elif t == "list":
            items = []
            for item in node.get("children", []):
                runs: list[Run] = []
                for part in item.get("children", []):
                    if runs:
                        runs.append(Run(" "))
                    runs += _runs(part.get("children", []))
                items.append(tuple(runs))
            out.append(BulletList(tuple(items), bool(node.get("attrs", {}).get("ordered"))))
        elif t == "table":
            head, body = [], []
            for part in node.get("children", []):
                if part["type"] == "table_head":
                    head = [_plain(c.get("children", [])) for c in part.get("children", [])]
                else:
                    for row in part.get("children", []):
                        body.append(tuple(_plain(c.get("children", [])) for c in row.get("children", [])))
            out.append(Table(caption, tuple(head), tuple(body)))
        elif t == "block_html":
            out += html_blocks(node.get("raw", ""), caption)
    return out


def _figure_from_src(src: str, alt: str, caption: str) -> Figure | None:
    m = _DATA_URI.match(src.strip())
    if not m:
        return None
    return Figure(base64.b64decode(m.group(2)), m.group(1), alt.strip(), caption.strip())


def html_blocks(text: str, caption: str = "") -> list[Block]:
    """Blocks of an HTML output: images (with alt and figcaption), tables, and its text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    out: list[Block] = []
    for el in soup.find_all(["img", "table", "p", "li", "h1", "h2", "h3", "h4"]):
        if el.name == "img":
            figcap = el.find_parent("figure")
            cap = figcap.find("figcaption").get_text(" ", strip=True) if figcap and figcap.find("figcaption") else ""
            fig = _figure_from_src(el.get("src", ""), el.get("alt", ""), cap or caption)
            if fig is not None:
                out.append(fig)
        elif el.name == "table":
            if el.find_parent("table") is not None:
                continue
            cap_el = el.find("caption")
            cap = cap_el.get_text(" ", strip=True) if cap_el else caption
            head: tuple[str, ...] = ()
            rows, row_headers = [], False
            for tr in el.find_all("tr"):
                cells = tr.find_all(["th", "td"])
                values = tuple(c.get_text(" ", strip=True) for c in cells)
                if tr.find_parent("thead") is not None or (not head and not rows and cells
                                                            and all(c.name == "th" for c in cells)):
                    if not head:  # a second header row (pandas' index names) adds nothing readable
                        head = values
                    continue
                if cells and cells[0].name == "th":
                    row_headers = True
                rows.append(values)
            out.append(Table(cap, head, tuple(rows), row_headers))
        elif el.find_parent(["table", "figure", "li"]) is None or el.name == "li":
            if el.name == "li" and el.find_parent("table") is not None:
                continue
            words = el.get_text(" ", strip=True)
            if words:
                if el.name.startswith("h"):
                    out.append(Heading(int(el.name[1]), (Run(words),)))
                else:
                    strong = bool(el.find(["strong", "b"])) and el.find(["strong", "b"]).get_text(strip=True) == words
                    out.append(Paragraph((Run(words, strong=strong),)))
    return out


def output_blocks(output: Mapping, options: Mapping[str, Any]) -> list[Block]:
    """Blocks of one cell output, choosing its richest accessible representation.

    Order of preference matches a board reader's: Markdown (keeps emphasis and
    alt text), then HTML, then a bare image (alt from the output metadata or the
    cell's ``fig-alt`` option), then plain text for stream output.
    """
    caption = str(options.get("fig-cap") or options.get("tbl-cap") or "")
    kind = output.get("output_type")
    if any(m in output.get("data", {}) for m in DATA_MIMES):
        return []  # data for the publisher (metric rows, the board paper), not for readers
    if kind == "stream":
        if output.get("name") == "stdout" and output.get("text", "").strip():
            return [Paragraph((Run(output["text"].strip()),))]
        return []
    data = output.get("data", {})
    if "text/markdown" in data:
        return markdown_blocks(_text(data["text/markdown"]), caption)
    if "text/html" in data:
        return html_blocks(_text(data["text/html"]), caption)
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            meta = output.get("metadata", {}).get(mime, {}) or {}
            alt = str(meta.get("alt") or options.get("fig-alt") or caption)
            return [Figure(_decode_image(mime, data[mime]), mime, alt, caption)]
    return []


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# --- notebooks, manifest, metrics.csv → a Report ---------------------------------------------

def read_notebook(path: Path, wanted: frozenset[str] | None = None) -> NotebookPage:
    """Title, area and labelled headline cells of one executed notebook."""
    nb = nbformat.read(path, as_version=4)
    titles = _headline_titles()
    title = ""
    headlines = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not title:
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                title = m.group(1).strip()
        if cell.cell_type != "code":
            continue
        opts = cell_options(cell.source)
        label = opts.get("label")
        tags = set(cell.get("metadata", {}).get("tags", []))
        # a headline is tagged, or named in the notebooks' published list of headline labels
        if not label or (HEADLINE_TAG not in tags and (wanted is None or label not in wanted)):
            continue
        if opts.get("include") is False or opts.get("output") is False:
            continue
        blocks: list[Block] = []
        for output in cell.get("outputs", []):
            blocks += output_blocks(output, opts)
        caption = str(opts.get("fig-cap") or opts.get("tbl-cap") or "")
        headlines.append(Headline(path.name, str(label), caption, tuple(blocks),
                                  titles.get(str(label), caption)))
    m = _AREA_IN_NAME.search(path.stem)
    area = m.group(1) if m else "overview"
    meta_title = nb.metadata.get("title") if isinstance(nb.metadata.get("title"), str) else ""
    return NotebookPage(
        filename=path.name,
        stem=path.stem,
        title=title or meta_title or AREA_NAMES.get(area, path.stem.replace("_", " ").capitalize()),
        area=area,
        headlines=tuple(headlines),
    )


def _board_paper(path: Path) -> BoardPaper | None:
    """The board paper data the overview notebook emitted (``report.BOARD_MIME``), if any."""
    if not path.is_file():
        return None
    nb = nbformat.read(path, as_version=4)
    data = None
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if BOARD_MIME in o.get("data", {}):
                data = o["data"][BOARD_MIME]
    if not isinstance(data, Mapping):
        return None
    fields = {f for f in DashLine.__dataclass_fields__}
    lines = [DashLine(**{k: v for k, v in r.items() if k in fields}) for r in data.get("rows", [])]
    sections = tuple(DashSection(sec["title"], str(sec.get("note") or ""),
                                 tuple(x for x in lines if x.section == sec["key"]))
                     for sec in data.get("sections", []))
    pfields = {f for f in PlanItem.__dataclass_fields__}
    plan = tuple(PlanItem(**{k: (tuple(v) if k == "flags" else v) for k, v in p.items()
                             if k in pfields}) for p in data.get("plan", []))
    return BoardPaper(
        sections=tuple(x for x in sections if x.lines),
        asks=tuple(AskItem(a["text"], a["due"]) for a in data.get("asks", [])),
        plan=plan,
        counts=tuple((k, int(v)) for k, v in (data.get("counts") or {}).items()),
        rule=tuple(data.get("rule") or ()),
        previous_period=str(data.get("previous_period") or ""),
    )


def _manifest(folder: Path) -> dict:
    p = folder / "manifest.json"
    if not p.is_file():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def _provenance(manifest: Mapping) -> tuple[tuple[str, str], ...]:
    """(file, first 12 hex digits of its sha256) for every input named in the manifest."""
    inputs = manifest.get("inputs") or manifest.get("input_sha256") or {}
    pairs: list[tuple[str, str]] = []
    if isinstance(inputs, Mapping):
        for name, value in inputs.items():
            digest = value.get("sha256", "") if isinstance(value, Mapping) else str(value)
            pairs.append((Path(str(name)).name, digest[:12]))
    elif isinstance(inputs, list):
        for item in inputs:
            if isinstance(item, Mapping):
                pairs.append((Path(str(item.get("file") or item.get("path") or item.get("name"))).name,
                              str(item.get("sha256", ""))[:12]))
    return tuple(sorted(pairs))


def _rag_counts(folder: Path) -> tuple[tuple[str, int], ...]:
    """Actions by RAG label, from the ``actions.status`` rows of the report's metrics.csv."""
    p = folder / "metrics.csv"
    if not p.is_file():
        return ()
    import pandas as pd

    rows = pd.read_csv(p, dtype=str, keep_default_na=False)
    labels = rows.loc[rows["metric_id"] == "actions.status", "value"].str.lower()
    if labels.empty:
        return ()
    counts = labels.value_counts()
    return tuple((lab, int(counts.get(lab, 0))) for lab in RAG_ORDER)


def _status(manifest: Mapping, filename: str) -> str:
    for item in manifest.get("notebooks", []) or []:
        if isinstance(item, Mapping) and Path(str(item.get("name", item.get("notebook", "")))).name == filename:
            return str(item.get("status", "ok"))
    return "ok"


def _has_error(path: Path) -> bool:
    """Whether an executed notebook holds an error output or papermill's failure mark."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # unreadable: not publishable either
    if (nb.get("metadata", {}).get("papermill", {}) or {}).get("exception"):
        return True
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("papermill", {}) or {}
        if meta.get("exception") or meta.get("status") == "failed":
            return True
        if any(o.get("output_type") == "error" for o in cell.get("outputs", []) or []):
            return True
    return False


def _notebook_title(filename: str) -> str:
    """A notebook's title without reading it (for a section that is missing)."""
    try:
        from edi_analysis import report

        known = report.NOTEBOOKS.get(Path(filename).stem)
        if known:
            return known[0]
    except ImportError:
        pass
    m = _AREA_IN_NAME.search(filename)
    if m:
        return AREA_NAMES.get(m.group(1), m.group(1))
    return Path(filename).stem.replace("_", " ").capitalize()


def lower_thresholds_of(report: "Report") -> dict[str, int]:
    """The thresholds of a report below the data contract's minimums (CONTRACT.md §4.8)."""
    from edi_analysis.params import lower_thresholds

    return lower_thresholds(report.min_count, report.min_survey_responses)


def threshold_notice(report: "Report") -> str:
    """The lowered-thresholds notice of one report ('' when it used the contract's)."""
    from edi_analysis.params import lower_thresholds_notice

    return lower_thresholds_notice(lower_thresholds_of(report))


# Papermill metadata and parameters that hold local paths in what earlier versions wrote.
_PATH_METADATA = ("input_path", "output_path")


def published_notebook(path: Path) -> nbformat.NotebookNode:
    """An executed notebook as the site publishes it: no absolute local path in papermill's
    ``input_path``/``output_path`` or in an injected parameter (each becomes its file name),
    and the metric-rows outputs as data only (their audit-trail views, for reviewers of the
    kept notebook, are not shown on pages or embedded by Quarto)."""
    import os

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # metric rows: data for the publisher, as before their reviewer views
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(m in data for m in DATA_MIMES):
                for mime in ("text/html", "text/markdown"):
                    data.pop(mime, None)
                if "text/plain" in data:
                    data["text/plain"] = ""
    meta = nb.metadata.get("papermill")
    if isinstance(meta, dict):
        for key in _PATH_METADATA:
            if isinstance(meta.get(key), str) and os.path.isabs(meta[key]):
                meta[key] = Path(meta[key]).name
        params = meta.get("parameters")
        absolute = {k: v for k, v in (params or {}).items()
                    if isinstance(v, str) and os.path.isabs(v)}
        if absolute:
            for k, v in absolute.items():
                params[k] = Path(v).name
            for cell in nb.cells:
                if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                    for v in absolute.values():
                        cell.source = cell.source.replace(repr(v), repr(Path(v).name)) \
                            .replace(json.dumps(v), json.dumps(Path(v).name))
    return nb


#: Manifest keys not published (the machine a notebook ran on).
_UNPUBLISHED_MANIFEST_KEYS = ("host",)
#: Parameters that hold local paths (the runner records them relative to the report folder,
#: which can still climb through the local folders): published as their last part only.
_PATH_PARAMETERS = ("params_file", "data", "notebooks_dir", "reports_dir", "site_dir", "mapping")


def published_manifest(folder: Path) -> dict:
    """A report's ``manifest.json`` as the site publishes it beside the reviewer pages: every
    local path (absolute, or a parameter's relative one) replaced by its last part, the
    machine names dropped."""
    import os

    def clean(v, key=None):
        if isinstance(v, dict):
            return {k: clean(x, k) for k, x in v.items() if k not in _UNPUBLISHED_MANIFEST_KEYS}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, str) and (os.path.isabs(v) or key in _PATH_PARAMETERS):
            return Path(v).name or v
        return v

    return clean(_manifest(folder))


def write_published_manifest(folder: Path, dst_dir: Path) -> Path | None:
    """Write :func:`published_manifest` of the report in ``folder`` to ``dst_dir/manifest.json``
    (None when the report has no manifest)."""
    m = published_manifest(folder)
    if not m:
        return None
    dst_dir.mkdir(parents=True, exist_ok=True)
    path = dst_dir / "manifest.json"
    path.write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")
    return path


#: The thresholds a report's pages state (recorded in each report's manifest).
THRESHOLD_KEYS = ("min_count", "min_survey_responses")


def threshold_groups(reports) -> dict[tuple[int, int], list]:
    """Reports by the thresholds they were run with: ``{(min_count, min_survey_responses):
    [report, ...]}``; more than one group is a site whose pages would disagree."""
    out: dict[tuple[int, int], list] = {}
    for r in reports:
        out.setdefault((r.min_count, r.min_survey_responses), []).append(r)
    return out


def mixed_thresholds_message(groups: dict) -> str:
    """Why a reports folder run with different thresholds is not published, and the fix."""
    parts = []
    for (mc, msr), reps in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        names = ", ".join(f"{r.trust_code} {r.period}" for r in reps[:5])
        more = f" and {len(reps) - 5} more" if len(reps) > 5 else ""
        parts.append(f"min_count {mc}, min_survey_responses {msr}: {names}{more}")
    return ("the reports were run with different thresholds (" + "; ".join(parts) + "), so "
            "their pages would state different suppression rules; run every report again with "
            "the same thresholds (`edi-analysis run PARAMS.yaml` without --trust or --period), "
            "or publish only the reports that share them (trusts and periods in the params)")


def write_published_notebook(src: Path, dst: Path) -> None:
    """Write :func:`published_notebook` of ``src`` to ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(nbformat.writes(published_notebook(src)), encoding="utf-8")


def read_report(folder: Path, period: str, trust: str, *, min_count: int,
                min_survey_responses: int, wanted: frozenset[str] | None = None,
                trust_name: str | None = None, cover: Mapping | None = None) -> Report:
    """The content of one ``reports/<period>/<trust>/`` folder.

    ``trust_name`` (the params file's ``trust_names``) wins over the name the runner
    recorded in the manifest, so a name can be corrected without running again;
    ``cover``: the cover sheet's values (``params.Params.cover``)."""
    manifest = _manifest(folder)
    notebooks, missing = [], []
    for path in sorted(folder.glob("*.ipynb")):
        status = _status(manifest, path.name)
        if status != "ok" or _has_error(path):
            missing.append(MissingSection(path.name, _notebook_title(path.name), FAILED_REASON))
            continue
        page = read_notebook(path, wanted)
        notebooks.append(NotebookPage(**{**page.__dict__, "status": status}))
    # notebooks the manifest lists as failed that saved nothing (their kernel died)
    for item in manifest.get("notebooks", []) or []:
        name = Path(str(item.get("notebook") or item.get("name") or "")).name \
            if isinstance(item, Mapping) else ""
        if name and not (folder / name).exists() and str(item.get("status", "ok")) != "ok":
            missing.append(MissingSection(name, _notebook_title(name), FAILED_REASON))
    missing.sort(key=lambda m: m.notebook)
    params = manifest.get("parameters") or manifest.get("params") or {}
    params = params if isinstance(params, Mapping) else {}
    started = str(manifest.get("finished") or manifest.get("end") or manifest.get("started")
                  or manifest.get("start") or "")
    versions = manifest.get("versions") or manifest.get("packages") or {}
    overview = next((folder / nb.filename for nb in notebooks if nb.area == "overview"), None)
    cover_values = {k: str(v) for k, v in (cover or {}).items()}
    from edi_analysis.params import lower_thresholds, lower_thresholds_notice

    r_min = int(params.get("min_count", min_count))
    r_survey = int(params.get("min_survey_responses", min_survey_responses))
    lowered = lower_thresholds_notice(lower_thresholds(r_min, r_survey))
    return Report(
        period=period,
        trust_code=trust,
        trust_name=str(trust_name if trust_name and trust_name != trust
                       else manifest.get("trust_name") or trust),
        source_dir=folder,
        notebooks=tuple(notebooks),
        rag_counts=_rag_counts(folder),
        provenance=_provenance(manifest),
        min_count=r_min,
        min_survey_responses=r_survey,
        generated_on=started[:10] if re.match(r"\d{4}-\d{2}-\d{2}", started) else period,
        package_version=str(versions.get("edi-analysis", versions.get("edi_analysis", "")))
        if isinstance(versions, Mapping) else "",
        git_commit=str(manifest.get("git_commit") or manifest.get("commit") or "")[:12],
        missing=tuple(missing),
        board=_board_paper(overview) if overview is not None else None,
        cover=Cover(**{f: cover_values.get(f, "") for f in Cover.__dataclass_fields__})
        if cover is not None else None,
        notices=(lowered,) if lowered else (),
        returns=_returns(folder, r_min, r_survey),
    )


def _returns(folder: Path, min_count: int, min_survey_responses: int) -> tuple:
    """The report's statutory return figures, from its published metrics.csv."""
    p = folder / "metrics.csv"
    if not p.is_file():
        return ()
    import pandas as pd

    from edi_analysis.returns import published_tables

    rows = pd.read_csv(p, dtype=str, keep_default_na=False)
    return published_tables(rows, min_count=min_count, min_survey_responses=min_survey_responses)


def registry_rows() -> tuple[MetricRow, ...]:
    """Every registered metric, by area then id (the methodology page's table)."""
    from edi_analysis.metrics import REGISTRY

    order = {a: i for i, a in enumerate(AREA_NAMES)}
    specs = sorted(REGISTRY.values(), key=lambda s: (order.get(s.area, 99), s.id))
    return tuple(MetricRow(s.id, s.area, s.label, s.unit, s.definition, s.source) for s in specs)


def discover(reports_dir: Path, periods: Iterable[str] | None = None,
             trusts: Iterable[str] | None = None) -> list[tuple[str, str, Path]]:
    """(period, trust, folder) of every finished report under ``reports_dir``.

    A folder counts when it holds at least one executed notebook; hidden and
    temporary folders (a run in progress) are skipped.
    """
    want_p = set(periods) if periods else None
    want_t = set(trusts) if trusts else None
    found = []
    if not reports_dir.is_dir():
        return found
    for pdir in sorted(reports_dir.iterdir()):
        if not pdir.is_dir() or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", pdir.name):
            continue
        if want_p is not None and pdir.name not in want_p:
            continue
        for tdir in sorted(pdir.iterdir()):
            if not tdir.is_dir() or tdir.name.startswith((".", "_")):
                continue
            if want_t is not None and tdir.name not in want_t:
                continue
            if any(tdir.glob("*.ipynb")):
                found.append((pdir.name, tdir.name, tdir))
    return found


def load_site(params) -> Site:
    """The content of the whole site for a params object (``edi_analysis.params.Params``)."""
    wanted = _headline_labels()
    names = getattr(params, "trust_names", {}) or {}
    cover = getattr(params, "cover", None)
    reports = tuple(
        read_report(folder, period, trust, min_count=params.min_count,
                    min_survey_responses=params.min_survey_responses, wanted=wanted,
                    trust_name=names.get(trust), cover=cover(trust) if cover else None)
        for period, trust, folder in discover(Path(params.reports_dir), params.periods, params.trusts)
    )
    reports = tuple(sorted(reports, key=lambda r: (-int(r.period.replace("-", "")), r.trust_code)))
    from edi_analysis.params import lower_thresholds, lower_thresholds_notice

    lowest = lower_thresholds(params.min_count, params.min_survey_responses)
    for r in reports:  # the lowest thresholds any report used
        for k, v in lower_thresholds_of(r).items():
            lowest[k] = min(v, lowest.get(k, v))
    return Site(SITE_TITLE, reports, registry_rows(), params.min_count, params.min_survey_responses,
                lower_thresholds_notice(lowest))
