"""Logistic regressions ``logit P(y_i = 1) = a_j + b_j f_ij + z_iᵀ g_j``, one per feature, fitted together.

Newton–Raphson (IRLS) for every feature at once: with ``μ = expit(η)`` and ``w = μ(1 − μ)`` the score is
``Σ_i (y_i − μ_ij) x_ij`` and the information ``Σ_i w_ij x_ij x_ijᵀ`` (``x_ij = (f_ij, 1, z_i)``), summed
from the stacked products of :mod:`osteobiome.survival._moments`; iterated from θ = 0 until no coefficient
moves by more than ``tol`` — R's ``glm(family = binomial)`` estimates and Wald tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from osteobiome.stats.distributions import normal_sf
from osteobiome.survival._moments import unpack, weighted_products


@dataclass(frozen=True)
class LogisticFit:
    """Per-feature logistic fits: ``coef`` / ``stderr`` (m, q) with the exposure first, then the intercept and
    the covariates; ``pval`` (m,) Wald p of the exposure; ``converged`` (m,); ``iterations`` (m,)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _terms(F: np.ndarray, Z: np.ndarray, y: np.ndarray, theta: np.ndarray):  # noqa: ANN202
    eta = F * theta[:, 0] + Z @ theta[:, 1:].T
    mu = expit(eta)
    loglik = (y[:, None] * eta + log_expit(-eta)).sum(axis=0)
    resid = y[:, None] - mu
    score = np.empty(theta.shape)
    score[:, 0] = (resid * F).sum(axis=0)
    score[:, 1:] = resid.T @ Z
    _, _, info = unpack(weighted_products(mu * (1.0 - mu), F, Z).sum(axis=0), theta.shape[1])
    return loglik, score, info


def fit_logistic(
    y: np.ndarray, F: np.ndarray, Z: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-9
) -> LogisticFit:
    """Fit ``logit P(y = 1) = a + b f_j + zᵀg`` for every column ``f_j`` of ``F`` (n, m); ``y`` 0/1 (n,);
    ``Z`` (n, p) shared covariates without intercept (added here). Features whose fit does not converge
    (separation) or whose information is singular get NaN standard errors and p-values."""
    F = np.asarray(F, dtype=float)
    n, m = F.shape
    y = np.asarray(y, dtype=float)
    Z = np.column_stack([np.ones(n), np.zeros((n, 0)) if Z is None else np.asarray(Z, dtype=float)])
    q = Z.shape[1] + 1
    theta = np.zeros((m, q))
    loglik, score, info = _terms(F, Z, y, theta)
    converged, failed, iterations = np.zeros(m, bool), np.zeros(m, bool), np.zeros(m, int)
    for _ in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        eig = np.linalg.eigvalsh(info[active])
        ok = np.isfinite(eig).all(axis=1) & (eig[:, 0] > 1e-10 * np.maximum(eig[:, -1], 1e-300))
        failed[active[~ok]] = True
        active = active[ok]
        if active.size == 0:
            break
        old = theta[active]
        new = old + np.linalg.solve(info[active], score[active][..., None])[..., 0]
        ll_new, sc_new, in_new = _terms(F[:, active], Z, y, new)
        for _halving in range(30):
            worse = ~(ll_new >= loglik[active] - 1e-12 * np.abs(loglik[active]))
            if not worse.any():
                break
            new[worse] = (old[worse] + new[worse]) / 2
            ll_new[worse], sc_new[worse], in_new[worse] = _terms(F[:, active[worse]], Z, y, new[worse])
        moved = np.abs(new - old).max(axis=1)
        theta[active], loglik[active], score[active], info[active] = new, ll_new, sc_new, in_new
        iterations[active] += 1
        converged[active] = moved <= tol
    converged &= ~failed
    stderr = np.full((m, q), np.nan)
    if converged.any():
        stderr[converged] = np.sqrt(np.diagonal(np.linalg.inv(info[converged]), axis1=1, axis2=2))
    pval = 2.0 * normal_sf(np.abs(theta[:, 0] / stderr[:, 0]))
    return LogisticFit(theta, stderr, pval, converged, iterations)
