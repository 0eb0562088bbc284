"""The shortcuts of the per-call speed work (issue 15) give the numbers of the plain formulas they replace, and
never touch the caller's data: LOG transform in place, the condition bracket of the stacked information
matrices, t p-values from ``special.stdtr``, the first Newton step of the prevalence part, in-place blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from osteobiome import associate
from osteobiome.association._source import column_stats
from osteobiome.errors import InputError
from osteobiome.io.align import align_samples
from osteobiome.io.cohort import Cohort
from osteobiome.stats.formula import build_formula_design
from osteobiome.stats.lm import t_test
from osteobiome.stats.preprocess import normalize, transform
from osteobiome.stats.twopart import MAX_CONDITION, _batched_inverse, fit_prevalence


def _plain_log(X: np.ndarray) -> np.ndarray:
    """LOG as written in its docstring: log2(x), zeros at log2(½ smallest positive value of the column)."""
    smallest = np.array([col[col > 0].min() for col in X.T])
    with np.errstate(divide="ignore"):
        out = np.log2(X)
    return np.where(X == 0, np.log2(smallest / 2.0), out)


def test_log_transform_equals_the_plain_formula_and_leaves_its_input_alone():
    rng = np.random.default_rng(0)
    X = rng.gamma(0.3, 1e-3, size=(50, 7)) * (rng.random((50, 7)) < 0.6)
    X[0] = 1e-300  # tiny positive values order correctly through their IEEE bits
    X[1, 2] = -0.0  # a negative zero is a zero
    before = X.copy()
    np.testing.assert_array_equal(transform(X, "LOG"), _plain_log(X))
    np.testing.assert_array_equal(X, before)
    inplace = X.copy()
    out = transform(inplace, "LOG", overwrite=True)
    assert out is inplace
    np.testing.assert_array_equal(out, _plain_log(X))


def test_log_transform_with_missing_values_and_its_errors():
    X = np.array([[0.0, 0.5], [np.nan, 0.0], [0.25, 1.0]])
    out = transform(X, "LOG")
    np.testing.assert_array_equal(out[:, 0], [np.log2(0.125), np.nan, -2.0])
    np.testing.assert_array_equal(out[:, 1], [-1.0, np.log2(0.25), 0.0])
    with pytest.raises(InputError, match="no non-zero value"):
        transform(np.array([[0.0, 1.0], [-0.0, 2.0]]), "LOG")
    with pytest.raises(InputError, match="non-negative"):
        transform(np.array([[np.nan, 1.0], [-1.0, 2.0]]), "LOG")


def test_tss_in_place_equals_the_copy():
    X = np.random.default_rng(1).poisson(3.0, size=(20, 9)).astype(float)
    expected = normalize(X, "TSS")
    assert normalize(X, "TSS", overwrite=True) is X
    np.testing.assert_array_equal(X, expected)


def test_t_test_equals_scipy_t_sf_for_every_kind_of_df():
    t = np.abs(np.r_[np.random.default_rng(2).standard_cauchy(200), 0.0, np.inf, np.nan, 40.0])
    for df in (np.inf, 1.0, 3.5, 655.0, np.nan, 0.0, -1.0):
        pval, _ = t_test(t, df)
        np.testing.assert_array_equal(pval, 2.0 * stats.t.sf(t, df))


def test_condition_bracket_classifies_as_the_svd_does():
    rng = np.random.default_rng(3)
    p, mats = 5, []
    for exponent in np.linspace(0, 16, 161):  # condition numbers 1 … 1e16, many near the 1e12 limit
        q, _ = np.linalg.qr(rng.normal(size=(p, p)))
        mats.append(q @ np.diag(np.logspace(0, -exponent, p)) @ q.T)
    info = np.array(mats)
    inv, good = _batched_inverse(info)
    expected = np.linalg.cond(info) < MAX_CONDITION
    np.testing.assert_array_equal(good, expected)
    assert 0 < good.sum() < len(good)
    np.testing.assert_array_equal(inv[good], np.linalg.inv(info[good]))
    assert np.isnan(inv[~good]).all()
    singular = info.copy()
    singular[0] = 0.0  # an exactly singular matrix: the stack is inverted without it
    inv, good = _batched_inverse(singular)
    assert not good[0] and np.isnan(inv[0]).all() and good[1]


def _newton_reference(present: np.ndarray, X: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Augmented logistic fit by plain per-feature Newton steps from zero (the formula of the module docstring)."""
    n, p = X.shape
    k = p - 1
    target = (present + k / (2 * n)) / (1 + k / n)
    out = np.empty((p, present.shape[1]))
    for j in range(present.shape[1]):
        beta = np.zeros(p)
        for _ in range(100):
            prob = 1 / (1 + np.exp(-X @ beta))
            step = np.linalg.solve(X.T @ (X * (prob * (1 - prob))[:, None]), X.T @ (target[:, j] - prob))
            beta += step
            if np.abs(step).max() < tol:
                break
        out[:, j] = beta
    return out


