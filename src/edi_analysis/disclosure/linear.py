"""Linear determinacy: is a count a combination of published counts, and which ones give it.

Vectors are cells in the coordinates of ``structure.Structure``. The span of
the published cells is held as an orthonormal basis built row by row in a
fixed order (:func:`basis`); a vector lies in it when its residual is below a
relative tolerance (cells have integer coordinates, so a vector outside the
span is far from it). No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Relative tolerances: rank (diagonal of R), membership (squared residual ÷ squared norm),
#: coefficients treated as zero.
RANK_TOL = 1e-9
MEMBER_TOL = 1e-9
COEF_TOL = 1e-9


@dataclass
class Basis:
    """The span of published cells, with which unit each basis vector came from."""

    n: int
    q: np.ndarray  # coordinates × rank, orthonormal
    r: np.ndarray  # rank × rank, upper triangular: basis row j in q is column j
    provenance: list[int]  # the unit of each (pivoted) basis vector
    #: per basis vector: True when no other published vector can stand in for it, so
    #: hiding it stops every combination that uses it
    essential: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def contains(self, v: np.ndarray) -> bool:
        norm2 = float(v @ v)
        if norm2 == 0:
            return True
        if not self.q.size:
            return False
        c = self.q.T @ v
        return norm2 - float(c @ c) <= MEMBER_TOL * norm2

    def contains_rows(self, m: np.ndarray) -> np.ndarray:
        """:meth:`contains` for every row of ``m`` at once."""
        norm2 = np.einsum("ij,ij->i", m, m)
        if not self.q.size:
            return norm2 == 0
        c = m @ self.q
        return norm2 - np.einsum("ij,ij->i", c, c) <= MEMBER_TOL * norm2

    def combination(self, v: np.ndarray) -> tuple[dict[int, float], set[int]]:
        """(unit → coefficient of a combination giving ``v``, units every combination needs)."""
        if not self.q.size or not v.any():
            return {}, set()
        alpha = _solve_triangular(self.r, self.q.T @ v)
        out: dict[int, float] = {}
        needed: set[int] = set()
        for a, u, ess in zip(alpha, self.provenance, self.essential):
            if abs(a) > COEF_TOL:
                out[u] = out.get(u, 0.0) + float(a)
                if ess:
                    needed.add(u)
        return {u: c for u, c in out.items() if abs(c) > COEF_TOL}, needed


def _solve_triangular(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.solve_triangular(a, b)`` (upper triangular), scipy imported when a
    combination is first solved: importing the disclosure package does not import scipy."""
    from scipy.linalg import solve_triangular

    return solve_triangular(a, b)


def basis(n: int, rows: Sequence[np.ndarray], provenance: Sequence[int]) -> Basis:
    """The span of ``rows`` (dense vectors of length ``n``), each from the unit in ``provenance``.

    Rows are taken in the order given (callers sort them by their cell text): a row is a
    new basis vector when it is not a combination of those before it (Gram–Schmidt,
    orthogonalised twice). The order, not floating-point ties, decides which of a dependent
    set is the basis, so the decision is the same on every machine.
    """
    q = np.zeros((n, min(n, len(rows))))
    r_rows: list[np.ndarray] = []  # coordinates of each kept row in q (lower triangular)
    kept: list[int] = []
    dependent: list[np.ndarray] = []  # coordinates in q of each row that added nothing
    for i, v in enumerate(rows):
        norm2 = float(v @ v)
        if norm2 == 0:
            continue
        qk = q[:, :len(kept)]
        c = qk.T @ v
        w = v - qk @ c
        c2 = qk.T @ w
        w -= qk @ c2
        c += c2
        res = float(w @ w)
        if res <= MEMBER_TOL * norm2:
            dependent.append(c)
            continue
        norm = np.sqrt(res)
        q[:, len(kept)] = w / norm
        r_rows.append(np.concatenate([c, [norm]]))
        kept.append(i)
    k = len(kept)
    if not k:
        return Basis(n, np.zeros((n, 0)), np.zeros((0, 0)), [], np.zeros(0, dtype=bool))
    r = np.zeros((k, k))
    for j, row in enumerate(r_rows):
        r[j, :len(row)] = row
    # kept row j = Σ_i r[j, i] q_i, so a vector with q-coordinates c is Σ_j α_j row_j for
    # rᵀ α = c (upper triangular).
    rt = r.T.copy()
    essential = np.ones(k, dtype=bool)
    for c in dependent:
        full = np.zeros(k)
        full[:len(c)] = c
        alpha = _solve_triangular(rt, full)
        essential &= ~(np.abs(alpha) > 1e-7)
    return Basis(n, q[:, :k].copy(), rt, [provenance[i] for i in kept], essential)


class Span:
    """The span of published vectors with the residuals of the protected ones, grown row by row.

    For the last pass of the decision (``decision``): may more be published? Adding vectors
    shrinks every protected vector's residual; the addition is refused when a protected
    vector's residual would vanish (it would become a combination of published ones).
    """

    def __init__(self, n: int, rows: Sequence[np.ndarray], protected: np.ndarray):
        self.n = n
        self.q = np.zeros((n, 0))
        self.protected = protected.astype("float64").copy()
        self.norm2 = np.einsum("ij,ij->i", self.protected, self.protected)
        self.res = self.protected.copy()  # residuals against the span
        ok = self.add(rows)
        if not ok:
            raise ValueError("a protected vector is already in the span")

    def _new_directions(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        q = self.q
        out = np.zeros((self.n, len(rows)))
        k = 0
        for v in rows:
            w = np.asarray(v, dtype="float64").copy()
            norm2 = float(w @ w)
            if norm2 == 0:
                continue
            for _ in range(2):
                if q.size:
                    w -= q @ (q.T @ w)
                if k:
                    w -= out[:, :k] @ (out[:, :k].T @ w)
            res = float(w @ w)
            if res > MEMBER_TOL * norm2:
                out[:, k] = w / np.sqrt(res)
                k += 1
        return out[:, :k]

    def add(self, rows: Sequence[np.ndarray], commit: bool = True) -> bool:
        """Add ``rows`` unless a protected vector would then lie in the span; True if added."""
        d = self._new_directions(rows)
        if not d.size:
            return True
        res = self.res - (self.res @ d) @ d.T
        left = np.einsum("ij,ij->i", res, res)
        if (left <= MEMBER_TOL * np.maximum(self.norm2, 1e-300)).any() and self.norm2.size:
            return False
        if commit:
            self.q = np.concatenate([self.q, d], axis=1)
            self.res = res
        return True
