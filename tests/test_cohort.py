import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort

TABLE = pd.DataFrame([[1, 0, 3], [0, 0, 0], [2, 2, 2]], index=["a", "b", "c"], columns=["f1", "f2", "f3"])


def test_from_frames_matches_ids_and_records_drops():
    meta = pd.DataFrame({"age": [1.0, 2.0, 3.0, 4.0]}, index=["c", "a", "b", "z"])
    with pytest.warns(UserWarning, match="all-zero"):
        cohort = Cohort.from_frames(TABLE, meta, name="x")
    assert list(cohort.samples) == ["a", "c"]
    assert list(cohort.metadata["age"]) == [2.0, 1.0]
    report = cohort.drop_report()
    assert list(report["reason"]) == ["in the metadata but not in the feature table", "all-zero sample"]
    assert list(report["n"]) == [1, 1]
    assert cohort.value_type == "counts"


@pytest.mark.parametrize("sparse", [False, True])
def test_sparse_and_dense_agree(sparse):
    values = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    cohort = Cohort.from_arrays(sp.csr_matrix(values) if sparse else values, ["s1", "s2"], ["a", "b", "c"])
    assert cohort.is_sparse is sparse
    assert cohort.value_type == "relative"
    np.testing.assert_array_equal(cohort.dense(), values)
    sub = cohort.subset(samples=["s2"], features=[True, False, True], reason="test")
    np.testing.assert_array_equal(sub.dense(), [[0.0, 0.75]])
    assert [(d.axis, d.ids) for d in sub.drops] == [("sample", ("s1",)), ("feature", ("b",))]


@pytest.mark.parametrize("sparse", [False, True])
def test_value_errors_in_sparse_and_dense(sparse):
    wrap = sp.csr_matrix if sparse else np.asarray
    with pytest.raises(InputError, match="negative abundance -1 for feature 'c', sample 's2'"):
        Cohort.from_arrays(wrap(np.array([[1.0, 0, 0], [0, 2, -1]])), ["s1", "s2"], ["a", "b", "c"])
    with pytest.raises(InputError, match="missing abundance"):
        Cohort.from_arrays(wrap(np.array([[1.0, np.nan]])), ["s1"], ["a", "b"])
    with pytest.raises(InputError, match="mixes counts and proportions"):
        Cohort.from_arrays(wrap(np.array([[150.0, 0, 7], [0, 0.5, 0.5]])), ["s1", "s2"], ["a", "b", "c"])


def test_percentages_and_non_integer_abundances_are_relative():
    percents = np.array([[60, 40, 0], [33.3, 33.3, 33.4]])
    assert Cohort.from_arrays(percents, ["s1", "s2"], list("abc")).value_type == "relative"
    rpk = np.array([[1510.5, 300.0], [20.0, 0.5]])
    assert Cohort.from_arrays(rpk, ["s1", "s2"], list("ab")).value_type == "relative"


def test_from_frames_rejects_text_and_duplicates():
    with pytest.raises(InputError, match="non-numeric abundance 'x' for feature 'f', sample 's2'"):
        Cohort.from_frames(pd.DataFrame({"f": ["1", "x"]}, index=["s1", "s2"]))
    with pytest.raises(InputError, match="duplicate feature ids"):
        Cohort.from_frames(pd.DataFrame([[1, 2]], index=["s"], columns=["f", "f"]))
    with pytest.raises(InputError, match="empty"):
        Cohort.from_frames(pd.DataFrame(index=["s"]))


def test_from_arrays_keeps_a_csr_float64_table_without_copying():
    X = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 3, 1]]))
    cohort = Cohort.from_arrays(X, ["s1", "s2"], ["a", "b", "c"])
    assert np.shares_memory(cohort.X.data, X.data)
    counts = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 1]]))
    assert Cohort.from_arrays(counts, ["s1", "s2"], ["a", "b", "c"]).X.dtype == np.float64
