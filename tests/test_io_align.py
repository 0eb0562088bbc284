"""io.align.rows_for: the one check that every sample has a metadata row (distance matrices, implantation,
alpha associations), with each caller's message naming the samples that have none."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from osteobiome.diversity import alpha_associations, permanova, permdisp
from osteobiome.errors import InputError
from osteobiome.io.align import rows_for
from osteobiome.simulate import implant_signal

SAMPLES = [f"s{i}" for i in range(12)]


def _missing(ids: str) -> str:
    return f"test: samples {ids} have no row."


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.poisson(20, (12, 6)) + 1, index=SAMPLES, columns=[f"g{j}" for j in range(6)])
    meta = pd.DataFrame(
        {"x": rng.normal(size=12), "group": ["a", "b"] * 6, "age": rng.normal(50, 5, 12)}, index=SAMPLES
    )
    points = rng.normal(size=(12, 3))
    dm = pd.DataFrame(np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1)), index=SAMPLES, columns=SAMPLES)
    return table, meta, dm


def test_rows_in_sample_order_indexed_by_string_ids():
    meta = pd.DataFrame({"x": [30.0, 10.0, 20.0]}, index=[3, 1, 2])
    rows = rows_for(pd.Index(["1", "2", "3"]), meta, _missing)
    assert list(rows.index) == ["1", "2", "3"] and list(rows["x"]) == [10.0, 20.0, 30.0]
    assert list(meta.index) == [3, 1, 2]  # the caller's frame is left as it was


def test_samples_without_a_row_are_named():
    meta = pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(InputError) as info:
        rows_for(pd.Index(["a", "c", "d"]), meta, _missing)
    assert str(info.value) == "test: samples 'c', 'd' have no row."


def test_duplicate_metadata_ids_are_refused():
    meta = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=["a", "b", "a"])
    with pytest.raises(InputError, match=re.escape("the metadata has duplicate sample ids 'a'; give each sample one row.")):
        rows_for(pd.Index(["a", "b"]), meta, _missing)


def test_each_caller_keeps_its_message(data):
    table, meta, dm = data
    short = meta.drop(["s2", "s7"])
    cases = [
        (lambda: permanova(dm, short, ["x"], permutations=9),
         "permanova: samples 's2', 's7' of the distance matrix have no metadata row; "
         "add them to the metadata or drop them from the table."),
        (lambda: permdisp(dm, short, "group", permutations=9),
         "permdisp: samples 's2', 's7' of the distance matrix have no metadata row; "
         "add them to the metadata or drop them from the table."),
        (lambda: implant_signal(table, short, n_markers=2),
         "metadata: no row for sample(s) 's2', 's7'; every table sample needs metadata."),
        (lambda: alpha_associations(table.iloc[:, :2], short, ["x"]),
         "alpha associations: samples 's2', 's7' have no metadata row; add or drop them."),
    ]
    for call, message in cases:
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == message


def test_duplicate_metadata_rows_stop_the_callers(data):
    table, meta, dm = data
    doubled = pd.concat([meta, meta.iloc[[4]]])
    for call in (
        lambda: permanova(dm, doubled, ["x"], permutations=9),
        lambda: implant_signal(table, doubled, n_markers=2),
        lambda: alpha_associations(table.iloc[:, :2], doubled, ["x"]),
    ):
        with pytest.raises(InputError, match="duplicate sample ids 's4'"):
            call()
