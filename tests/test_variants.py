"""Model variants behind the presets: HC3, compositional centring of linear fits, the two-part model."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from osteobiome.association.variants import check_options, fit_two_part, refine_linear
from osteobiome.errors import InputError
from osteobiome.stats.twopart import joint_pvalue


def _ols(Y: np.ndarray, X: np.ndarray) -> SimpleNamespace:
    """An LMResult-shaped OLS fit (what the association engine passes in)."""
    n, p = X.shape
    coef = np.linalg.lstsq(X, Y, rcond=None)[0]
    resid = Y - X @ coef
    se = np.sqrt(np.outer(np.diag(np.linalg.inv(X.T @ X)), np.sum(resid**2, axis=0) / (n - p)))
    pval = 2 * stats.t.sf(np.abs(coef / se), n - p)
    m = Y.shape[1]
    return SimpleNamespace(
        coef=coef,
        stderr=se,
        tval=coef / se,
        pval=pval,
        log_pval=np.log(pval),
        df=np.full(m, n - p, dtype=float),
        n_used=np.full(m, n),
    )


def _data(seed: int = 0, n: int = 90, m: int = 30):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    Y = rng.normal(size=(n, m)) * (1 + 0.5 * np.abs(X[:, [1]])) + rng.normal(size=(1, m))
    return X, Y


def test_classical_without_correction_passes_the_fit_through():
    X, Y = _data()
    fit = _ols(Y, X)
    out = refine_linear(fit, Y, X, "classical", "none", mixed=False)
    np.testing.assert_array_equal(out.pval, fit.pval)


def test_hc3_variance_matches_statsmodels():
    X, Y = _data(1)
    out = refine_linear(_ols(Y, X), Y, X, "HC3", "none", mixed=False)
    ref = sm.OLS(Y[:, 3], X).fit(cov_type="HC3")
    np.testing.assert_allclose(out.stderr[:, 3], ref.bse, rtol=1e-10)
    np.testing.assert_allclose(out.pval[1, 3], 2 * stats.t.sf(abs(ref.tvalues[1]), 87), rtol=1e-10)


@pytest.mark.parametrize(
    ("variance", "compositional"), [("classical", "median"), ("HC3", "median"), ("classical", "linda")]
)
def test_compositional_results_ignore_a_common_shift(variance, compositional):
    X, Y = _data(2)
    a = refine_linear(_ols(Y, X), Y, X, variance, compositional, mixed=False)
    shifted = Y + 1.7 * X[:, [1]] - 0.9 * X[:, [2]]
    b = refine_linear(_ols(shifted, X), shifted, X, variance, compositional, mixed=False)
    np.testing.assert_allclose(a.coef[1:], b.coef[1:], atol=1e-8)
    np.testing.assert_allclose(a.pval[1:], b.pval[1:], rtol=1e-6)


def test_errors_and_warnings():
    X, Y = _data(3)
    with pytest.raises(InputError, match="HC3"):
        refine_linear(_ols(Y, X), Y, X, "HC3", "none", mixed=True)
    Ynan = Y.copy()
    Ynan[0, 0] = np.nan
    with pytest.raises(InputError, match="complete"):
        refine_linear(_ols(Y, X), Ynan, X, "classical", "median", mixed=False)
    with pytest.warns(UserWarning, match="at least"):
        out = refine_linear(_ols(Y[:, :4], X), Y[:, :4], X, "classical", "median", mixed=False)
    np.testing.assert_allclose(out.pval, _ols(Y[:, :4], X).pval)
    with pytest.raises(InputError, match="model"):
        check_options("glm", "classical", "none")
    with pytest.raises(InputError, match="compositional"):
        check_options("lm", "classical", "clr")


def _relative(seed: int = 4, n: int = 120, m: int = 25):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    rel = rng.dirichlet(np.full(m, 0.6), size=n) * (rng.random((n, m)) < 0.75)
    return X, rel / rel.sum(axis=1, keepdims=True)


def test_two_part_reports_both_parts_and_their_joint_p():
    X, rel = _relative()
    fit = fit_two_part(rel, X, "none")
    np.testing.assert_allclose(
        fit.pval, joint_pvalue(fit.extra["pval.abundance"], fit.extra["pval.prevalence"])
    )
    assert fit.extra["N.present"][1, 0] == np.sum(rel[:, 0] > 0)
    assert np.all(fit.n_used == X.shape[0])


def test_two_part_feature_in_every_sample_is_judged_on_abundance_alone():
    X, rel = _relative(3)
    rel = rel.copy()
    rel[:, 0] = np.random.default_rng(3).uniform(0.05, 0.2, X.shape[0])  # present everywhere
    fit = fit_two_part(rel, X, "median")
    assert np.all(np.isnan(fit.extra["pval.prevalence"][:, 0]))
    np.testing.assert_array_equal(fit.pval[:, 0], fit.extra["pval.abundance"][:, 0])  # no Beta(1, 2) penalty
    assert np.all(np.isfinite(fit.extra["pval.prevalence"][1, 1:]))
    plain = fit_two_part(rel, X, "none")  # joint p-value = the OLS p-value of log2 abundance
    np.testing.assert_allclose(plain.pval[:, 0], sm.OLS(np.log2(rel[:, 0]), X).fit().pvalues, rtol=1e-8)


def test_two_part_median_ignores_a_per_sample_load_change():
    X, rel = _relative(5)
    loaded = rel * 2.0 ** (0.8 * X[:, [1]])  # every feature's absolute load moves with the exposure
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = fit_two_part(rel, X, "median")
        b = fit_two_part(loaded / loaded.sum(axis=1, keepdims=True), X, "median")
    np.testing.assert_allclose(a.coef[1], b.coef[1], atol=1e-8)
    np.testing.assert_allclose(a.extra["pval.abundance"][1], b.extra["pval.abundance"][1], rtol=1e-6)


def test_two_part_prevalence_centring_changes_only_the_prevalence_part():
    X, rel = _relative(6)
    plain = fit_two_part(rel, X, "median")
    both = fit_two_part(rel, X, "median", compositional_prevalence=True)
    np.testing.assert_allclose(plain.extra["pval.abundance"], both.extra["pval.abundance"])
    shift = np.nanmedian(plain.extra["coef.prevalence"][1])
    np.testing.assert_allclose(both.extra["coef.prevalence"][1], plain.extra["coef.prevalence"][1] - shift)


def test_two_part_depth_covariate_enters_the_chosen_parts_only():
    from osteobiome.stats.twopart import fit_abundance, fit_prevalence, log2_nonzero

    X, rel = _relative(7)
    depth = np.random.default_rng(7).integers(500, 20000, X.shape[0])
    z = (np.log(depth) - np.log(depth).mean()) / np.log(depth).std(ddof=1)
    Xd = np.column_stack([X, z])
    prev = fit_two_part(rel, X, "none", depth=depth, depth_covariate="prevalence")
    np.testing.assert_allclose(prev.extra["coef.prevalence"], fit_prevalence(rel > 0, Xd).coef[:3])
    np.testing.assert_allclose(prev.coef, fit_abundance(log2_nonzero(rel), X).coef)
    both = fit_two_part(rel, X, "none", depth=depth, depth_covariate="both")
    np.testing.assert_allclose(both.coef, fit_abundance(log2_nonzero(rel), Xd).coef[:3])
    assert both.coef.shape == (3, rel.shape[1])
    unchanged = fit_two_part(rel, X, "none", depth=None, depth_covariate="both")
    np.testing.assert_allclose(unchanged.pval, fit_two_part(rel, X, "none").pval)
    with pytest.raises(InputError, match="depth_covariate"):
        check_options("twopart", "classical", "median", "always")
