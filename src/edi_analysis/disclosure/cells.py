"""Rows → cells → atoms: every declared cell of every row as a set of atoms with a count.

*Atoms* (per trust and population): the records grouped by every
classification column (class atoms), and, for each factor, by class atom and
the factor's columns (factor atoms, each inside one class atom). A cell is a
set of atoms of one space (its class conditions, plus conditions on one
factor's columns); its count is the number of people (or summed weights) in
them, and its tag (a sum of per-record tags) says which records they are: two
cells holding the same records are the same count wherever they appear
(``decision``). What a reader can work out from the cells is not decided on
these atoms but on the structure of the tables (``structure``). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from edi_analysis.disclosure.declarations import (
    P,
    P1,
    RY,
    SY,
    W,
    Count,
    Decl,
    Template,
    declaration,
)
from edi_analysis.disclosure.populations import Population, population
from edi_analysis.disclosure.records import _boundaries

#: Roles of a row's cells. ``numerator``/``denominator`` are the row's own columns.
NUMERATOR, DENOMINATOR, INPUT = "numerator", "denominator", "input"


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class TrustInfo:
    """What a trust's cell conditions depend on: its snapshots and the periods decided together."""

    snapshots: tuple[str, ...]
    periods: tuple[pd.Timestamp, ...]

    def buckets(self, years_back: int) -> list[str]:
        """Year-bucket labels (ISO boundaries) of the trust's records (``records.year_buckets``)."""
        b = _boundaries({"t": self.periods}, years_back)["t"]
        return [_iso(x) for x in b[1:]]

    def window(self, period: pd.Timestamp, years: int, years_back: int) -> tuple[str, ...]:
        lo, hi = _iso(period - pd.DateOffset(years=years)), _iso(period)
        return tuple(b for b in self.buckets(years_back) if lo < b <= hi)

    def rolling(self, period: pd.Timestamp) -> bool:
        return _iso(period - pd.DateOffset(years=1)) in self.snapshots


#: Year-bucket depth of each population's records (``records.py``).
_YEARS_BACK = {"cases": 1, "applications": 1}


def resolve(value, period: pd.Timestamp, pop: str, info: TrustInfo) -> tuple[str, ...]:
    """A declared condition value for one row's period and trust, as the set of record values."""
    if isinstance(value, tuple):
        return tuple(sorted({v for item in value for v in resolve(item, period, pop, info)}))
    if not isinstance(value, Template):
        return (str(value),)
    if value is P:
        return (_iso(period),)
    if value is P1:
        return (_iso(period - pd.DateOffset(years=1)),)
    if value is SY:
        from edi_analysis.metrics.survey import survey_year

        return (str(survey_year(period)),)
    if pop == "entrants":  # records carry their reporting year (its closing snapshot) itself
        if value is RY:
            return (_iso(period),)
        if value is W:  # CONTRACT.md §4.3: this reporting year and, where it exists, the one before
            prev = _iso(period - pd.DateOffset(years=1))
            return (_iso(period), prev) if info.rolling(period) else (_iso(period),)
        raise ValueError(f"unknown template {value!r}")
    back = _YEARS_BACK[pop]
    if value is RY:
        return info.window(period, 1, back)
    if value is W:  # CONTRACT.md §4.3: 24 months where the earlier snapshot exists, else 12
        return info.window(period, 2 if info.rolling(period) else 1, back)
    raise ValueError(f"unknown template {value!r}")


def _breakdown_pairs(breakdown: str) -> list[tuple[str, str]]:
    if not breakdown:
        return []
    return [tuple(part.split("=", 1)) for part in breakdown.split(";")]  # type: ignore[misc]


def cell_key(pop: str, conditions: Mapping[str, tuple[str, ...]]) -> str:
    """Canonical text of a cell: ``population|col=v1,v2;col2=v``, columns and values sorted."""
    return pop + "|" + ";".join(f"{c}={','.join(sorted(v))}" for c, v in sorted(conditions.items()))


