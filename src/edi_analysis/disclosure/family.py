"""The counts of people defined by classification columns that must not be worked out.

Besides every declared cell, a small count of people in a combination of
reporting groups is protected whether or not any table shows it (e.g. total
− White = BME and Unknown together; overall − Σ pay clusters = staff on pay
band Other). The family protected here, per trust and population (CONTRACT.md
§4.8): every conjunction over the classification columns of one table (the
columns some published cell uses together, e.g. snapshot, scope, ethnicity,
pay cluster and clinical for WRES 1), where each column is unconstrained, one
value, every value but one, or a set of values a declared cell uses (a rolling
window). A combination across columns no table shows together (ethnicity ×
disability) cannot be worked out from the tables at all (``structure``).
Only members with a count of 1 to threshold − 1 matter. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Combinations evaluated at once (bounds memory: combinations × atoms booleans).
_BLOCK = 4096


@dataclass(frozen=True)
class Candidate:
    """A protected classification count: its conditions, count and description."""

    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    count: float
    what: str


def _options(col: str, values: np.ndarray, declared: Iterable[tuple[str, ...]]):
    """(label, allowed values or None, mask over atoms) per option of one column."""
    domain = sorted(set(values.tolist()))
    opts: list[tuple[str, tuple[str, ...] | None, np.ndarray]] = [
        ("", None, np.ones(len(values), dtype=bool))]
    seen = {tuple(domain)}
    for v in domain:
        opts.append((f"{col}={v}", (v,), values == v))
        seen.add((v,))
    if len(domain) > 2:
        for v in domain:
            rest = tuple(d for d in domain if d != v)
            opts.append((f"{col}≠{v}", rest, values != v))
            seen.add(rest)
    for vals in declared:
        vals = tuple(sorted(v for v in vals if v in domain))
        if vals and vals not in seen:
            seen.add(vals)
            opts.append((f"{col}∈{{{','.join(vals)}}}", vals, np.isin(values, vals)))
    return opts


def candidates(classes: pd.DataFrame, counts: np.ndarray, tables: Iterable[Sequence[str]],
               declared_values: Mapping[str, Iterable[tuple[str, ...]]], threshold: float,
               population: str) -> list[Candidate]:
    """Every member of the family with a count in (0, threshold), once per set of conditions.

    ``classes``: one trust's class atoms (classification columns as text), with
    ``counts``; ``tables``: the classification columns of each table.
    """
    values = {c: classes[c].to_numpy(dtype=object).astype(str) for c in classes.columns}
    found: dict[tuple, Candidate] = {}
    for table in sorted({tuple(sorted(t)) for t in tables}):
        lists = [_options(c, values[c], declared_values.get(c, ())) for c in table if c in values]
        for labels, allowed, masks in _blocks(lists, len(counts)):
            cnt = masks.astype("float64") @ counts
            for k in np.flatnonzero((cnt > 0) & (cnt < threshold)):
                conds = tuple((c, a) for c, a in zip(table, allowed[k]) if a is not None)
                if conds not in found:
                    what = ", ".join(x for x in labels[k] if x) or "everyone"
                    found[conds] = Candidate(conds, float(cnt[k]), f"{population}: {what}")
    return list(found.values())


def _blocks(lists, n: int):
    """All conjunctions of the columns' options (empty ones dropped), in blocks."""
    labels: list[tuple] = [()]
    allowed: list[tuple] = [()]
    masks = np.ones((1, n), dtype=bool)
    for opts in lists:
        nl, na, nm = [], [], []
        for lab, al, m in zip(labels, allowed, masks):
            for ol, oa, om in opts:
                mm = m & om
                if mm.any():
                    nl.append(lab + (ol,))
                    na.append(al + (oa,))
                    nm.append(mm)
        labels, allowed = nl, na
        masks = np.stack(nm) if nm else np.zeros((0, n), dtype=bool)
    for i in range(0, len(labels), _BLOCK):
        yield labels[i:i + _BLOCK], allowed[i:i + _BLOCK], masks[i:i + _BLOCK]
