"""Confidence intervals of the indirect effect αβ.

- Delta method (Sobel's first-order SE): se(αβ) = sqrt(α² se(β)² + β² se(α)²), CI = αβ ± z_{1−a/2} se. Cheap
  for every pair, but symmetric, while the sampling distribution of a product is skewed near zero.
- Percentile bootstrap (the usual recommendation for indirect effects, e.g. MacKinnon, Lockwood & Williams 2004):
  resample rows with replacement, refit every screened pair on the resampled rows (covariate residualization and
  standardization redone, as in :func:`~osteobiome.mediation._fit.fit_pairs`), take the a/2 and 1 − a/2
  quantiles of αβ. Vectorized over pairs and resamples: a resample is a vector of row counts, so all statistics
  are weighted cross-products of the screened exposures and mediators (cost linear in their number, not in
  exposures × mediators).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from osteobiome.mediation._fit import PairFit
from osteobiome.stats.distributions import normal_isf


def delta_interval(fit: PairFit, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of αβ by the delta method, arrays shaped like ``fit.alpha``."""
    se = np.sqrt(fit.alpha**2 * fit.beta_se**2 + fit.beta**2 * fit.alpha_se**2)
    half = normal_isf((1.0 - level) / 2.0) * se
    return fit.indirect - half, fit.indirect + half


def _resample_weights(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """b × n counts of each row in b resamples of n rows with replacement."""
    idx = rng.integers(0, n, (b, n))
    return np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(float)


def bootstrap_interval(
    X: np.ndarray,
    M: np.ndarray,
    y: np.ndarray,
    C: np.ndarray,
    exposure_idx: np.ndarray,
    mediator_idx: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int | Sequence[int] = 1,
    chunk: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap (lower, upper) of αβ for the pairs (column ``exposure_idx[i]`` of X,
    ``mediator_idx[i]`` of M).

    Each resample is a vector of row counts w (b resamples at once, ``chunk`` per batch), so every statistic is a
    weighted cross-product: with U = [x, m, y], residual cross-products S_uv = uᵀWv − (CᵀWu)ᵀ(CᵀWC)⁺(CᵀWv) (the
    covariate residualization of the resampled rows), α = S_xm / S_xx, β = (S_xx S_my − S_xm S_xy) /
    (S_mm S_xx − S_xm²) and the standardized indirect effect αβ · sd(x) / sd(y) (sds of the resampled rows, n − 1)
    — the same numbers as :func:`~osteobiome.mediation._fit.fit_pairs` on the resampled rows. ``seed``: an int or
    a sequence of ints (``numpy.random.default_rng``). Resamples where a column is constant give NaN, ignored."""
    rng = np.random.default_rng(seed)
    exposures, ja = np.unique(exposure_idx, return_inverse=True)
    mediators, ka = np.unique(mediator_idx, return_inverse=True)
    n, q = C.shape
    px = exposures.size
    U = np.column_stack([X[:, exposures], M[:, mediators], y])
    U = U - U.mean(axis=0)  # numerically kinder; the intercept in C absorbs any shift
    r = U.shape[1]
    CU = (C[:, :, None] * U[:, None, :]).reshape(n, q * r)
    pair_products = U[:, ja] * U[:, px + ka]
    draws = np.empty((n_boot, exposure_idx.size))
    for start in range(0, n_boot, chunk):
        W = _resample_weights(rng, min(chunk, n_boot - start), n)
        CWC = np.einsum("bi,ij,ik->bjk", W, C, C)
        CWU = (W @ CU).reshape(-1, q, r)
        G = np.linalg.pinv(CWC) @ CWU
        S_uu = W @ U**2 - np.einsum("bqr,bqr->br", CWU, G)
        S_uy = W @ (U * U[:, -1:]) - np.einsum("bqr,bq->br", CWU, G[:, :, -1])
        S_xm = W @ pair_products - np.einsum("bqp,bqp->bp", CWU[:, :, ja], G[:, :, px + ka])
        s_xx, s_mm = S_uu[:, ja], S_uu[:, px + ka]
        s_xy, s_my = S_uy[:, ja], S_uy[:, px + ka]
        sums = W @ U
        variance = (W @ U**2 - sums**2 / n) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = S_xm / s_xx
            beta = (s_xx * s_my - S_xm * s_xy) / (s_mm * s_xx - S_xm**2)
            indirect = alpha * beta * np.sqrt(variance[:, ja] / variance[:, -1:])
        draws[start : start + W.shape[0]] = np.where(np.isfinite(indirect), indirect, np.nan)
    tail = (1.0 - level) / 2.0
    lower, upper = np.nanquantile(draws, [tail, 1.0 - tail], axis=0)
    return lower, upper
