"""An independent, exact check that no small count can be worked out from published rows.

Not the package's algebra: ``edi_analysis.disclosure`` works in a corner-point
basis with floating-point Gram–Schmidt and enumerates its protected family with
masks over atoms. This module states the same reader model differently and
solves it exactly:

- the unknowns are the counts of every grid point of every *table* (the
  column sets that published cells use together), with the explicit linear
  equations that two tables agree on every margin they share;
- a published cell is the sum of the grid points it covers in a table that
  holds its columns; a published 0 makes every grid point inside it 0;
- a count is recoverable exactly when its row lies in the row space of those
  equations, decided by exact (fraction-free, integer) Gaussian elimination;
- the protected counts (every declared cell that no published row shows, and
  every conjunction over one table's classification columns where each column
  is unconstrained, one value, all values but one, or a value set a declared
  cell uses) are listed by brute force with ``itertools`` and counted straight
  from the records with pandas.

It shares with the package only the declarations, the row → cell mapping and
the record builders, which ``tests/test_disclosure.py`` checks against
every published numerator and denominator.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from edi_analysis import disclosure
from edi_analysis.disclosure import cells as C
from edi_analysis.disclosure.populations import MIN_SURVEY
from edi_analysis.disclosure.records import build_records


class Echelon:
    """Integer rows over named columns, fully reduced (each pivot column zero in every other row).

    Exact fraction-free elimination: a row is combined with a pivot row as
    ``p·row − f·pivot_row`` and divided by the gcd of its entries, so every entry stays
    an integer (the rational row space is the same).
    """

    def __init__(self):
        self.rows: dict[object, dict[object, int]] = {}  # pivot column → row

    @staticmethod
    def _combine(row: dict, f: int, pivot_row: dict, p: int) -> dict:
        out = {k: p * v for k, v in row.items()}
        for k, v in pivot_row.items():
            nv = out.get(k, 0) - f * v
            if nv:
                out[k] = nv
            else:
                out.pop(k, None)
        g = 0
        for v in out.values():
            g = math.gcd(g, v)
        return {k: v // g for k, v in out.items()} if g > 1 else out

    def reduce(self, row: dict) -> dict:
        row = {k: int(v) for k, v in row.items() if v}
        for col in [c for c in row if c in self.rows]:
            f = row.get(col)
            if f:
                pivot_row = self.rows[col]
                row = self._combine(row, f, pivot_row, pivot_row[col])
        return row

    def add(self, row: dict) -> None:
        row = self.reduce(row)
        if not row:
            return
        col = min(row, key=repr)
        p = row[col]
        for c, other in list(self.rows.items()):
            f = other.get(col)
            if f:
                self.rows[c] = self._combine(other, f, row, p)
        self.rows[col] = row

    def contains(self, row: dict) -> bool:
        return not self.reduce(row)


def _composites(pop):
    out = {c: (c, None) for c in pop.classes}
    for f, cols in pop.factors.items():
        for c in cols:
            out[c] = (f, cols)
    return out


def exact_leaks(rows: pd.DataFrame, ctx, min_count: int, min_survey_responses: int,
                periods=None) -> list[tuple[str, str, str, float]]:
    """(trust, population, what, count) of every protected small count a reader could work out.

    ``rows``: metric rows with ``suppressed`` (published rows are the unsuppressed ones),
    computed on ``ctx``.
    """
    rows = rows.reset_index(drop=True)
    infos = disclosure.infos_for(ctx, periods, trusts=rows["trust_code"].unique())
    rc = C.row_cells(rows, infos)
    recs = build_records(ctx, {t: list(i.periods) for t, i in infos.items()})
    shown_row = ~rows["suppressed"].to_numpy(dtype=bool)
    thresholds = {"min_count": min_count, MIN_SURVEY: min_survey_responses}
    out = []
    for (trust, pop_name), part in rc.assign(pop=rc["key"].str.split("|").str[0]).groupby(
            ["trust_code", "pop"]):
        pop = C.population_for(pop_name, infos)
        r = recs[pop_name]
        r = r[r["trust_code"] == trust].reset_index(drop=True)
        weight = (r["weight"] if pop.weighted else pd.Series(1.0, index=r.index)).to_numpy()
        comp = _composites(pop)
        struct = {}
        for col in pop.classes:
            struct[col] = r[col].astype(str).to_numpy()
        for f, cols in pop.factors.items():
            have = [c for c in cols if c in r]
            if have:
                struct[f] = r[have].astype(str).agg("|".join, axis=1).to_numpy()
        domains = {c: sorted(set(v.tolist())) for c, v in struct.items()}

        def translate(key):
            _, conds = C.parse_key(key)
            out_c: dict[str, set] = {}
            for col, vals in conds.items():
                target, members = comp[col]
                if members is None:
                    allowed = set(vals)
                else:
                    have = [c for c in members if c in r]
                    i = have.index(col)
                    allowed = {v for v in domains.get(target, []) if v.split("|")[i] in set(vals)}
                out_c[target] = out_c.get(target, allowed) & allowed
            return out_c

        index = {c: {v: v_arr == v for v in domains[c]} for c, v_arr in struct.items()}

        def mask_of(col, vals):
            m = np.zeros(len(r), dtype=bool)
            for v in vals:
                if v in index[col]:
                    m |= index[col][v]
            return m

        def count(conds):
            m = np.ones(len(r), dtype=bool)
            for col, vals in conds.items():
                m &= mask_of(col, vals)
            return float(weight[m].sum()), frozenset(np.flatnonzero(m).tolist())

        keys = sorted(set(part["key"]))
        conds_of = {k: translate(k) for k in keys}
        counted = {k: count(c) for k, c in conds_of.items()}
        # one count, one decision: cells holding the same records
        unit_of = {k: counted[k][1] if counted[k][0] else k for k in keys}
        shown_keys = set(part.loc[part["shown"].to_numpy(dtype=bool)
                                  & shown_row[part["row"].to_numpy()], "key"])
        known_units = {unit_of[k] for k in shown_keys}
        tables = []
        for c in sorted({tuple(sorted(c)) for c in conds_of.values()}, key=lambda t: (-len(t), t)):
            if not any(set(c) <= set(t) for t in tables):
                tables.append(c)

        def table_for(cols):
            return next(i for i, t in enumerate(tables) if set(cols) <= set(t))

        def cell_row(conds, ti=None):
            ti = table_for(conds) if ti is None else ti
            t = tables[ti]
            axes = [[v for v in domains[c] if c not in conds or v in conds[c]] for c in t]
            return {(ti, p): 1 for p in itertools.product(*axes)}

        system = Echelon()
        for i, j in itertools.combinations(range(len(tables)), 2):
            common = sorted(set(tables[i]) & set(tables[j]))
            for point in itertools.product(*[domains[c] for c in common]):
                fixed = {c: {v} for c, v in zip(common, point)}
                row = cell_row(fixed, i)
                for k in cell_row(fixed, j):
                    row[k] = row.get(k, 0) - 1
                system.add(row)
        for k in sorted(shown_keys):
            system.add(cell_row(conds_of[k]))
            if counted[k][0] == 0:
                for ti, t in enumerate(tables):
                    if set(conds_of[k]) <= set(t):
                        for point in cell_row(conds_of[k], ti):
                            system.add({point: 1})
        threshold = thresholds[pop.threshold]
        checks = []
        protected = set(part.loc[part["protected"].to_numpy(dtype=bool), "key"])
        for k in keys:
            n, unit = counted[k]
            if k in protected and 0 < n < threshold:
                checks.append((k, n, conds_of[k], unit in known_units))
        declared_sets: dict[str, set] = {}
        for c in conds_of.values():
            for col, vals in c.items():
                if col in pop.classes:
                    declared_sets.setdefault(col, set()).add(tuple(sorted(vals)))
        for t in tables:
            cls = [c for c in t if c in pop.classes]
            options = []
            for c in cls:
                dom = domains[c]
                opts = [None] + [{v} for v in dom]
                if len(dom) > 2:
                    opts += [set(dom) - {v} for v in dom]
                opts += [set(v) for v in declared_sets.get(c, ()) if set(v) & set(dom)]
                options.append(opts)
            masks = [[(o, None if o is None else mask_of(c, o)) for o in opts]
                     for c, opts in zip(cls, options)]

            def walk(i, conds, m):  # every choice of options, pruned where nobody is left
                if not m.any():
                    return
                if i == len(cls):
                    n = float(weight[m].sum())
                    if 0 < n < threshold:
                        checks.append((f"{pop_name}: {conds}", n, dict(conds), False))
                    return
                for o, om in masks[i]:
                    walk(i + 1, conds if o is None else {**conds, cls[i]: o & set(domains[cls[i]])},
                         m if om is None else m & om)

            walk(0, {}, np.ones(len(r), dtype=bool))
        for what, n, conds, is_known in checks:
            if is_known or system.contains(cell_row(conds)):
                out.append((trust, pop_name, str(what), n))
    return out


def declared(rows: pd.DataFrame, ctx, periods=None) -> pd.DataFrame:
    """Each row's declared cells with their counts: columns row, role, key, published, count, unit.

    ``rows`` as ``metrics.compute_raw`` returns them (unsuppressed) on ``ctx``.
    """
    from edi_analysis.disclosure.decision import prepare

    rows = rows.reset_index(drop=True)
    infos = disclosure.infos_for(ctx, periods, trusts=rows["trust_code"].unique())
    rc, units, _ = prepare(rows, ctx, infos, 8, 11)
    return rc.assign(count=[units[u].count for u in rc["unit"]])
