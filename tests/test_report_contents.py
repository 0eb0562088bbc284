"""What the report and results folder show, checked on the figure and table data (not pixels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from study_data import readme_gaps, write_study

from osteobiome.cli import main
from osteobiome.report import figures
from osteobiome.report.document import coefficient_unit, fdr_note
from osteobiome.stats.multitest import adjust
from osteobiome.study import load_study, run_study
from osteobiome.study._report_inputs import added_variable_points, planted_vs_found, power_curves


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A small two-cohort study (one planted truth table) run to the end."""
    folder = tmp_path_factory.mktemp("contents")
    path = write_study(folder)
    truth = pd.DataFrame({"feature": ["Akkermansia"], "phenotype": ["vbmd"], "log2fc": [0.5]})
    truth.to_csv(folder / "a" / "truth.tsv", sep="\t", index=False)
    study = yaml.safe_load(path.read_text())
    study["cohorts"][0]["truth"] = "a/truth.tsv"
    path.write_text(yaml.safe_dump(study))
    return run_study(load_study(path), folder / "results", quiet=True)


def test_volcano_axis_names_the_coefficient_unit():
    settings = {"association": {"normalization": "TSS", "transform": "LOG", "standardize": True}}
    assert coefficient_unit(settings) == "log2 fold change per SD of the phenotype"
    assert coefficient_unit({"association": {"normalization": "CLR", "transform": "NONE"}}).startswith("change in CLR")
    assert coefficient_unit({"association": {"transform": "AST", "standardize": False}}).endswith("per unit of the phenotype")
    table = pd.DataFrame({"feature": ["a", "b"], "metadata": ["x", "x"], "coef": [0.2, -0.1], "pval": [0.01, 0.5], "qval": [0.02, 0.5]})
    fig = figures.volcano({"A": table}, {"A": 0.1}, xlabel=coefficient_unit(settings))
    assert fig.axes[0].get_xlabel() == "log2 fold change per SD of the phenotype"


def test_set_dots_differ_visibly_even_when_every_q_is_large():
    sizes = figures.set_size(pd.Series([0.9, 0.3, 0.05, 1e-3]))
    assert np.all(np.diff(sizes) > 10) and sizes[0] >= 14


def test_added_variable_slope_is_the_adjusted_coefficient():
    rng = np.random.default_rng(3)
    n = 120
    meta = pd.DataFrame(
        {"bmd": rng.normal(size=n), "age": rng.normal(60, 8, n), "sex": rng.choice(["F", "M"], n)},
        index=[f"s{i}" for i in range(n)],
    )
    y = 0.4 * (meta["bmd"] - meta["bmd"].mean()) / meta["bmd"].std() + 0.05 * meta["age"] + rng.normal(size=n)
    transformed = pd.DataFrame({"g": y}, index=meta.index)
    points = added_variable_points(transformed, meta, [("g", "bmd")], ["age", "sex"], {"sex": "F"})
    slope = float(points["x"] @ points["y"] / (points["x"] @ points["x"]))
    X = sm.add_constant(pd.get_dummies(meta, drop_first=True, dtype=float))
    X["bmd"] = (X["bmd"] - X["bmd"].mean()) / X["bmd"].std()
    assert slope == pytest.approx(sm.OLS(y, X).fit().params["bmd"], rel=1e-10)
    assert list(points.columns) == ["feature", "phenotype", "sample", "x", "y"] and len(points) == n


def test_power_curve_formula_and_shape():
    table = pd.DataFrame(
        {"feature": list("abcd"), "metadata": "bmd", "coef": [0.3, 0.1, 0.0, -0.2], "stderr": [0.1] * 4,
         "pval": [1e-4, 0.3, 0.9, 0.05], "qval": [4e-4, 0.4, 0.9, 0.1], "N.used": [100] * 4}
    )
    curves = power_curves({"A": table}, None, q=0.1, n_points=10)
    published = curves[curves["effect"] == 0.35]
    assert published["power"].is_monotonic_increasing and published["study_n"].iloc[0] == 100
    alpha = 0.1 * 1 / 4  # one hit at q < 0.1 among four tests
    s = 0.1 * np.sqrt(100)
    row = published.iloc[3]
    from scipy.stats import norm

    z = norm.isf(alpha / 2)
    expected = norm.cdf(0.35 * np.sqrt(row["n"]) / s - z) + norm.cdf(-0.35 * np.sqrt(row["n"]) / s - z)
    assert row["power"] == pytest.approx(expected) and row["alpha"] == pytest.approx(alpha)


