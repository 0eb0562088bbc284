"""The study file's ``mediators:`` tables and ``mediation:`` section: tables in DIR/mediation/, report section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from study_data import readme_gaps, write_study

from osteobiome.errors import InputError
from osteobiome.mediation.pipeline import COLUMNS
from osteobiome.study import load_study, run_study, validate_study


def add_mediators(folder, mediation=True, **spec):
    """Cohort A gets a metabolite table with butyrate driven by Faecalibacterium and acting on vbmd."""
    rng = np.random.default_rng(3)
    counts = pd.read_csv(folder / "a" / "features.tsv", sep="\t", index_col=0).T
    meta = pd.read_csv(folder / "a" / "metadata.tsv", sep="\t", index_col=0)
    x = np.log2(counts["Faecalibacterium"] / counts.sum(axis=1))
    table = pd.DataFrame(rng.lognormal(2, 0.5, (len(meta), 4)), index=meta.index, columns=["butyrate", "DCA", "serotonin", "glucose"])
    table["butyrate"] = np.exp(1 + 0.8 * (x - x.mean()) / x.std() + rng.normal(0, 0.5, len(meta)))
    table.index.name = "sample"
    table.to_csv(folder / "a" / "metabolites.tsv", sep="\t")
    study = yaml.safe_load((folder / "study.yaml").read_text())
    study["cohorts"][0]["mediators"] = "a/metabolites.tsv"
    if mediation:
        study["mediation"] = {"outcome": "vbmd", "log": True, "n_boot": 100} | spec
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder / "study.yaml"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    write_study(folder, diversity=False)
    path = add_mediators(folder)
    with pytest.warns(UserWarning):
        run = run_study(load_study(path), folder / "out", quiet=True)
    return folder, run


def test_mediation_tables_in_results_folder(finished):
    folder, run = finished
    table = pd.read_csv(folder / "out" / "mediation" / "A" / "mediation.tsv", sep="\t", keep_default_na=False)
    assert list(table.columns[: len(COLUMNS)]) == COLUMNS
    assert not (folder / "out" / "mediation" / "B").exists()  # cohort B has no mediators
    assert set(table["mediator"]) == {"butyrate", "DCA", "serotonin", "glucose"}
    assert set(table.loc[table["mediator"] == "butyrate", "mechanism"]) == {"SCFA"}
    assert set(table.loc[table["mediator"] == "glucose", "mechanism"]) == {""}
    assert run.results.settings["mediation"]["outcome"] == "vbmd"


def test_report_has_a_mediation_section(finished):
    folder, _ = finished
    html = (folder / "out" / "report.html").read_text()
    assert '<section id="mediation">' in html and 'href="#mediation"' in html
    assert "butyrate" in html and "mediation-0" in html
    assert (folder / "out" / "figures" / "mediation_0.svg").exists()


def test_validation_describes_mediation_and_checks_the_outcome(tmp_path):
    write_study(tmp_path)
    path = add_mediators(tmp_path)
    plan = validate_study(load_study(path))
    assert "mediation: every feature × mediator to vbmd (hdmt) for A" in plan.describe()
    path = add_mediators(tmp_path, outcome="vbdm")
    with pytest.raises(InputError, match=r"mediation.outcome: outcome 'vbdm' is not a column of cohort A's metadata.*vbmd"):
        validate_study(load_study(path))


def test_mediators_without_a_mediation_section_is_an_error(tmp_path):
    write_study(tmp_path)
    path = add_mediators(tmp_path, mediation=False)
    with pytest.raises(InputError, match="mediation: \\{outcome"):
        load_study(path)


def test_results_readme_describes_every_file_and_column(finished):
    gaps = readme_gaps(finished[1].out)
    assert not gaps, "; ".join(gaps)