def parse_key(key: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    pop, _, rest = key.partition("|")
    conds = {}
    for part in rest.split(";") if rest else []:
        col, _, vals = part.partition("=")
        conds[col] = tuple(vals.split(",")) if vals else ()
    return pop, conds


def _conditions(metric_id: str, decl: Decl, count: Count, period: pd.Timestamp, breakdown: str,
                group: str, info: TrustInfo) -> str:
    conds: dict[str, set[str]] = {}

    def add(col: str, values: Iterable[str]) -> None:
        col = col.replace("{P}", _iso(period))
        vals = set(values)
        conds[col] = conds[col] & vals if col in conds else vals

    for col, value in count.where.items():
        add(col, resolve(value, period, count.population, info))
    pairs = _breakdown_pairs(breakdown)
    group_col = decl.group
    for key, val in pairs:
        if key == "characteristic":
            if val not in decl.characteristic:
                raise ValueError(f"{metric_id}: no column for breakdown {breakdown!r}")
            group_col = decl.characteristic[val]
        elif count.breakdown:
            if key not in decl.breakdown:
                raise ValueError(f"{metric_id}: breakdown key {key!r} is not declared")
            col = decl.breakdown[key]
            if col is not None:
                add(col, [val])
    if count.group and group and group != "All":
        if group_col is None:
            raise ValueError(f"{metric_id}: group {group!r} under breakdown {breakdown!r} selects "
                             "no column")
        add(group_col, [group])
    return cell_key(count.population, {c: tuple(v) for c, v in conds.items()})


def _roles(decl: Decl) -> list[tuple[str, Count, bool, bool]]:
    """(role, count, for the reference group, protected) of a declaration."""
    out = []
    if decl.numerator is not None:
        out.append((NUMERATOR, decl.numerator, False, decl.protect_numerator))
    if decl.denominator is not None:
        out.append((DENOMINATOR, decl.denominator, False, True))
    if decl.compare:
        for c in (decl.numerator, decl.denominator):
            if c is not None:
                out.append((INPUT, c, True, True))
    out += [(INPUT, c, False, True) for c in decl.inputs]
    out += [(INPUT, c, False, False) for c in decl.stated]
    return out


def row_cells(rows: pd.DataFrame, infos: Mapping[str, TrustInfo]) -> pd.DataFrame:
    """Every declared cell of every row: columns ``row`` (position), trust_code, role, key,
    ``shown`` (published with the row), ``protected`` and ``published`` (the row's column that
    holds the count, or "").

    Rows of metrics in ``declarations.NO_CELLS`` have none. Computed once per distinct
    (metric, period, breakdown, group, reference group, trust's snapshots), so a national run
    costs about one trust's worth of work.
    """
    out_cols = ["row", "trust_code", "role", "key", "shown", "protected", "published"]
    if rows.empty:
        return pd.DataFrame({c: [] for c in out_cols})
    profile = {t: (info.snapshots, tuple(_iso(p) for p in info.periods)) for t, info in infos.items()}
    frame = pd.DataFrame({
        "row": np.arange(len(rows)),
        "trust_code": rows["trust_code"].to_numpy(dtype=object),
        "metric_id": rows["metric_id"].to_numpy(dtype=object),
        "period": rows["period"].to_numpy(dtype=object),
        "breakdown": rows["breakdown"].to_numpy(dtype=object),
        "group": rows["group"].to_numpy(dtype=object),
        "reference_group": rows["reference_group"].to_numpy(dtype=object),
    })
    frame["profile"] = frame["trust_code"].map(profile)
    keys = ["metric_id", "period", "breakdown", "group", "reference_group", "profile"]
    combos = frame[keys].drop_duplicates(ignore_index=True)
    info_of = {prof: infos[t] for t, prof in profile.items()}
    recs = []
    for ci, (mid, period, bd, grp, ref, prof) in enumerate(combos.itertuples(index=False)):
        decl = declaration(mid)
        if decl is None:
            continue
        info, ts = info_of[prof], pd.Timestamp(period)
        for role, count, for_ref, protected in _roles(decl):
            key = _conditions(mid, decl, count, ts, bd, ref if for_ref else grp, info)
            published = role if role in decl.publishes else ""
            recs.append((ci, role if not for_ref else INPUT, key, decl.shown, protected, published))
    cells = pd.DataFrame(recs, columns=["combo", "role", "key", "shown", "protected", "published"])
    combos["combo"] = np.arange(len(combos))
    frame = frame.merge(combos, on=keys, how="left")
    out = frame[["row", "trust_code", "combo"]].merge(cells, on="combo", how="inner")
    return out.sort_values(["row", "role"], kind="stable", ignore_index=True)[out_cols]


# --- atoms ---------------------------------------------------------------------------------


@dataclass
class Space:
    """The atoms of one trust, population and space (class atoms, or one factor's atoms)."""

    counts: np.ndarray
    #: factor spaces: the class atom each atom lies in
    parent: np.ndarray | None = None


@dataclass
class PopAtoms:
    """One population's atoms for every trust: class atoms with their codes, factor atoms."""

    pop: Population
    #: one row per class atom: trust_code and the classification columns (text)
    classes: pd.DataFrame
    #: per trust: first and last+1 class atom position
    span: dict[str, tuple[int, int]]
    #: factor → one row per factor atom: ``parent`` (global class atom), the factor's columns
    factors: dict[str, pd.DataFrame] = field(default_factory=dict)
    factor_span: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def _spans(trusts: np.ndarray) -> dict[str, tuple[int, int]]:
    out = {}
    if len(trusts) == 0:
        return out
    change = np.flatnonzero(trusts[1:] != trusts[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(trusts)]])
    for s, e in zip(starts, ends):
        out[trusts[s]] = (int(s), int(e))
    return out


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mix of each integer (Steele et al., 2014): a pseudo-random tag per record."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def build_atoms(records: pd.DataFrame, pop: Population) -> PopAtoms:
    """Class and factor atoms of a population's records (all trusts, sorted by trust).

    Each atom also carries ``tag``, the sum (mod 2⁶⁴) of its records' tags: a record's tag
    depends only on its position among its trust's records, so two cells hold the same
    records exactly when their counts and summed tags agree (up to a 2⁻⁶⁴ chance).
    """
    classes = list(pop.classes)
    factor_cols = {f: [c for c in cols if c in records] for f, cols in pop.factors.items()}
    factor_cols = {f: cols for f, cols in factor_cols.items() if cols}
    if records.empty:
        empty = pd.DataFrame({**{c: pd.Series(dtype=object) for c in ["trust_code", *classes]},
                              "count": pd.Series(dtype="float64"),
                              "tag": pd.Series(dtype=np.uint64)})
        return PopAtoms(pop, empty, {})
    weight = records["weight"] if pop.weighted else pd.Series(1.0, index=records.index)
    rec = records.assign(_w=weight.astype("float64"))
    position = rec.groupby("trust_code", sort=False).cumcount().to_numpy()
    tags = _splitmix64(position)
    g = rec.groupby(["trust_code", *classes], sort=True, dropna=False)
    cls = g["_w"].sum().rename("count").reset_index()
    rec["_atom"] = g.ngroup().to_numpy()
    cls["tag"] = _tag_sums(rec["_atom"].to_numpy(), tags, len(cls))
    atoms = PopAtoms(pop, cls, _spans(cls["trust_code"].to_numpy(dtype=object)))
    tr = cls["trust_code"].to_numpy(dtype=object)
    for f, cols in factor_cols.items():
        gf = rec.groupby(["_atom", *cols], sort=True, dropna=False)
        fa = gf["_w"].sum().rename("count").reset_index().rename(columns={"_atom": "parent"})
        fa["tag"] = _tag_sums(gf.ngroup().to_numpy(), tags, len(fa))
        atoms.factors[f] = fa
        atoms.factor_span[f] = _spans(tr[fa["parent"].to_numpy()])
    return atoms


