"""Confidence intervals of the indirect effect αβ.

- Delta method (Sobel's first-order SE): se(αβ) = sqrt(α² se(β)² + β² se(α)²), CI = αβ ± z_{1−a/2} se. Cheap
  for every pair, but symmetric, while the sampling distribution of a product is skewed near zero.
- Percentile bootstrap (the usual recommendation for indirect effects, e.g. MacKinnon, Lockwood & Williams 2004):
  resample rows with replacement, refit every screened pair on the resampled rows (covariate residualization and
  standardization redone, as in :func:`~osteobiome.mediation._fit.fit_pairs`), take the a/2 and 1 − a/2
  quantiles of αβ. Vectorized over pairs: one :func:`fit_pairs` per replicate covers the screened exposures ×
  screened mediators.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from osteobiome.mediation._fit import PairFit, fit_pairs


def delta_interval(fit: PairFit, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of αβ by the delta method, arrays shaped like ``fit.alpha``."""
    se = np.sqrt(fit.alpha**2 * fit.beta_se**2 + fit.beta**2 * fit.alpha_se**2)
    half = norm.isf((1.0 - level) / 2.0) * se
    return fit.indirect - half, fit.indirect + half


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
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap (lower, upper) of αβ for the pairs (column ``exposure_idx[i]`` of X, ``mediator_idx[i]`` of M).

    ``seed``: an int or a sequence of ints (``numpy.random.default_rng`` seed). Replicates where a resampled column is constant give NaN and are ignored for that pair."""
    rng = np.random.default_rng(seed)
    exposures, exposure_at = np.unique(exposure_idx, return_inverse=True)
    mediators, mediator_at = np.unique(mediator_idx, return_inverse=True)
    Xs, Ms = X[:, exposures], M[:, mediators]
    n = X.shape[0]
    draws = np.empty((n_boot, exposure_idx.size))
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        draws[b] = fit_pairs(Xs[idx], Ms[idx], y[idx], C[idx]).indirect[exposure_at, mediator_at]
    tail = (1.0 - level) / 2.0
    lower, upper = np.nanquantile(draws, [tail, 1.0 - tail], axis=0)
    return lower, upper
