"""Signal implantation into a real table (Wirbel et al. 2024 design)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.simulate import simulate_cohort
from osteobiome.simulate.implant import implant_signal


@pytest.fixture(scope="module")
def base():
    sim = simulate_cohort("fhs", n=1500, seed=5, associations=pd.DataFrame(columns=["feature", "phenotype", "log2fc"]))
    return sim.features, sim.metadata[["age", "sex", "BMI"]]


def test_depth_kept_markers_shift_truth_returned(base):
    table, meta = base
    res = implant_signal(table, meta, n_markers=6, effect=1.0, covariate_weights={"age": 0.5, "sex": 0.3}, seed=1)
    assert res.table.shape == table.shape and (res.table.index == table.index).all()
    assert (res.table.sum(axis=1).to_numpy() == table.sum(axis=1).to_numpy()).all()  # original depth
    assert ((res.table > 0) <= (table > 0)).all().all()  # absent stays absent
    assert list(res.truth.columns) == ["feature", "phenotype", "log2fc", "cohort"]
    assert len(res.truth) == 6 and set(np.abs(res.truth.log2fc)) == {1.0}
    z = res.metadata["phenotype"]
    z = (z - z.mean()) / z.std()
    for feature, log2fc in zip(res.truth.feature, res.truth.log2fc, strict=True):
        present = table[feature] > 0
        y = np.log2((res.table[feature] + 0.5) / res.table.sum(axis=1))[present]
        assert np.polyfit(z[present], y, 1)[0] == pytest.approx(log2fc, abs=0.3)
    assert np.corrcoef(res.metadata["age"], res.metadata["phenotype"])[0, 1] > 0.2  # drawn from covariates


def test_same_seed_same_result_and_named_markers(base):
    table, meta = base
    a = implant_signal(table, meta, markers=["Blautia", "Akkermansia"], effect=[0.5, -0.5], seed=3)
    b = implant_signal(table, meta, markers=["Blautia", "Akkermansia"], effect=[0.5, -0.5], seed=3)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert list(a.truth.feature) == ["Blautia", "Akkermansia"] and list(a.truth.log2fc) == [0.5, -0.5]


def test_relative_tables_and_cohort_input(base):
    table, meta = base
    rel = table.div(table.sum(axis=1), axis=0)
    res = implant_signal(rel, meta, n_markers=3, seed=2)
    assert np.allclose(res.table.sum(axis=1), 1.0)
    cohort = simulate_cohort("mros", n=100, seed=1).to_cohort()
    assert implant_signal(cohort, n_markers=2, covariate_weights={"BMI": 1.0}, seed=0).table.shape == (100, 130)


def test_implant_errors(base):
    table, meta = base
    with pytest.raises(InputError, match="did you mean 'Blautia'"):
        implant_signal(table, meta, markers=["Blautiaa"])
    with pytest.raises(InputError, match="did you mean 'age'"):
        implant_signal(table, meta, covariate_weights={"agee": 1.0})
    with pytest.raises(InputError, match="n_markers=500"):
        implant_signal(table, meta, n_markers=500)
    with pytest.raises(InputError, match="no row for sample"):
        implant_signal(table, meta.iloc[:-3])
    with pytest.raises(InputError, match="one value or one per marker"):
        implant_signal(table, meta, markers=["Blautia"], effect=[0.1, 0.2])
    with pytest.raises(InputError, match="constant"):
        implant_signal(table, meta, noise_sd=0.0)
    with pytest.raises(InputError, match="already has a column"):
        implant_signal(table, meta, phenotype="age")
    with pytest.warns(UserWarning, match="missing value"):
        implant_signal(table, meta.assign(BMI=meta.BMI.where(meta.index != meta.index[0])), covariate_weights={"BMI": 1})
