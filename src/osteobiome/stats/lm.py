"""Ordinary least squares for many features at once.

One QR factorization of the design ``X`` (n × p) and one matrix product fit every column of ``Y`` (n × m):
β = R⁻¹ Qᵀ Y, σ²_j = ‖y_j − X β_j‖² / (n − p), se(β_kj) = σ_j sqrt([(XᵀX)⁻¹]_kk), t = β / se,
p = 2 · P(T_{n−p} > |t|) computed with the t survival function (no flooring; ``log_pval`` stays finite
where p underflows). Features with missing values are grouped by their missing-value pattern and each
group is fitted on its complete rows. :func:`fit_lm` is a pure function of (X, Y), so blocks of features
can be fitted independently (bounded memory, parallel or dask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from osteobiome.stats.distributions import normal_logsf, t_sf


@dataclass(frozen=True)
class LMResult:
    """Per-coefficient (rows) × per-feature (columns) arrays; ``df`` and ``n_used`` are per feature."""

    coef: np.ndarray
    stderr: np.ndarray
    tval: np.ndarray
    pval: np.ndarray
    log_pval: np.ndarray
    df: np.ndarray
    n_used: np.ndarray


def t_test(tval: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided t-test p-values and their natural logs: p = 2 · sf(|t|; df).

    Where p underflows (< 1e-300) its log comes from p = I_x(ν/2, 1/2) with x = ν / (ν + t²) and
    I_x(a, b) = x^a (1 − x)^b 2F1(a + b, 1; a + 1; x) / (a B(a, b)) (DLMF 8.17.8), all in log space;
    for infinite df (z tests) from the normal's log survival function.
    """
    abs_t, df = np.broadcast_arrays(np.abs(tval), df)
    with np.errstate(invalid="ignore"):
        pval = 2.0 * t_sf(abs_t, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pval = np.log(pval)
        normal = (pval < 1e-300) & np.isinf(df)
        if np.any(normal):
            log_pval[normal] = np.log(2.0) + normal_logsf(abs_t[normal])
        tiny = (pval < 1e-300) & ~normal
        if np.any(tiny):
            a, t2 = df[tiny] / 2.0, abs_t[tiny] ** 2
            x = df[tiny] / (df[tiny] + t2)
            log_pval[tiny] = (
                a * np.log(x)
                + 0.5 * np.log1p(-x)
                + np.log(special.hyp2f1(a + 0.5, 1.0, a + 1.0, x))
                - np.log(a)
                - special.betaln(a, 0.5)
            )
    return pval, log_pval


def missing_patterns(missing: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns of ``missing`` (n × m, True = missing) grouped by their missing-value pattern: one
    ``(rows, cols)`` per distinct pattern, ``rows`` the observed rows (bool, n) shared by the columns ``cols``."""
    patterns, pattern_of = np.unique(np.packbits(missing, axis=0), axis=1, return_inverse=True)
    groups = []
    for k in range(patterns.shape[1]):
        cols = np.flatnonzero(pattern_of.ravel() == k)
        groups.append((~missing[:, cols[0]], cols))
    return groups


def _fit_complete(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """coef (p × m), stderr (p × m) and residual df for complete data; NaN if X is rank deficient."""
    n, p = X.shape
    df = float(n - p)
    q, r = np.linalg.qr(X)
    if df <= 0 or np.min(np.abs(np.diag(r))) <= 1e-10 * np.max(np.abs(np.diag(r))):
        nan = np.full((p, Y.shape[1]), np.nan)
        return nan, nan.copy(), df
    coef = linalg.solve_triangular(r, q.T @ Y)
    sigma2 = np.empty(Y.shape[1])
    step = max(1, 32768 // n)  # residuals Y − Xβ by blocks of columns: no table-sized temporary
    for a in range(0, Y.shape[1], step):
        residuals = Y[:, a : a + step] - X @ coef[:, a : a + step]
        sigma2[a : a + step] = np.einsum("ij,ij->j", residuals, residuals) / df
    r_inv = linalg.solve_triangular(r, np.eye(p))
    unscaled = np.einsum("ij,ij->i", r_inv, r_inv)  # diag((XᵀX)⁻¹) = row sums of R⁻¹ squared
    return coef, np.sqrt(unscaled[:, None] * sigma2[None, :]), df


def fit_lm(Y: np.ndarray, X: np.ndarray) -> LMResult:
    """OLS of every column of ``Y`` (n × m, NaN = missing) on ``X`` (n × p, complete, with intercept)."""
    Y = np.asarray(Y, dtype=float)
    X = np.asarray(X, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, m = Y.shape
    p = X.shape[1]
    coef = np.full((p, m), np.nan)
    stderr = np.full((p, m), np.nan)
    df = np.full(m, np.nan)
    n_used = np.zeros(m, dtype=int)
    if not Y.size or not np.isnan(Y.min()):  # min propagates NaN: complete data
        coef, stderr, d = _fit_complete(X, Y)
        df[:], n_used[:] = d, n
    else:
        missing = np.isnan(Y)
        for rows, cols in missing_patterns(missing):
            if rows.sum() == 0:
                continue
            coef[:, cols], stderr[:, cols], df[cols] = _fit_complete(X[rows], Y[np.ix_(rows, cols)])
            n_used[cols] = rows.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = coef / stderr
    pval, log_pval = t_test(tval, df[None, :])
    return LMResult(coef, stderr, tval, pval, log_pval, df, n_used)
