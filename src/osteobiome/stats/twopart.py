"""MaAsLin3-style two-part model, every feature at once: a logistic *prevalence* model (is the feature
present?) on all samples and a linear *abundance* model of log2 relative abundance on the samples where the
feature is present; their p-values combined into one joint p-value.

Prevalence. ``logit P(y_ij > 0) = x_i' a_j``, fitted by Newton/IRLS for all features simultaneously (the
p × p information matrices are stacked, m × p × p). Against complete separation, MaAsLin3 appends two copies
of the data with the response set to 1 and to 0, each row weighted ``k / (2n)`` (k = number of non-intercept
coefficients). Those 3n weighted rows have the same log-likelihood as the n original rows with weight
``1 + k/n`` and the fractional response ``(y + k/(2n)) / (1 + k/n)``, which is what is fitted here;
standard errors are ``sqrt(diag(I^-1))`` of that weighted fit (as R's ``glm`` reports them), Wald z tests.
A feature present in every sample (or in none) has no prevalence model: augmentation would make its
coefficients estimable (all 0, p = 1) although the data hold no information on them, and the joint p-value
below would then double the abundance p-value for nothing. As MaAsLin3 (``length(unique(expr)) < 2`` -> NA,
joint p-value = the other part's), its prevalence part is NaN.

Abundance. ``log2 y_ij = x_i' b_j + e_ij`` on samples with ``y_ij > 0``: per feature its own rows, stacked
as masked least squares ``b_j = (X' M_j X)^-1 X' M_j y_j``, df ``n_j - p``, classical t tests. The residuals
(and on request the per-sample HC3 contributions ``c_ji r_ij / (1 - h_ij)``) feed the compositional median
comparison. All stacked Gram matrices ``X' diag(w_j) X`` come from one BLAS product ``(x_i x_i')' W``.

Joint (:func:`joint_pvalue`). The default rule (``"cauchy"``) is a presence-weighted Cauchy combination
(Liu & Xie 2020): ``T = w tan((1/2 - p_abundance)π) + (1 - w) tan((1/2 - p_prevalence)π)``,
``p = 1/2 - arctan(T)/π``, with ``w = 1 / (2 - π_j)`` from the fraction ``π_j`` of samples where the feature is
present, so a feature present almost everywhere is tested on its abundance. MaAsLin3's rule (``"beta"``):
``p = 1 - (1 - min(p_abundance, p_prevalence))^2`` (the Beta(1, 2) CDF of the minimum of two independent
uniforms). With either rule, if one part is missing, the other part's p-value. :func:`log_joint_pvalue` gives
its log where it underflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from osteobiome.stats.lm import t_test

MAX_CONDITION = 1e12
#: The prevalence fit copies the columns still iterating once fewer than this share of them is left.
COMPACT = 0.75


@dataclass(frozen=True)
class PartFit:
    """One part for m features: ``coef``, ``stderr``, ``pval`` and its natural log ``log_pval`` (finite where
    ``pval`` underflows) (p × m, NaN where not estimable)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray
    log_pval: np.ndarray


@dataclass(frozen=True)
class PrevalenceFit(PartFit):
    """Prevalence part plus the per-sample score contributions ``influence`` (p × n × m, or None if not
    asked for): ``[I_j^-1 x_i]_k w (y~_ij - pi_ij)``, whose Gram matrix is the sandwich covariance."""

    influence: np.ndarray | None


@dataclass(frozen=True)
class AbundanceFit(PartFit):
    """Abundance part plus ``df`` (m,), ``n_used`` (m,), residuals (n × m, 0 where not used) and the HC3
    per-sample contributions of every coefficient ``influence`` (p × n × m; None unless asked for)."""

    df: np.ndarray
    n_used: np.ndarray
    resid: np.ndarray
    influence: np.ndarray | None


