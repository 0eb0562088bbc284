"""The Python API: associate(cohort, fixed=...) without metadata; DataFrames in either orientation, biom.Table and
AnnData-like objects for load_cohort and associate; the numpydoc examples run."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome import associate, load_cohort
from osteobiome.errors import InputError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(8)
    n, m = 70, 15
    samples = [f"s{i}" for i in range(n)]
    meta = pd.DataFrame({"age": rng.normal(60, 8, n), "sex": rng.choice(["F", "M"], n)}, index=samples)
    counts = rng.poisson(rng.gamma(2.0, 20.0, (1, m)) * np.exp(0.02 * (meta[["age"]].to_numpy() - 60)), (n, m))
    table = pd.DataFrame(counts * (rng.random((n, m)) < 0.8) + (rng.random((n, m)) < 0.05),
                         index=samples, columns=[f"g{j}" for j in range(m)])
    return table, meta


class FakeAnnData:
    """The attributes osteobiome reads from an AnnData object (anndata itself is not a dependency)."""

    def __init__(self, X, obs: pd.DataFrame, var_names: list[str]) -> None:
        self.X, self.obs = X, obs
        self.obs_names, self.var_names = pd.Index(obs.index), pd.Index(var_names)


def test_associate_a_cohort_without_repeating_the_metadata(data):
    table, meta = data
    cohort = load_cohort(table, meta)
    expected = associate(table, meta, ["age", "sex"], preset="maaslin2")
    pd.testing.assert_frame_equal(associate(cohort, fixed=["age", "sex"], preset="maaslin2"), expected)


def test_dataframes_in_either_orientation(data):
    table, meta = data
    expected = associate(table, meta, ["age"])
    pd.testing.assert_frame_equal(associate(table.T, meta, ["age"]), expected)  # features as rows
    rows, columns = load_cohort(table, meta), load_cohort(table.T, meta)
    np.testing.assert_array_equal(rows.dense(), columns.dense())
    assert list(columns.samples) == list(table.index)


def test_biom_table_and_anndata(data):
    import biom

    table, meta = data
    expected = associate(table, meta, ["age", "sex"])
    as_biom = biom.Table(table.T.to_numpy(), list(table.columns), list(table.index))
    pd.testing.assert_frame_equal(associate(as_biom, meta, ["age", "sex"]), expected)
    assert load_cohort(as_biom, meta).is_sparse
    fake = FakeAnnData(sp.csr_matrix(table.to_numpy(dtype=float)), meta, list(table.columns))
    pd.testing.assert_frame_equal(associate(fake, fixed=["age", "sex"]), expected)  # .obs is the metadata
    cohort = load_cohort(fake)
    assert cohort.is_sparse and list(cohort.metadata.columns) == ["age", "sex"]
    dense = FakeAnnData(table.to_numpy(), meta, list(table.columns))
    pd.testing.assert_frame_equal(associate(dense, fixed=["age", "sex"]), expected)
    with pytest.raises(InputError, match="X is 70 × 15 but there are 70 obs and 14 var names"):
        load_cohort(FakeAnnData(table.to_numpy(), meta, list(table.columns[:-1])))
    with pytest.raises(InputError, match="not readable; pass a file path, a DataFrame, a biom.Table or an AnnData"):
        load_cohort(object())


def test_real_anndata_when_installed(data):
    anndata = pytest.importorskip("anndata")  # optional: the duck-typed path above is what CI tests
    table, meta = data
    adata = anndata.AnnData(X=table.to_numpy(dtype=float), obs=meta, var=pd.DataFrame(index=table.columns))
    pd.testing.assert_frame_equal(associate(adata, fixed=["age"]), associate(table, meta, ["age"]))


@pytest.mark.parametrize(
    "module",
    ["osteobiome.association.pipeline", "osteobiome.association.options", "osteobiome.io.load"],
)
def test_docstring_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
