"""The catalogue of plan actions: package data (``actions.yaml``), loaded and validated.

Every action of the NHS EDI Improvement Plan (PRN01002 deliverables and high
impact actions 2 and 4) and of the NHS People Plan priority actions, with
its owner level, due date and the metrics that evidence it. Trusts record
progress against these ids in the optional ``actions`` table
(CONTRACT.md §2.6); ``metrics/actions.py`` turns that into RAG status.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

OWNER_LEVELS = ("board", "employer_system", "national")
FIELDS = ("id", "title", "text", "theme", "area", "owner_level", "due", "source", "metrics")
REQUIRED = ("id", "text", "area", "owner_level", "due", "source", "metrics")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


class CatalogueError(ValueError):
    """The action catalogue breaks one of its rules (listed in the message)."""


@dataclass(frozen=True)
class Action:
    """One plan action: what it says, who owns it, when it is due, what evidences it."""

    id: str
    text: str
    area: str
    owner_level: str
    due: _dt.date | None
    source: str
    metrics: tuple[str, ...]
    theme: str = ""
    #: a short plain-English name for board papers (optional; the text's first clause if not)
    title: str = ""


def _due(value, where: str, problems: list[str]) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: due {value!r} is not YYYY-MM-DD or null")
        return None


def parse_actions(data) -> tuple[Action, ...]:
    """Validate the parsed YAML document and return its actions, in file order.

    Rules: a top-level ``actions`` list; each entry has exactly the known
    fields, a slug id unique in the catalogue, non-empty text and source, an
    area in ``registry.AREAS``, an owner level in ``OWNER_LEVELS``, ``due`` a
    date or null, ``metrics`` a list of distinct metric ids. Every problem is
    reported at once.
    """
    # Imported here: the metrics package imports this module (metrics/actions.py).
    from edi_analysis.metrics.registry import AREAS

    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
        raise CatalogueError("catalogue: expected a mapping with an 'actions' list")
    out, seen = [], set()
    for i, entry in enumerate(data["actions"], start=1):
        where = f"action {i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        where = f"action {i} ({entry.get('id', '?')})"
        missing = [f for f in REQUIRED if f not in entry]
        unknown = sorted(set(entry) - set(FIELDS))
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
        aid = entry.get("id")
        if not isinstance(aid, str) or not _ID.match(aid):
            problems.append(f"{where}: id must be a dotted lower-case slug")
        elif aid in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(aid)
        for field in ("text", "source"):
            if not isinstance(entry.get(field), str) or not entry.get(field, "").strip():
                problems.append(f"{where}: {field} must be non-empty text")
        if entry.get("area") not in AREAS:
            problems.append(f"{where}: area {entry.get('area')!r} not in {AREAS}")
        if entry.get("owner_level") not in OWNER_LEVELS:
            problems.append(
                f"{where}: owner_level {entry.get('owner_level')!r} not in {OWNER_LEVELS}"
            )
        due = _due(entry.get("due"), where, problems)
        metrics = entry.get("metrics")
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            problems.append(f"{where}: metrics must be a list of metric ids")
            metrics = []
        elif len(set(metrics)) != len(metrics):
            problems.append(f"{where}: metrics listed twice")
        if problems:
            continue
        out.append(
            Action(
                id=aid,
                text=" ".join(entry["text"].split()),
                area=entry["area"],
                owner_level=entry["owner_level"],
                due=due,
                source=entry["source"].strip(),
                metrics=tuple(metrics),
                theme=str(entry.get("theme") or "").strip(),
                title=" ".join(str(entry.get("title") or "").split()),
            )
        )
    if problems:
        raise CatalogueError("invalid action catalogue:\n  " + "\n  ".join(problems))
    return tuple(out)


@lru_cache(maxsize=1)
def load_actions() -> tuple[Action, ...]:
    """The package's action catalogue (``catalogue/actions.yaml``), validated; cached."""
    text = resources.files(__name__).joinpath("actions.yaml").read_text(encoding="utf-8")
    return parse_actions(yaml.safe_load(text))


def unregistered_metrics(actions=None) -> dict[str, list[str]]:
    """Metric ids referenced by actions but absent from the metric registry: {action id: [ids]}."""
    from edi_analysis.metrics import REGISTRY

    out = {}
    for a in actions if actions is not None else load_actions():
        missing = [m for m in a.metrics if m not in REGISTRY]
        if missing:
            out[a.id] = missing
    return out
