"""The blocked sparse LM path equals the dense pipeline (filter, normalization, transform, fit, BH)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.association.blocked import associate_blocked, column_stats, run_blocked, sparse_log
from osteobiome.association.pipeline import associate
from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.io.store import FeatureStore, feature_blocks, write_store
from osteobiome.stats.preprocess import filter_features, transform

KEYS = ["feature", "metadata", "value"]
#: The blocked path fits linear models without compositional correction (the default preset is two-part).
LM = {"model": "lm", "compositional": "none"}
NUMBERS = ["coef", "stderr", "pval", "qval", "log10.pval"]


def _sparse_counts(n: int, m: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    X = sp.random(n, m, density=density, format="csr", random_state=seed, data_rvs=lambda k: rng.integers(1, 200, k))
    everywhere = sp.csr_matrix(rng.integers(1, 5, (n, 1)).astype(float))  # so no sample is all-zero
    return sp.hstack([everywhere, X[:, 1:]], format="csr")


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    rng = np.random.default_rng(3)
    n, m = 120, 90
    meta = pd.DataFrame(
        {
            "age": rng.normal(60, 8, n),
            "sex": rng.choice(["F", "M"], n),
            "bmi": rng.normal(27, 4, n),
        },
        index=[f"s{i}" for i in range(n)],
    )
    meta.iloc[[4, 17], 2] = np.nan  # incomplete rows are left out of the design
    return Cohort.from_arrays(_sparse_counts(n, m, 0.15, 3), meta.index, [f"g{j}" for j in range(m)], meta)


def assert_same(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-12) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    merged = a.merge(b, on=KEYS, suffixes=("", "_b"))
    assert len(merged) == len(a)
    for column in NUMBERS:
        scale = np.nanmax(np.abs(merged[column]))  # relative to the column's scale (coefficients near 0)
        np.testing.assert_allclose(merged[column], merged[f"{column}_b"], rtol=rtol, atol=rtol * scale)
    for column in ("N", "N.not.0", "N.used", "df"):
        np.testing.assert_array_equal(merged[column], merged[f"{column}_b"])


@pytest.mark.parametrize("min_abundance", [0.0, 3.0, -1.0])
@pytest.mark.parametrize("min_prevalence,min_variance", [(0.1, 0.0), (0.05, 50.0), (0.0, 0.0)])
def test_sparse_filter_equals_dense(min_abundance, min_prevalence, min_variance):
    X = _sparse_counts(200, 150, 0.08, 5)
    X = X.tolil()
    X[:, 7] = 0  # an all-zero feature
    X = X.tocsr()
    stats = column_stats(X, min_abundance)
    dense = X.toarray()
    expected = filter_features(dense, min_abundance, min_prevalence, min_variance)
    np.testing.assert_array_equal(stats.kept(200, min_prevalence, min_variance), expected)
    np.testing.assert_allclose(stats.variance, dense.var(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_array_equal(column_stats(dense, min_abundance).above, stats.above)


def test_sparse_log_equals_dense_transform():
    X = _sparse_counts(80, 40, 0.2, 7)
    totals = np.asarray(X.sum(axis=1)).ravel()
    expected = transform(X.toarray() / totals[:, None], "LOG")
    got, nonzero = sparse_log(X.tocsc(), totals)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(nonzero, (X.toarray() > 0).sum(axis=0))


def test_blocked_hc3_equals_dense(cohort):
    options = {"variance": "HC3", **LM}
    assert_same(associate(cohort, None, ["age", "sex"], **options), associate_blocked(cohort, None, ["age", "sex"], block_size=11, **options))


@pytest.mark.parametrize(
    "normalization,transform_,block_size",
    [("TSS", "LOG", 7), ("TSS", "LOG", None), ("CLR", "NONE", 16), ("NONE", "LOG", 1), ("TSS", "AST", 33), ("TSS", "LOGIT", 5), ("NONE", "NONE", 64)],
)
def test_blocked_equals_dense(cohort, normalization, transform_, block_size):
    options = {"normalization": normalization, "transform": transform_, **LM}
    expected = associate(cohort, None, ["age", "sex", "bmi"], **options)
    got = associate_blocked(cohort, None, ["age", "sex", "bmi"], block_size=block_size, **options)
    assert_same(expected, got)


def test_blocked_maaslin2_preset_and_inputs(cohort):
    expected = associate(cohort, None, ["age", "bmi"], preset="maaslin2", min_abundance=2.0)
    for features in (cohort, cohort.table, Cohort.from_arrays(cohort.dense(), cohort.samples, cohort.features, cohort.metadata)):
        got = associate_blocked(features, cohort.metadata, ["age", "bmi"], preset="maaslin2", min_abundance=2.0, block_size=10)
        assert_same(expected, got)


def test_blocked_from_store_with_extra_samples(cohort, tmp_path):
    path = write_store(tmp_path / "t.h5", cohort.samples, feature_blocks(cohort.X, cohort.features, 25))
    metadata = cohort.metadata.iloc[10:].sample(frac=1.0, random_state=1)  # fewer samples, other order
    expected = associate(cohort.table.loc[metadata.index], metadata, ["age", "sex"], **LM)
    with pytest.warns(UserWarning, match="10 samples only in the feature table"):
        got = associate_blocked(path, metadata, ["age", "sex"], block_size=9, **LM)
    assert_same(expected, got)
    with pytest.warns(UserWarning, match="only in the feature table"):
        assert_same(expected, associate_blocked(FeatureStore.open(path), metadata, ["age", "sex"], block_size=1000, **LM))


def test_blocked_refuses_duplicate_sample_ids(cohort):
    metadata = pd.concat([cohort.metadata, cohort.metadata.iloc[[7]]])
    with pytest.raises(InputError, match="the metadata has duplicate sample ids 's7'"):
        associate_blocked(cohort.table, metadata, ["age"], block_size=10, **LM)
    table = cohort.table.rename(index={"s1": "s2"})
    with pytest.raises(InputError, match="the feature table has duplicate sample ids 's2'"):
        associate_blocked(table, cohort.metadata, ["age"], block_size=10, **LM)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"random": ("site",)}, "random effects are not available in the blocked path"),
        ({"model": "twopart"}, r"fits linear models without compositional correction, not model='twopart'; use --preset maaslin2"),
        ({"compositional": "median"}, "not compositional='median'"),
        ({"normalization": "CSS"}, "normalization CSS needs the whole table"),
        ({"block_size": 0}, "--block-size 0"),
        ({"min_prevalence": 1.0}, "features were filtered out"),
        ({"min_prevalence": 2.0}, "must be a fraction"),
        ({"scheduler": "fast"}, "neither threads, processes nor a scheduler address"),
    ],
)
def test_blocked_errors(cohort, kwargs, message):
    with pytest.raises(InputError, match=message):
        associate_blocked(cohort, None, ["age"], **(LM | kwargs))


def test_blocked_input_errors(cohort):
    table = cohort.table
    with pytest.raises(InputError, match="no metadata given"):
        associate_blocked(table, None, ["age"], **LM)
    with pytest.raises(InputError, match="must be a Cohort"):
        associate_blocked(table.to_numpy(), cohort.metadata, ["age"], **LM)
    with pytest.raises(InputError, match="no sample id is in both"):
        associate_blocked(table, cohort.metadata.set_index(cohort.metadata.index + "x"), ["age"], **LM)
    missing = table.copy()
    missing.iloc[0, 0] = np.nan
    with pytest.raises(InputError, match="missing values"):
        associate_blocked(missing, cohort.metadata, ["age"], **LM)
    negative = table.copy()
    negative.iloc[0, 3] = -1.0
    with pytest.raises(InputError, match="non-negative"):
        associate_blocked(negative, cohort.metadata, ["age"], **LM)
    with pytest.raises(InputError, match="LOG transform needs non-negative"):
        associate_blocked(negative, cohort.metadata, ["age"], normalization="NONE", min_prevalence=0.0, **LM)


def test_run_blocked_keeps_the_resolved_options_and_the_significant_rows(cohort):
    result = run_blocked(cohort, None, ["age", "bmi"], preset="maaslin2", block_size=10, max_significance=0.5)
    assert result.options["max_significance"] == 0.5 and result.options["model"] == "lm"
    expected = result.results[result.results["qval"] <= 0.5].reset_index(drop=True)
    pd.testing.assert_frame_equal(result.significant(), expected)
