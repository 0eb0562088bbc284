"""Linear mixed models with random intercepts, fitted by REML, with Satterthwaite t-tests (lme4 + lmerTest).

Model per feature: y = Xβ + Σ_k Z_k b_k + ε, b_k ~ N(0, σ² θ_k² I), ε ~ N(0, σ² I) — ``lmer(y ~ X + (1|g1) +
(1|g2), REML=TRUE)``. With Λ = diag(θ_k per level), L Lᵀ = Λ ZᵀZ Λ + I, R_ZX = L⁻¹ Λ ZᵀX,
R_Xᵀ R_X = XᵀX − R_ZXᵀ R_ZX, c_u = L⁻¹ Λ Zᵀy, c_β = R_X⁻ᵀ (Xᵀy − R_ZXᵀ c_u) and r² = yᵀy − ‖c_u‖² − ‖c_β‖²,
the profiled REML deviance (Bates et al. 2015, eq. 42) is

    d(θ) = log|L|² + log|R_X|² + (n − p) (1 + log(2π r² / (n − p))),

β̂ = R_X⁻¹ c_β, σ̂² = r² / (n − p), cov(β̂) = σ̂² R_X⁻¹ R_X⁻ᵀ. Everything is computed from the cross-products
ZᵀZ, ZᵀX, XᵀX (shared by all features with the same missing-value pattern) and Zᵀy, Xᵀy, yᵀy, so one
deviance evaluation is independent of n: the factor with most levels gives a diagonal block of ΛZᵀZΛ + I and
the others a small dense Schur complement, O(q_big · q_small² + q_small³) (O(q) for a single factor). Satterthwaite's df for coefficient i follow lmerTest: with varpar = (θ, σ),
A = 2 H⁻¹ (H the Hessian of the REML deviance d(θ, σ) = log|L|² + log|R_X|² + r²/σ² + (n − p) log(2πσ²),
non-positive eigenvalues dropped), g = ∂ cov(β̂)_ii / ∂ varpar, df = 2 cov(β̂)_ii² / (gᵀ A g).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from osteobiome.stats.lm import LMResult, missing_patterns, t_test

_EIGEN_TOL = 1e-8  # lmerTest drops Hessian eigenvalues below this
CHUNK = 16  # features per job (the warm start runs within a chunk)


@dataclass(frozen=True)
class LMMResult(LMResult):
    """:class:`LMResult`'s arrays (``df`` is Satterthwaite's, per coefficient) plus ``theta`` (grouping factors
    × features), σ_b / σ, and ``sigma``, the residual sd."""

    theta: np.ndarray
    sigma: np.ndarray


@dataclass(frozen=True)
class _Shared:
    """Feature-independent cross-products for one set of rows. Random-effect columns are ordered with the
    factor that has most levels first: its block of ZᵀZ is diagonal (``big``), the rest is small and dense."""

    ztz: np.ndarray
    ztx: np.ndarray
    xtx: np.ndarray
    factor: np.ndarray  # grouping factor of each random-effect column
    n: int
    p: int
    n_big: int


@dataclass(frozen=True)
class _AtTheta:
    """Pieces of the deviance that depend on θ only; L = [[diag(l11), 0], [l21, ls]]."""

    scale: np.ndarray  # Λ diagonal
    l11: np.ndarray
    l21: np.ndarray
    ls: np.ndarray
    rzx: np.ndarray
    rx_inv: np.ndarray  # R_X⁻¹ (upper triangular)
    logdet: float  # log|L|² + log|R_X|²

    def lower_solve(self, rhs: np.ndarray) -> np.ndarray:
        """L⁻¹ rhs by block forward substitution (vector or matrix right-hand side)."""
        nb = self.l11.size
        top = rhs[:nb] / (self.l11[:, None] if rhs.ndim == 2 else self.l11)
        if self.ls.size == 0:
            return top
        bottom = linalg.lapack.dtrtrs(self.ls, rhs[nb:] - self.l21 @ top, lower=1)[0]
        return np.concatenate([top, bottom])


def _indicator(groups: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indicator matrix Z (rows × levels of every factor, largest factor first), each column's factor and
    each row's column in every factor (rows × factors)."""
    blocks, factor, columns = [], [], []
    for k, codes in enumerate(groups):
        _, local = np.unique(codes[rows], return_inverse=True)
        z = np.zeros((local.size, local.max() + 1))
        z[np.arange(local.size), local] = 1.0
        blocks.append(z)
        factor.append(np.full(z.shape[1], k))
        columns.append(local)
    order = sorted(range(len(blocks)), key=lambda k: -blocks[k].shape[1])
    offsets = np.cumsum([0] + [blocks[k].shape[1] for k in order])
    cols = np.column_stack([columns[k] + offsets[i] for i, k in enumerate(order)])
    return np.hstack([blocks[k] for k in order]), np.concatenate([factor[k] for k in order]), cols


