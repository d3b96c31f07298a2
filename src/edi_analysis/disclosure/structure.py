"""What a reader can work out from published cells: the structural linear model.

A reader knows the published counts, what each one counts (its conditions),
which values each column can take, and that counts are not negative (a
published 0 says every finer count inside it is 0). The reader does not know
how the records fall into combinations no table shows (e.g. how many staff
are both BME and disabled, when the tables show ethnicity and disability
separately).

Formally: the unknowns are the counts of every combination of the columns'
values (the full cross-classification). A cell is a linear functional on
them: the sum over the combinations its conditions allow. Cells only ever
condition on the columns of one *table* (the columns some published cell
uses together), so every cell is a sum of functions of one table's columns,
and these span the space of such sums. A coordinate system for that space
(the corner-point or treatment-contrast basis): one coordinate per table
grid point, a point with the reference value in a column meaning "this
column is not involved"; a point shared by two tables is one coordinate. A
cell's coordinates are the outer product, over the columns it conditions on,
of ``[a(ref), a(v) − a(ref) for v ≠ ref]`` (``a`` the allowed values), so no
consistency equations between tables are needed. A count is worked out from
published ones exactly when its vector lies in their span (``linear``).
No I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

Conditions = Mapping[str, Iterable[str]]


class Structure:
    """The columns (with their possible values) and tables of one trust and population."""

    def __init__(self, domains: Mapping[str, Sequence[str]], tables: Iterable[Sequence[str]]):
        self.domains = {c: list(dict.fromkeys(sorted(v))) for c, v in domains.items()}
        self.ref = {c: v[0] for c, v in self.domains.items() if v}
        cols = {c for t in tables for c in t}
        missing = cols - set(self.domains)
        if missing:
            raise ValueError(f"no values known for columns {sorted(missing)}")
        maximal = []
        for t in sorted({tuple(sorted(set(t))) for t in tables}, key=lambda t: (-len(t), t)):
            if not any(set(t) <= set(m) for m in maximal):
                maximal.append(t)
        self.tables: list[tuple[str, ...]] = maximal
        self.index: dict[tuple, int] = {}
        for t in self.tables:
            for point in itertools.product(*[self.domains[c] for c in t]):
                key = tuple((c, v) for c, v in zip(t, point) if v != self.ref[c])
                self.index.setdefault(key, len(self.index))

    @property
    def size(self) -> int:
        return len(self.index)

    def table_of(self, columns: Iterable[str]) -> tuple[str, ...]:
        cols = set(columns)
        for t in self.tables:
            if cols <= set(t):
                return t
        raise ValueError(f"no table holds the columns {sorted(cols)}")

    def normalise(self, conditions: Conditions) -> dict[str, tuple[str, ...]] | None:
        """Conditions restricted to possible values, unconstrained columns dropped; None if empty."""
        out = {}
        for c, vals in conditions.items():
            dom = self.domains.get(c, [])
            allowed = tuple(v for v in dom if v in set(vals))
            if not allowed:
                return None
            if len(allowed) < len(dom):
                out[c] = allowed
        return out

    def vector(self, conditions: Conditions) -> dict[int, float]:
        """The coordinates of the cell with these conditions (sparse: index → coefficient)."""
        conds = self.normalise(conditions)
        if conds is None:
            return {}
        self.table_of(conds)  # its columns must lie in one table
        terms: list[tuple[tuple, float]] = [((), 1.0)]
        for c in sorted(conds):
            allowed = set(conds[c])
            at_ref = 1.0 if self.ref[c] in allowed else 0.0
            options = [(None, at_ref)] + [((c, v), (1.0 if v in allowed else 0.0) - at_ref)
                                          for v in self.domains[c] if v != self.ref[c]]
            options = [o for o in options if o[1] != 0.0]
            terms = [(key + ((o[0],) if o[0] is not None else ()), coef * o[1])
                     for key, coef in terms for o in options]
        out: dict[int, float] = {}
        for key, coef in terms:
            i = self.index[tuple(sorted(key))]
            out[i] = out.get(i, 0.0) + coef
        return {i: c for i, c in out.items() if c != 0.0}

    def zero_points(self, conditions: Conditions) -> list[dict[str, tuple[str, ...]]]:
        """The finest cells inside a cell: every grid point of each table holding its columns.

        A published 0 says each of them is 0 (counts are not negative).
        """
        conds = self.normalise(conditions)
        if conds is None:
            return []
        out = []
        for t in self.tables:
            if not set(conds) <= set(t):
                continue
            axes = [[v for v in self.domains[c] if c not in conds or v in conds[c]] for c in t]
            for point in itertools.product(*axes):
                out.append({c: (v,) for c, v in zip(t, point)})
        return out

    def dense(self, vec: Mapping[int, float]) -> np.ndarray:
        v = np.zeros(self.size)
        for i, c in vec.items():
            v[i] = c
        return v
