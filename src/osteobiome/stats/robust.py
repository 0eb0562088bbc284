"""Heteroscedasticity-consistent (HC3) variance for OLS coefficients, all features at once.

For one design ``X`` (n × p) shared by every feature and residuals ``R`` (n × m, features on columns), the
HC3 sandwich of MacKinnon & White (1985) for feature j is

    cov_j(beta) = B diag(r_ij^2 / (1 - h_i)^2) B',   B = (X'X)^-1 X',   h_i = [X (X'X)^-1 X']_ii,

so the standard error of coefficient k is ``sqrt(sum_i B_ki^2 r_ij^2 / (1 - h_i)^2)``: one matrix product
``(B**2) @ (R / (1 - h)[:, None])**2`` for all features. The same per-sample terms ``B_ki r_ij / (1 - h_i)``
form the influence matrix used by :mod:`osteobiome.stats.compositional` (its Gram matrix estimates the
covariance of the coefficient across features). Matches statsmodels ``OLS(...).fit(cov_type="HC3")``.
"""

from __future__ import annotations

import numpy as np


def _projector(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B = (X'X)^-1 X'`` (p × n) and the leverages ``h`` (n,) of a full-rank design."""
    X = np.asarray(X, dtype=float)
    q, r = np.linalg.qr(X)
    B = np.linalg.solve(r, q.T)
    h = np.einsum("ij,ij->i", q, q)
    if np.any(h >= 1.0 - 1e-12):
        raise ValueError("HC3 needs every leverage below 1; a sample is fitted exactly (drop it or a term)")
    return B, h


def hc3_influence(X: np.ndarray, resid: np.ndarray, column: int) -> np.ndarray:
    """Per-sample HC3 contributions ``B_ci r_ij / (1 - h_i)`` to coefficient ``column`` (n × m).

    The column sums of squares are the HC3 variances; the Gram matrix ``U'U`` estimates the covariance of
    that coefficient between features (which share the design and sampling units).
    """
    B, h = _projector(X)
    scaled = np.asarray(resid, dtype=float) / (1.0 - h)[:, None]
    return B[column][:, None] * scaled


def hc3_stderr(X: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """HC3 standard errors of every coefficient for every feature (p × m).

    ``X`` is the n × p design (full column rank, leverages < 1), ``resid`` the n × m OLS residuals.
    """
    B, h = _projector(X)
    scaled = np.asarray(resid, dtype=float) / (1.0 - h)[:, None]
    return np.sqrt((B**2) @ (scaled**2))
