"""Tests of several coefficients at once, and of contrasts, from per-feature OLS fits that share a design.

For ordinary least squares on a design ``X`` the covariance of the coefficients of feature ``f`` is
``σ²_f (X'X)⁻¹``; ``σ²_f`` follows from any coefficient's standard error, ``σ²_f = se_jf² / [(X'X)⁻¹]_jj``.
Then, vectorized over features:

- omnibus test of ``q`` columns (all levels of a factor): ``F_f = b_f' [L (X'X)⁻¹ L']⁻¹ b_f / (q σ²_f)``
  with ``b_f = L β_f``, on ``(q, df)`` degrees of freedom — R's ``anova(reduced, full)`` F test;
- contrast ``c``: estimate ``c'β_f``, standard error ``σ_f √(c'(X'X)⁻¹c)``, two-sided t test on ``df``.
"""

from __future__ import annotations

import numpy as np

from osteobiome.stats.distributions import f_sf
from osteobiome.stats.lm import t_test


def _sigma2(stderr: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``σ²_f`` per feature from the standard errors (columns × features) and ``V = (X'X)⁻¹``."""
    j = int(np.argmax(np.diag(V) > 0))
    return stderr[j] ** 2 / V[j, j]


def omnibus_f(coef: np.ndarray, stderr: np.ndarray, V: np.ndarray, L: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F statistics and p-values of ``L β = 0`` per feature.

    ``coef``/``stderr``: columns × features (the design's columns, same order as ``V``); ``V``: ``(X'X)⁻¹``;
    ``L``: q × columns; ``df``: residual degrees of freedom per feature."""
    q = L.shape[0]
    b = L @ coef
    A = np.linalg.inv(L @ V @ L.T)
    F = np.einsum("if,ij,jf->f", b, A, b) / (q * _sigma2(stderr, V))
    return F, f_sf(F, q, df)


def contrast_t(coef: np.ndarray, stderr: np.ndarray, V: np.ndarray, C: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, standard errors and two-sided p-values of each contrast row of ``C`` (contrasts × columns),
    per feature: arrays of contrasts × features."""
    estimate = C @ coef
    se = np.sqrt(np.einsum("ci,ij,cj->c", C, V, C)[:, None] * _sigma2(stderr, V)[None, :])
    return estimate, se, t_test(estimate / se, df[None, :])[0]
