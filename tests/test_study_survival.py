"""The study's ``survival:`` section: per-cohort Cox tables, pooled log HRs, report section."""

import numpy as np
import pandas as pd
import pytest
from study_data import write_study

from osteobiome.study import load_study, run_study


def _add_fractures(folder, seed):
    """Fracture times from age and Bacteroides (not tied to vBMD), uniform censoring."""
    rng = np.random.default_rng(seed)
    meta = pd.read_csv(folder / "metadata.tsv", sep="\t", index_col=0)
    counts = pd.read_csv(folder / "features.tsv", sep="\t", index_col=0)
    genus = np.log2(counts.loc["Bacteroides"] / counts.sum() + 1e-4).reindex(meta.index)
    lp = 0.05 * (meta["age"] - 65) + 0.8 * (genus - genus.mean()) / genus.std()
    follow = rng.exponential(1 / (0.1 * np.exp(lp)))
    censor = rng.uniform(2, 12, len(meta))
    meta["years"] = np.ceil(np.minimum(follow, censor))
    meta["fracture"] = (follow <= censor).astype(int)
    meta.to_csv(folder / "metadata.tsv", sep="\t")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    path = write_study(folder, n=(150, 120), survival={"event": "fracture", "time": "years"}, diversity=False)
    for sub, seed in (("a", 1), ("b", 2)):
        _add_fractures(folder / sub, seed)
    return run_study(load_study(path), folder / "out", quiet=True)


def test_tables_per_cohort_and_pooled(run):
    folder = run.out / "survival"
    a = pd.read_csv(folder / "cohorts" / "A" / "survival_results.tsv", sep="\t")
    b = pd.read_csv(folder / "cohorts" / "B" / "survival_results.tsv", sep="\t")
    meta = pd.read_csv(folder / "meta_results.tsv", sep="\t").set_index("feature")
    assert {"HR", "ph.pval", "kind"} <= set(a.columns)
    assert meta.index[meta["pval"].argmin()] == "Bacteroides"  # the planted genus tops the pooled table
    assert meta.loc["Bacteroides", "coef"] > 0
    both = a.merge(b, on="feature", suffixes=("_a", "_b")).set_index("feature").loc["Roseburia"]
    low, high = sorted([both["coef_a"], both["coef_b"]])
    assert meta.loc["Roseburia", "k"] == 2 and low <= meta.loc["Roseburia", "coef"] <= high  # a weighted mean
    assert "alpha:shannon" not in meta.index  # community exposures are not pooled with the genera
    km = pd.read_csv(folder / "km_top_genus.tsv", sep="\t")
    assert set(km["cohort"]) == {"A", "B"} and km["group"].nunique() == 3
    readme = (run.out / "README.md").read_text()
    ours = [line for line in readme.split("\n- ") if line.startswith("`survival/")]
    assert len(ours) == 4 and not any("(not described)" in block for block in ours)


def test_report_has_the_incident_fracture_section(run):
    html = (run.out / "report.html").read_text()
    assert 'id="fracture"' in html and "Incident fracture" in html
    assert 'id="fig-survival-forest"' in html and 'id="fig-survival-km"' in html
    assert (run.out / "figures" / "survival_forest.svg").is_file()
    assert (run.out / "figures" / "survival_km_top_genus.svg").is_file()


def test_validate_describes_and_checks_the_survival_section(tmp_path):
    from osteobiome.errors import InputError
    from osteobiome.study import validate_study

    path = write_study(tmp_path, survival={"event": "fracture", "time": "years"}, diversity=False)
    with pytest.raises(InputError, match="survival.event: 'fracture' is not a column"):
        validate_study(load_study(path))
    for sub in ("a", "b"):
        _add_fractures(tmp_path / sub, 3)
    assert "survival: fracture ~ each feature" in validate_study(load_study(path)).describe()


def test_the_study_file_association_filters_apply_to_survival_too(tmp_path):
    """The Methods text says survival uses the associations' preprocessing: the study file's overrides included."""
    from osteobiome.study._survival import survival_step
    from osteobiome.study.validate import validate_study
    from osteobiome.survival import run_survival

    path = write_study(tmp_path, n=(150, 120), survival={"event": "fracture", "time": "years"}, diversity=False)
    for sub, seed in (("a", 1), ("b", 2)):
        _add_fractures(tmp_path / sub, seed)
    cfg = load_study(path)
    cfg = cfg.model_copy(update={"association": cfg.association.model_copy(update={"min_prevalence": 0.5})})
    with pytest.warns(UserWarning):
        plan = validate_study(cfg)
    results = survival_step(plan)
    for cp in plan.cohorts:
        table = results.cohorts[cp.name]
        expected = run_survival(
            cp.cohort, None, event="fracture", time="years", covariates=cp.covariates, preset=cfg.association.preset,
            min_prevalence=0.5,
        ).results
        default = run_survival(cp.cohort, None, event="fracture", time="years", covariates=cp.covariates).results
        assert len(expected) < len(default)
        assert list(table["feature"]) == list(expected["feature"])