def _shared(X: np.ndarray, Z: np.ndarray, factor: np.ndarray, cols: np.ndarray) -> _Shared:
    """Cross-products; ZᵀZ (counts of rows sharing two levels) from ``cols``, not the O(n q²) product."""
    n_big = int(np.sum(factor == factor[0]))
    q = Z.shape[1]
    pairs = (cols[:, :, None] * q + cols[:, None, :]).ravel()
    ztz = np.bincount(pairs, minlength=q * q).reshape(q, q).astype(float)
    return _Shared(ztz, Z.T @ X, X.T @ X, factor, X.shape[0], X.shape[1], n_big)


def _at_theta(shared: _Shared, theta: np.ndarray) -> _AtTheta | None:
    """Block Cholesky of ΛZᵀZΛ + I: l11 = sqrt(θ² n_level + 1), l21 = (ΛCΛ)ᵀ / l11, ls = chol(ΛBΛ + I − l21 l21ᵀ)."""
    scale = theta[shared.factor]
    nb = shared.n_big
    big, small = scale[:nb], scale[nb:]
    l11 = np.sqrt(big**2 * np.diag(shared.ztz)[:nb] + 1.0)
    l21 = (small[:, None] * shared.ztz[nb:, :nb] * big[None, :]) / l11[None, :]
    schur = small[:, None] * shared.ztz[nb:, nb:] * small[None, :] + np.eye(small.size) - l21 @ l21.T
    ls = np.linalg.cholesky(schur) if small.size else schur
    at = _AtTheta(scale, l11, l21, ls, np.empty(0), np.empty(0), 0.0)
    rzx = at.lower_solve(scale[:, None] * shared.ztx)
    rx, info = linalg.lapack.dpotrf(shared.xtx - rzx.T @ rzx, lower=0, clean=1)
    if info != 0:
        return None
    logdet = 2.0 * (np.sum(np.log(l11)) + np.sum(np.log(np.diag(ls))) + np.sum(np.log(np.abs(np.diag(rx)))))
    return _AtTheta(scale, l11, l21, ls, rzx, linalg.lapack.dtrtri(rx, lower=0)[0], logdet)


def _solve(shared: _Shared, at: _AtTheta, zty: np.ndarray, xty: np.ndarray, yty: float) -> tuple[float, np.ndarray]:
    """Penalized residual sum of squares r² and β̂ for one feature at θ."""
    cu = at.lower_solve(at.scale * zty)
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
    """θ̂ ≥ 0 minimizing the profiled REML deviance: bounded Brent for one factor; otherwise L-BFGS-B from the
    warm start and from lme4's start (all ones), the better one polished by Nelder-Mead; components that do not
    lower the deviance are set to exactly 0 (singular fit)."""
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
        candidates = []
        for initial in {tuple(start), (1.0,) * start.size}:  # warm start and lme4's start
            fit = optimize.minimize(
                objective, np.array(initial), method="L-BFGS-B", bounds=[(0.0, None)] * start.size,
                options={"ftol": 1e-15, "gtol": 1e-10},
            )
            candidates.append(fit)
        best = min(candidates, key=lambda fit: fit.fun)
        # polish: the deviance can be very flat along a weakly identified θ_k (few levels); Nelder-Mead on |θ|
        polished = optimize.minimize(
            lambda t: objective(np.abs(t)), best.x, method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 800},
        )
        theta = np.abs(polished.x) if polished.fun <= best.fun else best.x
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
    if at is None:  # XᵀW⁻¹X singular (X rank deficient on these rows): β is not estimable
        missing = np.full(shared.p, np.nan)
        return missing, missing, missing, np.nan
    r2, beta = _solve(shared, at, zty, xty, yty)
    sigma2 = r2 / dfree
    sigma = np.sqrt(sigma2)
    unscaled = at.rx_inv @ at.rx_inv.T  # C = (XᵀW⁻¹X)⁻¹

    lower_inv = at.lower_solve(np.eye(at.scale.size))
    middle = at.scale[:, None] * (lower_inv.T @ lower_inv) * at.scale[None, :]  # Λ (ΛZᵀZΛ + I)⁻¹ Λ
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