def test_prevalence_fit_equals_plain_newton_per_feature():
    rng = np.random.default_rng(4)
    n = 120
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n), rng.normal(size=n)])
    present = rng.random((n, 9)) < 1 / (1 + np.exp(-(X @ rng.normal(scale=1.0, size=(4, 9)))))
    fit = fit_prevalence(present, X)
    np.testing.assert_allclose(fit.coef, _newton_reference(present.astype(float), X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("drop", [True, False])
def test_associate_never_changes_the_callers_table(drop):
    rng = np.random.default_rng(5)
    n, m = 60, 25
    samples = [f"s{i}" for i in range(n)]
    counts = rng.poisson(5.0, size=(n, m)).astype(float)
    if drop:
        counts[:, :3] = 0.0
        counts[0, :3] = 1.0  # too rare: filtered out, so the kept features are a copy
    table = pd.DataFrame(counts, index=samples, columns=[f"g{j}" for j in range(m)])
    metadata = pd.DataFrame({"age": rng.normal(size=n), "sex": rng.choice(["F", "M"], n)}, index=samples)
    before = table.copy()
    for preset in ("maaslin2", "default"):
        associate(table, metadata, ["age", "sex"], preset=preset)
        associate(table, metadata, ["age", "sex"], preset=preset, block_size=7)
    pd.testing.assert_frame_equal(table, before)
    X = counts.copy()
    cohort = Cohort(X=X, samples=pd.Index(samples), features=table.columns, metadata=metadata)
    for block_size in (None, 7):  # the cohort's own array is the only block when every feature is kept
        for preset in ("maaslin2", "default"):
            associate(cohort, fixed=["age", "sex"], preset=preset, block_size=block_size)
    np.testing.assert_array_equal(X, counts)


def test_formula_design_shares_the_model_checks():
    meta = pd.DataFrame({"bmd": [1.0, 2.0, np.inf, 4.0], "sex": ["F", "M", "F", "M"]}, index=list("abcd"))
    with pytest.raises(InputError, match="'bmd' has infinite values"):
        build_formula_design(meta, "~ bmd * sex")
    meta = meta.assign(bmd=[1.0, 1.0, 1.0, np.nan])
    with pytest.raises(InputError, match="'bmd' is constant; drop it from the formula"):
        build_formula_design(meta, "~ bmd + sex")


def test_filter_keeps_a_varying_feature_whose_plain_variance_underflows():
    X = np.random.default_rng(6).random((30, 3))
    X[:, 1] *= 1e-170  # var ~ 1e-341: 0 in float64 unless computed on x / max|x|
    for values in (X, np.vstack([X, np.full((1, 3), np.nan)])):
        stats = column_stats(values)
        assert stats.kept(values.shape[0], 0.0, 0.0).all()
        assert stats.variance[1] > 0


def test_prevalence_on_a_singular_design_is_nan_not_an_error():
    rng = np.random.default_rng(7)
    x = rng.normal(size=40)
    X = np.column_stack([np.ones(40), x, 2 * x])
    fit = fit_prevalence(rng.random((40, 4)) < 0.5, X)
    assert np.isnan(fit.coef).all() and np.isnan(fit.pval).all()


def test_aligned_metadata_is_a_new_frame_when_the_ids_already_match():
    metadata = pd.DataFrame({"age": [1.0, 2.0, 3.0]}, index=pd.Index(["a", "b", "c"], dtype="str"))
    used, aligned = align_samples(pd.Index(["a", "b", "c"]), metadata)
    assert used.all() and aligned is not metadata
    aligned["age"] = 0.0
    assert metadata["age"].tolist() == [1.0, 2.0, 3.0]


def test_the_fast_path_keeps_the_no_common_id_error_for_two_empty_tables():
    with pytest.raises(InputError, match="no sample id is in both"):
        align_samples(pd.Index([]), pd.DataFrame(index=pd.Index([], dtype=str)))


@pytest.mark.parametrize("n", [3, 5000])  # many columns per piece, and one column per piece
def test_private_source_gives_its_kept_columns_in_place(n):
    from osteobiome.association._source import Source

    rng = np.random.default_rng(4)
    matrix = np.asfortranarray(rng.random((n, 23)))
    kept = np.array([0, 2, 3, 7, 8, 9, 15, 16, 22])
    expected = matrix[:, kept].copy()
    source = Source(pd.Index([str(i) for i in range(n)]), pd.Index([f"f{j}" for j in range(23)]), matrix=matrix, private=True)
    (block,) = list(source.blocks(kept, block_size=23, consume=True))
    assert np.shares_memory(block, matrix)
    np.testing.assert_array_equal(block, expected)
