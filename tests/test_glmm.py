"""Logistic GLMM by Laplace (osteobiome.stats.glmm) against lme4's glmer and its own analytic gradient.

Golden: ``tests/golden/glmm_synthetic/fits.tsv`` (glmer, lme4 1.1-31) written by ``make.R`` next to it from
``data.tsv`` there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.stats.glmm import _Feature, _Grouping, fit_glmm

GOLDEN = Path(__file__).parent / "golden" / "glmm_synthetic"


@pytest.fixture(scope="module")
def data():
    frame = pd.read_csv(GOLDEN / "data.tsv", sep="\t")
    X = np.column_stack([np.ones(len(frame)), frame["x1"], frame["x2"]])
    groups = {name: pd.factorize(frame[name])[0] for name in ("g1", "g2")}
    return frame["y"].to_numpy(bool), X, groups


@pytest.mark.parametrize("factors", [["g1"], ["g1", "g2"]])
@pytest.mark.parametrize("augment", [False, True])
def test_analytic_gradient_matches_finite_differences(data, factors, augment):
    y, X, groups = data
    n, p = X.shape
    k = p - 1 if augment else 0
    weight = 1.0 + k / n
    feature = _Feature((y + k / (2 * n)) / weight, weight, X, _Grouping([groups[f] for f in factors]))
    params = np.concatenate([np.full(len(factors), 0.7), [0.1, 0.5, -0.2]])
    _, gradient = feature.deviance_and_gradient(params)
    step = 1e-6
    numeric = [
        (feature.deviance_and_gradient(params + step * e)[0] - feature.deviance_and_gradient(params - step * e)[0])
        / (2 * step)
        for e in np.eye(params.size)
    ]
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


@pytest.mark.parametrize(("random", "factors"), [("(1 | g1)", ["g1"]), ("(1 | g1) + (1 | g2)", ["g1", "g2"])])
def test_matches_glmer(data, random, factors):
    y, X, groups = data
    golden = pd.read_csv(GOLDEN / "fits.tsv", sep="\t")
    golden = golden[golden["random"] == random]
    assert (golden["warnings"] == 0).all()
    fit = fit_glmm(y, X, [groups[f] for f in factors], augment=False)
    # glmer stops within its optimizer's tolerance of the optimum: coefficients agree to 1e-4 standard errors
    assert np.all(np.abs(fit.coef[:, 0] - golden["coef"]) <= 1e-4 * golden["stderr"])
    np.testing.assert_allclose(fit.stderr[:, 0], golden["stderr"], rtol=1e-4)
    np.testing.assert_allclose(fit.theta[:, 0], golden[["theta1", "theta2"]].iloc[0, : len(factors)], rtol=1e-3)
    # the Laplace deviance is lme4's -2 log-likelihood (0/1 data), at an optimum at least as good as glmer's
    deviance = golden["minus2loglik"].iloc[0]
    assert deviance - 1e-5 < fit.deviance[0] <= deviance + 1e-9
    assert fit.converged[0] and not fit.singular[0]


def test_singular_features_and_features_without_variation_are_flagged(data):
    _, X, groups = data
    rng = np.random.default_rng(5)
    no_grouping = rng.random(X.shape[0]) < 1 / (1 + np.exp(-(0.2 + 0.6 * X[:, 1])))  # no group effect
    everywhere = np.ones(X.shape[0], dtype=bool)
    fit = fit_glmm(np.column_stack([no_grouping, everywhere]), X, [groups["g2"]])
    assert fit.converged[0] and fit.theta[0, 0] < 1e-4 and fit.singular[0]
    assert np.isfinite(fit.stderr[:, 0]).all()
    assert np.isnan(fit.coef[:, 1]).all() and not fit.converged[1]


def test_augmentation_keeps_a_separated_feature_estimable(data):
    _, X, groups = data
    separated = X[:, 2] > 0  # present exactly when x2 = 1
    plain = fit_glmm(separated, X, [groups["g1"]], augment=False)
    augmented = fit_glmm(separated, X, [groups["g1"]], augment=True)
    assert augmented.converged[0] and np.isfinite(augmented.stderr[:, 0]).all()
    assert abs(augmented.coef[2, 0]) < 15 and augmented.pval[2, 0] < 1e-6
    assert not plain.converged[0] or abs(plain.coef[2, 0]) > abs(augmented.coef[2, 0])


def test_results_do_not_depend_on_workers(data):
    y, X, groups = data
    rng = np.random.default_rng(2)
    present = np.column_stack([rng.permutation(y) if j else y for j in range(18)])  # 2 chunks of features
    serial = fit_glmm(present, X, [groups["g1"]])
    parallel = fit_glmm(present, X, [groups["g1"]], workers=2)
    for name in ("coef", "stderr", "theta", "deviance", "converged"):
        np.testing.assert_array_equal(getattr(serial, name), getattr(parallel, name), err_msg=name)