def _fit_pattern(
    Y: np.ndarray, X: np.ndarray, Z: np.ndarray, factor: np.ndarray, cols: np.ndarray, n_factors: int
) -> tuple[np.ndarray, ...]:
    shared = _shared(X, Z, factor, cols)
    ols = np.linalg.lstsq(X, Y, rcond=None)[0]
    centred = Y - X @ ols  # r² and θ̂ are invariant to y → y − Xc; this avoids cancellation in yᵀy − ‖c‖²
    zty, xty, yty = Z.T @ centred, X.T @ centred, np.einsum("ij,ij->j", centred, centred)
    m = Y.shape[1]
    coef, stderr, df = (np.full((shared.p, m), np.nan) for _ in range(3))
    theta_out, sigma_out = np.full((n_factors, m), np.nan), np.full(m, np.nan)
    if _at_theta(shared, np.zeros(n_factors)) is None:  # X rank deficient on these rows: no feature is estimable
        return coef, stderr, df, theta_out, sigma_out
    start = np.ones(n_factors)
    for j in range(m):
        theta = _optimize(shared, start, zty[:, j], xty[:, j], yty[j])
        beta, se, dfs, sigma = _satterthwaite(shared, theta, zty[:, j], xty[:, j], yty[j])
        coef[:, j], stderr[:, j], df[:, j] = beta + ols[:, j], se, dfs
        theta_out[:, j], sigma_out[j] = theta, sigma
        start = np.where(theta > 0, theta, 1.0)  # warm start for the next feature
    return coef, stderr, df, theta_out, sigma_out


def fit_lmm(Y: np.ndarray, X: np.ndarray, groups: Sequence[np.ndarray], workers: int = 1) -> LMMResult:
    """REML random-intercept fits of every column of ``Y`` (n × m, NaN = missing) on ``X`` (n × p) with one
    intercept per level of each grouping factor in ``groups`` (integer codes, length n). A feature whose rows
    leave ``X`` rank deficient (e.g. a covariate constant where the feature is observed) is not estimable: NaN.

    Features are fitted in chunks of :data:`CHUNK` (each chunk warm-starts θ from feature to feature, starting
    at lme4's θ = 1), over ``workers`` processes when > 1; the chunks do not depend on ``workers``, so neither do
    the results."""
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    X = np.asarray(X, dtype=float)
    n, m = Y.shape
    p, k = X.shape[1], len(groups)
    coef, stderr, df = (np.full((p, m), np.nan) for _ in range(3))
    theta, sigma, n_used = np.full((k, m), np.nan), np.full(m, np.nan), np.zeros(m, dtype=int)
    missing = np.isnan(Y)
    jobs = []
    for rows, cols in missing_patterns(missing):
        if rows.sum() > p + 1:
            jobs += [(rows, chunk) for chunk in np.array_split(cols, -(-cols.size // CHUNK))]
    for (rows, chunk), out in zip(jobs, _run_chunks(Y, X, groups, jobs, workers), strict=True):
        coef[:, chunk], stderr[:, chunk], df[:, chunk], theta[:, chunk], sigma[chunk] = out
        n_used[chunk] = rows.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = coef / stderr
    pval, log_pval = t_test(tval, df)
    return LMMResult(coef, stderr, tval, pval, log_pval, df, n_used, theta=theta, sigma=sigma)


def _fit_chunk(Y: np.ndarray, X: np.ndarray, groups: Sequence[np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`_fit_pattern` of the columns of ``Y`` (all observed on ``rows``)."""
    Z, factor, cols = _indicator(groups, rows)
    return _fit_pattern(Y[rows], X[rows], Z, factor, cols, len(groups))


def _run_chunks(Y, X, groups, jobs, workers: int):  # noqa: ANN001, ANN202
    """Results of :func:`_fit_chunk` for each (rows, columns) job, in order, over ``workers`` processes (each
    with one BLAS thread, as this process when serial: many tiny factorizations, where threads only add
    overhead)."""
    if workers <= 1 or len(jobs) <= 1:
        with threadpool_limits(1):
            return [_fit_chunk(Y[:, cols], X, groups, rows) for rows, cols in jobs]
    from osteobiome.compute.executors import process_pool

    with process_pool(min(workers, len(jobs))) as pool:
        futures = [pool.submit(_fit_chunk, Y[:, cols], X, groups, rows) for rows, cols in jobs]
        return [future.result() for future in futures]
