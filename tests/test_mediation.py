"""osteobiome.mediation: pair fits, composite-null tests, CIs, annotation, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from osteobiome.errors import InputError
from osteobiome.mechanisms.knowledge import load_knowledge
from osteobiome.mediation import composite_pvalues, mediate, run_mediation
from osteobiome.mediation._fit import fit_pairs
from osteobiome.mediation._intervals import bootstrap_interval, delta_interval
from osteobiome.mediation._nulls import empirical_null, nonnull_proportion
from osteobiome.mediation.annotate import GROUPS, annotate_pairs, mechanism_of
from osteobiome.mediation.composite import null_proportions


def _z(v):
    return (v - v.mean(axis=0)) / v.std(axis=0, ddof=1)


def test_fit_pairs_equals_full_regressions():
    rng = np.random.default_rng(0)
    n = 50
    C = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    X, M, y = rng.normal(size=(n, 4)), rng.normal(size=(n, 3)), rng.normal(size=n)
    M[:, 0] += X[:, 1]
    fit = fit_pairs(X, M, y, C)
    for j in range(4):
        for k in range(3):
            x, m, yy = _z(X[:, j]), _z(M[:, k]), _z(y)
            A = np.column_stack([C, x])
            coef_a, rss_a, *_ = np.linalg.lstsq(A, m, rcond=None)
            se_a = np.sqrt(rss_a[0] / (n - 4) * np.linalg.inv(A.T @ A)[-1, -1])
            B = np.column_stack([C, x, m])
            coef_b, rss_b, *_ = np.linalg.lstsq(B, yy, rcond=None)
            se_b = np.sqrt(rss_b[0] / (n - 5) * np.linalg.inv(B.T @ B)[-1, -1])
            total = np.linalg.lstsq(A, yy, rcond=None)[0][-1]
            np.testing.assert_allclose(
                [fit.alpha[j, k], fit.alpha_se[j, k], fit.beta[j, k], fit.beta_se[j, k], fit.direct[j, k], fit.total[j]],
                [coef_a[-1], se_a, coef_b[-1], se_b, coef_b[-2], total],
                rtol=1e-10,
            )
    np.testing.assert_allclose(np.broadcast_to(fit.total[:, None], fit.direct.shape), fit.direct + fit.indirect, rtol=1e-10)  # c = c' + ab


def test_fit_pairs_constant_exposure_is_nan():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(30), rng.normal(size=30)])
    fit = fit_pairs(X, rng.normal(size=(30, 2)), rng.normal(size=30), np.ones((30, 1)))
    assert np.isnan(fit.alpha[0]).all() and np.isfinite(fit.alpha[1]).all()


def test_fit_pairs_mediator_constant_up_to_rounding_is_nan():
    """Rounding noise of a constant mediator is not scaled up into a mediator (survival's exposures alike)."""
    rng = np.random.default_rng(1)
    M = np.column_stack([1e6 + 1e-7 * rng.normal(size=30), rng.normal(size=30)])
    fit = fit_pairs(rng.normal(size=(30, 2)), M, rng.normal(size=30), np.ones((30, 1)))
    assert np.isnan(fit.alpha[:, 0]).all() and np.isnan(fit.beta[:, 0]).all()
    assert np.isfinite(fit.alpha[:, 1]).all() and np.isfinite(fit.total).all()


def test_jin_cai_estimators_recover_the_null():
    rng = np.random.default_rng(2)
    z = np.r_[rng.normal(0.2, 1.3, 19600), rng.normal(4.0, 1.0, 400)]
    mu, sigma = empirical_null(z)
    assert abs(mu - 0.2) < 0.15 and abs(sigma - 1.3) < 0.1
    assert nonnull_proportion(rng.normal(size=20000)) < 0.03
    assert 0.12 < nonnull_proportion(np.r_[rng.normal(size=16000), rng.normal(3.0, 1.0, 4000)]) < 0.25


def _mixture(rng, n_00, n_01, n_alt=300, effect=4.0):
    """(p_alpha, p_beta): n_00 H00 pairs, n_01 H01 and n_01 H10 pairs, then n_alt true pairs (last)."""

    def p(z):
        return 2 * norm.sf(np.abs(z))

    za = np.r_[rng.normal(size=n_00), rng.normal(size=n_01), rng.normal(effect, 1, n_01), rng.normal(effect, 1, n_alt)]
    zb = np.r_[rng.normal(size=n_00), rng.normal(effect, 1, n_01), rng.normal(size=n_01), rng.normal(effect, 1, n_alt)]
    return p(za), p(zb)


@pytest.mark.parametrize(("n_00", "n_01"), [(3000, 3000), (16000, 1000)])
def test_hdmt_is_calibrated_over_the_mixture_null_and_beats_maxp(n_00, n_01):
    rng = np.random.default_rng(3)
    pa, pb = _mixture(rng, n_00, n_01)
    pval = composite_pvalues(pa, pb, "hdmt")
    null = pval[:-300]
    assert np.mean(null <= 0.05) < 0.057 and np.mean(null <= 0.01) < 0.0125  # type I error of the composite null
    maxp = composite_pvalues(pa, pb, "maxp")
    assert np.mean(maxp[:-300] <= 0.05) < 0.04  # MaxP: conservative
    assert np.mean(pval[-300:] <= 0.01) > np.mean(maxp[-300:] <= 0.01)


def test_dact_follows_the_paper():
    rng = np.random.default_rng(5)
    pa, pb = _mixture(rng, 16000, 1000)
    pi0a, pi0b = null_proportions(pa, pb)
    w = np.array([pi0a * (1 - pi0b), (1 - pi0a) * pi0b, pi0a * pi0b])
    w = w / w.sum()
    z = norm.isf(w[0] * pa + w[1] * pb + w[2] * np.maximum(pa, pb) ** 2)
    mu, sigma = empirical_null(z)
    np.testing.assert_allclose(composite_pvalues(pa, pb, "dact"), norm.sf(z, mu, sigma))
    p_null = 2 * norm.sf(np.abs(rng.normal(size=(2, 20000))))  # H00 only: max(p)^2 is uniform
    assert abs(np.mean(composite_pvalues(p_null[0], p_null[1], "dact") <= 0.05) - 0.05) < 0.01


def test_maxp_is_the_larger_p_and_unknown_test_is_an_error():
    np.testing.assert_array_equal(composite_pvalues(np.array([0.1, 0.5]), np.array([0.3, 0.2]), "maxp"), [0.3, 0.5])
    with pytest.raises(InputError, match="dact"):
        composite_pvalues(np.array([0.1]), np.array([0.2]), "sobel")


def test_bootstrap_interval_covers_and_is_reproducible():
    rng = np.random.default_rng(4)
    n = 400
    C = np.ones((n, 1))
    x = rng.normal(size=(n, 1))
    m = 0.5 * x + rng.normal(size=(n, 1))
    y = 0.5 * m[:, 0] + rng.normal(size=n)
    fit = fit_pairs(x, m, y, C)
    lower, upper = bootstrap_interval(x, m, y, C, np.array([0]), np.array([0]), n_boot=400, seed=5)
    again = bootstrap_interval(x, m, y, C, np.array([0]), np.array([0]), n_boot=400, seed=5)
    assert (lower, upper) == again
    assert lower[0] < fit.indirect[0, 0] < upper[0] and lower[0] > 0
    d_lower, d_upper = delta_interval(fit)
    assert abs(lower[0] - d_lower[0, 0]) < 0.05 and abs(upper[0] - d_upper[0, 0]) < 0.05


def test_weighted_bootstrap_equals_refitting_the_resampled_rows():
    rng = np.random.default_rng(8)
    n = 60
    C = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    X, M = rng.normal(size=(n, 5)), rng.normal(size=(n, 4))
    M[:, 1] += X[:, 2]
    y = M[:, 1] + rng.normal(size=n)
    j, k = np.array([2, 0, 4, 2]), np.array([1, 3, 1, 0])
    lower, upper = bootstrap_interval(X, M, y, C, j, k, n_boot=50, seed=9)
    idx = np.random.default_rng(9).integers(0, n, (50, n))  # the same resamples, refitted one by one
    draws = np.array([fit_pairs(X[i], M[i], y[i], C[i]).indirect[j, k] for i in idx])
    expected = np.nanquantile(draws, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(lower, expected[0], rtol=1e-8)
    np.testing.assert_allclose(upper, expected[1], rtol=1e-8)


def test_annotation_uses_the_knowledge_table():
    assert mechanism_of("Butyric acid") == "SCFA"
    assert mechanism_of("indole-3-propionate") == "tryptophan/serotonin"
    assert mechanism_of("5-HT") == "tryptophan/serotonin"
    assert mechanism_of("DCA") == mechanism_of("taurocholic acid") == "bile acid"
    assert mechanism_of("glucose") == mechanism_of("m4") == ""
    table = annotate_pairs(["Faecalibacterium", "Faecalibacterium", "g__Bacteroides", "Unknown"], ["butyrate", "DCA", "deoxycholate", "butyrate"])
    assert list(table["mechanism"]) == ["SCFA", "bile acid", "bile acid", "SCFA"]
    assert table.loc[0, "knowledge"] == "butyrate producer" and table.loc[0, "reference"]
    assert table.loc[1, "knowledge"] == ""  # Faecalibacterium is not a known bile-acid transformer
    assert table.loc[2, "knowledge"] == "bile-acid transformer"
    known = load_knowledge()
    for group in GROUPS:  # every trait / pathway group a mechanism names exists in the knowledge table
        assert set(group.genus_traits) <= set(known["trait"])
        assert group.pathway_group is None or group.pathway_group in set(known["trait"])


@pytest.fixture
def cohort():
    rng = np.random.default_rng(6)
    n = 120
    samples = [f"s{i}" for i in range(n)]
    counts = pd.DataFrame(rng.poisson(rng.gamma(1.0, 50, (n, 6))), index=samples, columns=["Faecalibacterium", "Bacteroides", "A", "B", "C", "D"])
    x = np.log2(counts["Faecalibacterium"] + 1)
    metadata = pd.DataFrame({"age": rng.normal(60, 5, n), "sex": rng.choice(["F", "M"], n), "group": rng.choice(["a", "b", "c"], n)}, index=samples)
    mediators = pd.DataFrame(rng.normal(size=(n, 3)), index=samples, columns=["butyrate", "DCA", "m3"])
    mediators["butyrate"] += 0.8 * (x - x.mean()) / x.std()
    metadata["bmd"] = 0.7 * mediators["butyrate"] + rng.normal(size=n)
    return counts, metadata, mediators


def test_mediate_finds_the_implanted_path_and_annotates_it(cohort):
    counts, metadata, mediators = cohort
    with pytest.warns(UserWarning, match="rough"):
        result = run_mediation(counts, metadata, mediators, "bmd", ["age", "sex"], test="hdmt", n_boot=200)
    table = result.results
    assert list(table.columns[:14]) == [
        "feature", "mediator", "alpha", "alpha.se", "pval.alpha", "beta", "beta.se", "pval.beta", "indirect",
        "indirect.lower", "indirect.upper", "prop.mediated", "pval", "qval",
    ]
    top = table.iloc[0]
    assert (top["feature"], top["mediator"]) == ("Faecalibacterium", "butyrate") and top["qval"] < 0.01
    assert top["ci.method"] == "bootstrap" and top["indirect.lower"] > 0
    assert top["mechanism"] == "SCFA" and top["knowledge"] == "butyrate producer"
    np.testing.assert_allclose(table["prop.mediated"], table["indirect"] / table["total"])
    assert len(table) == 18 and (table["N"] == 120).all()
    with pytest.warns(UserWarning, match="rough"):
        again = mediate(counts, metadata, mediators, "bmd", ["age", "sex"], test="hdmt", n_boot=200)
    pd.testing.assert_frame_equal(table, again)  # seeded bootstrap


def test_missing_mediator_values_use_complete_cases(cohort):
    counts, metadata, mediators = cohort
    mediators = mediators.copy()
    mediators.iloc[:10, 1] = np.nan
    metadata = metadata.copy()
    metadata.iloc[50, metadata.columns.get_loc("bmd")] = np.nan
    table = mediate(counts, metadata, mediators, "bmd", ["age"], test="maxp", ci="delta")
    assert set(table.loc[table["mediator"] == "DCA", "N"]) == {109}
    assert set(table.loc[table["mediator"] == "butyrate", "N"]) == {119}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "bmdd"}, "'bmdd' is not a metadata column.*did you mean"),
        ({"outcome": "sex"}, "not numeric"),
        ({"outcome": "age", "covariates": ["age"]}, "also listed as a covariate"),
        ({"test": "sobel"}, "test 'sobel' is not known"),
        ({"ci": "bca"}, "CI method"),
        ({"covariates": ["group"], "preset": "maaslin2"}, "reference level"),
    ],
)
def test_bad_usage_is_one_line(cohort, change, message):
    counts, metadata, mediators = cohort
    args = {"outcome": "bmd", "covariates": ["age"], "test": "maxp", "ci": "delta", "preset": "default"} | change
    with pytest.raises(InputError, match=message) as info:
        mediate(counts, metadata, mediators, args["outcome"], args["covariates"], preset=args["preset"], test=args["test"], ci=args["ci"])
    assert "\n" not in str(info.value)


