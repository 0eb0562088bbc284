"""osteobiome.meta.pool: edge cases, vectorization, convergence control, helpers and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from osteobiome.errors import InputError
from osteobiome.meta import METHODS, pool
from osteobiome.meta._rootfind import brent_zeroin

RNG = np.random.default_rng(4)


def _data(n=200, k=5, seed=1):
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.05, 0.5, (n, k))
    y = rng.normal(0.2, 0.3, (n, 1)) + rng.normal(0, se) + rng.normal(0, rng.uniform(0, 0.3, (n, 1)), (n, k))
    return y, se


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ["z", "knha"])
def test_vectorized_equals_one_feature_at_a_time(method, test):
    y, se = _data(n=30)
    se[3, 1] = np.nan
    y[7, [0, 2]] = np.nan
    whole = pool(y, se, method, test).to_frame()
    single = [pool(y[i], se[i], method, test).to_frame().iloc[0] for i in range(len(y))]
    for column in ("coef", "stderr", "pval", "tau2", "se.tau2", "QEp", "I2"):
        np.testing.assert_allclose(whole[column], [r[column] for r in single], rtol=1e-12, err_msg=column)


def test_fixed_effect_is_inverse_variance_mean():
    y, se = _data(n=5)
    res = pool(y, se, "FE")
    w = 1 / se**2
    np.testing.assert_allclose(res.coef, (w * y).sum(1) / w.sum(1))
    np.testing.assert_allclose(res.stderr, 1 / np.sqrt(w.sum(1)))
    np.testing.assert_allclose(res.weights.sum(1), 100)
    assert np.all(res.tau2 == 0) and np.all(np.isnan(res.se_tau2))


def test_random_effects_methods_agree_with_scalar_formulas():
    y, se = _data(n=1, k=6)
    y, v = y[0], se[0] ** 2
    k, w = len(y), 1 / v
    q = np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)
    dl = max(0.0, (q - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    np.testing.assert_allclose(pool(y, np.sqrt(v), "DL").tau2, dl, rtol=1e-12)
    he = max(0.0, (np.sum((y - y.mean()) ** 2) - v.sum() * (k - 1) / k) / (k - 1))
    np.testing.assert_allclose(pool(y, np.sqrt(v), "HE").tau2, he, rtol=1e-12)

    def reml_loglik(t):
        wt = 1 / (v + t)
        mu = np.sum(wt * y) / wt.sum()
        return -0.5 * (np.sum(np.log(v + t)) + np.log(wt.sum()) + np.sum(wt * (y - mu) ** 2))

    best = optimize.minimize_scalar(
        lambda t: -reml_loglik(t), bounds=(0, 10), method="bounded", options={"xatol": 1e-12}
    )
    np.testing.assert_allclose(pool(y, np.sqrt(v), "REML").tau2, max(best.x, 0), rtol=1e-5, atol=1e-9)


def test_two_cohorts_and_identical_estimates_give_zero_tau2():
    y = np.array([[0.3, 0.3], [0.1, 0.1000001], [0.2, 0.2]])
    se = np.array([[0.1, 0.2], [0.1, 0.1], [0.05, 0.5]])
    for method in METHODS:
        res = pool(y, se, method)
        np.testing.assert_array_equal(res.k, 2)
        np.testing.assert_allclose(res.tau2, 0, atol=1e-12, err_msg=method)
        np.testing.assert_allclose(res.I2, 0, atol=1e-8, err_msg=method)
    knha = pool(np.full((1, 4), 0.5), np.full((1, 4), 0.1), "REML", "knha")
    assert knha.stderr[0] == 0 and knha.coef[0] == 0.5  # metafor: s² = 0 when the residual Q is ~0


def test_one_huge_stderr_gets_no_weight():
    y, se = np.array([[0.2, 0.25, 0.22, 50.0]]), np.array([[0.1, 0.1, 0.1, 1e6]])
    for method in METHODS:
        res = pool(y, se, method)
        assert res.weights[0, 3] < 1e-8, method
        np.testing.assert_allclose(res.coef, pool(y[:, :3], se[:, :3], method).coef, rtol=1e-6)


def test_single_cohort_is_carried_and_absent_cohorts_skipped():
    y = np.array([[0.4, np.nan, np.nan], [0.4, 0.1, 0.2], [np.nan] * 3, [0.3, 0.2, 0.1]])
    se = np.array([[0.2, 0.1, np.nan], [0.2, 0.0, np.nan], [0.1] * 3, [0.1, np.nan, 0.1]])
    res = pool(y, se, "REML")
    np.testing.assert_array_equal(res.k, [1, 1, 0, 2])
    np.testing.assert_allclose(res.coef[:2], 0.4)
    np.testing.assert_allclose(res.stderr[:2], 0.2)
    np.testing.assert_allclose(res.pval[:2], 2 * stats.norm.sf(2))
    assert np.all(np.isnan(res.tau2[:3])) and np.all(np.isnan(res.Q[:3]))
    np.testing.assert_allclose(res.weights[0], [100, np.nan, np.nan])
    assert np.all(np.isnan(res.coef[2])) and not res.converged[2]
    np.testing.assert_allclose(res.coef[3], pool([0.3, 0.1], [0.1, 0.1]).coef[0])
    assert np.isnan(pool(y, se, "DL", "knha").pval[0])  # t test with 0 df


def test_mmuphin_preset_stops_earlier_than_default():
    y, se = _data(n=300)
    loose, tight = pool(y, se, preset="mmuphin"), pool(y, se)
    assert loose.iterations.sum() < tight.iterations.sum()
    assert np.abs(loose.tau2 - tight.tau2).max() < 1e-3
    assert np.abs(loose.tau2 - tight.tau2).max() > 0


def test_non_convergence_gives_nan_and_a_warning():
    y, se = _data(n=20)
    with pytest.warns(UserWarning, match="did not converge"):
        res = pool(y, se, "REML", maxiter=1, threshold=1e-10)
    assert np.isnan(res.coef[~res.converged]).all() and (~res.converged).any()


def test_knha_uses_t_with_k_minus_1_df():
    y, se = _data(n=10, k=4)
    res = pool(y, se, "DL", "knha")
    np.testing.assert_array_equal(res.df, 3)
    np.testing.assert_allclose(res.ci_ub - res.coef, stats.t.isf(0.025, 3) * res.stderr)
    np.testing.assert_allclose(res.pval, 2 * stats.t.sf(np.abs(res.coef / res.stderr), 3))


def test_brent_zeroin_finds_roots_per_row():
    targets = np.array([0.5, 2.0, 7.0])

    def f(x, rows):
        return x**2 - targets[rows]

    root, ok = brent_zeroin(f, np.zeros(3), np.full(3, 10.0), -targets, 100 - targets, tol=1e-12, maxiter=100)
    assert ok.all()
    np.testing.assert_allclose(root, np.sqrt(targets), rtol=1e-10)
    root, ok = brent_zeroin(f, np.zeros(3), np.full(3, 10.0), -targets, 100 - targets, tol=1e-12, maxiter=1)
    assert not ok.any()


def test_brent_zeroin_solves_only_the_rows_asked():
    targets = np.array([0.5, 2.0, 7.0, 3.0])
    asked = []

    def f(x, rows):
        asked.append(rows)
        return x**2 - targets[rows]

    rows = np.array([3, 1])
    root, ok = brent_zeroin(f, np.zeros(4), np.full(4, 10.0), -targets, 100 - targets, tol=1e-12, maxiter=100, rows=rows)
    assert ok.all() and set(np.concatenate(asked)) <= {1, 3}
    np.testing.assert_allclose(root, np.sqrt(targets[rows]), rtol=1e-10)



def test_input_errors_are_one_line():
    with pytest.raises(InputError, match="did you mean 'REML'"):
        pool([1.0, 2.0], [0.1, 0.1], method="RML")
    with pytest.raises(InputError, match="test 'kh' is unknown"):
        pool([1.0, 2.0], [0.1, 0.1], test="kh")
    with pytest.raises(InputError, match="preset"):
        pool([1.0, 2.0], [0.1, 0.1], preset="metafor")
    with pytest.raises(InputError, match="shape"):
        pool([[1.0, 2.0]], [[0.1, 0.1, 0.2]])
    with pytest.raises(InputError, match="negative"):
        pool([1.0, 2.0], [0.1, -0.1])
    with pytest.raises(InputError, match="level"):
        pool([1.0, 2.0], [0.1, 0.1], level=95)
    with pytest.raises(InputError, match="exactly one"):
        pool([1.0, 2.0], [0.1, 0.1], vi=[0.01, 0.01])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pool([1.0, 2.0], [0.1, 0.1], method="reml").method == "REML"


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_default_converges_where_fisher_scoring_oscillates_or_crawls(method):
    y = np.array(
        [
            [-0.00780554, 0.06716239, -0.0329127, 0.30909983, -0.00386449],
            [0.01114006, -0.79101273, 0.29136405, 0.25504415, 0.06663346],
        ]
    )
    se = np.array(
        [
            [0.32297287, 0.35737496, 0.32876147, 0.13812315, 0.31491361],
            [0.05150858, 0.30512416, 0.16987811, 0.14307694, 0.0535179],
        ]
    )
    if method == "REML":  # metafor's rule gives up on these
        with pytest.warns(UserWarning, match="did not converge"):
            assert not pool(y, se, method, maxiter=1000, threshold=1e-10).converged.all()
    res = pool(y, se, method)
    assert res.converged.all()
    v = se**2
    for i in range(2):

        def negative_loglik(t, i=i):
            w = 1 / (v[i] + t)
            mu = np.sum(w * y[i]) / w.sum()
            ll = -0.5 * (np.sum(np.log(v[i] + t)) + np.sum(w * (y[i] - mu) ** 2))
            return -(ll - 0.5 * np.log(w.sum()) if method == "REML" else ll)

        best = optimize.minimize_scalar(
            negative_loglik, bounds=(0, 1), method="bounded", options={"xatol": 1e-12}
        )
        assert negative_loglik(res.tau2[i]) <= best.fun + 1e-12
        np.testing.assert_allclose(res.tau2[i], best.x, atol=1e-6)
