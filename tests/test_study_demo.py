import pandas as pd
import yaml

from osteobiome.cli import main
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
