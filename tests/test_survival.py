"""osteobiome.survival against R: coxph(ties = "efron") and cox.zph golden files (tests/golden/survival/make.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import osteobiome
from osteobiome.errors import InputError
from osteobiome.survival import cox_zph, fit_cox, fit_logistic, kaplan_meier, run_survival
from osteobiome.survival._risksets import risk_sets

GOLDEN = Path(__file__).parent / "golden" / "survival"


@pytest.fixture(scope="module")
def data():
    features = pd.read_csv(GOLDEN / "features.tsv", sep="\t", index_col=0)
    metadata = pd.read_csv(GOLDEN / "metadata.tsv", sep="\t", index_col=0)
    return features, metadata


def _relative(got, expected):
    return np.max(np.abs(np.asarray(got, float) / np.asarray(expected, float) - 1.0))


CASES = {
    "right": {"time": "years", "covariates": ["age0", "sex", "bmi"]},
    "entry": {"time": "exit_age", "entry": "age0", "covariates": ["sex", "bmi"]},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cox_matches_coxph_efron_and_cox_zph(data, case):
    features, metadata = data
    result = osteobiome.survival(features, metadata, event="fracture", reference={"sex": "F"}, preset="maaslin2", **CASES[case])
    expected = pd.read_csv(GOLDEN / f"expected_{case}.tsv", sep="\t").set_index("feature")
    got = result.set_index("feature")
    assert set(got.index[got["kind"] == "feature"]) == set(expected.index)  # the same features survive the filter
    got = got.loc[expected.index]
    for column in ("coef", "stderr", "pval", "qval"):
        assert _relative(got[column], expected[column]) < 1e-6, column
    for column in ("ph.chisq", "ph.pval"):
        assert _relative(got[column], expected[column]) < 1e-4, column
    assert (got["N"] == expected["N"]).all() and (got["N.events"] == expected["N.events"]).all()
    np.testing.assert_allclose(got["HR"], np.exp(expected["coef"]), rtol=1e-6)
    assert (got["ph.flag"] == (expected["ph.pval"] < 0.05)).all()


TEST_CASES = dict(CASES, none={"time": "years"})


@pytest.mark.parametrize("case", sorted(TEST_CASES))
def test_likelihood_ratio_and_score_tests_match_coxph(data, case):
    """coxph from init = c(0, coef(covariates-only fit)): 2 * diff(loglik) and $score (make.R)."""
    features, metadata = data
    options = TEST_CASES[case]
    analysis = run_survival(features, metadata, event="fracture", reference={"sex": "F"}, preset="maaslin2", **options)
    expected = pd.read_csv(GOLDEN / "expected_tests.tsv", sep="\t").query("case == @case").set_index("feature")
    outcome = analysis.outcome
    fit = fit_cox(
        outcome["time"], outcome["event"], analysis.exposures[expected.index].to_numpy(), analysis.covariates.to_numpy(),
        outcome["entry"].to_numpy() if "entry" in options else None,
    )
    assert analysis.covariates.shape[1] == len(options.get("covariates", ()))
    assert _relative(fit.loglik, expected["loglik"]) < 1e-10
    for column, got in {"lr.chisq": fit.lr_chisq, "score.chisq": fit.score_chisq,
                        "lr.pval": fit.test_pval("lr"), "score.pval": fit.test_pval("score")}.items():
        assert _relative(got, expected[column]) < 1e-6, column
    assert np.max(np.abs(fit.lr_chisq - fit.score_chisq)) > 0.1  # the tests differ; each matched its own column


def test_default_preset_keeps_the_wald_test(data):
    """The default's pval is coxph's Wald p (not the LR or score p): the null benchmark found no test better
    calibrated in the tail (benchmarks/RESULTS.md, survival). Both presets give these data the same exposures."""
    features, metadata = data
    result = osteobiome.survival(features, metadata, event="fracture", reference={"sex": "F"}, **CASES["right"])
    got = result.set_index("feature")
    wald = pd.read_csv(GOLDEN / "expected_right.tsv", sep="\t").set_index("feature")
    others = pd.read_csv(GOLDEN / "expected_tests.tsv", sep="\t").query("case == 'right'").set_index("feature")
    assert _relative(got.loc[wald.index, "pval"], wald["pval"]) < 1e-6
    assert _relative(got.loc[others.index, "pval"], others["lr.pval"]) > 1e-3
    assert _relative(got.loc[others.index, "pval"], others["score.pval"]) > 1e-3


def test_golden_data_has_tied_event_times(data):
    _, metadata = data
    for column in ("years", "exit_age"):
        risk = risk_sets(metadata[column], metadata["fracture"] == 1)
        assert risk.deaths.max() > 3  # Efron's correction is exercised


def test_logistic_matches_glm(data):
    features, metadata = data
    result = osteobiome.survival(
        features, metadata, event="osteoporosis", covariates=["age0", "sex", "bmi"], outcome_type="binary", preset="maaslin2"
    )
    expected = pd.read_csv(GOLDEN / "expected_binary.tsv", sep="\t").set_index("feature")
    got = result.set_index("feature").loc[expected.index]
    for column in ("coef", "stderr", "pval", "qval"):
        assert _relative(got[column], expected[column]) < 1e-6, column
    assert "OR" in result.columns and "ph.pval" not in result.columns
    assert (result["N.events"] == metadata["osteoporosis"].sum()).all()


def test_features_fitted_together_equal_one_at_a_time():
    rng = np.random.default_rng(4)
    n = 150
    Z = rng.normal(size=(n, 2))
    F = rng.normal(size=(n, 5))
    time = np.ceil(rng.exponential(3, n) * np.exp(-0.5 * F[:, 0]))
    event = rng.random(n) < 0.7
    entry = rng.uniform(-1, 0.5, n) * (rng.random(n) < 0.5)
    entry = np.minimum(entry, time - 0.5)
    joint = fit_cox(time, event, F, Z, entry)
    for j in range(F.shape[1]):
        single = fit_cox(time, event, F[:, [j]], Z, entry)
        np.testing.assert_allclose(joint.coef[j], single.coef[0], rtol=1e-10)
        np.testing.assert_allclose(joint.stderr[j], single.stderr[0], rtol=1e-10)
        np.testing.assert_allclose(joint.lr_chisq[j], single.lr_chisq[0], rtol=1e-8)
        np.testing.assert_allclose(joint.score_chisq[j], single.score_chisq[0], rtol=1e-10)
    chisq, _ = cox_zph(joint, time, event, entry)
    assert np.isfinite(chisq).all()


def test_cox_without_covariates_recovers_a_strong_effect():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 1))
    time = rng.exponential(1.0, 2000) * np.exp(-0.8 * x[:, 0])
    fit = fit_cox(time, np.ones(2000, bool), x)
    assert abs(fit.coef[0, 0] - 0.8) < 4 * fit.stderr[0, 0]


def test_kaplan_meier_by_hand():
    curve = kaplan_meier(np.array([1, 2, 2, 3, 4.0]), np.array([1, 1, 0, 1, 0]))
    np.testing.assert_allclose(curve["surv"], [4 / 5, 4 / 5 * 3 / 4, 4 / 5 * 3 / 4 * 1 / 2])
    assert curve["n.risk"].tolist() == [5, 4, 2]
    late = kaplan_meier(np.array([2, 3, 4.0]), np.array([1, 1, 1]), entry=np.array([0, 2.5, 0]))
    assert late["n.risk"].tolist() == [2, 2, 1]  # the second sample enters after t = 2


def test_separation_gets_a_note_not_a_number():
    rng = np.random.default_rng(6)
    y = np.r_[np.zeros(30), np.ones(30)]
    F = np.column_stack([y + np.linspace(0, 0.1, 60), rng.normal(size=60)])  # the first separates y exactly
    fit = fit_logistic(y, F)
    assert not fit.converged[0] and np.isnan(fit.pval[0])
    assert fit.converged[1] and np.isfinite(fit.pval[1])


def test_constant_exposure_and_bad_outcomes(data):
    features, metadata = data
    meta = metadata.copy()
    with pytest.raises(InputError, match="not 0/1"):
        osteobiome.survival(features, meta.assign(fracture=meta["fracture"] * 2), event="fracture", time="years")
    with pytest.raises(InputError, match="entry must come before"):
        osteobiome.survival(features, meta, event="fracture", time="age0", entry="exit_age")
    with pytest.raises(InputError, match="does not apply"):
        osteobiome.survival(features, meta, event="fracture", time="years", model="twopart")
    with pytest.raises(InputError, match="needs a time column"):
        osteobiome.survival(features, meta, event="fracture")


def test_survival_name_is_module_and_function():
    import osteobiome.survival as module

    assert osteobiome.survival is module and callable(module)
    assert module.survival.__name__ == "survival" and hasattr(module, "fit_cox")


def test_cli_writes_results_and_errors_in_one_line(tmp_path, capsys):
    from osteobiome.cli import main

    common = [str(GOLDEN / "features.tsv"), str(GOLDEN / "metadata.tsv"), "--event", "fracture"]
    main(["survival", *common, "--time", "exit_age", "--entry", "age0", "--covariates", "sex,bmi", "--reference", "sex=F",
          "--preset", "maaslin2", "--out", str(tmp_path / "out")])
    table = pd.read_csv(tmp_path / "out" / "survival_results.tsv", sep="\t").set_index("feature")
    expected = pd.read_csv(GOLDEN / "expected_entry.tsv", sep="\t").set_index("feature")
    assert _relative(table.loc[expected.index, "coef"], expected["coef"]) < 1e-6
    assert (tmp_path / "out" / "significant_results.tsv").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["survival", *common, "--time", "yaers", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean 'years'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_cli_sets_the_ph_time_scale_variance_filter_and_correction_as_python_does(tmp_path, data):
    from osteobiome.cli import main

    features, metadata = data
    main([
        "survival", str(GOLDEN / "features.tsv"), str(GOLDEN / "metadata.tsv"), "--event", "fracture", "--time", "years",
        "--covariates", "age0", "--ph-transform", "identity", "--correction", "bonferroni", "--min-variance", "20",
        "--out", str(tmp_path / "out"),
    ])
    table = pd.read_csv(tmp_path / "out" / "survival_results.tsv", sep="\t")
    expected = osteobiome.survival(
        features, metadata, event="fracture", time="years", covariates=["age0"], ph_transform="identity",
        correction="bonferroni", min_variance=20,
    )
    default = osteobiome.survival(features, metadata, event="fracture", time="years", covariates=["age0"])
    assert len(expected) < len(default)  # the variance filter removed features
    assert not np.allclose(expected["ph.pval"].to_numpy()[:3], default["ph.pval"].to_numpy()[:3])
    pd.testing.assert_frame_equal(
        table.fillna({"note": ""}), expected.reset_index(drop=True), check_dtype=False, rtol=1e-12
    )


def test_community_exposures_are_the_standardized_diversity_indices(data):
    from osteobiome.diversity import alpha_diversity

    features, metadata = data
    result = osteobiome.survival(features, metadata, event="fracture", time="years", covariates=["age0"], community_pcs=2)
    community = result[result["kind"] == "community"].set_index("feature")
    assert set(community.index) == {"alpha:observed", "alpha:shannon", "alpha:simpson", "alpha:pielou", "aitchison:PC1", "aitchison:PC2"}
    shannon = alpha_diversity(features, ["shannon"])["shannon"].to_numpy()
    z = (shannon - shannon.mean()) / shannon.std(ddof=1)
    fit = fit_cox(metadata["years"], metadata["fracture"], z[:, None], metadata[["age0"]].to_numpy())
    assert community.loc["alpha:shannon", "coef"] == pytest.approx(fit.coef[0, 0], rel=1e-10)
    assert community.loc["alpha:shannon", "N.events"] == metadata["fracture"].sum()


def test_an_unknown_ph_transform_is_refused_before_any_fit(data, monkeypatch):
    import osteobiome.survival.analysis as analysis

    features, metadata = data
    monkeypatch.setattr(analysis, "fit_cox", lambda *a, **k: pytest.fail("fitted before checking ph_transform"))
    with pytest.raises(InputError, match=r"--ph-transform\) 'kaplan' is not known.*use one of km, identity, log"):
        osteobiome.survival(features, metadata, event="fracture", time="years", ph_transform="kaplan")
