"""osteobiome predict from the command line, the study file's prediction: section and the report's Prediction section."""

import json

import numpy as np
import pandas as pd
import pytest
from study_data import readme_gaps, write_study

from osteobiome.cli import main
from osteobiome.study import load_study, run_study, validate_study


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_cli")
    rng = np.random.default_rng(0)
    n, taxa = 60, 12
    ids = [f"s{i:02d}" for i in range(n)]
    hidden = rng.normal(size=n)
    counts = rng.poisson(np.exp(rng.normal(3, 1, taxa) + np.outer(hidden, np.r_[1.5, -1.5, np.zeros(taxa - 2)])))
    pd.DataFrame(counts.T, index=[f"Genus{j}" for j in range(taxa)], columns=ids).rename_axis("feature").to_csv(
        folder / "features.tsv", sep="\t"
    )
    meta = pd.DataFrame({"age": rng.normal(65, 8, n), "sex": rng.choice(["F", "M"], n)}, index=pd.Index(ids, name="id"))
    meta["status"] = np.where(hidden + 0.05 * (meta["age"] - 65) < np.quantile(hidden, 0.4), "low", "normal")
    meta.to_csv(folder / "metadata.tsv", sep="\t")
    return folder


def test_cli_writes_tables_and_figures(files, capsys):
    out = files / "out"
    args = [
        "predict", str(files / "features.tsv"), str(files / "metadata.tsv"), "--outcome", "status",
        "--positive", "low", "--covariates", "age,sex", "--learners", "penalized", "--folds", "3",
        "--repeats", "1", "--seed", "2", "--quiet", "--out", str(out),
    ]
    main(args)
    printed = capsys.readouterr().out
    assert "penalized: ΔAUC (microbiome + covariates − covariates) = +" in printed
    names = {p.name for p in out.iterdir()}
    assert {"performance.tsv", "comparison.tsv", "calibration.tsv", "importance.tsv", "predictions.tsv",
            "decision.tsv", "figures"} <= names
    figures = {p.name for p in (out / "figures").iterdir()}
    for name in ("prediction_roc", "prediction_calibration", "prediction_decision_curve", "prediction_top_features"):
        assert f"{name}.svg" in figures and f"{name}.png" in figures
    comparison = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert list(comparison.columns) == ["cohort", "validation", "learner", "comparison", "metric", "estimate",
                                        "ci.lower", "ci.upper", "pval", "method"]
    assert comparison.loc[0, "ci.lower"] > 0


def test_cli_bad_column_is_one_line_exit_2(files, capsys):
    args = ["predict", str(files / "features.tsv"), str(files / "metadata.tsv"), "--outcome", "statuz",
            "--covariates", "age", "--out", str(files / "never")]
    with pytest.raises(SystemExit) as code:
        main(args)
    err = capsys.readouterr().err
    assert code.value.code == 2
    assert "metadata.tsv: metadata column 'statuz' not found (did you mean 'status'" in err
    assert len(err.strip().splitlines()) == 1 and not (files / "never").exists()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_study")
    prediction = {"outcome": "vbmd", "learners": ["penalized"], "folds": 3, "repeats": 1, "seed": 4}
    path = write_study(folder, n=(50, 40), diversity=False, phenotypes=["ct_vbmd"], prediction=prediction)
    with pytest.warns(UserWarning, match="constant in cohort B"):
        run = run_study(load_study(path), folder / "out", quiet=True)
    return folder, run


def test_study_prediction_per_cohort_and_external(study):
    folder, run = study
    out = folder / "out" / "prediction"
    perf = pd.read_csv(out / "performance.tsv", sep="\t")
    assert set(zip(perf["cohort"], perf["validation"], strict=True)) == {
        ("A", "cross-validation"), ("B", "cross-validation"), ("A", "external"), ("B", "external")}
    assert set(perf["metric"]) == {"R2", "RMSE"}
    record = json.loads((folder / "out" / "run.json").read_text())
    assert record["seeds"]["prediction"] == 4 and record["settings"]["prediction"]["outcome"] == "vbmd"
    # sex is constant in cohort B: left out of B's cross-validation, kept for the pooled external training
    importance = pd.read_csv(out / "importance.tsv", sep="\t")
    assert "sex_M" in set(importance.loc[importance["cohort"] == "A", "feature"])
    assert not {"sex_M", "sex"} & set(importance.loc[importance["cohort"] == "B", "feature"])
    assert readme_gaps(folder / "out") == []  # results/README.md describes every prediction file and column


def test_report_has_the_prediction_section(study):
    folder, _ = study
    html = (folder / "out" / "report.html").read_text()
    assert 'id="prediction"' in html and 'href="#prediction"' in html
    assert 'id="fig-prediction-calibration"' in html and 'id="fig-prediction-importance"' in html
    assert "Microbiome + covariates vs covariates" in html and "nested cross-validation" in html


@pytest.mark.filterwarnings("ignore:.*constant in cohort B")
def test_study_prediction_errors_name_the_key(tmp_path):
    path = write_study(tmp_path, prediction={"outcome": "vbmdd"})
    with pytest.raises(Exception, match=r"study.yaml line \d+: prediction.outcome: 'vbmdd' is not a column of cohort A"):
        validate_study(load_study(path))
    path = write_study(tmp_path, prediction={"outcome": "vbmd", "learners": ["boosting"]})
    with pytest.raises(Exception, match=r"prediction.learners\[0\]"):
        load_study(path)
    plan = validate_study(load_study(write_study(tmp_path, prediction={"outcome": "vbmd"})))
    assert "prediction: vbmd from covariates / microbiome / both" in plan.describe()
