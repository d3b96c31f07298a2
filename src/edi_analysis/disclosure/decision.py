"""One suppression decision per trust over every published count (CONTRACT.md §4.8).

1. Every row's declared cells (``declarations``) are counted on the records
   (``records``, ``cells``). Cells holding the same records are one *unit*:
   one count, hidden or shown together wherever it appears.
2. Primary: a protected unit with a count of 1 to threshold − 1 is hidden
   (``min_count``; survey bases ``min_survey_responses``). A row is suppressed
   when any of its cells is hidden, and by its own rule (a mean or median of
   fewer than ``min_count`` values, a survey result of fewer answers).
3. Secondary, by linear determinacy (``structure``, ``linear``): while a
   protected count of 1 to threshold − 1 (a hidden cell, or a member of
   ``family``) is a combination of the cells the published rows show (and
   their published zeros), one more published unit from that combination is
   hidden — one every combination needs where there is one, the smallest count
   (ties by cell text) — and the span recomputed. Hiding only removes what a
   reader knows, so each trust and population is settled in turn.
4. Last, each count hidden only to protect another is tried back, largest first:
   it is published again where that lets no protected count be worked out
   (``_republish``), so the greedy's detours do not cost published figures.

Deterministic, per trust (a trust's decision does not depend on the others in
the run). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from edi_analysis.disclosure import cells as C
from edi_analysis.disclosure import family, linear
from edi_analysis.disclosure.populations import MIN_SURVEY, Population
from edi_analysis.disclosure.records import build_records
from edi_analysis.disclosure.structure import Structure

PRIMARY, SECONDARY = "primary", "secondary"
#: Order in which a trust's populations are settled (workforce last: hiding a count of
#: staff entering hides its WRES 3 rate, whose workforce denominator then needs no protecting).
ORDER = ("applications", "cases", "entrants", "respondents", "pay_quartiles", "workforce")


@dataclass
class Unit:
    """Cells of one trust holding the same records: one count, one decision."""

    id: int
    trust: str
    population: str
    count: float
    keys: list[str] = field(default_factory=list)
    protected: bool = False

    @property
    def label(self) -> str:
        return min(self.keys)


@dataclass
class Leak:
    """A protected count a reader could work out: what, its value, and the units that give it."""

    trust: str
    population: str
    what: str
    count: float
    combination: dict[int, float]
    unit: int | None = None  # the hidden unit, when the count is a declared cell
    essential: set[int] = field(default_factory=set)
    vector: np.ndarray | None = None  # the count in the structure's coordinates


@dataclass
class Decision:
    """Per row: suppressed and why; the units, what was hidden, and how much was checked."""

    suppressed: np.ndarray
    reason: np.ndarray  # "", PRIMARY or SECONDARY per row
    units: dict[int, Unit]
    row_units: pd.DataFrame  # row, trust_code, role, key, shown, protected, published, unit
    hidden: set[int]
    checked: int  # protected counts checked (declared cells and family members)
    iterations: int = 0


def _composite(pop: Population) -> dict[str, str]:
    """Column → the structural column it is part of (a factor's columns make one)."""
    out = {c: c for c in pop.classes}
    for f, cols in pop.factors.items():
        for c in cols:
            out[c] = f
    return out


class Problem:
    """One trust and population: the structure, its units' cell vectors, its protected family."""

    def __init__(self, trust: str, pop: Population, atoms: C.PopAtoms, units: list[Unit],
                 threshold: float):
        self.trust, self.pop, self.threshold = trust, pop, threshold
        self.units = units
        self.ids = {u.id for u in units}
        self.by_id = {u.id: u for u in units}
        self._last: tuple | None = None
        lo, hi = atoms.span.get(trust, (0, 0))
        classes = atoms.classes.iloc[lo:hi].reset_index(drop=True)
        domains = {c: sorted(set(classes[c].astype(str))) for c in pop.classes}
        self.factor_values: dict[str, list[tuple[str, ...]]] = {}
        for f, fa in atoms.factors.items():
            flo, fhi = atoms.factor_span[f].get(trust, (0, 0))
            cols = [c for c in pop.factors[f] if c in fa]
            combos = sorted(set(map(tuple, fa.iloc[flo:fhi][cols].astype(str).to_numpy().tolist())))
            self.factor_values[f] = combos
            domains[f] = ["|".join(v) for v in combos]
        for f in pop.factors:  # a factor no record has (no records at all): no values
            self.factor_values.setdefault(f, [])
            domains.setdefault(f, [])
        self.composite = _composite(pop)
        conds = {k: self.conditions(k) for u in units for k in u.keys}
        tables = [tuple(sorted(c)) for c in conds.values()]
        self.structure = Structure(domains, tables)
        self.vectors = {k: self.structure.vector(c) for k, c in conds.items()}
        self.zero_rows: dict[int, list[dict[int, float]]] = {}
        for u in units:
            if u.count == 0:
                pts = [p for k in u.keys for p in self.structure.zero_points(conds[k])]
                self.zero_rows[u.id] = [self.structure.vector(p) for p in pts]
        declared: dict[str, set] = {}
        for c in conds.values():
            for col, vals in c.items():
                if col in pop.classes:
                    declared.setdefault(col, set()).add(vals)
        class_tables = [[c for c in t if c in pop.classes] for t in self.structure.tables]
        # a member that is a declared cell is checked as that cell
        declared_vectors = {frozenset(v.items()) for v in self.vectors.values()}
        self.family = [(cand, vec) for cand in family.candidates(
                           classes[list(pop.classes)], classes["count"].to_numpy(dtype="float64"),
                           class_tables, declared, threshold, pop.name)
                       if (vec := self.structure.vector(dict(cand.conditions)))
                       and frozenset(vec.items()) not in declared_vectors]
        self.family_matrix = (np.stack([self.structure.dense(v) for _, v in self.family])
                              if self.family else np.zeros((0, self.structure.size)))

    def conditions(self, key: str) -> dict[str, tuple[str, ...]]:
        """A cell's conditions on the structural columns (a factor's columns as one)."""
        _, conds = C.parse_key(key)
        out: dict[str, tuple[str, ...]] = {}
        members: dict[str, dict[str, tuple]] = {}
        for col, vals in conds.items():
            target = self.composite.get(col)
            if target is None:
                raise ValueError(f"{self.pop.name}: no column {col!r} in {key}")
            if target == col and col in self.pop.classes:
                out[col] = vals
            else:
                members.setdefault(target, {})[col] = vals
        for f, mc in members.items():
            cols = [c for c in self.pop.factors[f]]
            allowed = tuple("|".join(combo) for combo in self.factor_values.get(f, [])
                            if all(combo[cols.index(c)] in set(v) for c, v in mc.items()
                                   if c in cols))
            out[f] = allowed
        return out

    def small(self, u: Unit) -> bool:
        return 0 < u.count < self.threshold

    def leaks(self, known: set[int], hidden: set[int]) -> list[Leak]:
        mine = (frozenset(known & self.ids), frozenset(hidden & self.ids))
        if self._last is not None and self._last[0] == mine:
            return self._last[1]
        out = self._leaks(*mine)
        self._last = (mine, out)
        return out

    def _leaks(self, known, hidden) -> list[Leak]:
        s = self.structure
        rows, prov = [], []
        for u in sorted((u for u in self.units if u.id in known), key=lambda u: u.label):
            for vec in ([self.vectors[k] for k in sorted(u.keys)] + self.zero_rows.get(u.id, [])):
                if vec:
                    rows.append(s.dense(vec))
                    prov.append(u.id)
        b = linear.basis(s.size, rows, prov)
        out = []
        for u in self.units:
            if u.id in hidden and u.protected and self.small(u):
                for k in u.keys:
                    v = s.dense(self.vectors[k])
                    if v.any() and b.contains(v):
                        combo, needed = b.combination(v)
                        out.append(Leak(self.trust, self.pop.name, k, u.count, combo, u.id, needed,
                                        v))
                        break
        for i in np.flatnonzero(b.contains_rows(self.family_matrix)):
            cand = self.family[i][0]
            combo, needed = b.combination(self.family_matrix[i])
            out.append(Leak(self.trust, self.pop.name, cand.what, cand.count, combo, None, needed,
                            self.family_matrix[i]))
        return out

    def unit_rows(self, uid: int) -> list[np.ndarray]:
        """A unit's vectors as a reader knows them: its cells (and, for a 0, every finer cell)."""
        u = self.by_id[uid]
        vecs = [self.vectors[k] for k in sorted(u.keys)] + self.zero_rows.get(uid, [])
        return [self.structure.dense(v) for v in vecs if v]

    def explain(self, leak: Leak) -> list[tuple[int, float]]:
        """A short combination giving a leak: units, each needed, with their coefficients.

        From the units of :attr:`Leak.combination`, drop each (largest count first) that the
        count can be worked out without; the rest, with least-squares coefficients.
        """
        keep = sorted(leak.combination, key=lambda u: (-self.by_id[u].count, u))
        rows = {u: self.unit_rows(u) for u in keep}
        for u in list(keep):
            rest = [v for w in keep if w != u for v in rows[w]]
            prov = [w for w in keep if w != u for _ in rows[w]]
            if linear.basis(self.structure.size, rest, prov).contains(leak.vector):
                keep.remove(u)
        mat = np.stack([v for u in keep for v in rows[u]]) if keep else np.zeros((0, 0))
        owner = [u for u in keep for _ in rows[u]]
        if not keep:
            return []
        coef, *_ = np.linalg.lstsq(mat.T, leak.vector, rcond=None)
        out: dict[int, float] = {}
        for u, c in zip(owner, coef):
            out[u] = out.get(u, 0.0) + float(c)
        return [(u, out[u]) for u in keep]

    def protected_matrix(self, hidden: set[int]) -> np.ndarray:
        """Every count that must stay out of reach: hidden small cells and the family members."""
        rows = [self.structure.dense(self.vectors[k]) for u in self.units
                if u.id in hidden and u.protected and self.small(u) for k in u.keys
                if self.vectors[k]]
        if rows:
            return np.vstack([np.stack(rows), self.family_matrix])
        return self.family_matrix

    def span(self, known: set[int], hidden: set[int]) -> linear.Span:
        rows = [v for u in sorted((u for u in self.units if u.id in known), key=lambda u: u.label)
                for v in self.unit_rows(u.id)]
        return linear.Span(self.structure.size, rows, self.protected_matrix(hidden))

    @property
    def checked(self) -> int:
        return len(self.family) + sum(len(u.keys) for u in self.units if u.protected and self.small(u))


def _units(cells: Mapping[tuple[str, str], C.Cell]) -> tuple[dict[int, Unit], dict[tuple[str, str], int]]:
    units: dict[int, Unit] = {}
    by_atoms: dict[tuple, int] = {}
    of_cell: dict[tuple[str, str], int] = {}
    for (trust, key), cell in sorted(cells.items()):
        # the same records (whichever columns define them): one count, one decision; an empty
        # cell is its own unit (a published 0 says nothing about another empty cell)
        sig = (trust, cell.population, cell.count, cell.tag if cell.count else key)
        uid = by_atoms.get(sig)
        if uid is None:
            uid = len(units)
            by_atoms[sig] = uid
            units[uid] = Unit(uid, trust, cell.population, cell.count)
        units[uid].keys.append(key)
        of_cell[(trust, key)] = uid
    return units, of_cell


def row_rule(rows: pd.DataFrame, min_count: int, min_survey_responses: int) -> np.ndarray:
    """Rows suppressed by their own rule: means/medians of few values, survey results of few answers."""
    basis = rows["basis"].to_numpy()
    n = np.nan_to_num(rows["n_values"].to_numpy(dtype="float64"), nan=0.0)
    return ((basis == "mean") & (n < min_count)) | ((basis == "survey") & (n < min_survey_responses))


def prepare(rows: pd.DataFrame, ctx, infos: Mapping[str, C.TrustInfo], min_count: int,
            min_survey_responses: int):
    """Cells, units and problems of ``rows`` (every trust), counted on ``ctx``'s records."""
    row_cells = C.row_cells(rows, infos)
    periods = {t: list(info.periods) for t, info in infos.items()}
    # Only the populations some cell counts in: the rows of families without cells (pay gaps,
    # board, actions) need no records at all, and building them all costs seconds nationally.
    used = {C.parse_key(key)[0] for key in dict.fromkeys(row_cells["key"])}
    records = build_records(ctx, periods, names=used)
    pops = {name: C.population_for(name, infos) for name in records}
    atoms = {name: C.build_atoms(records[name], pops[name]) for name in records}
    pairs = list(dict.fromkeys(zip(row_cells["trust_code"], row_cells["key"])))
    cells = C.evaluate(pairs, atoms)
    units, of_cell = _units(cells)
    row_cells = row_cells.assign(
        unit=np.array([of_cell[(t, k)] for t, k in zip(row_cells["trust_code"], row_cells["key"])],
                      dtype=np.int64))
    for uid, prot in row_cells.groupby("unit")["protected"].any().items():
        units[int(uid)].protected = bool(prot)
    thresholds = {"min_count": min_count, MIN_SURVEY: min_survey_responses}
    by_problem: dict[tuple[str, str], list[Unit]] = {}
    for u in units.values():
        by_problem.setdefault((u.trust, u.population), []).append(u)
    problems = {}
    for (trust, name) in sorted(by_problem, key=lambda k: (k[0], ORDER.index(k[1]))):
        problems[(trust, name)] = Problem(trust, pops[name], atoms[name], by_problem[(trust, name)],
                                          thresholds[pops[name].threshold])
    return row_cells, units, problems


class _Shown:
    """Which units the unsuppressed rows show, kept up to date as units are hidden."""

    def __init__(self, row_cells: pd.DataFrame, suppressed: np.ndarray):
        self.suppressed = suppressed
        self.rows_of: dict[int, list[int]] = {}
        self.shows: dict[int, list[int]] = {}
        self.units_of: dict[int, list[int]] = {}
        for r, u, shown in zip(row_cells["row"], row_cells["unit"], row_cells["shown"]):
            self.rows_of.setdefault(int(u), []).append(int(r))
            self.units_of.setdefault(int(r), []).append(int(u))
            if shown:
                self.shows.setdefault(int(r), []).append(int(u))
        self.count: dict[int, int] = {}
        for r, us in self.shows.items():
            if not suppressed[r]:
                for u in us:
                    self.count[u] = self.count.get(u, 0) + 1

    def hide(self, unit: int) -> None:
        for r in self.rows_of.get(unit, []):
            if not self.suppressed[r]:
                self.suppressed[r] = True
                for u in self.shows.get(r, []):
                    self.count[u] -= 1

    def known(self) -> set[int]:
        return {u for u, n in self.count.items() if n > 0}


def _republish(state: _Shown, units: Mapping[int, Unit], problems: Mapping[tuple, Problem],
               hidden: set[int], small: set[int], own: np.ndarray) -> None:
    """Publish again what the greedy hid but need not have: the last pass of the decision.

    Each count hidden only to protect another (largest first, then cell text) is shown
    again, with every row that then has nothing hidden, unless that would let a protected
    count be worked out in any population those rows reach.
    """
    known = state.known()
    spans = {key: prob.span(known & prob.ids, hidden & prob.ids)
             for key, prob in problems.items()}
    for uid in sorted(hidden - small, key=lambda u: (-units[u].count, units[u].label)):
        rows = [r for r in state.rows_of.get(uid, []) if not own[r]
                and all(v == uid or v not in hidden for v in state.units_of.get(r, []))]
        newly = sorted({v for r in rows for v in state.shows.get(r, [])} - known,
                       key=lambda v: units[v].label)
        by_problem: dict[tuple, list[int]] = {}
        for v in newly:
            by_problem.setdefault((units[v].trust, units[v].population), []).append(v)
        vectors = {key: [w for v in vs for w in problems[key].unit_rows(v)]
                   for key, vs in by_problem.items()}
        if all(spans[key].add(vecs, commit=False) for key, vecs in vectors.items()):
            for key, vecs in vectors.items():
                spans[key].add(vecs)
            hidden.discard(uid)
            for r in rows:
                if state.suppressed[r]:
                    state.suppressed[r] = False
                    for v in state.shows.get(r, []):
                        state.count[v] = state.count.get(v, 0) + 1
            known |= set(newly)


def decide(rows: pd.DataFrame, ctx, infos: Mapping[str, C.TrustInfo], min_count: int,
           min_survey_responses: int) -> Decision:
    """The suppression decision for ``rows`` (unsuppressed metric rows with internal columns)."""
    # The matrices are a few hundred wide: one BLAS thread is many times faster than several
    # contending for the cores.
    with threadpool_limits(limits=1):
        return _decide(rows, ctx, infos, min_count, min_survey_responses)


def _decide(rows, ctx, infos, min_count, min_survey_responses) -> Decision:
    row_cells, units, problems = prepare(rows, ctx, infos, min_count, min_survey_responses)
    own = row_rule(rows, min_count, min_survey_responses)
    small = {u.id for u in units.values()
             if u.protected and problems[(u.trust, u.population)].small(u)}
    state = _Shown(row_cells, own.copy())
    hidden: set[int] = set()
    for u in sorted(small):
        state.hide(u)
        hidden.add(u)
    iterations = 0
    for prob in problems.values():
        while True:
            iterations += 1
            leaks = prob.leaks(state.known(), hidden)
            if not leaks:
                break
            known = state.known()
            new = set()
            for leak in leaks:
                pool = [units[u] for u in (leak.essential or leak.combination)
                        if u in known and units[u].count > 0]
                if not pool:
                    pool = [units[u] for u in leak.combination if u in known and units[u].count > 0]
                if not pool:  # cannot happen: a positive count is not a sum of zeros
                    raise RuntimeError(f"{leak.what}: worked out from nothing published")
                new.add(min(pool, key=lambda x: (x.count, x.label)).id)
            for u in sorted(new):
                state.hide(u)
            hidden |= new
    _republish(state, units, problems, hidden, small, own)
    primary = own.copy()
    primary[row_cells["row"].to_numpy()[row_cells["unit"].isin(list(small)).to_numpy()]] = True
    suppressed = state.suppressed
    reason = np.where(primary, PRIMARY, np.where(suppressed, SECONDARY, "")).astype(object)
    checked = sum(p.checked for p in problems.values())
    return Decision(suppressed, reason, units, row_cells, hidden, checked, iterations)
