from pathlib import Path

import pytest

from osteobiome.errors import InputError
from osteobiome.study.config import format_key, key_lines, load_study

VALID = """\
study: Two cohorts
cohorts:
  - name: FHS
    features: fhs/table.tsv
    taxonomy: fhs/taxonomy.tsv
    metadata: fhs/metadata.tsv
  - name: MrOS
    features: /abs/mros/genus.tsv
    metadata: mros/metadata.tsv
    samples_as: columns
rank: genus
phenotypes: [radius_Tt_vBMD, tibia_Ct_vBMD]
covariates: [age, sex]
reference: {sex: F}
association: {preset: maaslin2, min_prevalence: 0.1, normalization: TSS}
meta_analysis: {method: DL, test: knha}
fdr: {cohort: 0.05, meta: 0.2}
diversity: {alpha: [shannon], beta: [braycurtis, jaccard], permutations: 99, seed: 7}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load_study(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_study_resolves_paths_relative_to_the_file(tmp_path):
    cfg = load_study(write(tmp_path, VALID))
    fhs, mros = cfg.cohorts
    assert fhs.features == (tmp_path / "fhs/table.tsv").resolve()
    assert fhs.taxonomy == (tmp_path / "fhs/taxonomy.tsv").resolve()
    assert mros.features == Path("/abs/mros/genus.tsv")
    assert mros.samples_as == "columns"
    assert cfg.association.preset == "maaslin2"
    assert cfg.association.options() == {"min_prevalence": 0.1, "normalization": "TSS"}
    assert (cfg.meta_analysis.method, cfg.meta_analysis.test) == ("DL", "knha")
    assert cfg.diversity.beta == ["braycurtis", "jaccard"] and cfg.diversity.seed == 7
    assert cfg.reference == {"sex": "F"}
    assert cfg.where("cohorts", 1, "metadata") == "study.yaml line 9: cohorts[1].metadata"


def test_only_cohorts_and_phenotypes_are_required(tmp_path):
    cfg = load_study(
        write(tmp_path, "cohorts: [{name: A, features: f.tsv, metadata: m.tsv}]\nphenotypes: [bmd]\n")
    )
    assert cfg.covariates == [] and cfg.report is True and cfg.diversity is not None
    assert cfg.diversity.permutations == 999 and cfg.meta_analysis.method == "REML"
    assert cfg.fdr.cohort == 0.1 and cfg.fdr.meta == 0.25


def test_switches_turn_parts_off(tmp_path):
    cfg = load_study(
        write(
            tmp_path,
            VALID.replace(
                "diversity: {alpha: [shannon], beta: [braycurtis, jaccard], permutations: 99, seed: 7}",
                "diversity: false\nreport: false",
            ),
        )
    )
    assert cfg.diversity is None and cfg.report is False


def test_unknown_key_names_line_and_suggests(tmp_path):
    message = error_of(tmp_path, VALID.replace("    taxonomy: fhs", "    taxonmy: fhs"))
    assert message.startswith("study.yaml line 5: cohorts[0].taxonmy: unknown key (did you mean 'taxonomy'?)")


def test_missing_required_key_names_the_cohort_line(tmp_path):
    message = error_of(tmp_path, VALID.replace("    metadata: mros/metadata.tsv\n", ""))
    assert message == "study.yaml line 7: cohorts[1].metadata: required key is missing."


def test_missing_phenotypes(tmp_path):
    message = error_of(tmp_path, VALID.replace("phenotypes: [radius_Tt_vBMD, tibia_Ct_vBMD]\n", ""))
    assert "phenotypes: required key is missing" in message


def test_bad_value_names_key_line_and_choices(tmp_path):
    message = error_of(tmp_path, VALID.replace("method: DL", "method: REMLL"))
    assert message.startswith("study.yaml line 16: meta_analysis.method:")
    assert "'REML'" in message and "REMLL" in message


def test_fdr_out_of_range(tmp_path):
    message = error_of(tmp_path, VALID.replace("cohort: 0.05", "cohort: 5"))
    assert message.startswith("study.yaml line 17: fdr.cohort:")


def test_duplicate_cohorts_and_overlapping_lists(tmp_path):
    assert "cohort names must be unique" in error_of(tmp_path, VALID.replace("name: MrOS", "name: FHS"))
    assert "phenotypes and as covariates" in error_of(
        tmp_path, VALID.replace("[age, sex]", "[age, tibia_Ct_vBMD]")
    )


def test_invalid_yaml_gives_its_line(tmp_path):
    message = error_of(tmp_path, "cohorts:\n  - name: A\n   features: x\n")
    assert message.startswith("study.yaml line 3: not valid YAML")


def test_missing_study_file(tmp_path):
    with pytest.raises(InputError, match="study file not found"):
        load_study(tmp_path / "nope.yaml")


def test_not_a_mapping(tmp_path):
    assert "must be a YAML mapping" in error_of(tmp_path, "- a\n- b\n")


def test_key_lines_and_format_key():
    lines = key_lines("a:\n  b: [1, 2]\n  c:\n    - x: 1\n    - x: 2\n")
    assert lines[("a",)] == 1 and lines[("a", "b")] == 2 and lines[("a", "c", 1, "x")] == 5
    assert format_key(("cohorts", 0, "features")) == "cohorts[0].features"
