"""Misleading or missing messages of the models, found by an outside review (issue 14)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from osteobiome import associate
from osteobiome.errors import InputError
from osteobiome.io import load_cohort
from osteobiome.study import load_study, run_study
from osteobiome.study.validate import validate_study


def data(n: int = 30, m: int = 10, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    samples = [f"s{i}" for i in range(n)]
    table = pd.DataFrame(rng.poisson(20, (n, m)), index=samples, columns=[f"g{j}" for j in range(m)])
    meta = pd.DataFrame({"bmd": rng.normal(size=n), "age": rng.normal(60, 5, n)}, index=samples)
    return table, meta


@pytest.mark.parametrize("values, says", [((np.inf,), "infinite"), ((-np.inf,), "infinite"), ((1e308, -1e308), "too large")])
def test_infinite_or_huge_phenotype_is_not_called_constant(values, says):
    table, meta = data()
    meta.loc[meta.index[: len(values)], "bmd"] = values
    with pytest.raises(InputError) as info:
        associate(table, meta, ["bmd", "age"])
    assert says in str(info.value) and "constant" not in str(info.value) and "'bmd'" in str(info.value)


def test_one_sample_table_says_so():
    table, meta = data(n=1)
    with pytest.raises(InputError) as info:
        associate(table, meta, ["bmd"])
    message = str(info.value)
    assert "1 sample" in message and "lower the thresholds" not in message


def sparse_few_samples(n: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n = coefficients + 1 and zeros everywhere but in two features: the abundance part fits only 2 features."""
    table, meta = data(n=n)
    table.iloc[0, 2:] = 0
    return table, meta


def test_too_few_fitted_features_for_the_median_comparison_is_an_input_error():
    table, meta = sparse_few_samples()
    with pytest.raises(InputError, match="median comparison.*compositional"):
        associate(table, meta, ["bmd", "age"], min_prevalence=0)


def write_cohort_files(folder, table: pd.DataFrame, meta: pd.DataFrame, phenotypes=("bmd",), covariates=("age",)):
    folder.mkdir(parents=True, exist_ok=True)
    table.T.rename_axis("feature").to_csv(folder / "features.tsv", sep="\t")
    meta.rename_axis("sample").to_csv(folder / "metadata.tsv", sep="\t")
    study = {
        "cohorts": [{"name": "A", "features": "features.tsv", "metadata": "metadata.tsv", "samples_as": "columns"}],
        "rank": None,
        "phenotypes": list(phenotypes),
        "covariates": list(covariates),
        "diversity": False,
        "association": {"min_prevalence": 0},
    }
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder / "study.yaml"


def test_validate_catches_what_the_median_comparison_would_refuse(tmp_path):
    table, meta = sparse_few_samples()
    path = write_cohort_files(tmp_path, table, meta)
    with pytest.raises(InputError, match=r"study\.yaml line \d+: phenotypes\[0\].*cohort A.*median comparison"):
        validate_study(load_study(path))


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda m: m.assign(bmd=1.0), "constant"),
        (lambda m: m.assign(bmd=2 * m["age"]), "rank deficient"),
        (lambda m: m.assign(bmd="x"), "only the level"),
    ],
)
def test_model_check_errors_name_the_metadata_file(tmp_path, change, says):
    table, meta = data()
    path = write_cohort_files(tmp_path, table, change(meta))
    cohort = load_cohort(tmp_path / "features.tsv", tmp_path / "metadata.tsv", samples_as="columns")
    with pytest.raises(InputError, match=rf"metadata\.tsv: .*{says}"):
        associate(cohort, None, ["bmd", "age"])
    with pytest.raises(InputError, match=rf"metadata\.tsv.*{says}"):  # validate finds it too, with the file
        validate_study(load_study(path))


def test_missing_reference_level_names_the_file(tmp_path):
    table, meta = data()
    write_cohort_files(tmp_path, table, meta.assign(site=["a", "b", "c"] * 10))
    cohort = load_cohort(tmp_path / "features.tsv", tmp_path / "metadata.tsv", samples_as="columns")
    with pytest.raises(InputError, match=r"metadata\.tsv: .*reference"):
        associate(cohort, None, ["bmd", "site"], preset="maaslin2")


def test_a_categorical_phenotype_runs_with_its_set_tests_skipped_and_said(tmp_path):
    table, meta = data(n=40, m=12)
    table.columns = [
        "Faecalibacterium", "Akkermansia", "Roseburia", "Agathobacter", "Anaerostipes", "Coprococcus",
        "Butyricicoccus", "Subdoligranulum", "Bacteroides", "Prevotella", "Bifidobacterium", "Lactobacillus",
    ]
    meta["fracture"] = ["yes", "no"] * 20
    path = write_cohort_files(tmp_path, table, meta, phenotypes=("fracture", "bmd"))
    cfg = load_study(path)
    validate_study(cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        finished = run_study(cfg, tmp_path / "res", quiet=True)
    messages = [str(w.message) for w in caught]
    assert any("fracture" in m and "set test" in m for m in messages), messages
    assert set(finished.results.cohorts[0].associations["metadata"]) == {"fracture", "bmd"}


def test_a_genus_present_in_one_sample_has_no_negative_df_and_is_reported():
    table, meta = data()
    table["rare"] = 0
    table.loc["s3", "rare"] = 50
    with pytest.warns(UserWarning, match=r"rare.*1 sample"):
        result = associate(table, meta, ["bmd", "age"], min_prevalence=0)
    rows = result[result["feature"] == "rare"]
    assert len(rows) == 2
    assert not (rows["df"] < 0).any() and rows["coef"].isna().all()
    assert (result.loc[result["feature"] != "rare", "df"] > 0).all()


def test_features_with_tiny_nonzero_values_are_tested_or_named():
    table, meta = data()
    table = table.astype(float) / 1e300 * 1e-10  # every value ~1e-299: nothing underflows to zero
    table["g0"] = 0.0
    table.loc[table.index[:20], "g0"] = np.linspace(1, 2, 20) * 1e-300
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = associate(table, meta, ["bmd", "age"], min_prevalence=0)
    named = any("g0" in str(w.message) for w in caught)
    assert "g0" in set(result["feature"]) or named
    assert set(result["feature"]) | ({"g0"} if named else set()) == set(table.columns)