def test_planted_vs_found_counts_recovered_and_unplanted_hits():
    truth = {"A": pd.DataFrame({"feature": ["g1", "g2"], "phenotype": ["bmd", "bmd"], "log2fc": [0.3, -0.2]})}
    table = pd.DataFrame(
        {"feature": ["g1", "g2", "g3"], "metadata": "bmd", "coef": [0.25, -0.01, 0.4], "qval": [0.01, 0.8, 0.05]}
    )
    pairs, summary = planted_vs_found(truth, {"A": table}, None, 0.1, 0.25)
    assert pairs["found"].tolist() == [True, False]
    row = summary.iloc[0]
    assert (row["planted"], row["recovered"], row["hits"], row["hits_not_planted"]) == (2, 1, 2, 1)
    assert row["expected_false_hits"] == pytest.approx(0.2)


def test_results_folder_has_maaslin2_tables_and_a_readme_for_every_file(finished):
    out = finished.out
    for name in ("A", "B"):
        folder = out / "cohorts" / name
        every = pd.read_csv(folder / "all_results.tsv", sep="\t")
        assert {"age", "bmi"} <= set(every["metadata"]) and set(every["model"]) == {"vbmd", "ct_vbmd"}
        phenotype_rows = pd.read_csv(folder / "associations.tsv", sep="\t")
        significant = pd.read_csv(folder / "significant_results.tsv", sep="\t")
        assert len(significant) == int((phenotype_rows["qval"] < 0.1).sum())
        assert (significant["qval"] < 0.1).all()
    gaps = readme_gaps(out)
    assert not gaps, "; ".join(gaps)
    assert "(not described)" not in (out / "README.md").read_text()


def test_study_reports_planted_vs_found_and_the_fdr_meaning(finished):
    summary = pd.read_csv(finished.out / "planted" / "summary.tsv", sep="\t")
    assert summary["analysis"].tolist() == ["A", "Meta-analysis"] and (summary["planted"] == 1).all()
    html = (finished.out / "report.html").read_text()
    assert "What was planted, what was found" in html
    assert "up to 0.2 false hits per run are expected" in fdr_note(finished.results)
    assert "log2 fold change per SD of the phenotype" in html


def test_fdr_scope_study_adjusts_over_every_phenotype_together(tmp_path):
    path = write_study(tmp_path, fdr={"cohort": 0.1, "meta": 0.25, "scope": "study"}, diversity=False)
    run = run_study(load_study(path), tmp_path / "results", quiet=True)
    for c in run.results.cohorts:
        np.testing.assert_allclose(c.associations["qval"], adjust(c.associations["pval"].to_numpy(float)))
    meta = run.results.meta
    np.testing.assert_allclose(meta["qval.fdr"], adjust(meta["pval"].to_numpy(float)))
    assert "whole study" in fdr_note(run.results)


def test_help_texts_are_plain_and_say_what_they_mean(capsys):
    for command in (["associate", "--help"], ["benchmark", "calibration", "--help"]):
        try:
            main(command)
        except SystemExit:
            pass
    text = capsys.readouterr().out
    assert "osteobiome[dask]" in text and "<bool>" not in text and "issue" not in text


def test_validate_prints_each_note_once(tmp_path, capsys):
    path = write_study(tmp_path)
    try:
        main(["validate", str(path)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    captured = capsys.readouterr()
    both = captured.out + captured.err
    assert both.count("constant in cohort B") == 1


def test_associate_and_run_share_the_significance_cut_off():
    from osteobiome.association.pipeline import resolve_options
    from osteobiome.study.config import FdrSpec

    for preset in ("default", "maaslin2"):
        assert resolve_options(preset, {})["max_significance"] == FdrSpec().cohort == 0.1
