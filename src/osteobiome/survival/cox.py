"""Cox proportional-hazards models, one per feature, fitted together (Efron ties, delayed entry).

Model of feature ``j``: ``h_i(t) = h0_j(t) exp(b_j f_ij + z_iᵀ g_j)``. With ``x_ij = (f_ij, z_i)``, risk set
``R_k`` and deaths ``D_k`` (``d_k`` of them) at event time ``t_k``, ``w_ij = exp(x_ijᵀ θ_j)`` and the Efron
weights ``c_r = r / d_k`` (r = 0 … d_k − 1), the log partial likelihood is

``l(θ) = Σ_k [ Σ_{i∈D_k} x_iᵀθ − Σ_r log(S0_k − c_r A0_k) ]``

with ``S0_k = Σ_{R_k} w`` and ``A0_k = Σ_{D_k} w`` (S1/A1, S2/A2 the same sums of ``w x`` and ``w x xᵀ``); the
score is ``Σ_k [Σ_{D_k} x − Σ_r M1_kr]`` and the information ``Σ_k Σ_r (M2_kr − M1_kr M1_krᵀ)`` with
``M_kr = (S_k − c_r A_k) / (S0_k − c_r A0_k)`` (R's ``coxph(ties = "efron")``; Breslow when no ties).
Every feature shares the risk sets, so one cumulative sum per Newton step serves all features
(:mod:`osteobiome.survival._risksets`); Newton–Raphson with step halving when the likelihood falls, as
``coxph``, from b = 0 and the covariates-only estimate of g, iterated until the largest step is below ``tol``.

Three tests of b = 0 per feature (each χ² with 1 df): Wald ``(b̂ / se)²``; likelihood ratio
``2 (l(b̂, ĝ) − l(0, ĝ₀))`` against the covariates-only fit ``ĝ₀``; score ``Uᵀ I⁻¹ U`` at ``(0, ĝ₀)`` (R:
``coxph(..., init = c(0, coef(reduced)))$score`` and ``2 * diff(fit$loglik)`` of that fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osteobiome.stats.distributions import chi2_sf, normal_sf
from osteobiome.survival._moments import n_products, unpack, weighted_products
from osteobiome.survival._risksets import RiskSets, risk_sets

#: Tests of the exposure's coefficient (:meth:`CoxFit.test_pval`).
TESTS = ("wald", "lr", "score")
#: Doubles of the stacked products per block of features (n × T × block, 64 MB); sets the block size.
BLOCK_VALUES = 2**23


@dataclass(frozen=True)
class CoxFit:
    """Per-feature Cox fits (features on the first axis).

    ``coef`` / ``stderr`` (m, q): log hazard ratios (exposure first, then the covariates) and their standard
    errors from the inverse information; ``pval`` (m,) Wald p of the exposure; ``loglik`` (m,);
    ``converged`` (m,) bool; ``iterations`` (m,); ``information`` (m, q, q); ``score_by_time`` (K, m) the
    exposure's score contribution of each event time and ``information_by_time`` (K, m, q) the information
    contributions' exposure column, at the estimate (for :func:`osteobiome.survival.zph.cox_zph`);
    ``risk`` the shared :class:`RiskSets`; ``lr_chisq`` / ``score_chisq`` (m,) the likelihood-ratio and score
    statistics of b = 0 against the covariates-only fit (NaN where a fit failed)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray
    loglik: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    information: np.ndarray
    score_by_time: np.ndarray
    information_by_time: np.ndarray
    risk: RiskSets
    lr_chisq: np.ndarray
    score_chisq: np.ndarray

    def test_pval(self, test: str) -> np.ndarray:
        """(m,) p-values of b = 0 by ``test``: ``wald`` (``pval``), ``lr`` or ``score`` (χ², 1 df)."""
        if test == "wald":
            return self.pval
        if test == "lr":
            return chi2_sf(self.lr_chisq, 1)
        if test == "score":
            return chi2_sf(self.score_chisq, 1)
        raise ValueError(f"test {test!r} is not one of {TESTS}")