def _tag_sums(group: np.ndarray, tags: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.uint64)
    np.add.at(out, group, tags)  # wraps modulo 2⁶⁴
    return out


class _Codes:
    """A frame's text columns as integer codes, for fast condition tests."""

    def __init__(self, frame: pd.DataFrame):
        self.n = len(frame)
        self.codes: dict[str, np.ndarray] = {}
        self.levels: dict[str, dict[str, int]] = {}
        for col in frame.columns:
            if frame[col].dtype.kind in "fiub":
                continue
            codes, uniques = pd.factorize(frame[col].astype(str), sort=False)
            self.codes[col] = codes.astype(np.int64)
            self.levels[col] = {str(u): i for i, u in enumerate(uniques)}

    def mask(self, conds: Mapping[str, tuple[str, ...]]) -> np.ndarray:
        m = np.ones(self.n, dtype=bool)
        for col, vals in conds.items():
            if col not in self.codes:
                return np.zeros(self.n, dtype=bool)
            lut = np.zeros(len(self.levels[col]) + 1, dtype=bool)
            for v in vals:
                i = self.levels[col].get(v)
                if i is not None:
                    lut[i] = True
            m &= lut[self.codes[col]]
        return m


@dataclass
class Cell:
    """A cell of one trust: its space (None = class atoms, else a factor) and atoms (local)."""

    key: str
    population: str
    space: str | None
    atoms: np.ndarray
    count: float
    #: which records it holds (``build_atoms``): equal for cells holding the same records
    tag: int = 0


