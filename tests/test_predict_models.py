"""The building blocks of osteobiome.predict: partly penalized models, metrics, microbiome transformers."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from osteobiome.predict._glm import PartlyPenalizedLinear, PartlyPenalizedLogistic
from osteobiome.predict._metrics import (
    auc,
    bootstrap_p,
    calibration_binary,
    calibration_continuous,
    delong,
    net_benefit,
    r_squared,
    rmse,
)
from osteobiome.predict._transformers import AbundanceFeatures, AlphaDiversity


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 400
    cov = rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, 30))
    eta = 0.3 + 1.2 * cov[:, 0] - 0.8 * cov[:, 1]
    y = (rng.uniform(size=n) < expit(eta)).astype(float)
    cols = ["cov_numeric__age", "cov_numeric__bmi"] + [f"taxon__g{i}" for i in range(30)]
    X = pd.DataFrame(np.column_stack([cov, noise]), columns=cols)
    return X, y, cov


def test_logistic_without_penalty_is_maximum_likelihood(data):
    X, y, _ = data
    ours = PartlyPenalizedLogistic(alpha=0.0).fit(X, y)
    ml = sm.Logit(y, sm.add_constant(X.to_numpy())).fit(disp=0)
    np.testing.assert_allclose(np.r_[ours.intercept_, ours.coef_], ml.params, atol=1e-4)


def test_covariates_are_not_shrunk_by_the_penalty(data):
    """With a huge penalty the microbiome coefficients vanish and the covariates keep their maximum-likelihood
    values (no dilution); scikit-learn's LogisticRegression at the same penalty shrinks the covariates too."""
    X, y, cov = data
    heavy = PartlyPenalizedLogistic(alpha=1e4).fit(X, y)
    alone = sm.Logit(y, sm.add_constant(cov)).fit(disp=0)
    np.testing.assert_allclose(heavy.coef_[:2], alone.params[1:], atol=1e-3)
    assert np.abs(heavy.coef_[2:]).max() < 1e-3
    naive = LogisticRegression(C=1 / (1e4 * len(y))).fit(X.to_numpy(), y)
    assert np.abs(naive.coef_[0, :2]).max() < 0.05 * np.abs(alone.params[1:]).min()


def test_linear_model_partial_penalty(data):
    X, _, cov = data
    rng = np.random.default_rng(0)
    y = 2 + cov @ [1.5, -0.5] + rng.normal(size=len(X))
    free = PartlyPenalizedLinear(alpha=0.0).fit(X, y)
    ols = sm.OLS(y, sm.add_constant(X.to_numpy())).fit()
    np.testing.assert_allclose(np.r_[free.intercept_, free.coef_], ols.params, atol=1e-6)
    heavy = PartlyPenalizedLinear(alpha=1e6).fit(X, y)
    alone = sm.OLS(y, sm.add_constant(cov)).fit()
    np.testing.assert_allclose(heavy.coef_[:2], alone.params[1:], atol=1e-4)
    np.testing.assert_allclose(heavy.predict(X), alone.fittedvalues, atol=1e-3)


def _delong_brute(y, scores):
    """DeLong placement values by their O(mn) definition."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / pos.shape[1] + np.atleast_2d(np.cov(v01)) / neg.shape[1]
    return v10.mean(axis=1), cov


def test_delong_matches_its_definition_and_sklearn_auc():
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=120) < 0.35).astype(int)
    scores = np.vstack([y + rng.normal(size=120), np.round(y * 0.5 + rng.normal(size=120), 1)])  # ties
    a, cov = delong(y, scores)
    b, cov_b = _delong_brute(y, scores)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(cov, cov_b)
    np.testing.assert_allclose(a, [roc_auc_score(y, s) for s in scores])
    np.testing.assert_allclose(auc(y, scores), a)
    assert cov[0, 1] != 0  # paired: the two AUCs are correlated


def test_calibration_slope_and_intercept():
    rng = np.random.default_rng(2)
    lp = rng.normal(0, 1.5, 20000)
    y = (rng.uniform(size=lp.size) < expit(lp)).astype(float)
    slope, intercept, brier = calibration_binary(y, expit(lp))
    assert abs(slope - 1) < 0.05 and abs(intercept) < 0.05
    slope, _, _ = calibration_binary(y, expit(2 * lp))  # over-confident: slope ½
    assert abs(slope - 0.5) < 0.03
    _, intercept, _ = calibration_binary(y, expit(lp + 1))  # too high on average
    assert abs(intercept + 1) < 0.06
    np.testing.assert_allclose(brier, np.mean((y - expit(lp)) ** 2))
    assert calibration_continuous(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == (1.0, 0.0)


def test_net_benefit_by_hand():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    # t = 0.5: treat samples 0 and 2 -> TP 1, FP 1: 1/5 - 1/5 * 1 = 0
    # t = 0.3: treat 0, 1, 2 -> TP 2, FP 1: 2/5 - 1/5 * 0.3/0.7
    np.testing.assert_allclose(net_benefit(y, p, np.array([0.5, 0.3])), [0.0, 0.4 - 0.2 * 0.3 / 0.7])


def test_r_squared_rmse_and_bootstrap_p():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r_squared(y, y) == 1 and r_squared(y, np.full(4, y.mean())) == 0
    np.testing.assert_allclose(rmse(y, y + 2), 2.0)
    assert bootstrap_p(np.ones(999)) == pytest.approx(2 / 1000)
    assert bootstrap_p(np.r_[np.ones(500), -np.ones(500)]) == 1.0


def test_abundance_features_learn_from_the_fitted_rows_only():
    train = pd.DataFrame({"a": [10, 0, 5, 7], "b": [0, 0, 0, 3], "c": [5, 5, 5, 5]})
    test = pd.DataFrame({"a": [0, 4], "b": [9, 9], "c": [1, 1]})
    step = AbundanceFeatures(min_prevalence=0.5).fit(train)
    assert list(step.get_feature_names_out()) == ["a", "c"]  # b is in 1 of 4 training samples
    out = step.transform(test)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out.sum(axis=1), 0, atol=1e-12)  # CLR rows sum to 0
    rel = train.to_numpy(float) / train.to_numpy(float).sum(axis=1, keepdims=True)
    assert step.pseudocount_ == pytest.approx(rel[:, [0, 2]][rel[:, [0, 2]] > 0].min() / 2)
    # the test sample's zero gets the training pseudo-count, not its own
    expected = np.log([step.pseudocount_, 1 / 10])  # test row 0: 0, 9, 1 reads
    np.testing.assert_allclose(out[0], expected - expected.mean())
    logs = AbundanceFeatures(min_prevalence=0.5, method="log").fit(train).transform(test)
    np.testing.assert_allclose(logs[1], np.log([4 / 14, 1 / 14]))


def test_alpha_diversity_columns():
    X = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    out = AlphaDiversity().fit(X).transform(X)
    np.testing.assert_allclose(out, [[np.log(2), 2], [0, 0], [0, 1]])




def test_outcome_coding():
    from osteobiome.predict._data import outcome_vector

    y, task, positive = outcome_vector(pd.Series([0.0, 1.0, 1.0]), "y", "1")  # a 1.0 level asked for as "1"
    assert task == "binary" and positive == "1.0" and list(y) == [0, 1, 1]
    y, _, positive = outcome_vector(pd.Series(["case", "control", "control"]), "y", "case")
    assert list(y) == [1, 0, 0] and positive == "case"
    y, task, positive = outcome_vector(pd.Series([0.7, 0.9, 1.1]), "y", None)
    assert task == "continuous" and positive is None and list(y) == [0.7, 0.9, 1.1]