def _terms(F: np.ndarray, Z: np.ndarray, theta: np.ndarray, risk: RiskSets):  # noqa: ANN202
    """Log-likelihood (m,), score (m, q), information (m, q, q) at ``theta`` (m, q), and the exposure's
    per-event-time score (K, m) and information column (K, m, q)."""
    q = theta.shape[1]
    eta = F * theta[:, 0] + Z @ theta[:, 1:].T
    eta -= eta.max(axis=0)  # l, U and I do not change when a feature's η shifts by a constant
    P = weighted_products(np.exp(eta), F, Z)
    S0, S1, S2 = unpack(risk.sums(P), q)
    A0, A1, A2 = unpack(risk.death_sums(P), q)
    loglik = risk.death_sums(eta)
    score = np.empty(S1.shape)
    score[:, :, 0] = risk.death_sums(F)
    score[:, :, 1:] = risk.death_sums(Z)[:, None, :]
    info = np.zeros(S2.shape)
    d = risk.deaths
    for r in range(int(d.max())):
        sel = np.flatnonzero(d > r)
        c = (r / d[sel])[:, None]
        den = S0[sel] - c * A0[sel]
        M1 = (S1[sel] - c[..., None] * A1[sel]) / den[..., None]
        M2 = (S2[sel] - c[..., None, None] * A2[sel]) / den[..., None, None]
        loglik[sel] -= np.log(den)
        score[sel] -= M1
        info[sel] += M2 - M1[..., :, None] * M1[..., None, :]
    return loglik.sum(axis=0), score.sum(axis=0), info.sum(axis=0), score[:, :, 0], info[:, :, :, 0]


def _solvable(info: np.ndarray) -> np.ndarray:
    """Features whose information matrix is positive definite (relative to its largest eigenvalue)."""
    eig = np.linalg.eigvalsh(info)
    return np.isfinite(eig).all(axis=1) & (eig[:, 0] > 1e-10 * np.maximum(eig[:, -1], 1e-300))


def _put(state: list[np.ndarray], features: np.ndarray, values: tuple[np.ndarray, ...]) -> None:
    """Write the :func:`_terms` ``values`` of some ``features`` into ``state`` (the last two are time-first)."""
    for i, (part, value) in enumerate(zip(state, values, strict=True)):
        if i < 3:
            part[features] = value
        else:
            part[:, features] = value


def _fit_block(F: np.ndarray, Z: np.ndarray, risk: RiskSets, max_iter: int, tol: float, start: np.ndarray):  # noqa: ANN202
    """Newton–Raphson for the features of ``F`` from θ = (0, ``start``); returns θ, the :func:`_terms` at θ,
    converged, iterations and the log-likelihood, score and information at the start."""
    m, q = F.shape[1], Z.shape[1] + 1
    theta = np.zeros((m, q))
    theta[:, 1:] = start
    state = list(_terms(F, Z, theta, risk))  # loglik, score, info, score by time, info by time
    initial = tuple(part.copy() for part in state[:3])
    converged = np.zeros(m, bool)
    failed = np.zeros(m, bool)
    iterations = np.zeros(m, int)
    for _ in range(max_iter):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        ok = _solvable(state[2][active])
        failed[active[~ok]] = True
        active = active[ok]
        if active.size == 0:
            break
        loglik, score, info = (part[active] for part in state[:3])
        old = theta[active]
        new = old + np.linalg.solve(info, score[..., None])[..., 0]
        Fa = F[:, active]
        trial = list(_terms(Fa, Z, new, risk))
        for _halving in range(30):  # coxph: back off half way while the likelihood falls
            worse = np.flatnonzero(~(trial[0] >= loglik - 1e-12 * np.abs(loglik)))
            if worse.size == 0:
                break
            new[worse] = (old[worse] + new[worse]) / 2
            _put(trial, worse, _terms(Fa[:, worse], Z, new[worse], risk))
        theta[active] = new
        _put(state, active, trial)
        iterations[active] += 1
        converged[active] = np.abs(new - old).max(axis=1) <= tol
    return theta, state, converged & ~failed, iterations, initial


