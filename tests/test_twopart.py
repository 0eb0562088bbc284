"""Two-part model: logistic prevalence vs statsmodels, augmentation against separation, masked OLS, joint p."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from osteobiome.stats.twopart import (
    fit_abundance,
    fit_prevalence,
    joint_pvalue,
    log2_nonzero,
    log_joint_pvalue,
)


def _design(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])


def test_prevalence_matches_statsmodels_logit_without_augmentation():
    rng = np.random.default_rng(11)
    X = _design(rng, 150)
    present = rng.random((150, 6)) < 1 / (1 + np.exp(-(X @ rng.normal(scale=0.8, size=(3, 6)))))
    fit = fit_prevalence(present, X, augment=False)
    for j in range(6):
        ref = sm.Logit(present[:, j].astype(float), X).fit(disp=0)
        np.testing.assert_allclose(fit.coef[:, j], ref.params, rtol=1e-7)
        np.testing.assert_allclose(fit.stderr[:, j], ref.bse, rtol=1e-7)
        np.testing.assert_allclose(fit.pval[:, j], ref.pvalues, rtol=1e-6)


def test_augmentation_equals_maaslin3_three_copies_weighted_glm():
    rng = np.random.default_rng(2)
    n = 80
    X = _design(rng, n)
    present = (X[:, 1] > 0.3)[:, None] | (rng.random((n, 1)) < 0.1)  # near-separated
    fit = fit_prevalence(present, X, augment=True)
    k = X.shape[1] - 1
    X3 = np.vstack([X, X, X])
    y3 = np.concatenate([present[:, 0], np.ones(n), np.zeros(n)])
    w3 = np.concatenate([np.ones(n), np.full(2 * n, k / (2 * n))])
    ref = sm.GLM(y3, X3, family=sm.families.Binomial(), freq_weights=w3).fit(tol=1e-12)
    np.testing.assert_allclose(fit.coef[:, 0], ref.params, rtol=1e-7)
    np.testing.assert_allclose(fit.stderr[:, 0], ref.bse, rtol=1e-6)  # statsmodels: weights one step behind


def test_complete_separation_is_finite_with_augmentation_and_nan_without():
    rng = np.random.default_rng(4)
    X = _design(rng, 60)
    present = (X[:, 1] > 0)[:, None]
    assert np.all(np.isfinite(fit_prevalence(present, X, augment=True).pval))
    assert np.all(np.isnan(fit_prevalence(present, X, augment=False).coef))


def test_constant_presence_has_no_prevalence_model_as_maaslin3():
    rng = np.random.default_rng(5)
    X = _design(rng, 70)
    present = rng.random((70, 3)) < 0.5
    present[:, 0] = True  # in every sample
    present[:, 1] = False  # in none
    fit = fit_prevalence(present, X, augment=True, influence=True)
    assert np.all(np.isnan(fit.pval[:, :2])) and np.all(np.isnan(fit.coef[:, :2]))
    assert np.all(fit.influence[:, :, :2] == 0.0)
    # the other features are untouched: the same fit as on their own
    alone = fit_prevalence(present[:, 2:], X, augment=True)
    np.testing.assert_allclose(fit.coef[:, 2], alone.coef[:, 0], rtol=1e-12)
    # one absence is enough for a prevalence model again
    present[0, 0] = False
    assert np.all(np.isfinite(fit_prevalence(present, X, augment=True).pval[:, 0]))


def test_abundance_on_present_samples_matches_per_feature_ols():
    rng = np.random.default_rng(8)
    n, m = 90, 5
    X = _design(rng, n)
    rel = rng.dirichlet(np.ones(m), size=n) * (rng.random((n, m)) < 0.7)
    rel[:4, 4] = 0.2
    rel[4:, 4] = 0.0  # 4 present samples, 3 coefficients: df = 1
    fit = fit_abundance(log2_nonzero(rel), X, influence=True)
    for j in range(m):
        keep = rel[:, j] > 0
        ref = sm.OLS(np.log2(rel[keep, j]), X[keep]).fit()
        if j < 4:
            np.testing.assert_allclose(fit.coef[:, j], ref.params, rtol=1e-9)
            np.testing.assert_allclose(fit.stderr[:, j], ref.bse, rtol=1e-9)
            np.testing.assert_allclose(fit.pval[:, j], ref.pvalues, rtol=1e-7)
            hc3 = ref.get_robustcov_results(cov_type="HC3").bse
            np.testing.assert_allclose(np.sqrt(np.sum(fit.influence[:, :, j] ** 2, axis=1)), hc3, rtol=1e-9)
        assert fit.n_used[j] == keep.sum()
    assert fit.df[4] == 1


def test_too_few_present_samples_gives_nan():
    rng = np.random.default_rng(1)
    X = _design(rng, 30)
    rel = np.zeros((30, 2))
    rel[:, 0] = rng.random(30)
    rel[:3, 1] = 0.5
    fit = fit_abundance(log2_nonzero(rel), X, influence=True)
    assert np.all(np.isfinite(fit.pval[:, 0])) and np.all(np.isnan(fit.pval[:, 1]))


def test_joint_pvalue_is_beta_1_2_of_the_minimum_with_fallback():
    got = joint_pvalue(np.array([0.01, np.nan, 0.5, np.nan]), np.array([0.2, 0.03, 0.5, np.nan]))
    np.testing.assert_allclose(got[:3], [1 - 0.99**2, 0.03, 0.75])
    assert np.isnan(got[3])


def test_cauchy_joint_pvalue_weights_by_presence():
    # equal p-values combine to themselves (any weights); NaN parts fall back to the other part
    p = np.array([0.3, 1e-4, 1e-200])
    np.testing.assert_allclose(joint_pvalue(p, p, "cauchy", np.array([0.2, 0.5, 0.9])), p, rtol=1e-9)
    got = joint_pvalue(np.array([0.02, np.nan]), np.array([np.nan, 0.04]), "cauchy", np.array([0.5, 0.5]))
    np.testing.assert_allclose(got, [0.02, 0.04])
    # by hand: w = 1 / (2 - 0.75) = 0.8; T = w cot(pa π) + (1 - w) cot(pp π); p = 1/2 - arctan(T)/π
    pa, pp = 0.01, 0.6
    stat = 0.8 / np.tan(pa * np.pi) + 0.2 / np.tan(pp * np.pi)
    got = joint_pvalue(np.array([pa]), np.array([pp]), "cauchy", np.array([0.75]))
    np.testing.assert_allclose(got, 0.5 - np.arctan(stat) / np.pi, rtol=1e-12)
    # a tiny abundance p-value is divided by its weight, not doubled as by the Beta(1, 2) rule
    tiny = joint_pvalue(np.array([1e-30]), np.array([0.5]), "cauchy", np.array([0.9]))
    np.testing.assert_allclose(tiny, 1e-30 * (2 - 0.9), rtol=1e-6)


def test_cauchy_joint_pvalue_is_calibrated_for_independent_null_parts():
    rng = np.random.default_rng(0)
    pa, pp = rng.uniform(size=(2, 400_000))
    present = rng.uniform(0.1, 0.95, size=pa.size)
    joint = joint_pvalue(pa, pp, "cauchy", present)
    for alpha in (0.05, 0.01, 0.001):
        assert abs(np.mean(joint <= alpha) / alpha - 1) < 0.1, alpha


def test_prevalence_influence_gram_is_the_sandwich_covariance():
    rng = np.random.default_rng(12)
    X = _design(rng, 200)
    present = rng.random((200, 3)) < 0.4
    fit = fit_prevalence(present, X, augment=False, influence=True)
    assert fit_prevalence(present, X, augment=False).influence is None
    ref = sm.Logit(present[:, 1].astype(float), X).fit(disp=0, cov_type="HC0")
    np.testing.assert_allclose(np.sqrt(np.sum(fit.influence[:, :, 1] ** 2, axis=1)), ref.bse, rtol=1e-6)


@pytest.mark.parametrize("rule", ["beta", "cauchy"])
def test_log_joint_pvalue_is_the_log_of_the_joint_and_stays_finite_where_it_underflows(rule):
    pa = np.array([0.3, 1e-12, 0.02, 1e-200, np.nan, 1e-5])
    pp = np.array([0.6, 0.4, 1e-15, 1e-190, 0.04, np.nan])
    present = np.array([0.2, 0.5, 0.9, 0.75, 0.5, 0.5])
    got = log_joint_pvalue(np.log(pa), np.log(pp), rule, present)
    np.testing.assert_allclose(got, np.log(joint_pvalue(pa, pp, rule, present)), rtol=1e-9)
    # both parts far below the smallest double: by hand, log p = -log(w e^2000 + (1 - w) e^2100) for Cauchy
    la, lp, w = np.array([-2000.0]), np.array([-2100.0]), 1 / (2 - 0.75)
    got = log_joint_pvalue(la, lp, rule, np.array([0.75]))
    expected = -2100 - np.log(1 - w + w * np.exp(-100)) if rule == "cauchy" else -2100 + np.log(2)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
