"""The audit's linked-cell check: what subtraction across every published metrics table reveals.

Input: every row of every published metrics table (CSV with the metrics.csv
header) found by the audit, with its file and line, and the validated data.
For each trust, over all periods and files at once:

1. the same row (trust, period, metric, breakdown, group) published twice
   with different figures is a finding;
2. each row's declared cells (``declarations``) are counted on the records
   rebuilt from the data; a published numerator or denominator that differs
   from its cell's count is a finding (the check cannot vouch for a table
   made from other data); a published row built from a small count is a
   finding too (a ratio shows no count column for the row check to read);
3. every protected count of 1 to threshold − 1 — a cell of a suppressed row
   shown by no published row, or a member of the classification family — that
   is a combination of the cells the published rows show is a finding naming
   the file and row, what is recovered, its value and which rows give it.

The same cells, structure and algebra as the suppression itself
(``decision``); the property tests check both against an independent exact
method. No file I/O (``edi_analysis.audit`` reads the files).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edi_analysis.disclosure import cells as C
from edi_analysis.disclosure.decision import prepare
from edi_analysis.disclosure.declarations import DECLARATIONS

KEY = ("trust_code", "period", "metric_id", "breakdown", "group")
FIGURES = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "suppressed")


@dataclass(frozen=True)
class PublishedRow:
    """One row of a published metrics table, and where it was read."""

    file: str
    line: int
    record: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class LinkedFinding:
    file: str
    location: str
    what: str
    message: str


@dataclass
class LinkedResult:
    findings: list[LinkedFinding]
    cells: int  # distinct published counts checked against the data and for recovery
    tested: int  # protected small counts tested for recovery


def _num(text: str) -> float:
    try:
        return float(text) if str(text).strip() != "" else np.nan
    except ValueError:
        return np.nan


def _suppressed(text: str) -> bool:
    return str(text).strip().lower() in ("true", "1", "y", "yes")


def _label(rec: dict[str, str]) -> str:
    bd = f" {rec['breakdown']}" if rec.get("breakdown") else ""
    return (f"{rec.get('metric_id', '')} {rec.get('trust_code', '')} {rec.get('period', '')} "
            f"group={rec.get('group', '')}{bd}")


def check(rows: Sequence[PublishedRow], tables, min_count: int,
          min_survey_responses: int) -> LinkedResult:
    """Findings of the linked-cell check over published rows, against validated ``tables``."""
    from edi_analysis.metrics import MetricContext

    findings: list[LinkedFinding] = []
    first: dict[tuple, PublishedRow] = {}
    for pr in rows:
        rec = pr.record
        if rec.get("metric_id") not in DECLARATIONS:
            continue
        key = tuple(rec.get(k, "") for k in KEY)
        seen = first.get(key)
        if seen is None:
            first[key] = pr
            continue
        differ = [c for c in FIGURES
                  if (_suppressed(rec.get(c, "")) != _suppressed(seen.record.get(c, ""))
                      if c == "suppressed" else
                      not _same(_num(rec.get(c, "")), _num(seen.record.get(c, ""))))]
        if differ:
            findings.append(LinkedFinding(
                pr.file, f"row {pr.line}", "inconsistent publication",
                f"{_label(rec)}: {', '.join(differ)} differ from the same row in {seen.where}"))
    if not first:
        return LinkedResult(findings, 0, 0)
    published = list(first.values())
    frame = pd.DataFrame([{k: pr.record.get(k, "") for k in (*KEY, "reference_group")}
                          for pr in published])
    periods = sorted(set(frame["period"]))
    trusts = sorted(set(frame["trust_code"]))
    ctx = MetricContext.from_tables(tables, periods, trusts=trusts)
    from edi_analysis.disclosure import infos_for

    infos = infos_for(ctx, periods, trusts=trusts)
    row_cells, units, problems = prepare(frame, ctx, infos, min_count, min_survey_responses)
    shown_row = np.array([not _suppressed(pr.record.get("suppressed", "")) for pr in published])

    # 2. published counts against the data
    for r, u, col in zip(row_cells["row"], row_cells["unit"], row_cells["published"]):
        if not col or not shown_row[r]:
            continue
        pub = _num(published[r].record.get(col, ""))
        if np.isfinite(pub) and not _same(pub, units[u].count):
            pr = published[r]
            findings.append(LinkedFinding(
                pr.file, f"row {pr.line}, column {col}", "count differs from the data",
                f"{_label(pr.record)}: {col} {pub:g} but the data give {units[u].count:g} "
                "(the linked check needs the tables made from this data)"))

    # 3. what the published rows give away
    shows = row_cells[row_cells["shown"].to_numpy(dtype=bool) & shown_row[row_cells["row"]]]
    known = set(shows["unit"].tolist())
    shown_by: dict[int, list[int]] = {}
    for r, u in zip(shows["row"], shows["unit"]):
        shown_by.setdefault(int(u), []).append(int(r))
    in_row: dict[int, list[int]] = {}
    for r, u in zip(row_cells["row"], row_cells["unit"]):
        in_row.setdefault(int(u), []).append(int(r))
    key_of = {(int(r), int(u)): k for r, u, k in
              zip(row_cells["row"], row_cells["unit"], row_cells["key"])}
    # a published figure built from a small count (a ratio's input shows no count column)
    for u in sorted(known):
        unit = units[u]
        prob = problems[(unit.trust, unit.population)]
        if unit.protected and prob.small(unit):
            r = shown_by[u][0]
            pr = published[r]
            findings.append(LinkedFinding(
                pr.file, f"row {pr.line}", "small count",
                f"{_label(pr.record)}: is built from {_describe(key_of[(r, u)])} = "
                f"{unit.count:g}, below {prob.pop.threshold} {prob.threshold:g}, and is not "
                "suppressed"))
    hidden = set(units) - known
    role_of = {(int(r), int(u)): (col or role) for r, u, col, role in
               zip(row_cells["row"], row_cells["unit"], row_cells["published"], row_cells["role"])}
    tested = 0
    for prob in problems.values():
        tested += prob.checked
        for leak in prob.leaks(known, hidden):
            terms = prob.explain(leak)
            at = in_row.get(leak.unit, []) if leak.unit is not None else []
            if not at:
                at = [shown_by[u][0] for u, _ in terms if u in shown_by]
            where = published[at[0]] if at else published[0]
            what = (_describe(key_of.get((at[0], leak.unit), units[leak.unit].label))
                    if leak.unit is not None else leak.what)
            def ref(u):
                return _where(published, shown_by[u][0], role_of.get((shown_by[u][0], u), ""))

            sums = " ".join(f"{'+' if c > 0 else '−'} {_coef(c)}{units[u].count:g} [{ref(u)}]"
                            for u, c in terms if u in shown_by and units[u].count)
            zeros = "; ".join(ref(u) for u, _ in terms if u in shown_by and not units[u].count)
            findings.append(LinkedFinding(
                where.file, f"row {where.line}", "recoverable count",
                f"{leak.trust}: {what} = {leak.count:g}, worked out by adding and subtracting "
                f"published figures: {sums.lstrip('+ ')}"
                + (f" (and the published zeros {zeros})" if zeros else "")))
    return LinkedResult(findings, len(units), tested)


def _coef(c: float) -> str:
    a = abs(c)
    return "" if np.isclose(a, 1.0) else f"{a:.4g} × "


def _where(published: Sequence[PublishedRow], r: int, role: str) -> str:
    rec = published[r].record
    bd = f" {rec['breakdown']}" if rec.get("breakdown") else ""
    return (f"{published[r].where} {rec.get('metric_id')} {rec.get('period')} "
            f"{rec.get('group')}{bd}, {role}")


def _describe(key: str) -> str:
    pop, conds = C.parse_key(key)
    return f"{pop}: " + ", ".join(f"{c}={'|'.join(v)}" for c, v in conds.items())


def _same(a: float, b: float) -> bool:
    if np.isnan(a) and np.isnan(b):
        return True
    return bool(np.isclose(a, b, rtol=1e-9, atol=1e-9))


def collect(records: Iterable[tuple[str, int, dict[str, str]]]) -> list[PublishedRow]:
    return [PublishedRow(f, line, rec) for f, line, rec in records]
