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
