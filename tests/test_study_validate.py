import pandas as pd
import pytest
from study_data import write_study

from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.study import load_study, validate_study


def cli(args, capsys):
    """(exit code, stdout, stderr) of the command line."""
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(path, capsys) -> str:
    code, _, err = cli(["validate", str(path)], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_valid_study_prints_the_plan(tmp_path, capsys):
    path = write_study(tmp_path)
    code, out, err = cli(["validate", str(path)], capsys)
    assert code == 0
    assert "A: 80 samples × 30 features" in out and "B: 60 samples" in out
    assert "complete samples per phenotype: 80 for each of the 2 phenotype(s)" in out
    assert "meta-analysis: REML" in out and "PERMANOVA" in out and out.strip().endswith("ok")
    assert "'sex' is constant in cohort B" in out + err


def test_plan_drops_constant_covariates_per_cohort(tmp_path):
    with pytest.warns(UserWarning, match="constant in cohort B"):
        plan = validate_study(load_study(write_study(tmp_path)))
    a, b = plan.cohorts
    assert a.covariates == ["age", "sex", "bmi"] and b.covariates == ["age", "bmi"]
    assert a.usable == {"vbmd": 80, "ct_vbmd": 80}


def test_missing_file(tmp_path, capsys):
    path = write_study(tmp_path)
    (tmp_path / "b" / "features.tsv").unlink()
    line = one_line_error(path, capsys)
    assert "study.yaml line" in line and "cohorts[1].features" in line and "not found" in line


def test_unknown_phenotype_suggests_close_names(tmp_path, capsys):
    path = write_study(tmp_path, phenotypes=["vbmd", "ct_vbmdd"])
    line = one_line_error(path, capsys)
    assert "phenotypes[1]: phenotype 'ct_vbmdd' is not a column of cohort A's metadata" in line
    assert "did you mean 'ct_vbmd'" in line


def test_cohort_lacking_a_covariate(tmp_path, capsys):
    path = write_study(tmp_path)
    meta = pd.read_csv(tmp_path / "b" / "metadata.tsv", sep="\t").drop(columns="bmi")
    meta.to_csv(tmp_path / "b" / "metadata.tsv", sep="\t", index=False)
    line = one_line_error(path, capsys)
    assert "covariates[2]: covariate 'bmi' is not a column of cohort B's metadata (metadata.tsv)" in line


def test_zero_overlapping_samples(tmp_path, capsys):
    path = write_study(tmp_path)
    meta = pd.read_csv(tmp_path / "a" / "metadata.tsv", sep="\t")
    meta["sample_id"] = "X" + meta["sample_id"]
    meta.to_csv(tmp_path / "a" / "metadata.tsv", sep="\t", index=False)
    line = one_line_error(path, capsys)
    assert "cohorts[0] (A)" in line and "study.yaml line" in line
    assert "no sample id is in both" in line


def test_reference_level_must_exist(tmp_path):
    path = write_study(tmp_path, reference={"sex": "Female"})
    with pytest.raises(
        InputError, match=r"reference.sex: level 'Female' of 'sex' does not occur in cohort A"
    ):
        validate_study(load_study(path))


def test_reference_for_a_variable_outside_the_model(tmp_path):
    path = write_study(tmp_path, reference={"smoking": "never"})
    with pytest.raises(InputError, match="'smoking' is neither a phenotype nor a covariate"):
        validate_study(load_study(path))


@pytest.mark.filterwarnings("ignore:.*constant in cohort B")
def test_too_few_complete_samples(tmp_path):
    path = write_study(tmp_path)
    meta = pd.read_csv(tmp_path / "b" / "metadata.tsv", sep="\t")
    meta.loc[3:, "ct_vbmd"] = None
    meta.to_csv(tmp_path / "b" / "metadata.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"phenotypes\[1\]: only 3 sample\(s\) of cohort B have 'ct_vbmd'"):
        validate_study(load_study(path))


def test_cohort_summary_counts_left_out_samples_and_describes_hosts(tmp_path):
    from osteobiome.study._summary import cohort_summary

    path = write_study(tmp_path)
    meta = pd.read_csv(tmp_path / "a" / "metadata.tsv", sep="\t").iloc[:-5]
    meta.to_csv(tmp_path / "a" / "metadata.tsv", sep="\t", index=False)
    with pytest.warns(UserWarning):
        plan = validate_study(load_study(path))
    summary = cohort_summary(plan.cohorts[0].cohort, "genus")
    assert summary["n"] == 75 and summary["samples left out"] == 5 and summary["genera"] == 30
    assert summary["age"].count("±") == 1 and summary["female"].endswith("%")
    assert "(" in summary["depth (median, IQR)"]
    assert cohort_summary(plan.cohorts[0].cohort, "Class")["classes"] == 30  # every rank has its plural


def test_methods_and_overview_name_a_rank_alike():
    from osteobiome.io.cohort import RANKS
    from osteobiome.io.taxonomy import RANK_PLURAL
    from osteobiome.report.methods import methods_paragraph

    assert list(RANK_PLURAL) == [r.lower() for r in RANKS]
    settings = {"rank": "class", "association": {}, "covariates_by_cohort": {"A": [], "B": []}, "meta": {"method": "REML"}}
    text = methods_paragraph(settings, {"A": 10, "B": 12}, ["bmd"], 0.1, 0.25, {})
    assert "Benjamini–Hochberg across classes within each phenotype" in text


@pytest.mark.filterwarnings("ignore:.*constant in cohort B")
def test_unknown_or_phylogenetic_diversity_metrics(tmp_path):
    div = {"alpha": ["shannon", "shanon"], "beta": ["braycurtis"], "permutations": 9}
    path = write_study(tmp_path, diversity=div)
    with pytest.raises(
        InputError,
        match=r"line 2\d: diversity.alpha\[1\]: unknown alpha index 'shanon' \(did you mean 'shannon'",
    ):
        validate_study(load_study(path))
    path = write_study(tmp_path, diversity={**div, "alpha": ["shannon"], "beta": ["bray", "wunifrac"]})
    with pytest.raises(InputError, match=r"diversity.beta\[1\]: weighted_unifrac needs a phylogenetic tree"):
        validate_study(load_study(path))
    path = write_study(tmp_path, diversity={**div, "alpha": ["shannon"], "beta": ["braycurtiss"]})
    with pytest.raises(InputError, match=r"diversity.beta\[0\]: metric 'braycurtiss': unknown"):
        validate_study(load_study(path))
