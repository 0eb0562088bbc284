"""MaAsLin3-style two-part model, every feature at once: a logistic *prevalence* model (is the feature
present?) on all samples and a linear *abundance* model of log2 relative abundance on the samples where the
feature is present; their p-values combined into one joint p-value.

Prevalence. ``logit P(y_ij > 0) = x_i' a_j``, fitted by Newton/IRLS for all features simultaneously (the
p × p information matrices are stacked, m × p × p). Against complete separation, MaAsLin3 appends two copies
of the data with the response set to 1 and to 0, each row weighted ``k / (2n)`` (k = number of non-intercept
coefficients). Those 3n weighted rows have the same log-likelihood as the n original rows with weight
``1 + k/n`` and the fractional response ``(y + k/(2n)) / (1 + k/n)``, which is what is fitted here;
standard errors are ``sqrt(diag(I^-1))`` of that weighted fit (as R's ``glm`` reports them), Wald z tests.

Abundance. ``log2 y_ij = x_i' b_j + e_ij`` on samples with ``y_ij > 0``: per feature its own rows, stacked
as masked least squares ``b_j = (X' M_j X)^-1 X' M_j y_j``, df ``n_j - p``, classical t tests. The per-sample
HC3 contributions ``c_ji r_ij / (1 - h_ij)`` are returned for the compositional median comparison.

Joint. ``p = 1 - (1 - min(p_abundance, p_prevalence))^2`` (the Beta(1, 2) CDF of the minimum of two
independent uniforms); if one part is missing, the other part's p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

MAX_CONDITION = 1e12


@dataclass(frozen=True)
class PartFit:
    """One part for m features: ``coef``, ``stderr``, ``pval`` (p × m, NaN where not estimable)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray


@dataclass(frozen=True)
class PrevalenceFit(PartFit):
    """Prevalence part plus the per-sample score contributions ``influence`` (p × n × m):
    ``[I_j^-1 x_i]_k w (y~_ij - pi_ij)``, whose Gram matrix is the sandwich covariance across features."""

    influence: np.ndarray


@dataclass(frozen=True)
class AbundanceFit(PartFit):
    """Abundance part plus ``df`` (m,), ``n_used`` (m,), residuals (n × m, 0 where not used) and the HC3
    per-sample contributions of every coefficient ``influence`` (p × n × m)."""

    df: np.ndarray
    n_used: np.ndarray
    resid: np.ndarray
    influence: np.ndarray


def _batched_inverse(info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of a stack of p × p matrices and a mask of the well-conditioned ones (others -> NaN)."""
    good = np.linalg.cond(info) < MAX_CONDITION
    safe = np.where(good[:, None, None], info, np.eye(info.shape[1]))
    inv = np.linalg.inv(safe)
    inv[~good] = np.nan
    return inv, good


def fit_prevalence(
    present: np.ndarray, X: np.ndarray, augment: bool = True, max_iter: int = 100, tol: float = 1e-8
) -> PartFit:
    """Logistic regression of presence (n × m, bool) on the design ``X`` (n × p, with intercept column 0).

    ``augment=True``: MaAsLin3's weighted augmentation (module docstring). Features whose Newton
    iterations do not converge, or whose information matrix is singular, get NaN.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(present, dtype=float)
    n, p = X.shape
    k = p - 1 if augment else 0
    weight = 1.0 + k / n
    target = (y + k / (2 * n)) / weight
    mean = np.clip(target.mean(axis=0), 1e-6, 1 - 1e-6)
    beta = np.zeros((p, y.shape[1]))
    beta[0] = special.logit(mean)
    converged = np.zeros(y.shape[1], dtype=bool)
    for _ in range(max_iter):
        prob = special.expit(X @ beta)
        work = weight * prob * (1.0 - prob)
        info = np.einsum("ni,nm,nk->mik", X, work, X)
        score = X.T @ (weight * (target - prob))
        inv, good = _batched_inverse(info)
        step = np.einsum("mik,km->im", np.nan_to_num(inv), score)
        beta = beta + step
        converged = good & (np.max(np.abs(step), axis=0) < tol)
        if converged.all() or not np.all(np.isfinite(beta)):
            break
    prob = special.expit(X @ beta)
    info = np.einsum("ni,nm,nk->mik", X, weight * prob * (1.0 - prob), X)
    inv, good = _batched_inverse(info)
    stderr = np.sqrt(np.einsum("mii->im", inv))
    valid = converged & good
    coef = np.where(valid, beta, np.nan)
    stderr = np.where(valid, stderr, np.nan)
    pval = 2.0 * stats.norm.sf(np.abs(coef / stderr))
    contrib = np.einsum("mik,nk->imn", np.nan_to_num(inv), X)  # I_j^-1 x_i  (p × m × n)
    influence = np.transpose(contrib, (0, 2, 1)) * (weight * (target - prob))[None]
    influence[:, :, ~valid] = 0.0
    return PrevalenceFit(coef, stderr, pval, influence)


def fit_abundance(log_abundance: np.ndarray, X: np.ndarray) -> AbundanceFit:
    """OLS of ``log_abundance`` (n × m, NaN where the feature is absent) on ``X`` (n × p), per feature on its
    present samples. Features with fewer than p + 1 present samples or a singular design get NaN."""
    X = np.asarray(X, dtype=float)
    Y = np.asarray(log_abundance, dtype=float)
    used = np.isfinite(Y)
    mask = used.astype(float)
    Y0 = np.where(used, Y, 0.0)
    n, p = X.shape
    n_used = used.sum(axis=0)
    gram = np.einsum("ni,nm,nk->mik", X, mask, X)
    inv, good = _batched_inverse(gram)
    good &= n_used > p
    inv[~good] = np.nan
    beta = np.einsum("mik,km->im", inv, X.T @ Y0)
    resid = np.where(used, Y0 - X @ np.nan_to_num(beta), 0.0)
    df = (n_used - p).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = np.where(good, np.sum(resid**2, axis=0) / df, np.nan)
    stderr = np.sqrt(np.einsum("mii->im", inv) * sigma2)
    pval = 2.0 * stats.t.sf(np.abs(beta / stderr), np.where(good, df, 1.0))
    # HC3 contributions: c_j = [(X'M_jX)^-1 X' M_j]  (p × n per feature), h_ij = x_i'(X'M_jX)^-1 x_i
    contrib = np.einsum("mik,nk->imn", np.nan_to_num(inv), X) * mask.T[None]
    leverage = np.einsum("ni,imn->nm", X, contrib)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(used & (leverage < 1.0), resid / (1.0 - leverage), 0.0)
    influence = np.transpose(contrib, (0, 2, 1)) * scaled[None]
    influence[:, :, ~good] = 0.0
    return AbundanceFit(beta, stderr, pval, df, n_used, resid, influence)


def joint_pvalue(p_abundance: np.ndarray, p_prevalence: np.ndarray) -> np.ndarray:
    """``1 - (1 - min(p_a, p_p))^2``; where one of the two is NaN, the other one (NaN if both are)."""
    pa = np.asarray(p_abundance, dtype=float)
    pp = np.asarray(p_prevalence, dtype=float)
    joint = 1.0 - (1.0 - np.fmin(pa, pp)) ** 2
    return np.where(np.isnan(pa) | np.isnan(pp), np.fmin(pa, pp), joint)


def log2_nonzero(relative: np.ndarray) -> np.ndarray:
    """log2 of the relative abundances (n × m), NaN where zero (the abundance part's response)."""
    rel = np.asarray(relative, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(rel > 0, np.log2(np.where(rel > 0, rel, 1.0)), np.nan)
