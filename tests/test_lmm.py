import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from osteobiome.stats.lmm import fit_lmm


def balanced(seed=0, groups=12, per_group=6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per_group)
    between = rng.normal(size=groups)[g]  # a group-level covariate
    within = rng.normal(size=g.size)
    y = 1 + 0.5 * between + 0.3 * within + rng.normal(size=groups)[g] + rng.normal(scale=0.7, size=g.size)
    return y, np.column_stack([np.ones(g.size), between, within]), g


def test_matches_statsmodels_reml():
    y, X, g = balanced()
    ours = fit_lmm(y, X, [g])
    frame = pd.DataFrame({"y": y, "b": X[:, 1], "w": X[:, 2], "g": g})
    ref = smf.mixedlm("y ~ b + w", frame, groups=frame["g"]).fit(reml=True)
    np.testing.assert_allclose(ours.coef[:, 0], ref.fe_params, rtol=1e-5)
    # standard errors: GLS formula sqrt(diag((Xᵀ V⁻¹ X)⁻¹)) at statsmodels' variance estimates
    V = ref.scale * np.eye(g.size) + ref.cov_re.iloc[0, 0] * (g[:, None] == g[None, :])
    gls = np.sqrt(np.diag(np.linalg.inv(X.T @ np.linalg.solve(V, X))))
    np.testing.assert_allclose(ours.stderr[:, 0], gls, rtol=1e-4)
    np.testing.assert_allclose(ours.sigma[0] ** 2, ref.scale, rtol=1e-5)
    np.testing.assert_allclose((ours.theta[0, 0] * ours.sigma[0]) ** 2, ref.cov_re.iloc[0, 0], rtol=1e-4)


def test_satterthwaite_df_for_balanced_design():
    # balanced one-way layout: a group-level covariate is tested on G - 2 df, a within-group one on
    # N - G - 1 df (the classical split-plot degrees of freedom, which Satterthwaite reproduces exactly)
    y, X, g = balanced(seed=1)
    groups = 12
    within = X[:, 2] - np.bincount(g, X[:, 2])[g] / 6  # remove the between part so the split is exact
    result = fit_lmm(y, np.column_stack([X[:, :2], within]), [g])
    np.testing.assert_allclose(result.df[1, 0], groups - 2, rtol=1e-6)
    np.testing.assert_allclose(result.df[2, 0], y.size - groups - 1, rtol=1e-6)


def test_missing_values_and_two_factors():
    y, X, g = balanced(seed=2)
    site = g % 3
    Y = np.column_stack([y, y[::-1].copy()])
    Y[0, 1] = np.nan
    result = fit_lmm(Y, X, [site, g])
    assert result.n_used.tolist() == [72, 71]
    assert np.all(np.isfinite(result.pval)) and result.theta.shape == (2, 2)


def test_workers_give_the_same_fits_as_one_process():
    # more features than one chunk, two missing-value patterns: chunks (not workers) fix the warm starts
    y, X, g = balanced(seed=3)
    rng = np.random.default_rng(3)
    Y = y[:, None] + rng.normal(scale=0.5, size=(y.size, 40))
    Y[5, ::7] = np.nan
    one, two = fit_lmm(Y, X, [g % 3, g]), fit_lmm(Y, X, [g % 3, g], workers=2)
    for name in ("coef", "stderr", "df", "pval", "theta", "sigma", "n_used"):
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name), err_msg=name)
    assert one.n_used.min() == y.size - 1 and np.all(np.isfinite(one.pval))


def test_no_fittable_feature_with_workers_gives_nan_not_an_error():
    y, X, g = balanced(seed=4)
    Y = np.full((y.size, 3), np.nan)
    Y[:3] = 1.0  # 3 observed rows for 3 coefficients: nothing can be fitted
    result = fit_lmm(Y, X, [g], workers=2)
    assert np.isnan(result.pval).all() and result.n_used.tolist() == [0, 0, 0]


def test_rows_on_which_the_design_is_collinear_give_nan_not_an_error():
    # feature 0 is observed only where a group-level 0/1 covariate is 0: that column is constant on its rows
    y, X, g = balanced(seed=5)
    flag = (g % 2).astype(float)
    X = np.column_stack([X, flag])
    Y = np.column_stack([y, y + 0.1 * np.arange(y.size) % 3])
    Y[flag == 1, 0] = np.nan
    result = fit_lmm(Y, X, [g])
    assert np.isnan(result.coef[:, 0]).all() and np.isnan(result.pval[:, 0]).all()
    alone = fit_lmm(Y[:, 1:], X, [g])  # the other feature's fit is untouched
    np.testing.assert_array_equal(result.coef[:, 1], alone.coef[:, 0])
    assert np.isfinite(result.pval[:, 1]).all()
