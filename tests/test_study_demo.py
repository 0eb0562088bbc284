import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from osteobiome.association.pipeline import associate
from osteobiome.cli import main
from osteobiome.io import load_cohort
from osteobiome.study.demo import bone_phenotypes


def test_bone_phenotypes_planted_first_host_columns_excluded():
    meta = pd.DataFrame(
        {
            "age": [1.0],
            "sex": ["male"],
            "BMI": [2.0],
            "height": [3.0],
            "weight": [4.0],
            "fn_aBMD": [0.8],
            "radius_Tt_vBMD": [300.0],
            "tibia_Ct_vBMD": [800.0],
            "site": ["x"],
        }
    )
    truth = pd.DataFrame(
        {"feature": ["Akkermansia", "DTU089"], "phenotype": ["tibia_Ct_vBMD", "tibia_Ct_vBMD"]}
    )
    assert bone_phenotypes(meta, truth) == ["tibia_Ct_vBMD", "fn_aBMD", "radius_Tt_vBMD"]


def test_demo_runs_the_whole_study_and_prints_the_report(tmp_path, capsys):
    out = tmp_path / "demo"
    try:
        main(["demo", "--out", str(out), "--n", "60", "--workers", "1", "--quiet"])
    except SystemExit as exc:
        assert exc.code == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == str(out.resolve() / "report.html") and (out / "report.html").is_file()
    study = yaml.safe_load((out / "inputs" / "study.yaml").read_text())
    assert [c["name"] for c in study["cohorts"]] == ["FHS", "MrOS"]
    assert len(study["phenotypes"]) >= 10 and study["diversity"]["permutations"] == 999
    for rel in (
        "inputs/fhs/features.tsv",
        "inputs/mros/truth.tsv",
        "cohorts/FHS/associations.tsv",
        "cohorts/MrOS/diversity/permanova_braycurtis.tsv",
        "meta/meta_results.tsv",
        "run.json",
    ):
        assert (out / rel).is_file(), rel
    meta = pd.read_csv(out / "meta" / "meta_results.tsv", sep="\t")
    assert set(meta["exposure"]) == set(study["phenotypes"])
    check_numbers(out, study)


def check_numbers(out, study):
    """The demo's numbers are the engine's on the demo's own inputs: FHS's associations recomputed with the API,
    the pooled coefficients between the two cohorts', PERMANOVA's sequential sums of squares adding up."""
    phenotype = study["phenotypes"][0]
    inputs = out / "inputs" / "fhs"
    cohort = load_cohort(
        inputs / "features.tsv", inputs / "metadata.tsv", inputs / "taxonomy.tsv", samples_as="columns", rank="genus"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = associate(cohort, None, [phenotype, *study["covariates"]], reference=study["reference"], preset="default")
    api = api[api["metadata"] == phenotype].set_index("feature").sort_index()
    written = {name: pd.read_csv(out / "cohorts" / name / "associations.tsv", sep="\t") for name in ("FHS", "MrOS")}
    fhs = written["FHS"][written["FHS"]["metadata"] == phenotype].set_index("feature").sort_index()
    assert list(fhs.index) == list(api.index) and len(fhs) > 20
    for column in ("coef", "stderr", "pval", "qval"):
        np.testing.assert_allclose(fhs[column], api[column], rtol=1e-9, err_msg=column)

    meta = pd.read_csv(out / "meta" / "meta_results.tsv", sep="\t")
    pooled = meta[(meta["exposure"] == phenotype) & (meta["k"] == 2)].set_index("feature")["coef"]
    mros = written["MrOS"][written["MrOS"]["metadata"] == phenotype].set_index("feature")["coef"]
    one, two = fhs["coef"].reindex(pooled.index), mros.reindex(pooled.index)
    assert len(pooled) > 20
    assert ((pooled >= np.minimum(one, two) - 1e-12) & (pooled <= np.maximum(one, two) + 1e-12)).all()

    permanova = pd.read_csv(out / "cohorts" / "FHS" / "diversity" / "permanova_braycurtis.tsv", sep="\t")
    for _, table in permanova.groupby("phenotype"):
        parts, total = table[table["term"] != "Total"], table[table["term"] == "Total"].iloc[0]
        assert parts["SumOfSqs"].sum() == pytest.approx(total["SumOfSqs"], rel=1e-10) and total["R2"] == 1.0
        assert list(parts["term"])[-2:] == [table["phenotype"].iloc[0], "Residual"]
        assert parts["pval"].dropna().between(1 / 1000, 1).all()  # 999 permutations: (c + 1) / 1000
