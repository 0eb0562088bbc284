import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.stats.preprocess import (
    check_combination,
    filter_features,
    normalize,
    standardize,
    standardize_columns,
    transform,
)


def test_filter_strict_inequalities():
    X = np.array([[0, 1, 0.5, 2], [0, 1, 0, 2], [1, 1, 0, 2], [0, 1, 0, 2]], dtype=float)
    # prevalence 0.25 of 4 samples = 1: a feature needs > 1 non-zero samples
    assert filter_features(X, min_prevalence=0.25).tolist() == [False, False, False, False]
    assert filter_features(X, min_prevalence=0.0).tolist() == [True, False, True, False]  # constant ones go
    assert filter_features(X, min_prevalence=0.0, min_abundance=0.5).tolist() == [True, False, False, False]
    with pytest.raises(InputError, match="fraction"):
        filter_features(X, min_prevalence=10)


def test_tss_clr_log_ast_logit():
    X = np.array([[1.0, 3.0, 0.0], [2.0, 2.0, 4.0]])
    tss = normalize(X, "TSS")
    np.testing.assert_allclose(tss.sum(axis=1), 1.0)
    clr = normalize(X, "CLR")
    np.testing.assert_allclose(clr[0], np.log(X[0] + 1) - np.log(X[0] + 1).mean())
    logged = transform(tss, "LOG")
    assert logged[0, 2] == np.log2(tss[1, 2] / 2)  # zero -> half the feature's smallest non-zero
    np.testing.assert_allclose(transform(np.array([[0.25]]), "AST"), np.arcsin(0.5))
    assert transform(np.array([[0.0, 0.5]]), "LOGIT").tolist() == [[0.0, 0.0]]


def test_tmm_and_css_scale_samples_where_tss_cannot():
    """Samples of different depths, every other one with its 20 most abundant features bloomed 10x (80% of its
    reads): TMM and CSS put the unchanged features on one scale; TSS, which divides by the bloom too, does not."""
    rng = np.random.default_rng(0)
    base = rng.gamma(1.0, 50.0, size=200)
    bloom = np.zeros(200, dtype=bool)
    bloom[np.argsort(base)[-20:]] = True
    X = np.vstack(
        [rng.poisson(base * depth * np.where(bloom & (i % 2 == 1), 10.0, 1.0)) for i, depth in enumerate((1, 2, 4, 3, 1.5, 2.5))]
    ).astype(float)

    def spread(method):  # range of log(per-sample scale of the unchanged features)
        out = normalize(X, method)
        return np.ptp(np.log(np.median(out[:, ~bloom] / base[~bloom], axis=1)))

    assert spread("TSS") > 1.0  # the data tell the methods apart: TSS off by a factor of ~4
    for method in ("TMM", "CSS"):
        assert spread(method) < 0.15, method


def test_rejects_bad_values_and_combinations():
    with pytest.raises(InputError, match="CLR"):
        check_combination("CLR", "LOG")
    with pytest.raises(InputError, match="did you mean 'TSS'"):
        check_combination("TSSS", "LOG")
    with pytest.raises(InputError, match="between -1 and 1"):
        transform(np.array([[2.0]]), "AST")
    with pytest.raises(InputError, match="non-negative"):
        normalize(np.array([[-1.0, 2.0]]), "TSS")


def test_standardize_like_r_scale():
    frame = pd.DataFrame({"age": [1.0, 2.0, np.nan, 4.0], "sex": ["F", "M", "F", "M"]})
    out = standardize(frame)
    values = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(out["age"].dropna(), (values - values.mean()) / values.std(ddof=1))
    assert out["sex"].tolist() == frame["sex"].tolist()
    with pytest.raises(InputError, match="constant"):
        standardize(pd.DataFrame({"x": [1.0, 1.0]}))


def _cum_norm_stat_fast(X: np.ndarray) -> float:
    """metagenomeSeq's cumNormStatFast written the way its R code is laid out (samples are rows here):
    each sample's non-zero counts sorted and right-aligned in an NA-padded matrix."""
    nonzero = [np.sort(row[row > 0]) for row in X]
    length = max(v.size for v in nonzero)
    padded = np.full((length, len(nonzero)), np.nan)
    for i, values in enumerate(nonzero):
        padded[length - values.size :, i] = values
    quantiles = np.column_stack([np.nanquantile(padded[:, i], np.linspace(0, 1, length)) for i in range(len(nonzero))])
    reference = np.nan_to_num(padded).mean(axis=1)
    medians = np.median(np.abs(reference[:, None] - quantiles), axis=1)
    where = np.flatnonzero(np.abs(np.diff(medians)) / medians[1:] > 0.1)
    return max((where[0] + 1) / medians.size if where.size else 0.5, 0.5)


def test_css_follows_metagenomeseq_cumnormstatfast_and_cumnormmat():
    rng = np.random.default_rng(4)
    X = rng.negative_binomial(0.4, 0.02, size=(12, 80)).astype(float)
    X[:, :5] += 1  # every sample has non-zero features
    p = _cum_norm_stat_fast(X)
    expected = []
    for row in X:  # cumNormMat: sum of (x - eps) at or below the sample's p-quantile of its non-zero counts
        shifted = row - np.finfo(float).eps
        expected.append(shifted[shifted <= np.quantile(row[row > 0], p)].sum())
    np.testing.assert_allclose(normalize(X, "CSS"), X / (np.array(expected)[:, None] / 1000.0), rtol=1e-12)


def test_tmm_trims_differential_features():
    # sample 2 is sample 1 sequenced twice as deep, with 10% of features 30x up: TMM must ignore those and
    # give both samples the same effective library composition, so the unchanged features agree after scaling
    rng = np.random.default_rng(5)
    base = rng.gamma(2.0, 50.0, size=200)
    up = np.zeros(200, dtype=bool)
    up[:20] = True
    X = np.vstack([base, 2 * base * np.where(up, 30.0, 1.0)])
    out = normalize(X, "TMM")
    np.testing.assert_allclose(out[1, ~up], out[0, ~up], rtol=1e-10)


def test_standardize_columns_masks_columns_constant_up_to_rounding():
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, 40)
    rounding = 1e6 + 1e-7 * rng.normal(size=40)  # sd 1e-7 at 1e6: equal up to rounding, not information
    small = 1e-9 * rng.normal(size=40)  # tiny values but a real spread: scaled like any column
    values = np.column_stack([x, np.full(40, 2.5), rounding, small, np.r_[np.nan, x[1:]]])
    z, constant = standardize_columns(values)
    assert constant.tolist() == [False, True, True, False, True]
    np.testing.assert_allclose(z[:, 0], (x - x.mean()) / x.std(ddof=1), rtol=1e-12)
    np.testing.assert_allclose(z[:, 3].std(ddof=1), 1.0, rtol=1e-12)
    assert np.isnan(z[:, constant]).all()

