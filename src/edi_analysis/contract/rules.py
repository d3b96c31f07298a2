"""Checks that involve more than one cell: uniqueness, date order, implications.

Declared per table next to its schema (``RULES`` in each table module) and
run after the column checks, vectorised with pandas. A rule only looks at
rows whose cells parsed; a rule whose columns are missing is skipped (the
missing column is already an error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from edi_analysis.contract.parsing import TableData
from edi_analysis.contract.report import Issue

#: How a grouping column is named in messages ("within trust RXX snapshot 2024-03-31").
_KEY_WORDS = {"trust_code": "trust", "snapshot_date": "snapshot", "survey_year": "survey year"}


def _key_text(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


@dataclass(frozen=True)
class UniqueWithin:
    """``column`` must not repeat within each combination of the ``within`` columns.

    Every repeat after the first is an error naming the line of the first.
    """

    column: str
    within: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.within, self.column)

    def describe(self) -> str:
        scope = " + ".join(f"`{c}`" for c in self.within)
        scope = f" within each {scope}" if scope else ""
        return f"`{self.column}` is unique{scope}"

    def check(self, t: TableData) -> list[Issue]:
        cols = list(self.columns)
        key, complete = row_keys(t.frame, cols)
        positions = np.flatnonzero(complete)
        key = key[complete]
        involved = pd.Series(key).duplicated(keep=False).to_numpy()
        if not involved.any():
            return []
        # Only the (few) rows whose key repeats go further.
        pos_inv, key_inv = positions[involved], key[involved]
        lines = t.lines[pos_inv]
        first = pd.Series(lines).groupby(key_inv, sort=False).transform("min").to_numpy()
        repeat = pd.Series(key_inv).duplicated(keep="first").to_numpy()
        pos = pos_inv[repeat]
        within = t.frame[list(self.within)].iloc[pos]
        messages = []
        for label, row, line in zip(t.shown(self.column, pos), within.itertuples(index=False),
                                    first[repeat]):
            where = " ".join(f"{_KEY_WORDS.get(c, c)} {_key_text(v)}"
                             for c, v in zip(self.within, row))
            messages.append(f"duplicate {label}{' within ' + where if where else ''} "
                            f"(also on line {line})")
        return t.issues(self.column, pos, messages)


def row_keys(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 per row identifying its values in ``cols``, and a mask of rows with no blanks.

    Equal keys mean equal values. Text columns are dictionary-encoded by
    pyarrow (much faster than hashing tuples of Python strings at 1.5 M rows);
    the per-column codes are combined arithmetically, re-factorised whenever
    the combined range would overflow.
    """
    key = np.zeros(len(frame), dtype=np.int64)
    complete = np.ones(len(frame), dtype=bool)
    span = 1
    for c in cols:
        codes, n = _codes(frame[c])
        complete &= codes >= 0
        if span * (n + 1) >= 2**62:
            key, uniques = pd.factorize(key)
            key, span = key.astype(np.int64), len(uniques)
        key = key * (n + 1) + (codes + 1)
        span *= n + 1
    return key, complete


