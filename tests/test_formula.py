"""Formulas with interactions, omnibus (group) tests, ordered factors and contrasts (issue 20).

Parity: R ``lm`` / ``anova`` / ``MASS::contr.sdif`` on MaAsLin2-preprocessed HMP2 data, golden files made once
by ``tests/golden/formula/make.R`` (R is not needed to run these tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome import associate
from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.stats.formula import build_formula_design, parse_terms

GOLDEN = Path(__file__).parent / "golden" / "formula"
FORMULA = "~ dysbiosis * antibiotics + age + diagnosis"
REFERENCE = {"diagnosis": "nonIBD", "antibiotics": "No"}


def _golden(name: str) -> pd.DataFrame:
    frame = pd.read_csv(GOLDEN / name, sep="\t")
    return frame.apply(lambda c: c.str.strip() if c.dtype == object else c)


def test_interaction_model_equals_r_lm(hmp2):
    features, metadata = hmp2
    ours = associate(features, metadata, formula=FORMULA, reference=REFERENCE, preset="maaslin2")
    expected = _golden("lm_interaction.tsv")
    assert set(expected["name"]) == {"dysbiosis", "antibioticsYes", "age", "diagnosisCD", "diagnosisUC", "dysbiosis:antibioticsYes"}
    # R's coefficient name is `value` for interactions, the level (or variable) for main effects
    name = np.where(ours["metadata"].str.contains(":"), ours["value"],
                    np.where(ours["value"] == ours["metadata"], ours["metadata"], ours["metadata"] + ours["value"]))
    merged = expected.merge(ours.assign(name=name), on=["feature", "name"], suffixes=("", "_ours"), validate="one_to_one")
    assert len(merged) == len(expected) == len(ours)
    for column in ("coef", "stderr", "pval", "qval"):
        np.testing.assert_allclose(merged[f"{column}_ours"], merged[column], rtol=1e-6, err_msg=column)
    interaction = ours[ours["metadata"] == "dysbiosis:antibiotics"]
    assert len(interaction) == ours["feature"].nunique() and set(interaction["value"]) == {"dysbiosis:antibioticsYes"}


def test_group_f_test_equals_r_anova(hmp2):
    features, metadata = hmp2
    ours = associate(features, metadata, formula=FORMULA, reference=REFERENCE, preset="maaslin2", group=["diagnosis"])
    assert ours.attrs["model"] == "LM" and ours.attrs["options"]["preset_name"] == "maaslin2"  # kept by the concat
    rows = ours[ours["value"] == "(all levels)"]
    expected = _golden("anova_diagnosis.tsv")
    merged = expected.merge(rows, on="feature", validate="one_to_one")
    assert len(merged) == len(expected) and (merged["metadata"] == "diagnosis").all()
    np.testing.assert_allclose(merged["statistic"], merged["F"], rtol=1e-6)
    np.testing.assert_allclose(merged["pval_y"], merged["pval_x"], rtol=1e-6)
    np.testing.assert_allclose(merged["qval"], pd.Series(merged["pval_y"]).pipe(lambda p: _bh(p.to_numpy())), rtol=1e-12)
    assert merged["coef"].isna().all()


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1)
    return out


def test_ordered_factor_equals_successive_differences(hmp2):
    features, metadata = hmp2
    meta = metadata.assign(site_ordered=metadata["site"])
    ours = associate(features, meta, fixed=["dysbiosis", "site_ordered"], ordered=["site_ordered"], preset="maaslin2")
    rows = ours[ours["metadata"] == "site_ordered"].rename(columns={"value": "level"})
    expected = _golden("ordered_site.tsv")
    merged = expected.merge(rows, on=["feature", "level"], suffixes=("", "_ours"), validate="one_to_one")
    assert len(merged) == len(expected)
    for column in ("coef", "stderr", "pval"):
        np.testing.assert_allclose(merged[f"{column}_ours"], merged[column], rtol=1e-6, err_msg=column)


def test_contrast_equals_r_and_is_adjusted_over_the_contrasts(hmp2):
    features, metadata = hmp2
    contrasts = pd.DataFrame({"diagnosisUC": [1.0], "diagnosisCD": [-1.0]}, index=["UC_vs_CD"])
    ours = associate(features, metadata, formula=FORMULA, reference=REFERENCE, preset="maaslin2", contrasts=contrasts)
    rows = ours[ours["metadata"] == "contrast"]
    expected = _golden("contrast_uc_cd.tsv")
    merged = expected.merge(rows.rename(columns={"value": "contrast"}), on=["feature", "contrast"], suffixes=("", "_ours"))
    assert len(merged) == len(expected)
    for column in ("coef", "stderr", "pval"):
        np.testing.assert_allclose(merged[f"{column}_ours"], merged[column], rtol=1e-6, err_msg=column)
    np.testing.assert_allclose(merged["qval"], _bh(merged["pval_ours"].to_numpy()), rtol=1e-12)


def _meta(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "bmd": rng.normal(size=n),
            "age": rng.normal(60, 5, n),
            "sex": rng.choice(["F", "M"], n),
            "stage": rng.choice(["I", "II", "III"], n),
        },
        index=[f"s{i}" for i in range(n)],
    )


def test_interaction_columns_are_products_of_standardized_variables():
    meta = _meta()
    design = build_formula_design(meta, "~ bmd * sex + age", {"sex": "F"})
    assert design.columns == ["(Intercept)", "bmd", "sexM", "age", "bmd:sexM"]
    assert design.terms == ["(Intercept)", "bmd", "sex", "age", "bmd:sex"]
    assert design.values == ["(Intercept)", "bmd", "M", "age", "bmd:sexM"]
    z = (meta["bmd"] - meta["bmd"].mean()) / meta["bmd"].std()
    np.testing.assert_allclose(design.matrix[:, 4], z * (meta["sex"] == "M"))


def test_ordered_coding_is_cumulative():
    meta = _meta()
    design = build_formula_design(meta, "~ stage", ordered=["stage"])
    assert design.columns == ["(Intercept)", "stageII", "stageIII"]
    np.testing.assert_array_equal(design.matrix[:, 1], (meta["stage"] != "I").to_numpy(float))
    np.testing.assert_array_equal(design.matrix[:, 2], (meta["stage"] == "III").to_numpy(float))


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("~ bmd * sexx", "formula term 'sexx': 'sexx' is not a metadata column"),
        ("~ bmd:sex + age", "formula term 'bmd:sex': include its main effects"),
        ("~ bmd * sex * age", "three-way and higher interactions are not supported"),
        ("~ log(bmd) + age", "formula term 'log(bmd)': only metadata column names"),
        ("~ bmd + age - 1", "removes the intercept"),
        ("y ~ bmd", "give the right-hand side only"),
        ("~ bmd +", "could not be read"),
    ],
)
def test_bad_formulas_name_the_term(formula, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        build_formula_design(_meta(), formula)


def test_term_constant_within_a_stratum_is_named():
    meta = _meta()
    with pytest.raises(InputError, match="formula term 'sex'"):
        build_formula_design(meta[meta["sex"] == "M"], "~ bmd * sex")


def test_parse_terms_keeps_formula_order():
    assert parse_terms("~ bmd * sex + age") == [("bmd",), ("sex",), ("age",), ("bmd", "sex")]


def test_group_needs_the_linear_model():
    rng = np.random.default_rng(1)
    meta = _meta(60)
    table = pd.DataFrame(rng.poisson(20, (60, 8)), index=meta.index, columns=[f"g{i}" for i in range(8)])
    with pytest.raises(InputError, match="--group needs the linear model"):
        associate(table, meta, formula="~ bmd + stage", group=["stage"])


def test_cli_formula_group_and_contrast(tmp_path, capsys):
    rng = np.random.default_rng(2)
    meta = _meta(80, seed=2)
    table = pd.DataFrame(rng.poisson(30, (80, 10)) + 1, index=meta.index, columns=[f"g{i}" for i in range(10)])
    table.T.rename_axis("feature").to_csv(tmp_path / "features.tsv", sep="\t")
    meta.rename_axis("sample").to_csv(tmp_path / "metadata.tsv", sep="\t")
    pd.DataFrame({"contrast": ["III_vs_II"], "stageIII": [1], "stageII": [-1]}).to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    args = [
        "associate", str(tmp_path / "features.tsv"), str(tmp_path / "metadata.tsv"), "--formula", "~ bmd * sex + age + stage",
        "--reference", "sex=F", "--reference", "stage=I", "--preset", "maaslin2", "--group", "stage", "--contrast", str(tmp_path / "c.tsv"),
        "--out", str(tmp_path / "out"),
    ]
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None)
    result = pd.read_csv(tmp_path / "out" / "all_results.tsv", sep="\t")
    assert set(result.loc[result["metadata"] == "bmd:sex", "value"]) == {"bmd:sexM"}
    assert (result.loc[result["value"] == "(all levels)", "metadata"] == "stage").sum() == 10
    assert (result["value"] == "III_vs_II").sum() == 10
    direct = associate(table, meta, formula="~ bmd * sex + age + stage", reference={"sex": "F", "stage": "I"}, preset="maaslin2")
    both = direct.merge(result, on=["feature", "metadata", "value"], suffixes=("", "_cli"))
    np.testing.assert_allclose(both["coef_cli"], both["coef"], rtol=1e-9)


def test_default_two_part_model_fits_interactions_in_both_parts():
    rng = np.random.default_rng(4)
    meta = _meta(120, seed=4)
    table = pd.DataFrame(rng.poisson(8, (120, 12)) * (rng.uniform(size=(120, 12)) > 0.3), index=meta.index,
                         columns=[f"g{i}" for i in range(12)])
    result = associate(table, meta, formula="~ bmd * sex + age", reference={"sex": "F"})
    rows = result[result["metadata"] == "bmd:sex"]
    assert set(rows["value"]) == {"bmd:sexM"} and rows["coef.prevalence"].notna().any()
    assert rows["pval"].between(0, 1).all()
