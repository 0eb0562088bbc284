"""Performance measures of out-of-fold predictions: AUC with DeLong variances, R², RMSE, paired bootstrap,
calibration slope / intercept / Brier score, and net benefit for decision curves.

All functions are pure: ``y`` is the outcome (0/1 or float, length n), ``scores`` are predictions (models ×
n, or models × repeats × n for repeated cross-validation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit, logit
from scipy.stats import rankdata

EPS = 1e-6  # predicted probabilities are clipped to [EPS, 1 − EPS] before taking logits


def delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of several scores on the same samples and their DeLong covariance matrix.

    DeLong, DeLong & Clarke-Pearson (1988, Biometrics 44:837), computed with midranks as in Sun & Xu (2014,
    IEEE Signal Process. Lett. 21:1389). With m positives X and n negatives Y, the placement values are
    ``V10(X_i) = (1/n) Σ_j ψ(X_i, Y_j)`` and ``V01(Y_j) = (1/m) Σ_i ψ(X_i, Y_j)``, ψ = 1 (X > Y), ½ (tie), 0;
    ``AUC = mean V10`` and ``Cov = S10 / m + S01 / n`` (S: sample covariances of the placement values).

    Returns ``(auc, cov)`` of shapes (k,) and (k, k) for ``scores`` of shape (k, n).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positive = np.asarray(y) == 1
    pos, neg = scores[:, positive], scores[:, ~positive]
    m, n = pos.shape[1], neg.shape[1]
    ranks_all = rankdata(np.hstack([pos, neg]), axis=1)
    ranks_pos = rankdata(pos, axis=1)
    ranks_neg = rankdata(neg, axis=1)
    v10 = (ranks_all[:, :m] - ranks_pos) / n
    v01 = 1.0 - (ranks_all[:, m:] - ranks_neg) / m
    auc = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return auc, cov


def r_squared(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Out-of-sample ``R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)²`` along the last axis (ȳ of the samples scored)."""
    y = np.asarray(y, dtype=float)
    sse = ((y - predicted) ** 2).sum(axis=-1)
    sst = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    return 1.0 - sse / sst


def rmse(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Root mean squared error ``√(mean (y − ŷ)²)`` along the last axis (outcome units)."""
    return np.sqrt(((np.asarray(y, dtype=float) - predicted) ** 2).mean(axis=-1))


def auc(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """AUC (Mann–Whitney, midranks) of every row of ``predicted`` (any leading shape) against 0/1 ``y``:
    ``(Σ ranks of the m positives − m(m+1)/2) / (m n)``."""
    positive = np.asarray(y) == 1
    m, n = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(np.asarray(predicted, dtype=float), axis=-1)
    return (ranks[..., positive].sum(axis=-1) - m * (m + 1) / 2) / (m * n)


def paired_bootstrap(
    y: np.ndarray,
    scores: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    binary: bool,
) -> np.ndarray:
    """Bootstrap draws (n_boot × models) of ``metric`` averaged over repeats; ``scores``: models × repeats × n.

    The same resampled samples serve every model and repeat (paired); for a binary outcome positives and
    negatives are resampled separately (stratified), so every draw has both classes.
    """
    y = np.asarray(y)
    groups = [np.flatnonzero(y == 1), np.flatnonzero(y == 0)] if binary else [np.arange(len(y))]
    draws = np.empty((n_boot, scores.shape[0]))
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        draws[b] = metric(y[idx], scores[:, :, idx]).mean(axis=1)
    return draws


def bootstrap_p(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference being 0: ``min(1, 2 · (1 + #{d on the far side of 0}) / (B + 1))``."""
    B = len(differences)
    tail = min((differences <= 0).sum(), (differences >= 0).sum())
    return float(min(1.0, 2.0 * (1 + tail) / (B + 1)))


def calibration_binary(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """``(slope, intercept, brier)`` of predicted probabilities ``p``.

    Slope: ``b`` of the logistic model ``logit P(y=1) = a + b · logit(p)`` (1 = well spread, < 1 = too
    extreme); intercept: calibration-in-the-large, ``a`` of ``logit P(y=1) = a + logit(p)`` (0 = right on
    average); Brier: ``mean (y − p)²``.
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    lp = logit(p)
    slope = _logistic_fit(np.column_stack([np.ones_like(lp), lp]), y, np.zeros_like(lp))[1]
    intercept = _logistic_fit(np.ones((len(lp), 1)), y, lp)[0]
    return float(slope), float(intercept), float(((y - p) ** 2).mean())


def calibration_continuous(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept)``: slope of the least-squares line ``y = a + b ŷ``; intercept ``mean(y − ŷ)``."""
    y = np.asarray(y, dtype=float)
    centred = predicted - predicted.mean()
    denom = centred @ centred
    slope = float(centred @ (y - y.mean()) / denom) if denom > 0 else float("nan")
    return slope, float((y - predicted).mean())


def _logistic_fit(X: np.ndarray, y: np.ndarray, offset: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Maximum-likelihood logistic coefficients by Newton–Raphson (with an offset)."""
    beta = np.zeros(X.shape[1])
    for _ in range(iterations):
        mu = expit(offset + X @ beta)
        w = np.maximum(mu * (1 - mu), 1e-12)
        step = np.linalg.lstsq((X * w[:, None]).T @ X, X.T @ (y - mu), rcond=None)[0]
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit of treating samples with ``p ≥ t``: ``TP/n − FP/n · t / (1 − t)`` at each threshold t
    (Vickers & Elkin 2006, Med Decis Making 26:565)."""
    y = np.asarray(y) == 1
    treat = np.asarray(p)[None, :] >= thresholds[:, None]
    n = len(y)
    tp = (treat & y).sum(axis=1) / n
    fp = (treat & ~y).sum(axis=1) / n
    return tp - fp * thresholds / (1 - thresholds)
