"""Study-file formulas and stratified analyses (issue 20): per-stratum tables, heterogeneity tests checked against
statsmodels OLS per stratum + Cochran's Q by hand and against ``associate(formula=...)``, the report panel, and
one-line errors naming the study-file key."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy import stats
from study_data import write_study

from osteobiome import associate, meta
from osteobiome.errors import InputError
from osteobiome.study import load_study, run_study, study_from_dict, validate_study
from osteobiome.study._strata import F_TEST, stratified

MAASLIN2 = {"preset": "maaslin2"}


def _run(folder, **overrides):
    path = write_study(folder, diversity=False, **overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(load_study(path), folder / "out", quiet=True)


@pytest.fixture(scope="module")
def strata_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strata")
    return folder, _run(folder, strata=["sex"], association=MAASLIN2)


def _cohort(folder, name="a"):
    meta_ = pd.read_csv(folder / name / "metadata.tsv", sep="\t", index_col=0)
    counts = pd.read_csv(folder / name / "features.tsv", sep="\t", index_col=0).T
    return counts, meta_


def _maaslin2_outcome(counts: pd.DataFrame) -> pd.DataFrame:
    """MaAsLin2's preprocessing by hand: prevalence > 10% and variance > 0, TSS over the kept features, log2 with
    zeros at half of each feature's smallest non-zero value."""
    kept = counts.loc[:, ((counts > 0).sum() > 0.1 * len(counts)) & (counts.var() > 0)]
    tss = kept.div(kept.sum(axis=1), axis=0)
    half = tss.where(tss > 0).min() / 2
    return np.log2(tss.where(tss > 0, half, axis=1))


def test_per_stratum_tables_side_by_side(strata_run):
    folder, run = strata_run
    out = folder / "out" / "strata"
    a = pd.read_csv(out / "A" / "strata_results.tsv", sep="\t")
    b = pd.read_csv(out / "B" / "strata_results.tsv", sep="\t")
    _, meta_a = _cohort(folder)
    assert list(a.columns[:5]) == ["feature", "phenotype", "value", "stratified_by", "stratum"]
    assert {"coef", "stderr", "pval", "qval", "N.used"} <= set(a.columns)
    counts = meta_a["sex"].value_counts()
    for level in ("F", "M"):
        rows = a[a["stratum"] == level]
        assert set(rows["phenotype"]) == {"vbmd", "ct_vbmd"} and (rows["N.used"] == counts[level]).all()
    assert set(b["stratum"]) == {"M"}  # cohort B: men only, one stratum, no heterogeneity rows
    assert len(pd.read_csv(out / "B" / "heterogeneity.tsv", sep="\t")) == 0
    assert any("cohort B, strata: sex: 1 stratum analysed" in w for w in run.results.warnings)
    record = yaml.safe_load((folder / "out" / "run.json").read_text())
    assert record["settings"]["strata"] == {"variables": ["sex"], "min_stratum_size": 30}


def test_stratum_estimates_and_cochran_q_equal_a_direct_computation(strata_run):
    folder, _ = strata_run
    counts, meta_a = _cohort(folder)
    a = pd.read_csv(folder / "out" / "strata" / "A" / "strata_results.tsv", sep="\t")
    het = pd.read_csv(folder / "out" / "strata" / "A" / "heterogeneity.tsv", sep="\t")
    z = (meta_a["vbmd"] - meta_a["vbmd"].mean()) / meta_a["vbmd"].std()  # per SD of the whole cohort
    fits = {}
    for level in ("F", "M"):
        samples = meta_a.index[meta_a["sex"] == level]
        y = _maaslin2_outcome(counts.loc[samples])
        X = sm.add_constant(
            pd.DataFrame(
                {"vbmd": z[samples], "age": meta_a.loc[samples, "age"], "bmi": meta_a.loc[samples, "bmi"]}
            )
        )
        ours = a[(a["stratum"] == level) & (a["phenotype"] == "vbmd")].set_index("feature")
        assert set(ours.index) == set(y.columns)
        for feature in y.columns:
            fit = sm.OLS(y[feature], X).fit()
            fits[(level, feature)] = (fit.params["vbmd"], fit.bse["vbmd"])
            np.testing.assert_allclose(
                ours.loc[feature, ["coef", "stderr", "pval"]].to_numpy(float),
                [fit.params["vbmd"], fit.bse["vbmd"], fit.pvalues["vbmd"]],
                rtol=1e-6,
            )
    rows = het[het["phenotype"] == "vbmd"].set_index("feature")
    both = [f for f in rows.index if ("F", f) in fits and ("M", f) in fits]
    assert len(both) >= 20
    for feature in both:
        (b1, s1), (b2, s2) = fits[("F", feature)], fits[("M", feature)]
        w1, w2 = 1 / s1**2, 1 / s2**2
        pooled = (w1 * b1 + w2 * b2) / (w1 + w2)
        q = w1 * (b1 - pooled) ** 2 + w2 * (b2 - pooled) ** 2
        np.testing.assert_allclose(
            rows.loc[feature, ["Q", "pval.Q"]].to_numpy(float), [q, stats.chi2.sf(q, 1)], rtol=1e-6
        )
    from osteobiome.stats.multitest import adjust

    np.testing.assert_allclose(rows["qval.Q"], adjust(rows["pval.Q"].to_numpy()), rtol=1e-9)


