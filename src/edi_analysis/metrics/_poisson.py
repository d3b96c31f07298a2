"""Poisson log-linear models with an exposure offset, optionally Firth-penalised, and
profile-likelihood intervals. Pure NumPy numerics for ``disciplinary_model``; no pandas, no I/O.

Model: y_i ~ Poisson(μ_i), log μ_i = x_i'β + offset_i (offset = log person-years), so
exp(β_j) of a 0/1 column is a rate ratio (McCullagh & Nelder, *Generalized Linear Models*,
2nd ed., 1989, ch. 6). Fitted by Newton–Raphson (= Fisher scoring for the canonical log link)
with step halving.

Firth penalisation (Firth, *Biometrika* 80, 1993, 27–38): the log-likelihood gains
½ log det I(β) (Jeffreys prior), I(β) = X' diag(μ) X. For a canonical link the modified score
is X'(y − μ + h/2), h the diagonal of the hat matrix diag(μ)^½ X I⁻¹ X' diag(μ)^½ — as if each
cell had half its leverage in extra cases. The estimate is finite even when a group has no
cases (separation), where maximum likelihood runs to −∞ or +∞.

Profile-likelihood interval of β_j at level 1 − α (Venzon & Moolgavkar, *Applied Statistics*
37, 1988, 87–94; for the penalised likelihood, Heinze & Schemper, *Statistics in Medicine* 21,
2002, 2409–2419): {b : 2[ℓ(β̂) − max ℓ(β | β_j = b)] ≤ χ²₁(1 − α)}, each bound found by
Brent's method on the constrained refit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edi_analysis import stats as _stats

#: Largest linear predictor used when exponentiating (e^700 is near the float64 limit).
_ETA_MAX = 700.0


@dataclass(frozen=True)
class PoissonFit:
    """A fitted model: coefficients, their covariance (inverse Fisher information), the
    (penalised) log-likelihood without its constant −Σ log y!, fitted means, diagnostics."""

    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    mu: np.ndarray
    converged: bool
    n_iter: int
    firth: bool


def _mu(X: np.ndarray, beta: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return np.exp(np.minimum(X @ beta + offset, _ETA_MAX))


def _lapack():
    """``scipy.linalg.lapack``, imported on the first fit (importing this module, or the
    metrics package that loads it, does not import scipy)."""
    global _LAPACK
    if _LAPACK is None:
        from scipy.linalg import lapack

        _LAPACK = lapack
    return _LAPACK


_LAPACK = None


def _chol(a: np.ndarray):
    """Lower Cholesky factor (LAPACK dpotrf directly: these matrices are tiny and numpy's
    wrappers cost more than the factorisation), or None when ``a`` is not positive definite."""
    c, info = (_LAPACK or _lapack()).dpotrf(a, lower=1, clean=1)
    return c if info == 0 else None


def _cho_solve(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(L Lᵀ)⁻¹ b."""
    return (_LAPACK or _lapack()).dpotrs(chol, b, lower=1)[0]


def _state(X, beta, y, offset, firth):
    """(log-likelihood, μ, information, its Cholesky factor) at beta."""
    eta = np.minimum(X @ beta + offset, _ETA_MAX)
    mu = np.exp(eta)
    ll = float((y * eta - mu).sum())
    info = (X * mu[:, None]).T @ X
    chol = _chol(info) if X.shape[1] else np.zeros((0, 0))
    if firth and X.shape[1]:
        ll = ll + float(np.log(chol.diagonal()).sum()) if chol is not None else -np.inf
    return ll, mu, info, chol


def loglik(X: np.ndarray, beta: np.ndarray, y: np.ndarray, offset: np.ndarray,
           firth: bool = False) -> float:
    """Σ (y η − μ), plus ½ log det I(β) when ``firth``; −inf where the penalty is undefined."""
    return _state(X, beta, y, offset, firth)[0]


def fit(X: np.ndarray, y: np.ndarray, offset: np.ndarray, *, firth: bool = False,
        start: np.ndarray | None = None, fixed: Mapping[int, float] | None = None,
        max_iter: int = 100, tol: float = 1e-9) -> PoissonFit:
    """Maximise the (penalised) Poisson log-likelihood by Newton–Raphson with step halving.

    ``fixed={j: b, ...}`` holds those coefficients at the given values and maximises over the
    others — the constrained fit of a profile likelihood or of a likelihood-ratio test; the
    Firth penalty is then still that of the whole model, ½ log det I(β) with all of X
    (Heinze & Schemper 2002). Column 0 of ``X``, when it is an intercept, gets the pooled log
    rate as its starting value. ``converged`` is False when the steps do not settle (no finite
    maximum, e.g. a group with no cases under maximum likelihood) or the information is
    singular.
    """
    n, p = X.shape
    free = np.ones(p, dtype=bool)
    if start is not None:
        beta = np.array(start, dtype="float64")
    else:
        beta = np.zeros(p)
        if p and np.all(X[:, 0] == 1.0):
            rate = max(float(y.sum()), 0.5) / float(np.exp(offset).sum())
            beta[0] = np.log(rate)
    for j, b in (fixed or {}).items():
        free[j] = False
        beta[j] = b
    all_free = bool(free.all())
    fi = np.flatnonzero(free)
    Xf = X if all_free else X[:, fi]
    eye = np.eye(p)
    ll, mu, info, chol = _state(X, beta, y, offset, firth)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        if not free.any():
            converged = True
            break
        if chol is None:
            break
        resid = y - mu
        if firth:
            # h_i = μ_i x_i' I⁻¹ x_i; + h/2 is the modified score
            h = mu * ((X @ _cho_solve(chol, eye)) * X).sum(axis=1)
            resid = resid + 0.5 * h
        chol_f = chol if all_free else _chol(info[fi[:, None], fi])
        if chol_f is None:
            break
        step = np.zeros(p)
        step[fi] = _cho_solve(chol_f, Xf.T @ resid)
        t = 1.0
        while True:
            new = beta + t * step
            state = _state(X, new, y, offset, firth)
            if state[0] >= ll - 1e-10 * (1.0 + abs(ll)) or t < 1e-8:
                break
            t /= 2.0
        change = float(np.max(np.abs(new - beta)))
        beta = new
        ll, mu, info, chol = state
        if change < tol:
            converged = True
            break
    if chol is None:
        cov = np.full((p, p), np.nan)
        converged = converged and fixed is not None
    else:
        cov = _cho_solve(chol, np.eye(p))
    return PoissonFit(beta, cov, float(ll), mu, bool(converged and np.all(np.isfinite(beta))),
                      it, firth)


