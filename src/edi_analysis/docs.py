"""Generate ``docs/metrics.md`` (from the metric registry) and ``docs/actions.md`` (from the action catalogue).

The registry and the catalogue are the single source of what the product
measures; these pages are derived from them and committed, and a test
checks that regenerating gives identical text. Regenerate with::

    uv run python -m edi_analysis.docs            # writes docs/metrics.md, docs/actions.md
    uv run python -m edi_analysis.docs --check    # exit 1 if either is out of date

Output is deterministic (no dates, stable order), so a diff shows only real
changes to the methodology.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

AREA_TITLES = {
    "hia1": "High impact action 1 — board and executive EDI objectives",
    "hia2": "High impact action 2 — fair and inclusive recruitment and talent management",
    "hia3": "High impact action 3 — eliminate pay gaps",
    "hia4": "High impact action 4 — address health inequalities within the workforce",
    "hia5": "High impact action 5 — induction, onboarding and development for internationally "
    "recruited staff",
    "hia6": "High impact action 6 — eliminate the conditions in which bullying, discrimination, "
    "harassment and physical violence occur",
    "people_plan": "NHS People Plan",
}
OWNER_TITLES = {"board": "Board", "employer_system": "Employer / system", "national": "National"}
REGENERATE = "uv run python -m edi_analysis.docs"
FILES = ("metrics.md", "actions.md")


def natural_key(text: str) -> list:
    """Sort key treating digit runs as numbers, so ``wres.9`` sorts before ``wres.10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(metric_id: str) -> str:
    """The heading anchor GitHub/Quarto give ``### `id` ``: dots and other punctuation dropped."""
    return re.sub(r"[^a-z0-9_-]", "", metric_id.lower())


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def render_metrics(registry=None) -> str:
    """``docs/metrics.md``: every registered metric, grouped by area, in a stable order."""
    if registry is None:
        from edi_analysis.metrics import REGISTRY as registry
    from edi_analysis.metrics.registry import AREAS

    specs = sorted(registry.values(), key=lambda s: (AREAS.index(s.area), natural_key(s.id)))
    lines = [
        "# Metrics",
        "",
        f"<!-- Generated from the metric registry by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "Every metric the package computes, as registered in `src/edi_analysis/metrics/`: its id",
        "(the `metric_id` column of `metrics.csv`), action area, label, unit, definition and",
        "source. Rates and shares are percentages 0–100. Intervals, suppression and the",
        "`metrics.csv` layout are defined in the data contract (`docs/contract.md`, §4.7, §4.8, §5).",
        "",
        f"{len(specs)} metrics.",
        "",
    ]
    for area in AREAS:
        in_area = [s for s in specs if s.area == area]
        if not in_area:
            continue
        lines += [f"## {AREA_TITLES[area]}", ""]
        lines += _table(
            ["Metric", "Label", "Unit"],
            ([f"[`{s.id}`](#{_anchor(s.id)})", s.label, s.unit] for s in in_area),
        )
        lines.append("")
        for s in in_area:
            lines += [
                f"### `{s.id}`",
                "",
                f"**{s.label}** · unit: {s.unit} · area: {s.area}"
                f" · computed by family `{s.family}`",
                "",
            ]
            lines += [" ".join(s.definition.split()), ""]
            if s.breakdowns:
                shown = ", ".join(f"`{b}`" for b in s.breakdowns)
                lines += [f"Breakdowns: {shown}.", ""]
            lines += [f"Source: {' '.join(s.source.split())}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_actions(actions=None) -> str:
    """``docs/actions.md``: the action catalogue, grouped by area, in catalogue order."""
    if actions is None:
        from edi_analysis.catalogue import load_actions

        actions = load_actions()
    from edi_analysis.metrics.registry import AREAS

    lines = [
        "# Plan actions",
        "",
        f"<!-- Generated from src/edi_analysis/catalogue/actions.yaml by `{REGENERATE}`; "
        "do not edit by hand. -->",
        "",
        "Every action of the NHS EDI Improvement Plan (letter PRN01002's deliverables and high",
        "impact actions 2 and 4) and of the NHS People Plan priority actions, with its owner",
        "level, due date and the metrics that evidence it. A trust records its progress against",
        "these ids in the optional `actions` table; `actions.status` reports each as a RAG label",
        "(complete = green; in progress and not past due = amber; not started, or past due and",
        "not complete = red; no record or not applicable = grey).",
        "",
        "**Due dates of high impact actions 2 and 4** are the plan's own (NHS England, *NHS",
        "equality, diversity and inclusion improvement plan*, June 2023, the sections \"High",
        "impact action 2\" and \"High impact action 4\";",
        "<https://www.england.nhs.uk/long-read/nhs-equality-diversity-and-inclusion-improvement-plan/>;",
        "the plan's words are quoted in the Source column). HIA2's two dated actions are also",
        "quoted verbatim, dates included, in trusts' published WRES action plans (e.g. North",
        "Cumbria Integrated Care NHS Foundation Trust, *WRES action plan 2024*, objectives 1.7",
        "and 1.8,",
        "<https://www.ncic.nhs.uk/trust/equality-diversity-and-inclusion/workforce-race-equality-standard-wres-report-2024/workforce-race-equality-standard-wres-action-plan>).",
        "The",
        "catalogue used to give each one action due 31 March 2025, taken from a summary: no",
        "action of either has that date. HIA2's talent management plan is due by June 2024 and",
        "the evidence of its implementation by June 2025; its plan to widen recruitment in local",
        "communities by October 2024. HIA4's wellbeing conversations are due by October 2023",
        "and its partnerships with community organisations by April 2025; the plan sets no date",
        "for the HIA4 improvement plan as a whole. The board paper shows each action by its",
        "title (never its id).",
        "",
        f"{len(actions)} actions.",
        "",
    ]
    for area in AREAS:
        in_area = [a for a in actions if a.area == area]
        if not in_area:
            continue
        lines += [f"## {AREA_TITLES[area]}", ""]
        themes = list(dict.fromkeys(a.theme for a in in_area))
        for theme in themes:
            if theme and len(themes) > 1:
                lines += [f"### {theme}", ""]
            lines += _table(
                ["Action id", "Action", "Title on board papers", "Owner", "Due", "Evidenced by",
                 "Source"],
                (
                    [
                        f"`{a.id}`",
                        a.text,
                        a.title or "—",
                        OWNER_TITLES[a.owner_level],
                        a.due.isoformat() if a.due else "—",
                        ", ".join(f"`{m}`" for m in a.metrics) or "the trust's own record",
                        a.source,
                    ]
                    for a in in_area
                    if a.theme == theme
                ),
            )
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_all() -> dict[str, str]:
    """File name → generated text for every generated page."""
    return {"metrics.md": render_metrics(), "actions.md": render_actions()}


def stale(out_dir: str | Path) -> list[str]:
    """Generated pages in ``out_dir`` that are missing or differ from a fresh render."""
    out_dir = Path(out_dir)
    return [
        name
        for name, text in render_all().items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]


def write(out_dir: str | Path) -> list[Path]:
    """Write the generated pages to ``out_dir`` (atomically, each file whole or not at all)."""
    from edi_analysis.io import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(out_dir / name, text) for name, text in render_all().items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edi_analysis.docs",
        description="Generate docs/metrics.md and docs/actions.md from the registry and catalogue.",
    )
    parser.add_argument("--out-dir", default="docs", help="folder to write to (default: docs)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a generated page is missing or out of date",
    )
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale(args.out_dir)
        for name in out_of_date:
            print(f"{Path(args.out_dir) / name}: out of date; run `{REGENERATE}`", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in write(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