def evaluate(keys: Sequence[tuple[str, str]], atoms: Mapping[str, PopAtoms]) -> dict[tuple[str, str], Cell]:
    """Cells for (trust, key) pairs: the atoms of the cell's space and the count."""
    by_key: dict[str, list[str]] = {}
    for trust, key in keys:
        by_key.setdefault(key, []).append(trust)
    out = {}
    codes: dict[tuple[str, str | None], _Codes] = {}

    def coded(pop_name: str, space: str | None) -> _Codes:
        if (pop_name, space) not in codes:
            pa = atoms[pop_name]
            codes[(pop_name, space)] = _Codes(pa.classes if space is None else pa.factors[space])
        return codes[(pop_name, space)]

    for key, trusts in by_key.items():
        pop_name, conds = parse_key(key)
        pa = atoms[pop_name]
        class_conds = {c: v for c, v in conds.items() if c in pa.pop.classes}
        other = {c: v for c, v in conds.items() if c not in pa.pop.classes}
        spaces = {pa.pop.factor_of(c) for c in other}
        if len(spaces) > 1:
            raise ValueError(f"cell {key} conditions on two factors {sorted(spaces)}")
        space = spaces.pop() if spaces else None
        cmask = coded(pop_name, None).mask(class_conds)
        if space is None:
            mask, span = cmask, pa.span
            counts, tags = pa.classes["count"].to_numpy(), pa.classes["tag"].to_numpy()
        elif space in pa.factors:
            fa = pa.factors[space]
            mask = cmask[fa["parent"].to_numpy()] & coded(pop_name, space).mask(other)
            span, counts, tags = pa.factor_span[space], fa["count"].to_numpy(), fa["tag"].to_numpy()
        else:  # an optional column absent from the data: the cell is empty
            mask, span = np.zeros(0, dtype=bool), {}
            counts, tags = np.zeros(0), np.zeros(0, dtype=np.uint64)
        hit = np.flatnonzero(mask)
        for trust in trusts:
            lo, hi = span.get(trust, (0, 0))
            local = hit[(hit >= lo) & (hit < hi)]
            tag = int(np.add.reduce(tags[local], dtype=np.uint64)) if local.size else 0
            out[(trust, key)] = Cell(key, pop_name, space, local - lo, float(counts[local].sum()),
                                     tag)
    return out


def trust_infos(snapshots: Mapping[str, Iterable], periods: Iterable) -> dict[str, TrustInfo]:
    """Per trust: its snapshots, and the periods decided together (its snapshots and ``periods``)."""
    req = {pd.Timestamp(p) for p in periods}
    out = {}
    for t, snaps in snapshots.items():
        s = {pd.Timestamp(x) for x in snaps}
        out[t] = TrustInfo(tuple(sorted(_iso(x) for x in s)), tuple(sorted(s | req)))
    return out


def population_for(name: str, infos: Mapping[str, TrustInfo]) -> Population:
    periods = sorted({_iso(p) for info in infos.values() for p in info.periods})
    return population(name, periods)
