"""Compositional correction: invariance to a common shift, calibration under the null, power, LinDA mode."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from osteobiome.stats.compositional import (
    kernel_mode,
    linda_correct,
    median_contrast,
    reference_weights,
    residual_influence,
)
from osteobiome.stats.robust import hc3_influence


def _fit(X: np.ndarray, Y: np.ndarray):
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    return beta, Y - X @ beta


def _null_data(rng: np.random.Generator, n: int = 80, m: int = 40, shift: float = 0.7):
    """Log-abundances with a shared per-sample factor and a common exposure shift: no feature is a marker."""
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    shared = rng.normal(size=(n, 1)) * 1.5
    Y = rng.normal(size=(1, m)) + shift * x[:, None] + shared + rng.normal(size=(n, m))
    return X, Y


def _se(X: np.ndarray, resid: np.ndarray, column: int = 1) -> np.ndarray:
    n, p = X.shape
    return np.sqrt(np.linalg.inv(X.T @ X)[column, column] * np.sum(resid**2, axis=0) / (n - p))


def classical_influence(X: np.ndarray, resid: np.ndarray, column: int) -> np.ndarray:
    return residual_influence(_se(X, resid, column), resid)


def test_residual_influence_gives_the_ols_covariance():
    rng = np.random.default_rng(0)
    X, Y = _null_data(rng)
    _, resid = _fit(X, Y)
    U = classical_influence(X, resid, column=1)
    expected = [sm.OLS(Y[:, j], X).fit().bse[1] for j in range(3)]
    np.testing.assert_allclose(np.sqrt(np.sum(U[:, :3] ** 2, axis=0)), expected, rtol=1e-10)
    # cross-feature covariance of the coefficients: (X'X)^-1_ee * Sigma_jl with Sigma from residuals
    v = np.linalg.inv(X.T @ X)[1, 1]
    np.testing.assert_allclose(
        U[:, 0] @ U[:, 1], v * resid[:, 0] @ resid[:, 1] / (X.shape[0] - 3), rtol=1e-10
    )


@pytest.mark.parametrize("robust", [False, True])
def test_median_contrast_is_invariant_to_a_common_exposure_shift_and_shared_factor(robust):
    rng = np.random.default_rng(1)
    X, Y = _null_data(rng)
    influence = hc3_influence if robust else classical_influence
    results = []
    for extra in (0.0, 2.5):
        Yshift = Y + extra * X[:, [1]] + extra * rng.normal(size=(X.shape[0], 1))
        beta, resid = _fit(X, Yshift)
        results.append(median_contrast(beta[1], influence(X, resid, 1), df=X.shape[0] - 3))
    a, b = results
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)
    np.testing.assert_allclose(a.stderr, b.stderr, rtol=1e-10)
    np.testing.assert_allclose(a.pval, b.pval, rtol=1e-8)


def test_linda_is_invariant_to_a_common_exposure_shift():
    rng = np.random.default_rng(2)
    X, Y = _null_data(rng)
    beta, resid = _fit(X, Y)
    se = np.sqrt(np.sum(classical_influence(X, resid, 1) ** 2, axis=0))
    a = linda_correct(beta[1], se, 77)
    b = linda_correct(beta[1] + 3.0, se, 77)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)
    np.testing.assert_allclose(a.pval, b.pval, rtol=1e-6)


def test_median_contrast_is_calibrated_under_the_null_where_the_raw_test_is_not():
    rng = np.random.default_rng(3)
    corrected, raw = [], []
    for _ in range(150):
        X, Y = _null_data(rng, shift=0.3)
        beta, resid = _fit(X, Y)
        U = classical_influence(X, resid, 1)
        corrected.append(median_contrast(beta[1], U, df=X.shape[0] - 3).pval)
        raw.append(2 * stats.t.sf(np.abs(beta[1] / np.sqrt((U**2).sum(0))), 77))
    corrected, raw = np.concatenate(corrected), np.concatenate(raw)
    assert 0.03 <= np.mean(corrected < 0.05) <= 0.065
    assert 0.03 <= np.mean(corrected < 0.01) * 5 <= 0.075
    assert np.mean(raw < 0.05) > 0.2


def test_median_contrast_finds_the_markers():
    rng = np.random.default_rng(4)
    X, Y = _null_data(rng, n=150, m=50)
    Y[:, :5] += np.array([1.0, -1.0, 1.0, -1.0, 1.0]) * X[:, [1]]
    beta, resid = _fit(X, Y)
    res = median_contrast(beta[1], classical_influence(X, resid, 1), df=147)
    assert np.all(res.pval[:5] < 1e-6)
    assert np.mean(res.pval[5:] < 0.05) < 0.15


def test_nan_features_are_ignored_and_kept_nan():
    rng = np.random.default_rng(5)
    X, Y = _null_data(rng)
    beta, resid = _fit(X, Y)
    coef = beta[1].copy()
    coef[0] = np.nan
    U = classical_influence(X, resid, 1)
    U[:, 0] = np.nan
    res = median_contrast(coef, U, df=77)
    assert np.isnan(res.pval[0]) and np.all(np.isfinite(res.pval[1:]))
    assert reference_weights(coef)[0] == 0.0


def test_kernel_mode_finds_the_main_cluster():
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.normal(0.4, 0.05, 90), rng.normal(3.0, 0.05, 10)])
    assert kernel_mode(values) == pytest.approx(0.4, abs=0.03)
    assert kernel_mode(np.ones(5)) == 1.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        reference_weights(np.arange(5.0), fraction=0.0)
    with pytest.raises(ValueError, match="at least 3"):
        median_contrast(np.array([1.0, np.nan]), np.ones((4, 2)), df=3)