def _covariates_only(Z: np.ndarray, risk: RiskSets, max_iter: int, tol: float) -> tuple[np.ndarray, bool]:
    """The covariates' coefficients without an exposure (the features' starting point and the null model of the
    score and likelihood-ratio tests) and whether that fit converged (zeros when it did not)."""
    p = Z.shape[1]
    if p == 0:
        return np.zeros(0), True
    theta, _, converged, _, _ = _fit_block(Z[:, :1], Z[:, 1:], risk, max_iter, tol, np.zeros(p - 1))
    return (theta[0], True) if converged[0] else (np.zeros(p), False)


def _score_statistic(score: np.ndarray, info: np.ndarray) -> np.ndarray:
    """``Uᵀ I⁻¹ U`` per feature (NaN where ``I`` is not positive definite)."""
    out = np.full(score.shape[0], np.nan)
    ok = _solvable(info)
    if ok.any():
        out[ok] = np.einsum("mq,mq->m", score[ok], np.linalg.solve(info[ok], score[ok][..., None])[..., 0])
    return out


def fit_cox(
    time: np.ndarray,
    event: np.ndarray,
    F: np.ndarray,
    Z: np.ndarray | None = None,
    entry: np.ndarray | None = None,
    max_iter: int = 30,
    tol: float = 1e-9,
) -> CoxFit:
    """Fit ``h(t) = h0(t) exp(b f_j + zᵀg)`` for every column ``f_j`` of ``F`` (n, m), Efron ties.

    ``time``: event or censoring time (n,); ``event``: 1/True if the event happened at ``time``; ``Z``: (n, p)
    covariates shared by every model (no intercept); ``entry``: delayed-entry times (at risk on
    ``(entry, time]``, R's ``Surv(entry, time, event)``); ``tol``: convergence when no coefficient moves by more
    than this in a Newton step (at most ``max_iter`` steps). A feature whose information is
    singular or that has not converged gets NaN standard errors and p-values (``converged`` False).
    """
    F = np.asarray(F, dtype=float)
    n, m = F.shape
    Z = np.zeros((n, 0)) if Z is None else np.asarray(Z, dtype=float)
    risk = risk_sets(time, event, entry)
    Fc, Zc = F - F.mean(axis=0), Z - Z.mean(axis=0)  # centring: same estimates, better conditioning
    q = Z.shape[1] + 1
    coef = np.full((m, q), np.nan)
    loglik, converged, iterations = np.full(m, np.nan), np.zeros(m, bool), np.zeros(m, int)
    info = np.full((m, q, q), np.nan)
    K = risk.times.size
    score_by_time, info_by_time = np.full((K, m), np.nan), np.full((K, m, q), np.nan)
    start, null_fitted = _covariates_only(Zc, risk, max_iter, tol)
    lr_chisq, score_chisq = np.full(m, np.nan), np.full(m, np.nan)
    block = max(1, BLOCK_VALUES // (n * n_products(q)))
    for first in range(0, m, block):
        cols = slice(first, min(first + block, m))
        theta, state, conv, its, (loglik0, score0, info0) = _fit_block(Fc[:, cols], Zc, risk, max_iter, tol, start)
        coef[cols], converged[cols], iterations[cols] = theta, conv, its
        loglik[cols], _, info[cols], score_by_time[:, cols], info_by_time[:, cols] = state
        if null_fitted:
            lr_chisq[cols] = np.where(conv, np.maximum(2.0 * (state[0] - loglik0), 0.0), np.nan)
            score_chisq[cols] = _score_statistic(score0, info0)
    stderr = np.full((m, q), np.nan)
    if converged.any():
        stderr[converged] = np.sqrt(np.diagonal(np.linalg.inv(info[converged]), axis1=1, axis2=2))
    pval = 2.0 * normal_sf(np.abs(coef[:, 0] / stderr[:, 0]))
    return CoxFit(
        coef, stderr, pval, loglik, converged, iterations, info, score_by_time, info_by_time, risk, lr_chisq, score_chisq
    )
