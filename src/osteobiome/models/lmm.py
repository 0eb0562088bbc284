"""Linear mixed models with random intercepts, fitted by REML, with Satterthwaite t-tests (lme4 + lmerTest).

Model per feature: y = Xβ + Σ_k Z_k b_k + ε, b_k ~ N(0, σ² θ_k² I), ε ~ N(0, σ² I) — ``lmer(y ~ X + (1|g1) +
(1|g2), REML=TRUE)``. With Λ = diag(θ_k per level), L Lᵀ = Λ ZᵀZ Λ + I, R_ZX = L⁻¹ Λ ZᵀX,
R_Xᵀ R_X = XᵀX − R_ZXᵀ R_ZX, c_u = L⁻¹ Λ Zᵀy, c_β = R_X⁻ᵀ (Xᵀy − R_ZXᵀ c_u) and r² = yᵀy − ‖c_u‖² − ‖c_β‖²,
the profiled REML deviance (Bates et al. 2015, eq. 42) is

    d(θ) = log|L|² + log|R_X|² + (n − p) (1 + log(2π r² / (n − p))),

β̂ = R_X⁻¹ c_β, σ̂² = r² / (n − p), cov(β̂) = σ̂² R_X⁻¹ R_X⁻ᵀ. Everything is computed from the cross-products
ZᵀZ, ZᵀX, XᵀX (shared by all features with the same missing-value pattern) and Zᵀy, Xᵀy, yᵀy, so one
deviance evaluation costs O(q³) independent of n (O(q) for a single grouping factor, where ΛZᵀZΛ + I is
diagonal). Satterthwaite's df for coefficient i follow lmerTest: with varpar = (θ, σ),
A = 2 H⁻¹ (H the Hessian of the REML deviance d(θ, σ) = log|L|² + log|R_X|² + r²/σ² + (n − p) log(2πσ²),
non-positive eigenvalues dropped), g = ∂ cov(β̂)_ii / ∂ varpar, df = 2 cov(β̂)_ii² / (gᵀ A g).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from osteobiome.models.lm import t_test

_EIGEN_TOL = 1e-8  # lmerTest drops Hessian eigenvalues below this


@dataclass(frozen=True)
class LMMResult:
    """Per-coefficient × per-feature arrays (``df`` is Satterthwaite's, per coefficient); ``theta``
    (grouping factors × features) holds σ_b / σ, ``sigma`` the residual sd, ``n_used`` rows per feature."""

    coef: np.ndarray
    stderr: np.ndarray
    tval: np.ndarray
    pval: np.ndarray
    log_pval: np.ndarray
    df: np.ndarray
    theta: np.ndarray
    sigma: np.ndarray
    n_used: np.ndarray


@dataclass(frozen=True)
class _Shared:
    """Feature-independent cross-products for one set of rows."""

    ztz: np.ndarray
    ztx: np.ndarray
    xtx: np.ndarray
    factor: np.ndarray  # grouping factor of each random-effect column
    n: int
    p: int
    diagonal: bool


@dataclass(frozen=True)
class _AtTheta:
    """Pieces of the deviance that depend on θ only."""

    scale: np.ndarray  # Λ diagonal
    chol: np.ndarray  # L (dense lower) or its diagonal
    rzx: np.ndarray
    rx_inv: np.ndarray  # R_X⁻¹ (upper triangular)
    logdet: float  # log|L|² + log|R_X|²


def _indicator(groups: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    blocks, factor = [], []
    for k, codes in enumerate(groups):
        _, local = np.unique(codes[rows], return_inverse=True)
        z = np.zeros((local.size, local.max() + 1))
        z[np.arange(local.size), local] = 1.0
        blocks.append(z)
        factor.append(np.full(z.shape[1], k))
    return np.hstack(blocks), np.concatenate(factor)


def _shared(X: np.ndarray, Z: np.ndarray, factor: np.ndarray) -> _Shared:
    ztz = Z.T @ Z
    diagonal = bool(np.all(ztz == np.diag(np.diag(ztz))))
    return _Shared(ztz, Z.T @ X, X.T @ X, factor, X.shape[0], X.shape[1], diagonal)


def _at_theta(shared: _Shared, theta: np.ndarray) -> _AtTheta | None:
    scale = theta[shared.factor]
    if shared.diagonal:
        chol = np.sqrt(scale**2 * np.diag(shared.ztz) + 1.0)
        rzx = scale[:, None] * shared.ztx / chol[:, None]
        logdet_l = 2.0 * np.sum(np.log(chol))
    else:
        chol = np.linalg.cholesky(scale[:, None] * shared.ztz * scale[None, :] + np.eye(scale.size))
        rzx = linalg.lapack.dtrtrs(chol, scale[:, None] * shared.ztx, lower=1)[0]
        logdet_l = 2.0 * np.sum(np.log(np.diag(chol)))
    rx, info = linalg.lapack.dpotrf(shared.xtx - rzx.T @ rzx, lower=0, clean=1)
    if info != 0:
        return None
    rx_inv = linalg.lapack.dtrtri(rx, lower=0)[0]
    return _AtTheta(scale, chol, rzx, rx_inv, logdet_l + 2.0 * np.sum(np.log(np.abs(np.diag(rx)))))


def _solve(shared: _Shared, at: _AtTheta, zty: np.ndarray, xty: np.ndarray, yty: float) -> tuple[float, np.ndarray]:
    """Penalized residual sum of squares r² and β̂ for one feature at θ."""
    rhs = at.scale * zty
    cu = rhs / at.chol if shared.diagonal else linalg.lapack.dtrtrs(at.chol, rhs, lower=1)[0]
    cb = at.rx_inv.T @ (xty - at.rzx.T @ cu)
    r2 = yty - cu @ cu - cb @ cb
    return r2, at.rx_inv @ cb


def _deviance(shared: _Shared, theta: np.ndarray, zty: np.ndarray, xty: np.ndarray, yty: float) -> float:
    at = _at_theta(shared, np.abs(theta))
    if at is None:
        return np.inf
    r2, _ = _solve(shared, at, zty, xty, yty)
    dfree = shared.n - shared.p
    return at.logdet + dfree * (1.0 + np.log(2.0 * np.pi * max(r2, 1e-300) / dfree))


def _optimize(shared: _Shared, start: np.ndarray, zty: np.ndarray, xty: np.ndarray, yty: float) -> np.ndarray:
    """θ̂ ≥ 0 minimizing the profiled REML deviance (Brent for one factor, L-BFGS-B otherwise)."""
    objective = lambda theta: _deviance(shared, np.atleast_1d(theta), zty, xty, yty)  # noqa: E731
    if start.size == 1:
        upper = max(10.0, 4.0 * float(start[0]))
        while True:
            best = optimize.minimize_scalar(objective, bounds=(0.0, upper), method="bounded", options={"xatol": 1e-10})
            if best.x < 0.9 * upper or upper > 1e6:
                break
            upper *= 10.0
        theta = np.array([best.x])
    else:
        best = optimize.minimize(
            objective, start, method="L-BFGS-B", bounds=[(0.0, None)] * start.size, options={"ftol": 1e-15, "gtol": 1e-9}
        )
        theta = best.x
        for k in range(theta.size):  # polish each component with a 1-D search (tight optimum, boundary exact)
            def along(value, k=k):  # noqa: ANN001, ANN202
                trial = theta.copy()
                trial[k] = value
                return objective(trial)

            hi = max(10.0, 4.0 * theta[k])
            theta[k] = optimize.minimize_scalar(along, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-10}).x
    return _boundary(theta, objective)


def _boundary(theta: np.ndarray, objective) -> np.ndarray:  # noqa: ANN001
    """Set components to exactly 0 where that does not increase the deviance (singular fits, as lme4)."""
    for k in range(theta.size):
        trial = theta.copy()
        trial[k] = 0.0
        if objective(trial) <= objective(theta):
            theta = trial
    return theta


def _satterthwaite(
    shared: _Shared, theta: np.ndarray, zty: np.ndarray, xty: np.ndarray, yty: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """β̂, standard errors, Satterthwaite df (lmerTest's definition) and σ̂ at θ̂, with analytic derivatives.

    With W = I + Σ_k θ_k² Z_k Z_kᵀ, P = W⁻¹ − W⁻¹X C XᵀW⁻¹, C = (XᵀW⁻¹X)⁻¹ and φ_k = θ_k², the REML deviance
    d(θ, σ) = log|W| + log|XᵀW⁻¹X| + yᵀPy/σ² + (n − p) log(2πσ²) has ∂d/∂φ_k = tr(PG_k) − yᵀPG_kPy/σ²,
    ∂²d/∂φ_k∂φ_l = −tr(PG_kPG_l) + 2 yᵀPG_kPG_lPy/σ² (G_k = Z_kZ_kᵀ) and ∂C/∂φ_k = C XᵀW⁻¹G_kW⁻¹X C; all
    traces reduce to q × q blocks of ZᵀPZ (Woodbury: W⁻¹ = I − ZΛ(ΛZᵀZΛ + I)⁻¹ΛZᵀ).
    """
    dfree = shared.n - shared.p
    at = _at_theta(shared, theta)
    r2, beta = _solve(shared, at, zty, xty, yty)
    sigma2 = r2 / dfree
    sigma = np.sqrt(sigma2)
    unscaled = at.rx_inv @ at.rx_inv.T  # C = (XᵀW⁻¹X)⁻¹

    if shared.diagonal:
        middle = np.diag(at.scale**2 / at.chol**2)
    else:
        inner = linalg.cho_solve((at.chol, True), np.eye(at.scale.size))
        middle = at.scale[:, None] * inner * at.scale[None, :]
    ztz_middle = shared.ztz @ middle
    zwz = shared.ztz - ztz_middle @ shared.ztz
    zwx = shared.ztx - ztz_middle @ shared.ztx
    zwy = zty - ztz_middle @ zty
    xwy = xty - shared.ztx.T @ (middle @ zty)
    zpz = zwz - zwx @ unscaled @ zwx.T
    zpy = zwy - zwx @ (unscaled @ xwy)

    k = theta.size
    blocks = [np.flatnonzero(shared.factor == i) for i in range(k)]
    hessian = np.zeros((k + 1, k + 1))
    gradients = np.zeros((k + 1, shared.p))
    for i, bi in enumerate(blocks):
        u_i = zpy[bi]
        first = np.trace(zpz[np.ix_(bi, bi)]) - u_i @ u_i / sigma2
        for j in range(i, k):
            bj = blocks[j]
            block = zpz[np.ix_(bi, bj)]
            second = -np.sum(block**2) + 2.0 * (u_i @ block @ zpy[bj]) / sigma2
            hessian[i, j] = hessian[j, i] = 4.0 * theta[i] * theta[j] * second + (2.0 * first if i == j else 0.0)
        hessian[i, k] = hessian[k, i] = 4.0 * theta[i] * (u_i @ u_i) / sigma**3
        lever = zwx[bi] @ unscaled
        gradients[i] = sigma2 * 2.0 * theta[i] * np.einsum("ij,ij->j", lever, lever)
    hessian[k, k] = 6.0 * r2 / sigma2**2 - 2.0 * dfree / sigma2
    gradients[k] = 2.0 * sigma * np.diag(unscaled)

    values, vectors = np.linalg.eigh(hessian)
    keep = values > _EIGEN_TOL
    a_matrix = 2.0 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    variance = sigma2 * np.diag(unscaled)
    denominator = np.einsum("ki,kl,li->i", gradients, a_matrix, gradients)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = 2.0 * variance**2 / denominator
    return beta, np.sqrt(variance), df, sigma


def _fit_pattern(Y: np.ndarray, X: np.ndarray, Z: np.ndarray, factor: np.ndarray, n_factors: int) -> tuple[np.ndarray, ...]:
    shared = _shared(X, Z, factor)
    ols = np.linalg.lstsq(X, Y, rcond=None)[0]
    centred = Y - X @ ols  # r² and θ̂ are invariant to y → y − Xc; this avoids cancellation in yᵀy − ‖c‖²
    zty, xty, yty = Z.T @ centred, X.T @ centred, np.einsum("ij,ij->j", centred, centred)
    m = Y.shape[1]
    coef, stderr, df = (np.full((shared.p, m), np.nan) for _ in range(3))
    theta_out, sigma_out = np.full((n_factors, m), np.nan), np.full(m, np.nan)
    start = np.ones(n_factors)
    for j in range(m):
        theta = _optimize(shared, start, zty[:, j], xty[:, j], yty[j])
        beta, se, dfs, sigma = _satterthwaite(shared, theta, zty[:, j], xty[:, j], yty[j])
        coef[:, j], stderr[:, j], df[:, j] = beta + ols[:, j], se, dfs
        theta_out[:, j], sigma_out[j] = theta, sigma
        start = np.where(theta > 0, theta, 1.0)  # warm start for the next feature
    return coef, stderr, df, theta_out, sigma_out


def fit_lmm(Y: np.ndarray, X: np.ndarray, groups: Sequence[np.ndarray]) -> LMMResult:
    """REML random-intercept fits of every column of ``Y`` (n × m, NaN = missing) on ``X`` (n × p) with one
    intercept per level of each grouping factor in ``groups`` (integer codes, length n)."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    X = np.asarray(X, dtype=float)
    n, m = Y.shape
    p, k = X.shape[1], len(groups)
    coef, stderr, df = (np.full((p, m), np.nan) for _ in range(3))
    theta, sigma, n_used = np.full((k, m), np.nan), np.full(m, np.nan), np.zeros(m, dtype=int)
    missing = np.isnan(Y)
    patterns, pattern_of = np.unique(np.packbits(missing, axis=0), axis=1, return_inverse=True)
    with threadpool_limits(1):  # many tiny factorizations: BLAS threads only add overhead
        _fit_patterns(Y, X, groups, missing, patterns.shape[1], pattern_of.ravel(), coef, stderr, df, theta, sigma, n_used)
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = coef / stderr
    pval, log_pval = t_test(tval, df)
    return LMMResult(coef, stderr, tval, pval, log_pval, df, theta, sigma, n_used)


def _fit_patterns(Y, X, groups, missing, n_patterns, pattern_of, coef, stderr, df, theta, sigma, n_used) -> None:  # noqa: ANN001
    """Fit each group of features that share a missing-value pattern, filling the output arrays in place."""
    p, k = X.shape[1], len(groups)
    for index in range(n_patterns):
        cols = np.flatnonzero(pattern_of == index)
        rows = ~missing[:, cols[0]]
        if rows.sum() <= p + 1:
            continue
        Z, factor = _indicator(groups, rows)
        out = _fit_pattern(Y[np.ix_(rows, cols)], X[rows], Z, factor, k)
        coef[:, cols], stderr[:, cols], df[:, cols], theta[:, cols], sigma[cols] = out
        n_used[cols] = rows.sum()
