"""The calibrated options of ``associate`` (issue 9): the default preset's two-part output and option errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome import associate
from osteobiome.association.options import AssociationOptions
from osteobiome.errors import InputError
from osteobiome.stats.lm import t_test
from osteobiome.stats.twopart import joint_pvalue


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n, m = 80, 15
    metadata = pd.DataFrame(
        {"age": rng.normal(60, 8, n), "bmi": rng.normal(27, 4, n)}, index=[f"s{i}" for i in range(n)]
    )
    counts = rng.poisson(rng.gamma(1.0, 30.0, m), size=(n, m)).astype(float)
    counts[:, 0] *= np.exp(0.08 * (metadata["age"].to_numpy() - 60))
    counts = np.round(counts)
    return pd.DataFrame(counts, index=metadata.index, columns=[f"g{j}" for j in range(m)]), metadata


def test_default_is_the_calibrated_two_part_model(data):
    table, metadata = data
    default = AssociationOptions.preset("default")
    assert default.model == "twopart" and default.compositional == "median" and default.joint == "cauchy"
    out = associate(table, metadata, ["age", "bmi"])
    extra = ["pval.abundance", "coef.prevalence", "stderr.prevalence", "pval.prevalence", "N.present"]
    assert list(out.columns[-5:]) == extra
    present = out["N.present"] / out["N.used"]
    expected = joint_pvalue(out["pval.abundance"], out["pval.prevalence"], "cauchy", present)
    np.testing.assert_allclose(out["pval"], expected, rtol=1e-12)
    beta = associate(table, metadata, ["age", "bmi"], joint="beta")
    np.testing.assert_allclose(beta["pval"], joint_pvalue(beta["pval.abundance"], beta["pval.prevalence"]), rtol=1e-12)
    age = out[out["metadata"] == "age"].set_index("feature")
    assert age.loc["g0", "coef"] > 0 and age.loc["g0", "qval"] < 0.05
    # the median comparison centres the abundance coefficients of each variable
    assert abs(np.median(age["coef"])) < 1e-12
    assert (age["N.present"] <= age["N"]).all()


def test_maaslin2_preset_is_untouched_by_the_new_options(data):
    table, metadata = data
    plain = associate(table, metadata, ["age", "bmi"], preset="maaslin2")
    explicit = associate(
        table,
        metadata,
        ["age", "bmi"],
        preset="maaslin2",
        model="lm",
        variance="classical",
        compositional="none",
    )
    pd.testing.assert_frame_equal(plain, explicit)
    assert "pval.abundance" not in plain.columns


def test_linear_variants_run_through_associate(data):
    table, metadata = data
    for options in ({"variance": "HC3"}, {"compositional": "median"}, {"compositional": "linda"}):
        out = associate(table, metadata, ["age"], preset="maaslin2", fdr_scope="per-variable", **options)
        assert out["pval"].between(0, 1).all() and len(out) == table.shape[1]
    relative = table.div(table.sum(axis=1), axis=0)  # no read counts: the depth covariate is skipped
    a = associate(relative, metadata, ["age"], depth_covariate="both")
    b = associate(relative, metadata, ["age"])
    pd.testing.assert_frame_equal(a, b)


def test_option_errors(data):
    table, metadata = data
    with pytest.raises(InputError, match="model"):
        associate(table, metadata, ["age"], model="glmm")
    with pytest.raises(InputError, match="normalization='TSS'"):
        associate(table, metadata, ["age"], normalization="CLR", transform="NONE")
    with pytest.raises(InputError, match="variance"):
        associate(table, metadata, ["age"], variance="HC0")
    with pytest.raises(InputError, match="option joint='fisher' is not known; use one of beta, cauchy"):
        associate(table, metadata, ["age"], joint="fisher")


def test_methods_paragraph_of_the_presets():
    from osteobiome.report.methods import methods_paragraph

    def describe(preset: str, **overrides) -> str:
        settings = {"preset": preset, "association": AssociationOptions.resolve(preset, overrides).as_dict(), "covariates_by_cohort": {}}
        return methods_paragraph(settings, {"A": 10}, ["bmd"], 0.1, 0.25, {})

    default = describe("default")
    assert "two-part model" in default and "median coefficient" in default and "per phenotype" in default
    assert "present in every sample has no presence model" in default
    assert "Cauchy combination" in default and "1 − (1 − min p)²" not in default
    assert "1 − (1 − min p)²" in describe("default", joint="beta")
    maaslin2 = describe("maaslin2")
    assert "total-sum scaled" in maaslin2 and "log2-transformed (zeros replaced by half" in maaslin2
    assert "over all feature × coefficient p-values of each model call together" in maaslin2
    assert "more than 10% of samples" in maaslin2 and "median" not in maaslin2
    assert "HC3" in describe("maaslin2", variance="HC3")


def test_methods_paragraph_says_when_the_two_part_model_was_mixed():
    from osteobiome.association.options import AssociationOptions
    from osteobiome.association.variants import fitted_model
    from osteobiome.report.methods import methods_paragraph

    def describe(random: list[str], **overrides) -> str:
        options = AssociationOptions.resolve("default", overrides).fitted(bool(random)).as_dict()
        settings = {
            "preset": "default", "association": options, "covariates_by_cohort": {}, "random_effects": random,
            "model": fitted_model(options["model"], random),
        }
        return methods_paragraph(settings, {"A": 10}, ["bmd"], 0.1, 0.25, {})

    mixed = describe(["subject"])
    assert "two-part mixed model" in mixed and "Laplace approximation" in mixed and "Satterthwaite" in mixed
    assert "random intercepts for subject" in mixed and "with weighted augmentation against separation" in mixed
    assert "without augmentation" in describe(["subject"], augment=False)
    assert "two-part mixed model" not in describe([])


def test_default_with_random_effects_fits_the_two_part_mixed_model(data):
    table, metadata = data
    metadata = metadata.assign(subject=np.repeat(np.arange(40), 2).astype(str))
    out = associate(table, metadata, ["age"], random=("subject",))
    assert out.attrs["model"] == "TWOPART_MIXED" and out.attrs["random_effects"] == ["subject"]
    assert {"pval.abundance", "pval.prevalence", "coef.prevalence", "note"} <= set(out.columns)
    assert out["pval"].between(0, 1).all() and out["note"].map(lambda note: isinstance(note, str)).all()
    assert abs(np.median(out["coef"])) < 1e-12  # the median comparison still applies
    assert associate(table, metadata, ["age"]).attrs["model"] == "TWOPART"
    assert associate(table, metadata, ["age"], random=("subject",), preset="maaslin2").attrs["model"] == "LMM"


def test_two_part_mixed_model_notes_a_feature_whose_present_samples_make_the_design_collinear(data):
    table, metadata = data
    metadata = metadata.assign(subject=np.repeat(np.arange(40), 2).astype(str), group=np.repeat([0.0, 1.0], 40))
    table = table.copy()
    feature = table.columns[0]
    table.loc[metadata.index[metadata["group"] == 1], feature] = 0  # present only where group == 0
    out = associate(table, metadata, ["age", "group"], random=("subject",), min_prevalence=0.0)
    row = out[(out["feature"] == feature) & (out["metadata"] == "age")].iloc[0]
    assert "abundance: not fitted" in row["note"] and np.isnan(row["coef"])
    assert out.loc[out["feature"] != feature, "pval"].notna().all()


@pytest.mark.parametrize(
    ("preset", "options"),
    [("default", {}), ("default", {"joint": "beta"}), ("maaslin2", {"variance": "HC3"}), ("maaslin2", {"compositional": "median"})],
)
def test_log10_pval_stays_finite_where_the_pvalue_underflows(preset, options):
    rng = np.random.default_rng(8)
    n, m = 2000, 12
    metadata = pd.DataFrame({"age": rng.normal(60, 8, n)}, index=[f"s{i}" for i in range(n)])
    log_abundance = rng.normal(0, 1, (n, m))
    log_abundance[:, 0] = 0.2 * (metadata["age"].to_numpy() - 60) + rng.normal(0, 0.05, n)
    table = pd.DataFrame(np.exp(log_abundance), index=metadata.index, columns=[f"g{j}" for j in range(m)])
    out = associate(table, metadata, ["age"], preset=preset, **options).set_index("feature")
    strong = out.loc["g0"]
    assert strong["pval"] == 0.0  # below the smallest double
    expected = t_test(np.array([strong["coef"] / strong["stderr"]]), np.array([strong["df"]]))[1][0] / np.log(10)
    if preset == "default":  # present everywhere: no prevalence part, the joint is the abundance part's p
        assert np.isnan(strong["pval.prevalence"])
    assert np.isfinite(strong["log10.pval"]) and strong["log10.pval"] < -300
    np.testing.assert_allclose(strong["log10.pval"], expected, rtol=1e-9)
