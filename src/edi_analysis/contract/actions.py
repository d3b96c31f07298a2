"""``actions``: the trust's progress on plan actions; optional. CONTRACT.md §2.6.

``action_id`` must be an id of the package's action catalogue
(``src/edi_analysis/catalogue/actions.yaml``); that check is skipped when
the catalogue is not installed.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

import numpy as np
import pandera.pandas as pa
import yaml

from edi_analysis import groups
from edi_analysis.contract.columns import code, date, ods_code, text
from edi_analysis.contract.parsing import TableData
from edi_analysis.contract.report import Issue
from edi_analysis.contract.table import TableContract

CATALOGUE_FILE = "src/edi_analysis/catalogue/actions.yaml"


@lru_cache(maxsize=1)
def catalogue_action_ids() -> tuple[str, ...] | None:
    """Ids of the package's action catalogue, in file order; None if it is not installed.

    Reads only the ids from the YAML: the catalogue's own loader also checks
    every metric id against the registry, which imports the whole metrics
    package, far more than validating a data folder needs.
    """
    try:
        source = resources.files("edi_analysis.catalogue").joinpath("actions.yaml")
        # The C loader when PyYAML has it: ten times faster on a catalogue this size.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(source.read_text(encoding="utf-8"), Loader=loader)
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    entries = document.get("actions", []) if isinstance(document, dict) else []
    return tuple(str(e["id"]) for e in entries if isinstance(e, dict) and "id" in e)


class InCatalogue:
    """``action_id`` must be an action of the catalogue; the message suggests the nearest id.

    The catalogue has dozens of ids, so instead of listing them all the message
    names the closest (a typo is the usual cause) and where the list is.
    """

    column = "action_id"
    columns = ("action_id",)

    def describe(self) -> str:
        return f"`action_id` is an id of the action catalogue ({CATALOGUE_FILE})"

    def check(self, t: TableData) -> list[Issue]:
        ids = catalogue_action_ids()
        if ids is None:
            return []
        col = t.frame[self.column]
        pos = np.flatnonzero((col.notna() & ~col.isin(ids)).to_numpy(dtype=bool))
        hints: dict[str, str] = {}  # one fuzzy match per distinct wrong id, not per row
        messages = []
        for shown, value in zip(t.shown(self.column, pos), col.to_numpy()[pos]):
            if value not in hints:
                near = difflib.get_close_matches(str(value), ids, n=1)
                hints[value] = f"did you mean {near[0]!r}? " if near else ""
            messages.append(f"{shown} is not an action in the catalogue ({hints[value]}the "
                            f"{len(ids)} action ids are listed in {CATALOGUE_FILE})")
        return t.issues(self.column, pos, messages)


SCHEMA = pa.DataFrameSchema(
    {
        "trust_code": ods_code(),
        "action_id": text(blank=False, description="an id from the action catalogue"),
        "status": code(groups.ACTION_STATUSES),
        "owner": text(),
        "evidence": text(),
        "updated_on": date(blank=True),
    },
    name="actions",
)

RULES = (InCatalogue(),)

TABLE = TableContract("actions", required=False, schema=SCHEMA, rules=RULES, section="2.6")
