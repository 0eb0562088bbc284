import numpy as np
import statsmodels.api as sm

from osteobiome.stats.lm import fit_lm, missing_patterns


def test_matches_statsmodels_with_missing_values():
    rng = np.random.default_rng(3)
    n = 80
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    Y = X @ rng.normal(size=(3, 5)) + rng.normal(size=(n, 5))
    Y[[1, 5], 1] = np.nan
    Y[[7], 3] = np.nan
    result = fit_lm(Y, X)
    for j in range(5):
        rows = ~np.isnan(Y[:, j])
        ref = sm.OLS(Y[rows, j], X[rows]).fit()
        np.testing.assert_allclose(result.coef[:, j], ref.params, rtol=1e-10)
        np.testing.assert_allclose(result.stderr[:, j], ref.bse, rtol=1e-10)
        np.testing.assert_allclose(result.pval[:, j], ref.pvalues, rtol=1e-8)
        assert result.n_used[j] == rows.sum() and result.df[j] == rows.sum() - 3


def test_tail_p_values_are_not_floored():
    n = 200
    x = np.linspace(-1, 1, n)
    y = 5 * x + 1e-3 * np.sin(np.arange(n))
    result = fit_lm(y, np.column_stack([np.ones(n), x]))
    assert result.pval[1, 0] == 0.0 or result.pval[1, 0] < 1e-300
    assert np.isfinite(result.log_pval[1, 0]) and result.log_pval[1, 0] < -1000


def test_log_p_value_continues_the_survival_function():
    from scipy.stats import t as t_dist

    from osteobiome.stats.lm import t_test

    tvals = np.array([5.0, 30.0, 37.0])
    df = np.array([10.0, 200.0, 1500.0])
    pval, log_pval = t_test(tvals, df)
    np.testing.assert_allclose(log_pval, np.log(2 * t_dist.sf(tvals, df)), rtol=1e-10)
    # far beyond double range, the log-space formula matches the asymptotic tail of the t density
    p_big, log_big = t_test(np.array([200.0]), np.array([1500.0]))
    assert p_big[0] == 0.0 and np.isfinite(log_big[0])
    tail = np.log(2) + t_dist.logpdf(200.0, 1500.0) + np.log((1500 + 200.0**2) / (200.0 * 1499))
    np.testing.assert_allclose(log_big, tail, rtol=1e-4)


def test_missing_patterns_group_columns_by_their_observed_rows():
    missing = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=bool)
    groups = {tuple(cols): rows.tolist() for rows, cols in missing_patterns(missing)}
    assert groups == {(0, 2): [False, True, True], (1,): [True, True, False], (3,): [True, True, True]}