def _batched_inverse(info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of a stack of p × p matrices and a mask of the well-conditioned ones (2-norm condition number
    below :data:`MAX_CONDITION`; others -> NaN).

    The condition number is bracketed cheaply first: with ``κ_F = ‖A‖_F ‖A⁻¹‖_F``, ``κ_2 <= κ_F <= p κ_2``, so
    a matrix with ``κ_F`` below half the limit is well conditioned and one with ``κ_F / p`` above twice the limit
    is not (the factor 2 covers the rounding of ``A⁻¹`` near the limit); only the matrices in between get
    ``numpy.linalg.cond`` (an SVD)."""
    p = info.shape[1]
    try:
        inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:  # an exactly singular matrix in the stack: invert the good ones only
        good = np.linalg.cond(info) < MAX_CONDITION
        inv = np.linalg.inv(np.where(good[:, None, None], info, np.eye(p)))
        inv[~good] = np.nan
        return inv, good
    with np.errstate(over="ignore", invalid="ignore"):
        frobenius = np.sqrt(np.einsum("mij,mij->m", info, info) * np.einsum("mij,mij->m", inv, inv))
    good = frobenius < MAX_CONDITION / 2
    unsure = ~good & ~(frobenius > 2 * p * MAX_CONDITION)  # also NaN
    if unsure.any():
        good[unsure] = np.linalg.cond(info[unsure]) < MAX_CONDITION
    inv[~good] = np.nan
    return inv, good


def _outer_rows(X: np.ndarray) -> np.ndarray:
    """Row-wise outer products ``x_i x_i'`` flattened (n × p²): ``gram_j = reshape(XX' w_j)`` is one BLAS call."""
    return (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)


def _grams(outer: np.ndarray, weights: np.ndarray, p: int) -> np.ndarray:
    """``X' diag(w_j) X`` for every column ``w_j`` of ``weights`` (m × p × p)."""
    return (outer.T @ weights).T.reshape(weights.shape[1], p, p)