def test_interaction_test_equals_associate_with_the_formula(strata_run):
    folder, _ = strata_run
    counts, meta_a = _cohort(folder)
    het = pd.read_csv(folder / "out" / "strata" / "A" / "heterogeneity.tsv", sep="\t")
    for phenotype in ("vbmd", "ct_vbmd"):
        direct = associate(
            counts,
            meta_a,
            formula=f"~ {phenotype} * sex + age + bmi",
            reference={"sex": "F"},
            preset="maaslin2",
        )
        direct = direct[direct["metadata"] == f"{phenotype}:sex"].set_index("feature")
        ours = het[het["phenotype"] == phenotype].set_index("feature").loc[direct.index]
        assert (ours["interaction"] == f"{phenotype}:sexM").all() and (
            ours["interaction_test"] == "interaction coefficient"
        ).all()
        np.testing.assert_allclose(ours["pval.interaction"], direct["pval"], rtol=1e-9)
        np.testing.assert_allclose(ours["coef.interaction"], direct["coef"], rtol=1e-9)


def test_report_panel_with_its_figure_data(strata_run):
    folder, run = strata_run
    html = (folder / "out" / "report.html").read_text()
    assert 'id="strata"' in html and 'id="fig-strata-0"' in html and 'href="#strata"' in html
    assert "Stratified analyses repeated" in html  # the Methods sentence
    data = pd.read_csv(folder / "out" / "figures" / "strata_A.tsv", sep="\t")
    het = pd.read_csv(folder / "out" / "strata" / "A" / "heterogeneity.tsv", sep="\t")
    strata = pd.read_csv(folder / "out" / "strata" / "A" / "strata_results.tsv", sep="\t")
    top = het.dropna(subset=["pval.Q"]).sort_values("pval.Q").head(6)
    chosen = data[data["chosen_by"] == "heterogeneity"].drop_duplicates("panel")
    assert list(zip(chosen["feature"], chosen["phenotype"], strict=True)) == list(
        zip(top["feature"], top["phenotype"], strict=True)
    )
    np.testing.assert_allclose(chosen["pval.Q"], top["pval.Q"])
    merged = data[data["stratum"] != "all samples"].merge(
        strata, on=["feature", "phenotype", "stratum"], suffixes=("", "_t")
    )
    assert len(merged) == (data["stratum"] != "all samples").sum() > 0
    np.testing.assert_allclose(merged["coef"], merged["coef_t"])
    np.testing.assert_allclose(merged["ci.lb"], merged["coef_t"] - 1.959964 * merged["stderr_t"])
    assert (data["chosen_by"] == "main association").any() and (
        folder / "out" / "figures" / "strata_A.svg"
    ).is_file()
    assert "Q p = " in (folder / "out" / "figures" / "strata_A.svg").read_text()


