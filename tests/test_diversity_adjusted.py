"""Many covariate-adjusted PERMANOVAs sharing one distance matrix (``permanova_each``): every table equals a
separate ``permanova`` call with the same seed, and the pseudo-F null equals refitting every model for every
permutation (``naive_permanova``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from naive_permanova import F_values, design, gower, permuted_F

from osteobiome.diversity import beta_diversity, permanova
from osteobiome.diversity.adjusted import permanova_each
from osteobiome.diversity.permutations import permutation_batches, permutation_pvalue
from osteobiome.errors import InputError


@pytest.fixture(scope="module")
def data():
    """60 samples × 25 taxa whose composition follows ``bone`` and ``group``; numeric and categorical terms."""
    rng = np.random.default_rng(5)
    n = 60
    meta = pd.DataFrame(
        {
            "age": rng.normal(60, 8, n),
            "sex": rng.choice(["female", "male"], n),
            "site": rng.choice(["a", "b", "c"], n),
            "bone": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "group": rng.choice(["x", "y", "z"], n),
            "visit": np.repeat([1, 2, 3, 4], n // 4),
        },
        index=[f"s{i}" for i in range(n)],
    )
    loadings = rng.normal(size=(2, 25))
    signal = meta[["bone"]].to_numpy() @ loadings[:1] + (meta["group"] == "z").to_numpy()[:, None] * loadings[1:]
    counts = rng.poisson(20 * np.exp(0.6 * signal + rng.normal(0, 0.5, (n, 25))))
    table = pd.DataFrame(counts, index=meta.index, columns=[f"t{j}" for j in range(25)])
    return beta_diversity(table, "braycurtis"), meta


def _same(table: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(table.term) == list(reference.term)
    assert list(table.Df) == list(reference.Df)
    np.testing.assert_array_equal(table.pval.to_numpy(), reference.pval.to_numpy())  # same permutations
    for column in ("SumOfSqs", "R2", "F"):
        np.testing.assert_allclose(table[column].to_numpy(), reference[column].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("covariates", "tests", "strata", "categorical"),
    [
        (["age", "sex"], ["bone", "noise", "group"], None, ()),  # numeric and 3-level tests
        (["age", "sex", "site"], ["bone", "group"], None, ()),  # a 3-level covariate
        ([], ["bone", "group", "noise"], None, ()),  # no covariates
        (["age"], ["bone", "visit"], "sex", ("visit",)),  # within strata; a numeric term coded as a factor
    ],
)
def test_each_table_equals_a_separate_permanova(data, covariates, tests, strata, categorical):
    dm, meta = data
    tables = permanova_each(dm, meta, covariates, tests, permutations=199, seed=4, strata=strata, categorical=categorical)
    assert list(tables) == tests
    for test in tests:
        reference = permanova(
            dm, meta, [*covariates, test], by="terms", permutations=199, seed=4, strata=strata, categorical=categorical
        )
        _same(tables[test], reference)
        assert tables[test].attrs["n"] == reference.attrs["n"]


def test_null_equals_refitting_every_permutation(data):
    """The p-values are vegan's count over the pseudo-F of every model refitted on every permuted matrix."""
    dm, meta = data
    covariates, tests = ["age", "sex"], ["bone", "group", "noise"]
    tables = permanova_each(dm, meta, covariates, tests, permutations=60, seed=9)
    perms = np.vstack(list(permutation_batches(len(meta), 60, seed=9)))
    G = gower(dm.data)
    for test in tests:
        blocks = design(meta, [*covariates, test])
        observed = F_values(G, blocks, "terms")
        null = permuted_F(G, blocks, "terms", perms)
        np.testing.assert_allclose(tables[test].F.to_numpy()[:3], observed, rtol=1e-10)
        np.testing.assert_array_equal(tables[test].pval.to_numpy()[:3], permutation_pvalue(null, observed))


def test_missing_values_leave_out_samples_model_by_model(data):
    dm, meta = data
    meta = meta.copy()
    meta.iloc[:5, meta.columns.get_loc("noise")] = np.nan
    meta.iloc[50:53, meta.columns.get_loc("age")] = np.nan
    tables = permanova_each(dm, meta, ["age"], ["bone", "noise"], permutations=99, seed=2)
    for test, n in (("bone", 57), ("noise", 52)):
        complete = meta.index[meta[["age", test]].notna().all(axis=1)]
        with pytest.warns(UserWarning, match="samples dropped"):
            reference = permanova(dm, meta, ["age", test], permutations=99, seed=2)
        _same(tables[test], reference)
        assert tables[test].attrs["n"] == n == len(complete)


def test_aliased_test_and_errors(data):
    dm, meta = data
    meta = meta.assign(age2=meta.age * 2.0)
    with pytest.warns(UserWarning, match="'age2' is aliased"):
        tables = permanova_each(dm, meta, ["age"], ["age2", "bone"], permutations=9)
    assert tables["age2"].Df.iloc[1] == 0 and np.isnan(tables["age2"].pval.iloc[1])
    assert tables["bone"].Df.iloc[1] == 1 and np.isfinite(tables["bone"].pval.iloc[1])
    with pytest.raises(InputError, match="did you mean 'bone'"):
        permanova_each(dm, meta, ["age"], ["bon"])
    with pytest.raises(InputError, match="must be 0 or more"):
        permanova_each(dm, meta, ["age"], ["bone"], permutations=-1)
    no_perm = permanova_each(dm, meta, ["age"], ["bone"], permutations=0)["bone"]
    assert no_perm.pval.isna().all() and np.isfinite(no_perm.F.iloc[1])


def test_every_sample_of_the_distance_matrix_needs_one_metadata_row(data):
    dm, meta = data
    with pytest.raises(InputError, match=r"permanova: samples 's3' of the distance matrix have no metadata row"):
        permanova_each(dm, meta.drop(index="s3"), ["age"], ["bone"], permutations=9)
    with pytest.raises(InputError, match="duplicate sample ids 's4'"):
        permanova_each(dm, pd.concat([meta, meta.loc[["s4"]]]), ["age"], ["bone"], permutations=9)