def _solve(info: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``info_j^-1 rhs_j`` for a stack (m × p × p, p × m -> p × m); singular systems give NaN."""
    try:
        return np.linalg.solve(info, rhs.T[:, :, None])[:, :, 0].T
    except np.linalg.LinAlgError:
        inv, _ = _batched_inverse(info)
        return np.einsum("mik,km->im", inv, rhs)


def _expit(eta: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-eta))`` in place (numpy's vectorized exp; within an ulp of ``scipy.special.expit``)."""
    with np.errstate(over="ignore"):
        np.negative(eta, out=eta)
        np.exp(eta, out=eta)
    eta += 1.0
    return np.reciprocal(eta, out=eta)


def _newton_arrays(X: np.ndarray, beta: np.ndarray, buffers: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Fitted probabilities ``π = expit(X β)`` and ``π (1 − π)`` (n × a) in the two flat ``buffers``."""
    n, a = X.shape[0], beta.shape[1]
    prob = _expit(np.matmul(X, beta, out=buffers[0][: n * a].reshape(n, a)))
    irls = np.subtract(1.0, prob, out=buffers[1][: n * a].reshape(n, a))
    irls *= prob
    return prob, irls


def fit_prevalence(
    present: np.ndarray,
    X: np.ndarray,
    augment: bool = True,
    max_iter: int = 100,
    tol: float = 1e-8,
    influence: bool = False,
) -> PrevalenceFit:
    """Logistic regression of presence (n × m, bool) on the design ``X`` (n × p, with intercept column 0).

    ``augment=True``: MaAsLin3's weighted augmentation (module docstring). Newton's method from the
    intercept-only fit, ``β ← β + I⁻¹ X'w(y~ − π)`` with ``I = X' diag(w π (1 − π)) X``, until the largest step is
    below ``tol``; the first step, where ``π`` is constant per feature, uses the one shared ``X'X``, and later
    steps are taken only for the features not yet converged (their m × p × p information matrices solved as
    one stack). Features present in all samples or in none, whose iterations do not converge, or whose
    information matrix is singular, get NaN. ``influence=True`` also returns the per-sample score contributions.
    """
    X = np.asarray(X, dtype=float)
    present = np.asarray(present, dtype=bool)
    n, p = X.shape
    m = present.shape[1]
    outer = _outer_rows(X)
    k = p - 1 if augment else 0
    weight = 1.0 + k / n
    target = np.where(present, (1.0 + k / (2 * n)) / weight, (0.0 + k / (2 * n)) / weight)  # (y + k/2n) / weight
    beta = np.zeros((p, m))
    beta[0] = special.logit(np.clip(target.mean(axis=0), 1e-6, 1 - 1e-6))
    start = special.expit(beta[0])
    try:
        step = np.linalg.solve(X.T @ X, X.T @ target - np.outer(X.sum(axis=0), start)) / (start * (1.0 - start))
    except np.linalg.LinAlgError:  # a singular design: no feature can be fitted
        step = np.full((p, m), np.nan)
    buffers = (np.empty(n * m), np.empty(n * m))
    converged = np.zeros(m, dtype=bool)
    # ``b``, ``tgt``: the columns ``active`` of beta and target; ``live``: those still iterating (the others ride
    # along with a zero step until enough have stopped to make copying the rest worth it)
    active, b, tgt, live = np.arange(m), beta, target, np.ones(m, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for iteration in range(max_iter):
            if iteration:
                prob, irls = _newton_arrays(X, b, buffers)
                resid = np.subtract(tgt, prob, out=prob)
                step = _solve(_grams(outer, irls, p), X.T @ resid)  # the weight w cancels in I⁻¹ X'w(y~ − π)
                step[:, ~live] = 0.0
            b += step
            beta[:, active] = b
            done = live & (np.max(np.abs(step), axis=0) < tol)
            converged[active[done]] = True
            live &= ~done & np.all(np.isfinite(step), axis=0)
            if not live.any():
                break
            if live.sum() < COMPACT * live.size:
                active, b, tgt, live = active[live], b[:, live], tgt[:, live], live[live]
    with np.errstate(over="ignore", invalid="ignore"):
        prob, irls = _newton_arrays(X, np.nan_to_num(beta), buffers)
    inv, good = _batched_inverse(weight * _grams(outer, irls, p))
    varies = np.any(present != present[:1], axis=0)
    valid = varies & converged & good & np.all(np.isfinite(beta), axis=0)
    coef = np.where(valid, beta, np.nan)
    stderr = np.where(valid, np.sqrt(np.einsum("mii->im", inv)), np.nan)
    pval, log_pval = t_test(coef / stderr, np.inf)  # Wald z tests
    contributions = None
    if influence:
        contrib = np.matmul(np.nan_to_num(inv), X.T)  # I_j^-1 x_i  (m × p × n)
        contributions = np.transpose(contrib, (1, 2, 0)) * (weight * (target - prob))[None]
        contributions[:, :, ~valid] = 0.0
    return PrevalenceFit(coef, stderr, pval, log_pval, contributions)


def fit_abundance(log_abundance: np.ndarray, X: np.ndarray, influence: bool = False) -> AbundanceFit:
    """OLS of ``log_abundance`` (n × m, NaN where the feature is absent) on ``X`` (n × p), per feature on its
    present samples. Features with fewer than p + 1 present samples or a singular design get NaN.
    ``influence=True`` also returns the HC3 per-sample contributions."""
    X = np.asarray(X, dtype=float)
    Y = np.asarray(log_abundance, dtype=float)
    used = np.isfinite(Y)
    mask = used.astype(float)
    Y0 = np.where(used, Y, 0.0)
    n, p = X.shape
    n_used = used.sum(axis=0)
    inv, good = _batched_inverse(_grams(_outer_rows(X), mask, p))
    good &= n_used > p
    inv[~good] = np.nan
    beta = np.einsum("mik,km->im", inv, X.T @ Y0)
    resid = np.matmul(X, np.nan_to_num(beta), out=np.empty(Y0.shape, order="F" if Y0.flags.f_contiguous else "C"))
    np.subtract(Y0, resid, out=resid)
    resid *= mask  # 0 where the feature is absent (Y0 − Xβ is finite)
    df = np.where(good, n_used - p, np.nan)  # no residual df where the feature is not fitted
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = np.where(good, np.einsum("ij,ij->j", resid, resid) / df, np.nan)
    stderr = np.sqrt(np.einsum("mii->im", inv) * sigma2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pval, log_pval = t_test(beta / stderr, np.where(good, df, 1.0))
    contributions = None
    if influence:
        # HC3: c_j = (X'M_jX)^-1 X' M_j (p × n per feature), h_ij = x_i'(X'M_jX)^-1 x_i
        contrib = np.transpose(np.matmul(np.nan_to_num(inv), X.T), (1, 2, 0)) * mask[None]  # p × n × m
        leverage = np.einsum("ni,inm->nm", X, contrib)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(used & (leverage < 1.0), resid / (1.0 - leverage), 0.0)
        contributions = contrib * scaled[None]
        contributions[:, :, ~good] = 0.0
    return AbundanceFit(beta, stderr, pval, log_pval, df, n_used, resid, contributions)


def joint_pvalue(
    p_abundance: np.ndarray, p_prevalence: np.ndarray, rule: str = "beta", present: np.ndarray | None = None
) -> np.ndarray:
    """Joint p-value of the two parts; where one of the two is NaN, the other one (NaN if both are).

    ``rule="beta"``: ``1 - (1 - min(p_a, p_p))^2 = min (2 - min)`` (MaAsLin3). ``rule="cauchy"``: the weighted Cauchy
    combination (Liu & Xie 2020, ACAT) ``T = w tan((1/2 - p_a)π) + (1 - w) tan((1/2 - p_p)π)``,
    ``p = 1/2 - arctan(T)/π``, with ``w = 1 / (2 - π_j)`` from the fraction ``present`` of samples where the
    feature is present (its abundance part rests on π_j of the samples, its presence part on the binomial
    variance π_j (1 - π_j)): a feature present almost everywhere is tested on its abundance, with no
    doubling of its p-value. The weights depend on presence, not on the tested variable."""
    pa = np.asarray(p_abundance, dtype=float)
    pp = np.asarray(p_prevalence, dtype=float)
    if rule == "beta":
        low = np.fmin(pa, pp)
        joint = low * (2.0 - low)  # = 1 - (1 - low)^2 without cancellation (not 0 below 1e-16)
    else:
        weight = 1.0 / (2.0 - np.clip(np.asarray(present, dtype=float), 0.0, 1.0))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            stat = weight * _cauchy(pa) + (1.0 - weight) * _cauchy(pp)
            joint = np.where(stat > 0, np.arctan(1.0 / stat) / np.pi, 0.5 + np.arctan(-stat) / np.pi)
    return np.where(np.isnan(pa) | np.isnan(pp), np.fmin(pa, pp), joint)


def log_joint_pvalue(
    log_abundance: np.ndarray,
    log_prevalence: np.ndarray,
    rule: str = "beta",
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Natural log of :func:`joint_pvalue` from the two parts' log p-values, finite where the p-values underflow.

    ``rule="beta"``: ``log min + log(2 - min)``. ``rule="cauchy"``: ``log p`` from :func:`joint_pvalue` where
    ``p > 1e-8``; below, ``arctan(1/T)/π = 1/(πT)`` to relative order ``T^-2`` and, with
    ``tan((1/2 - p)π) = g(p) / (pπ)``, ``g(p) = pπ cot(pπ)`` (1 for ``p < 1e-8``),
    ``log p = -log(w g_a e^{-l_a} + (1 - w) g_p e^{-l_p})`` summed after factoring out ``max(-l_a, -l_p)``.
    Where one part is NaN, the other part's log (NaN if both are)."""
    la = np.asarray(log_abundance, dtype=float)
    lp = np.asarray(log_prevalence, dtype=float)
    if rule == "beta":
        low = np.fmin(la, lp)
        joint = low + np.log(2.0 - np.exp(low))
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pa, pp = np.exp(la), np.exp(lp)
            joint = np.log(joint_pvalue(pa, pp, rule, present))
            weight = 1.0 / (2.0 - np.clip(np.asarray(present, dtype=float), 0.0, 1.0))
            top = np.fmax(-la, -lp)
            scaled = weight * _cot_scale(pa) * np.exp(-la - top) + (1.0 - weight) * _cot_scale(pp) * np.exp(-lp - top)
            tail = (joint < np.log(1e-8)) & np.isfinite(scaled)
            joint = np.where(tail, -top - np.log(scaled), joint)
    return np.where(np.isnan(la) | np.isnan(lp), np.fmin(la, lp), joint)


def _cot_scale(p: np.ndarray) -> np.ndarray:
    """``g(p) = pπ cot(pπ)`` (1 below p = 1e-8, where ``1 - g < 1e-15``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p < 1e-8, 1.0, p * np.pi / np.tan(p * np.pi))


def _cauchy(p: np.ndarray) -> np.ndarray:
    """tan((1/2 - p)π) = 1 / tan(pπ), accurate for tiny p."""
    return 1.0 / np.tan(np.clip(p, 1e-300, 1.0) * np.pi)


def log2_nonzero(relative: np.ndarray) -> np.ndarray:
    """log2 of the relative abundances (n × m), NaN where zero (the abundance part's response)."""
    rel = np.asarray(relative, dtype=float)
    out = np.where(rel > 0, rel, np.nan)
    with np.errstate(invalid="ignore"):
        return np.log2(out, out=out)