def test_results_readme_describes_the_strata_files(strata_run):
    from osteobiome.study._readme import describe_column, describe_file

    folder, _ = strata_run
    readme = (folder / "out" / "README.md").read_text()
    for relative in ("strata/A/strata_results.tsv", "strata/A/heterogeneity.tsv", "figures/strata_A.tsv"):
        assert f"`{relative}`" in readme and describe_file(relative) is not None
        header = (folder / "out" / relative).read_text().splitlines()[0].split("\t")
        assert [c for c in header if describe_column(c) is None] == [], relative


def test_study_formula_keeps_main_and_interaction_rows(tmp_path):
    run = _run(tmp_path, formula="~ phenotype * age + sex + bmi", covariates=None, association=MAASLIN2, report=False)
    cfg = load_study(tmp_path / "study.yaml")
    assert cfg.covariates == ["age", "sex", "bmi"]
    counts, meta_a = _cohort(tmp_path)
    a = pd.read_csv(tmp_path / "out" / "cohorts" / "A" / "associations.tsv", sep="\t")
    assert set(a["metadata"]) == {"vbmd", "ct_vbmd", "vbmd:age", "ct_vbmd:age"}
    direct = associate(
        counts, meta_a, formula="~ vbmd * age + sex + bmi", reference={"sex": "F"}, preset="maaslin2"
    )
    direct = direct[direct["metadata"].isin(["vbmd", "vbmd:age"])]
    merged = direct.merge(a, on=["feature", "metadata", "value"], suffixes=("", "_s"), validate="one_to_one")
    assert len(merged) == len(direct)
    np.testing.assert_allclose(merged["coef_s"], merged["coef"], rtol=1e-9)
    np.testing.assert_allclose(merged["pval_s"], merged["pval"], rtol=1e-9)
    # main effects meta-analysed as without a formula; each interaction coefficient pooled as its own exposure
    assert set(run.results.meta["exposure"]) == {"vbmd", "ct_vbmd"}
    inter = pd.read_csv(tmp_path / "out" / "meta" / "interaction_results.tsv", sep="\t")
    assert set(inter["exposure"]) == {"vbmd:age", "ct_vbmd:age"} and (inter["k"] == 2).all()
    b = pd.read_csv(tmp_path / "out" / "cohorts" / "B" / "associations.tsv", sep="\t")
    row = inter[(inter["exposure"] == "vbmd:age")].iloc[0]
    ya = a[(a["feature"] == row["feature"]) & (a["metadata"] == "vbmd:age")].iloc[0]
    yb = b[(b["feature"] == row["feature"]) & (b["metadata"] == "vbmd:age")].iloc[0]
    pooled = meta.pool([ya["coef"], yb["coef"]], [ya["stderr"], yb["stderr"]], method="REML")
    np.testing.assert_allclose([row["coef"], row["stderr"]], [pooled.coef[0], pooled.stderr[0]], rtol=1e-9)
    assert run.results.cohort_hits()["A"] == int(
        ((a["qval"] < 0.1) & a["metadata"].isin(["vbmd", "ct_vbmd"])).sum()
    )