def profile_interval(X: np.ndarray, y: np.ndarray, offset: np.ndarray, j: int, full: PoissonFit,
                     levels: Sequence[float], *, limit: float = 25.0, xtol: float = 1e-7,
                     gtol: float = 1e-6) -> dict[float, tuple[float, float]]:
    """Profile-likelihood interval of coefficient ``j`` at each confidence level (e.g. 0.95).

    Uses the same likelihood as ``full`` (penalised when ``full.firth``). Each bound is the
    root of the signed root deviance r(b) = ±√(2[ℓ̂ − ℓ_p(b)]) at ±√χ²₁(level), found by the
    Illinois (safeguarded regula falsi) method from the Wald bound: r is close to linear in
    b, so a few constrained refits suffice. Stops when |r(b) − √χ²| < ``gtol`` (an error in b
    of about ``gtol`` standard errors) or the bracket is narrower than ``xtol``. A bound not reached within ``limit`` of the
    estimate (log scale; a ratio e^25) is returned as ∓inf: the data do not bound the
    coefficient on that side.
    """
    b_hat = float(full.beta[j])
    ll_hat = full.loglik
    cache: dict[float, float] = {}
    solved: dict[float, np.ndarray] = {b_hat: full.beta.copy()}
    # How the other coefficients move with β_j near the maximum, −I_nn⁻¹ I_nj: each constrained
    # fit starts from the nearest solved point moved along it, so it needs two or three steps.
    others = np.flatnonzero(np.arange(X.shape[1]) != j)
    info = (X * full.mu[:, None]).T @ X
    try:
        slope = -np.linalg.solve(info[others[:, None], others], info[others, j])
    except np.linalg.LinAlgError:
        slope = np.zeros(len(others))

    def root(b: float) -> float:
        if b not in cache:
            near = min(solved, key=lambda v: abs(v - b))
            start = solved[near].copy()
            start[others] += slope * (b - near)
            start[j] = b
            f = fit(X, y, offset, firth=full.firth, start=start, fixed={j: b}, tol=1e-7)
            if np.all(np.isfinite(f.beta)):
                solved[b] = f.beta
            cache[b] = float(np.sqrt(max(2.0 * (ll_hat - f.loglik), 0.0)))
        return cache[b]

    se = float(np.sqrt(full.cov[j, j])) if np.isfinite(full.cov[j, j]) else 1.0
    se = min(max(se, 1e-3), limit)
    out = {}
    for level in levels:
        target = float(np.sqrt(_stats.chi2_ppf(level, 1)))
        bounds = []
        for sign in (-1.0, 1.0):
            # bracket: g(b) = root(b) − target, negative at the estimate
            a, ga = b_hat, -target
            d = target * se
            bound = sign * np.inf
            while True:
                c = b_hat + sign * min(d, limit)
                gc = root(c) - target
                if gc >= 0:
                    break
                a, ga = c, gc
                if d >= limit:
                    c = None
                    break
                d *= 2.0
            if c is not None:
                side = 0
                for _ in range(100):
                    m = c - gc * (c - a) / (gc - ga) if gc != ga else 0.5 * (a + c)
                    gm = root(m) - target
                    if abs(gm) < gtol or abs(c - a) < xtol:
                        break
                    if gm < 0:
                        a, ga = m, gm
                        if side == -1:
                            gc /= 2.0
                        side = -1
                    else:
                        c, gc = m, gm
                        if side == 1:
                            ga /= 2.0
                        side = 1
                bound = m
            bounds.append(float(bound))
        out[level] = (bounds[0], bounds[1])
    return out


def independent_columns(columns: Sequence[np.ndarray], tol: float = 1e-9) -> list[bool]:
    """Greedy rank test (Gram–Schmidt): keep a column only if it is not a combination of those kept.

    Columns are tried in order, so the design's order decides which of an aliased set is
    dropped (put the column of interest last).
    """
    basis: list[np.ndarray] = []
    keep = []
    for v in columns:
        r = np.asarray(v, dtype="float64").copy()
        for _ in range(2):  # re-orthogonalise once for numerical stability
            for q in basis:
                r -= (q @ r) * q
        norm = float(np.linalg.norm(r))
        ok = norm > tol * max(float(np.linalg.norm(v)), 1.0)
        keep.append(ok)
        if ok:
            basis.append(r / norm)
    return keep
