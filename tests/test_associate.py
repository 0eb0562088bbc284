import numpy as np
import pandas as pd
import pytest

from osteobiome import Cohort, associate
from osteobiome.association.pipeline import PRESETS, run_association
from osteobiome.errors import InputError


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    n, m = 60, 12
    metadata = pd.DataFrame(
        {"age": rng.normal(60, 8, n), "sex": rng.choice(["F", "M"], n), "site": rng.choice(["x", "y", "z"], n)},
        index=[f"s{i}" for i in range(n)],
    )
    counts = rng.poisson(rng.gamma(2.0, 20.0, m), size=(n, m)).astype(float)
    counts[:, 0] *= np.exp(0.05 * (metadata["age"].to_numpy() - 60))
    counts[:, -1] = 0
    counts[:3, -1] = 5  # too rare: filtered out by prevalence
    table = pd.DataFrame(counts, index=metadata.index, columns=[f"g{j}" for j in range(m)])
    return table, metadata


def test_table_shape_and_columns(data):
    table, metadata = data
    out = associate(table, metadata, ["age", "sex"], preset="maaslin2")
    assert list(out.columns) == ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval", "N.used", "df", "log10.pval"]
    assert len(out) == 11 * 2 and "g11" not in set(out["feature"])
    assert out["qval"].is_monotonic_increasing
    assert set(out["value"]) == {"age", "M"}
    top = out.iloc[0]
    assert (top["feature"], top["metadata"]) == ("g0", "age") and top["coef"] > 0


def test_cohort_input_and_fdr_scope(data):
    table, metadata = data
    cohort = Cohort.from_frames(table, metadata)
    per_variable = associate(cohort, None, ["age", "sex"], preset="maaslin2", fdr_scope="per-variable")
    pooled = associate(table, metadata, ["age", "sex"], preset="maaslin2")
    merged = per_variable.merge(pooled, on=["feature", "metadata", "value"])
    np.testing.assert_allclose(merged["pval_x"], merged["pval_y"])
    assert not np.allclose(merged["qval_x"], merged["qval_y"])  # BH per variable vs pooled
    assert PRESETS["default"]["fdr_scope"] == "per-variable"


def test_missing_metadata_and_feature_values(data):
    table, metadata = data
    metadata = metadata.copy()
    metadata.iloc[:4, 0] = np.nan
    table = table.copy()
    table.iloc[10, 2] = np.nan
    result = run_association(table, metadata, ["age"], preset="maaslin2", normalization="NONE", transform="NONE")
    used = result.results.set_index("feature")["N.used"]
    assert used["g2"] == 55 and used["g1"] == 56 and (result.results["N"] == 60).all()
    assert result.transformed.shape == (60, 11)


def test_sample_alignment_warns(data):
    table, metadata = data
    with pytest.warns(UserWarning, match="2 samples only in the metadata"):
        out = associate(table.iloc[2:], metadata, ["age"])
    assert (out["N"] == 58).all()


@pytest.mark.parametrize("where", ["metadata", "feature table"])
def test_duplicate_sample_ids_are_refused_in_one_line(data, where):
    table, metadata = data
    if where == "metadata":
        metadata = pd.concat([metadata, metadata.iloc[[3, 5]]])
    else:
        table = table.rename(index={"s1": "s0"})
    with pytest.raises(InputError, match=f"the {where} has duplicate sample ids 's[03]'"):
        associate(table, metadata, ["age"], preset="maaslin2")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fixed": ["agee"]}, "did you mean 'age'"),
        ({"fixed": ["age"], "min_prevalence": 1.0}, "all 12 features were filtered out"),
        ({"fixed": ["age"], "normalization": "CLR"}, "cannot follow normalization CLR"),
        ({"fixed": ["age"], "fdr": "BH"}, "option 'fdr' is not known"),
        ({"fixed": ["age"], "preset": "maslin"}, "did you mean 'maaslin2'"),
        ({"fixed": ["site"], "preset": "maaslin2"}, "give its reference level"),
    ],
)
def test_errors(data, kwargs, message):
    table, metadata = data
    with pytest.raises(InputError, match=message):
        associate(table, metadata, **kwargs)


def test_constant_single_level_and_text_exposure(data):
    table, metadata = data
    with pytest.raises(InputError, match="constant"):
        associate(table, metadata.assign(age=3.0), ["age"])
    with pytest.raises(InputError, match="only the level"):
        associate(table, metadata.assign(sex="F"), ["sex"])
    text_age = metadata["age"].round(1).astype(str).where(metadata.index != "s5", "n/a")
    with pytest.raises(InputError, match="numeric except for the values 'n/a'"):
        associate(table, metadata.assign(age=text_age), ["age"])
    with pytest.raises(InputError, match="no sample id"):
        associate(table.set_axis([f"x{i}" for i in range(60)]), metadata, ["age"])