def test_formula_with_a_covariate_constant_in_a_cohort(tmp_path):
    run = _run(
        tmp_path,
        formula="~ phenotype * sex + age + bmi",
        covariates=None,
        association=MAASLIN2,
        strata=["sex"],
    )
    a = pd.read_csv(tmp_path / "out" / "cohorts" / "A" / "associations.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "out" / "cohorts" / "B" / "associations.tsv", sep="\t")
    assert set(a["value"]) == {"vbmd", "ct_vbmd", "vbmd:sexM", "ct_vbmd:sexM"}
    assert set(b["metadata"]) == {"vbmd", "ct_vbmd"}  # sex constant in B: its terms left out there
    assert any("formula: covariate 'sex' is constant in cohort B" in w for w in run.results.warnings)
    assert not (
        tmp_path / "out" / "meta" / "interaction_results.tsv"
    ).exists()  # one cohort has the interaction
    # the formula already has phenotype:sex, so the interaction test is the cohort model's interaction row
    het = run.results.cohorts[0].heterogeneity.set_index(["phenotype", "feature"])
    rows = a[a["metadata"].str.endswith(":sex")]
    keys = list(zip(rows["metadata"].str.split(":").str[0], rows["feature"], strict=True))
    np.testing.assert_allclose(het.loc[keys, "pval.interaction"], rows["pval"], rtol=1e-9)
    # the cohort's main effect is then the effect among women: not drawn as "all samples"
    data = pd.read_csv(tmp_path / "out" / "figures" / "strata_A.tsv", sep="\t")
    assert set(data["stratum"]) == {"F", "M"}


def _three_sites(folder, sizes=(30, 28, 22)):
    """Cohort A's metadata with a three-level ``site`` and a covariate ``smoker`` constant among site s3."""
    path = folder / "a" / "metadata.tsv"
    meta_ = pd.read_csv(path, sep="\t", index_col=0)
    meta_["site"] = np.repeat(["s1", "s2", "s3"], sizes)
    meta_["smoker"] = np.where(np.arange(len(meta_)) % 2 == 0, "yes", "no")
    meta_.loc[meta_["site"] == "s3", "smoker"] = "no"
    meta_.to_csv(path, sep="\t")
    return meta_


def _plan_a(folder, **changes):
    data = yaml.safe_load((folder / "study.yaml").read_text())
    data.update(changes, reference={})
    data["cohorts"] = data["cohorts"][:1]
    cfg = study_from_dict(data, base=folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cfg, validate_study(cfg).cohorts[0]


def _site_plan(folder, min_stratum_size):
    """Cohort A's plan stratified by the three sites (vbmd; age, bmi, smoker; MaAsLin2)."""
    return _plan_a(
        folder,
        strata=["site"],
        covariates=["age", "bmi", "smoker"],
        phenotypes=["vbmd"],
        association=MAASLIN2,
        min_stratum_size=min_stratum_size,
    )


def _site_interaction(counts, metadata, **options):
    """The whole-cohort interaction model of :func:`_site_plan`, fitted directly."""
    return associate(
        counts,
        metadata,
        formula="~ vbmd * site + age + bmi + smoker",
        reference={"site": "s1"},
        preset="maaslin2",
        **options,
    )


def test_three_level_stratum_f_test_and_notes(tmp_path):
    write_study(tmp_path, diversity=False)
    meta_a = _three_sites(tmp_path)
    cfg, plan = _site_plan(tmp_path, min_stratum_size=25)
    with pytest.warns(UserWarning) as caught:
        tables = stratified(plan.cohort, cfg, plan.covariates, "A")
    notes = " ".join(str(w.message) for w in caught)
    assert "site = s3: 22 sample(s), fewer than min_stratum_size 25; stratum skipped" in notes
    assert set(tables.results["stratum"]) == {"s1", "s2"}
    # two strata analysed: the interaction model runs on their samples only
    het = tables.heterogeneity.set_index("feature")
    sub = meta_a[meta_a["site"] != "s3"]
    counts = _cohort(tmp_path)[0]
    direct = _site_interaction(counts.loc[sub.index], sub)
    direct = direct[direct["metadata"] == "vbmd:site"].set_index("feature")
    np.testing.assert_allclose(het.loc[direct.index, "pval.interaction"], direct["pval"], rtol=1e-9)

    cfg, plan = _site_plan(tmp_path, min_stratum_size=20)
    with pytest.warns(
        UserWarning, match="site = s3: covariate\\(s\\) smoker constant in the stratum; left out"
    ):
        tables = stratified(plan.cohort, cfg, plan.covariates, "A")
    het = tables.heterogeneity.set_index("feature")
    assert (het["interaction_test"] == F_TEST).all() and het["strata"].eq("s1 | s2 | s3").all()
    direct = _site_interaction(counts, meta_a, group=["vbmd:site"])
    direct = direct[direct["value"] == "(all levels)"].set_index("feature")
    np.testing.assert_allclose(het.loc[direct.index, "pval.interaction"], direct["pval"], rtol=1e-9)
    assert (het["Q.df"].dropna() == 2).all()


def test_bonferroni_minimum_without_the_linear_model(tmp_path):
    write_study(tmp_path, diversity=False)
    meta_a = _three_sites(tmp_path, (27, 27, 26))
    cfg, plan = _plan_a(
        tmp_path, strata=["site"], covariates=["age"], phenotypes=["vbmd"], min_stratum_size=20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = stratified(plan.cohort, cfg, plan.covariates, "A")
        direct = associate(
            _cohort(tmp_path)[0], meta_a, formula="~ vbmd * site + age", reference={"site": "s1"}
        )
    rows = direct[direct["metadata"] == "vbmd:site"]
    expected = rows.groupby("feature")["pval"].agg(lambda p: min(1.0, 2 * p.min()))
    het = tables.heterogeneity.set_index("feature")
    assert het["interaction_test"].eq("Bonferroni min of 2 level rows").all()
    np.testing.assert_allclose(het.loc[expected.index, "pval.interaction"], expected, rtol=1e-9)


def test_a_phenotype_constant_within_a_stratum_is_skipped_with_a_note(tmp_path):
    write_study(tmp_path, diversity=False)
    path = tmp_path / "a" / "metadata.tsv"
    meta_a = pd.read_csv(path, sep="\t", index_col=0)
    meta_a.loc[meta_a["sex"] == "F", "ct_vbmd"] = 850.0
    meta_a.to_csv(path, sep="\t")
    cfg, plan = _plan_a(tmp_path, strata=["sex"], association=MAASLIN2)
    with pytest.warns(UserWarning, match="sex = F, ct_vbmd: not fitted in the stratum"):
        tables = stratified(plan.cohort, cfg, plan.covariates, "A")
    assert set(tables.results.groupby("phenotype")["stratum"].unique().map(tuple)) == {("F", "M"), ("M",)}
    assert set(tables.heterogeneity["phenotype"]) == {"vbmd"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"strata": ["sx"]},
            "study.yaml line 33: strata[0]: stratum variable 'sx' is not a column of cohort A's metadata",
        ),
        ({"strata": ["age"]}, "strata[0]: 'age' has"),
        ({"strata": ["vbmd"]}, "study.yaml line 32: strata: 'vbmd' is a phenotype or listed twice"),
        (
            {"min_stratum_size": 1},
            "study.yaml line 32: min_stratum_size: Input should be greater than or equal to 3",
        ),
        (
            {"formula": "~ sex + age", "covariates": None},
            "formula: formula '~ sex + age' does not contain the word 'phenotype'",
        ),
        (
            {"formula": "~ phenotype * sex * age", "covariates": None},
            "formula: formula term 'phenotype:sex:age': three-way",
        ),
        (
            {"formula": "~ phenotype + log(age)", "covariates": None},
            "formula: formula term 'log(age)': only metadata column names",
        ),
        (
            {"formula": "~ phenotype * sex + agee", "covariates": None},
            "formula: 'agee' is not a column of cohort A's metadata",
        ),
        (
            {"formula": "~ phenotype + age"},
            "formula: the formula's variables other than 'phenotype' are the covariates (age)",
        ),
    ],
)
def test_bad_strata_and_formula_name_the_key(tmp_path, changes, expected):
    covariates = changes.pop("covariates", ["age", "sex", "bmi"])
    path = write_study(tmp_path, **changes)
    data = yaml.safe_load(path.read_text())
    if covariates is None:
        data.pop("covariates")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError) as info:
        validate_study(load_study(path))
    message = str(info.value)
    assert expected in message and "\n" not in message, message
    assert "formula" in message or "strata" in message or "min_stratum_size" in message


def test_demo_like_study_with_strata(tmp_path):
    from osteobiome.study.demo import write_demo_inputs

    path = write_demo_inputs(tmp_path / "inputs", n=160)
    data = yaml.safe_load(path.read_text())
    data.update(phenotypes=data["phenotypes"][:2], strata=["sex"], diversity=False, association=MAASLIN2)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_study(load_study(path), tmp_path / "out", quiet=True)
    fhs = run.results.cohorts[0]
    assert set(fhs.strata["stratum"]) == {"female", "male"}
    het = fhs.heterogeneity
    assert (
        len(het) > 0 and het["pval.Q"].dropna().between(0, 1).all() and het["pval.interaction"].notna().any()
    )
    assert set(run.results.cohorts[1].strata["stratum"]) == {"male"}  # MrOS: men only
    assert 'id="fig-strata-0"' in (tmp_path / "out" / "report.html").read_text()
    assert (tmp_path / "out" / "strata" / "FHS" / "heterogeneity.tsv").is_file()