def _codes(col: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes of a column (-1 = missing) and the number of distinct values."""
    if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
        values = pa.chunked_array(pa.array(col.array))
        encoded = pc.dictionary_encode(values)
        if encoded.num_chunks == 0:
            return np.zeros(0, dtype=np.int64), 0
        # Arrow gives every chunk one shared, complete dictionary (the same buffer); if a
        # future version did not, codes would not compare across chunks: encode in one piece.
        if len({c.dictionary.buffers()[2].address for c in encoded.chunks}) > 1:
            encoded = pa.chunked_array([values.combine_chunks().dictionary_encode()])
        indices = pa.chunked_array([c.indices for c in encoded.chunks], encoded.type.index_type)
        codes = pc.fill_null(indices, -1).to_numpy()
        return codes.astype(np.int64, copy=False), len(encoded.chunk(0).dictionary)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), len(uniques)


@dataclass(frozen=True)
class DateOrder:
    """``column`` must be on or before (``not_after``) or on or after (``not_before``) ``other``."""

    column: str
    other: str
    relation: str  # "not_after" or "not_before"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.other)

    def describe(self) -> str:
        word = "on or before" if self.relation == "not_after" else "on or after"
        return f"`{self.column}` is {word} `{self.other}`"

    def check(self, t: TableData) -> list[Issue]:
        a, b = t.frame[self.column], t.frame[self.other]
        wrong = (a > b) if self.relation == "not_after" else (a < b)
        pos = np.flatnonzero(wrong.fillna(False).to_numpy(dtype=bool))
        if not len(pos):
            return []
        word = "after" if self.relation == "not_after" else "before"
        return t.issues(self.column, pos, [
            f"{va} is {word} {self.other} {vb}"
            for va, vb in zip(t.shown(self.column, pos), t.shown(self.other, pos))
        ])


@dataclass(frozen=True)
class Implies:
    """Where ``column`` is Y, ``implied`` must be Y too (e.g. appointed implies shortlisted)."""

    column: str
    implied: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.implied)

    def describe(self) -> str:
        return f"`{self.column}` Y requires `{self.implied}` Y"

    def check(self, t: TableData) -> list[Issue]:
        given = t.frame[self.column].fillna(False).to_numpy(dtype=bool)
        implied = t.frame[self.implied]
        wrong = given & ~implied.fillna(False).to_numpy(dtype=bool)
        skip = t.unparsed_mask(self.implied)
        if skip is not None:
            wrong &= ~skip
        pos = np.flatnonzero(wrong)
        if not len(pos):
            return []
        return t.issues(self.column, pos, [
            f"is {va} but {self.implied} is {vb} ({self.column} requires {self.implied} Y)"
            for va, vb in zip(t.shown(self.column, pos), t.shown(self.implied, pos))
        ])


@dataclass(frozen=True)
class PositiveWhere:
    """``column`` must be present and more than 0 on rows where ``flag`` is Y.

    Negative values are left to the column's own range check.
    """

    column: str
    flag: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.flag)

    def describe(self) -> str:
        return f"`{self.column}` is present and more than 0 where `{self.flag}` is Y"

    def check(self, t: TableData) -> list[Issue]:
        flagged = t.frame[self.flag].fillna(False).to_numpy(dtype=bool)
        values = t.frame[self.column].to_numpy(dtype=float, na_value=np.nan)
        wrong = flagged & ((values == 0) | np.isnan(values))
        skip = t.unparsed_mask(self.column)
        if skip is not None:
            wrong &= ~skip
        pos = np.flatnonzero(wrong)
        if not len(pos):
            return []
        return t.issues(self.column, pos, [
            f"{'is blank' if v == 'blank' else v} but must be more than 0 where {self.flag} is Y"
            for v in t.shown(self.column, pos)
        ])


@dataclass(frozen=True)
class NotAbove:
    """``column`` must not be more than ``other`` on the same row (e.g. days lost ≤ days available).

    Rows where either cell is blank or did not parse are skipped.
    """

    column: str
    other: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.other)

    def describe(self) -> str:
        return f"`{self.column}` is at most `{self.other}`"

    def check(self, t: TableData) -> list[Issue]:
        a = t.frame[self.column].to_numpy(dtype=float, na_value=np.nan)
        b = t.frame[self.other].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            wrong = a > b  # NaN compares False: blanks and unparsed cells are skipped
        pos = np.flatnonzero(wrong)
        if not len(pos):
            return []
        return t.issues(self.column, pos, [
            f"{va} is more than {self.other} {vb} (it is part of {self.other}, so cannot "
            "exceed it)"
            for va, vb in zip(t.shown(self.column, pos), t.shown(self.other, pos))
        ])


def normalised_ids(values: pd.Series) -> pa.ChunkedArray:
    """Identifiers as compared for spelling: surrounding spaces removed, letters case-folded."""
    arr = pa.chunked_array([pa.array(values.array, pa.large_string())])
    return pc.utf8_lower(pc.utf8_trim_whitespace(arr))


@dataclass(frozen=True)
class OneSpelling:
    """One identifier, one spelling: values of ``column`` that differ only by letter case or
    surrounding spaces within each combination of ``within`` are an error.

    ``'S1'``, ``'s1'`` and ``' S1 '`` would otherwise count as three people (or
    applications, cases ...). Every row spelt differently from the first spelling
    seen (in line order) is reported, naming that spelling and its line.
    """

    column: str
    within: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.within, self.column)

    def describe(self) -> str:
        scope = " + ".join(f"`{c}`" for c in self.within)
        scope = f" within each {scope}" if scope else ""
        return (f"`{self.column}` values that differ only by letter case or surrounding spaces"
                f"{scope} are one identifier spelt two ways (an error)")

    def check(self, t: TableData) -> list[Issue]:
        raw = t.frame[self.column]
        present = raw.notna().to_numpy()
        if not present.any():
            return []
        arr = pa.chunked_array([pa.array(raw.array, pa.large_string())])
        trimmed = pc.utf8_trim_whitespace(arr)
        # Two spellings of one id need at least one of them not in normal form. Take the
        # normal form (upper or lower case) that most values already have: typically all
        # do (E0001..., or hex digests), and then nothing can collide and no hashing is needed.
        best = None
        for fold in (pc.utf8_upper, pc.utf8_lower):
            norm = fold(trimmed)
            off = pc.fill_null(pc.not_equal(norm, arr), False)
            n_off = pc.sum(off).as_py() or 0
            if best is None or n_off < best[0]:
                best = (n_off, norm, off)
            if n_off == 0:
                break  # every value already in this form: the other cannot do better
        n_off, norm, off = best
        if n_off == 0:
            return []
        suspects = pc.unique(pc.filter(norm, off))
        pos = np.flatnonzero(present & pc.fill_null(pc.is_in(norm, value_set=suspects), False)
                             .to_numpy(zero_copy_only=False))
        frame = pd.DataFrame({"raw": arr.take(pa.array(pos)).to_pandas(),
                              "norm": norm.take(pa.array(pos)).to_pandas()})
        sub = t.frame[list(self.within)].iloc[pos].reset_index(drop=True)
        sub["_norm"] = frame["norm"].to_numpy()
        sub["_raw"] = frame["raw"].to_numpy()
        sub["_pos"] = pos
        sub = sub.dropna(subset=list(self.within))
        keys = [*self.within, "_norm"]
        first = sub.groupby(keys, sort=False)[["_raw", "_pos"]].transform("first")
        wrong = (sub["_raw"] != first["_raw"]).to_numpy()
        if not wrong.any():
            return []
        bad = sub[wrong]
        out_pos = bad["_pos"].to_numpy()
        order = np.argsort(out_pos, kind="stable")
        out_pos = out_pos[order]
        first_pos = first["_pos"].to_numpy()[wrong][order]
        first_raw = first["_raw"].to_numpy()[wrong][order]
        within_rows = bad[list(self.within)].to_numpy()[order]
        messages = []
        for label, other, other_pos, row in zip(t.shown(self.column, out_pos), first_raw,
                                                first_pos, within_rows):
            where = " ".join(f"{_KEY_WORDS.get(c, c)} {_key_text(v)}"
                             for c, v in zip(self.within, row))
            messages.append(
                f"{label} and {other!r} (line {t.lines[other_pos]}) differ only by letter case "
                f"or surrounding spaces{' within ' + where if where else ''}: one identifier "
                "spelt two ways would count as two; spell it one way")
        return t.issues(self.column, out_pos, messages)
