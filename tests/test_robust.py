"""HC3 standard errors against statsmodels, and the influence matrix they come from."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from osteobiome.stats.robust import hc3_influence, hc3_stderr


def _heteroscedastic(seed: int = 3, n: int = 60, m: int = 7):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.gamma(2.0, size=n)])
    Y = X @ rng.normal(size=(4, m)) + rng.normal(size=(n, m)) * (0.5 + np.abs(X[:, [1]]))
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    return X, Y, Y - X @ beta


def test_hc3_matches_statsmodels():
    X, Y, resid = _heteroscedastic()
    se = hc3_stderr(X, resid)
    for j in range(Y.shape[1]):
        expected = sm.OLS(Y[:, j], X).fit(cov_type="HC3").bse
        np.testing.assert_allclose(se[:, j], expected, rtol=1e-10, atol=0)


def test_influence_gram_is_the_hc3_variance():
    X, _, resid = _heteroscedastic(seed=5)
    U = hc3_influence(X, resid, column=1)
    np.testing.assert_allclose(np.sqrt(np.sum(U**2, axis=0)), hc3_stderr(X, resid)[1], rtol=1e-12)


def test_exact_fit_sample_is_refused():
    X = np.column_stack([np.ones(5), [0, 0, 0, 0, 1.0]])
    with pytest.raises(ValueError, match="leverage"):
        hc3_stderr(X, np.zeros((5, 2)))