def test_mediator_ids_must_match(cohort):
    counts, metadata, mediators = cohort
    with pytest.raises(InputError, match="mediator table"):
        mediate(counts, metadata, mediators.set_axis([f"x{i}" for i in range(len(mediators))]), "bmd", test="maxp")


def test_mediators_are_aligned_as_metadata_are(cohort):
    """Samples without a mediator row are left out of every pair, extra mediator rows ignored, both with a warning;
    duplicate mediator ids are an error naming the table."""
    counts, metadata, mediators = cohort
    partial = pd.concat([mediators.iloc[5:], pd.DataFrame({"butyrate": [1.0], "DCA": [2.0], "m3": [3.0]}, index=["extra"])])
    with pytest.warns(UserWarning) as caught:
        table = mediate(counts, metadata, partial.iloc[::-1], "bmd", ["age"], test="maxp", ci="delta")
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("5 samples only in the feature table are left out: 's0', 's1'") for m in messages)
    assert "1 samples only in the mediator table are left out: 'extra'." in messages
    assert len(table) == 18 and (table["N"] == 115).all()
    twice = pd.concat([mediators, mediators.iloc[:1]])
    with pytest.raises(InputError, match="the mediator table has duplicate sample ids 's0'"):
        mediate(counts, metadata, twice, "bmd", test="maxp")
