"""A consortium-scale study (12 cohorts): meta-regression on cohort traits, heterogeneity and funnel panels, and
the batch-corrected pooled analysis (issue 21)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from study_data import readme_gaps, write_cohort

from osteobiome.study import load_study, run_study

K = 12


@pytest.fixture(scope="module")
def consortium(tmp_path_factory):
    folder = tmp_path_factory.mktemp("consortium")
    rng = np.random.default_rng(4)
    cohorts = []
    for i in range(K):
        name = f"C{i:02d}"
        write_cohort(folder / name, name, 45, rng, both_sexes=True)
        cohorts.append(
            {
                "name": name,
                "features": f"{name}/features.tsv",
                "metadata": f"{name}/metadata.tsv",
                "samples_as": "columns",
            }
        )
    traits = pd.DataFrame(
        {"mean_age": rng.normal(65, 5, K), "region": ["V4", "V3V4", "V4"] * (K // 3)},
        index=pd.Index([c["name"] for c in cohorts], name="cohort"),
    )
    traits.to_csv(folder / "traits.tsv", sep="\t")
    study = {
        "study": "Consortium test",
        "cohorts": cohorts,
        "rank": None,
        "phenotypes": ["vbmd"],
        "covariates": ["age", "sex"],
        "reference": {"sex": "F"},
        "diversity": False,
        "meta_analysis": {"method": "REML", "moderators": "traits.tsv"},
        "batch_correction": {"batch": "cohort", "permutations": 19, "seed": 2},
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    run = run_study(load_study(path), folder / "out", workers=1, quiet=True)
    return folder / "out", run


def test_meta_regression_and_two_part_columns(consortium):
    out, run = consortium
    meta = run.results.meta
    assert {"mods.QM", "mods.mean_age.pval", "mods.regionV4.coef", "coef.prevalence", "pval.joint"} <= set(
        meta.columns
    )
    regression = pd.read_csv(out / "meta" / "meta_regression.tsv", sep="\t")
    assert set(regression["term"]) == {"intrcpt", "mean_age", "regionV4"}
    assert (meta["k"] == K).any()


def test_pooled_batch_corrected_analysis(consortium):
    out, run = consortium
    pooled = run.results.pooled
    assert pooled.protected == ["vbmd", "age", "sex"]
    assert pooled.r2.loc["after", "R2"] <= pooled.r2.loc["before", "R2"]
    table = pd.read_csv(out / "pooled" / "associations.tsv", sep="\t")
    assert set(table["metadata"]) == {"vbmd"} and table["pval"].notna().any()
    assert (out / "pooled" / "batch_permanova.tsv").is_file()
    adjusted = pd.read_csv(out / "pooled" / "features_batch_corrected.tsv", sep="\t", index_col=0)
    assert adjusted.shape[0] == K * 45


def test_report_shows_the_consortium_panels(consortium):
    out, _ = consortium
    html = (out / "report.html").read_text()
    assert 'href="#consortium"' in html
    for figure in ("fig-heterogeneity", "fig-funnel", "fig-batch-pcoa", "fig-forest"):
        assert f'id="{figure}"' in html, figure
    assert "Egger" in html
    assert "PERMANOVA R² of cohort" in html
    assert (out / "figures" / "funnel.svg").is_file() and (out / "figures" / "batch_pcoa.svg").is_file()


def test_results_readme_describes_every_file_and_column(consortium):
    gaps = readme_gaps(consortium[0])
    assert not gaps, "; ".join(gaps)
