import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from osteobiome.errors import InputError
from osteobiome.mechanisms.sets import (
    SET_COLUMNS,
    camera,
    camera_by_phenotype,
    meta_set_results,
    ols_phenotype_fit,
    permutation_set_test,
    set_tests_across_cohorts,
    t_to_z,
)

SETS = {
    "butyrate producer": [f"g{i}" for i in range(0, 8)],
    "mucin degrader": [f"g{i}" for i in range(8, 16)],
    "methanogen": [f"g{i}" for i in range(16, 22)],
}


def simulate(n=200, seed=0, effect=0.0, rho_set=0.5, n_features=60):
    """Correlated features: a study-wide factor plus one shared factor per set (within-set correlation
    ``rho_set``); ``effect`` (per SD of phenotype) is planted on every 'butyrate producer'."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    age = rng.standard_normal(n)
    general = rng.standard_normal(n)
    Y = np.sqrt(0.8) * rng.standard_normal((n, n_features)) + np.sqrt(0.2) * general[:, None]
    for members in SETS.values():
        idx = [int(m[1:]) for m in members]
        shared = rng.standard_normal(n)
        Y[:, idx] = (
            np.sqrt(1 - rho_set) * rng.standard_normal((n, len(idx))) + np.sqrt(rho_set) * shared[:, None]
        )
    Y[:, :8] += effect * x[:, None]
    Y += 0.3 * age[:, None]
    samples = [f"s{i}" for i in range(n)]
    features = pd.DataFrame(Y, index=samples, columns=[f"g{j}" for j in range(n_features)])
    metadata = pd.DataFrame({"vbmd": x, "age": age, "sex": rng.choice(["F", "M"], n)}, index=samples)
    return features, metadata


def test_camera_finds_planted_butyrate_group():
    features, metadata = simulate(effect=0.3, seed=3)
    res = camera_by_phenotype(features, metadata, ["vbmd"], SETS, covariates=["age", "sex"])
    assert list(res.columns[:2]) == ["set", "phenotype"]
    row = res.set_index("set").loc["butyrate producer"]
    assert row["qval"] < 0.05
    assert row["direction"] == "Up" and row["effect"] > 0.15
    assert 0.3 < row["correlation"] < 0.7  # estimated within-set residual correlation ~ rho_set
    assert row["vif"] > 1 + 7 * 0.3  # set-minus-rest variance inflated by the within-set correlation
    assert (res.set_index("set").drop("butyrate producer")["qval"] > 0.05).all()


def test_camera_null_pvalues_uniform_and_naive_test_is_not():
    p_full = {name: [] for name in SETS}
    p_naive = []
    for seed in range(200):
        features, metadata = simulate(n=80, seed=1000 + seed, rho_set=0.4)
        fit = ols_phenotype_fit(features, metadata, "vbmd", ["age"])
        res = camera(fit.t, SETS, residuals=fit.residuals, df=fit.df).set_index("set")
        naive = camera(fit.t, SETS, correlation=0.0, df=fit.df).set_index("set")
        for name in SETS:
            p_full[name].append(res.loc[name, "pval"])
        p_naive.append(naive.loc["butyrate producer", "pval"])
    for name, p in p_full.items():
        assert stats.kstest(p, "uniform").pvalue > 0.01, name
        assert np.mean(np.array(p) < 0.05) < 0.1, name
    # ignoring the inter-feature correlation inflates type I error: why CAMERA is used
    assert np.mean(np.array(p_naive) < 0.05) > 0.2


def test_camera_variance_modes_agree_without_outside_correlation():
    rng = np.random.default_rng(2)
    shared = rng.standard_normal(300)
    R = rng.standard_normal((300, 40))
    R[:, :6] = 0.6 * R[:, :6] + 0.8 * shared[:, None]
    resid = pd.DataFrame(R, columns=[f"f{i}" for i in range(40)])
    z = pd.Series(rng.standard_normal(40), index=resid.columns)
    sets = {"a": list(resid.columns[:6])}
    full = camera(z, sets, residuals=resid)
    classic = camera(z, sets, residuals=resid, variance="camera")
    assert full.loc[0, "vif"] == pytest.approx(classic.loc[0, "vif"], rel=0.1)
    assert full.loc[0, "statistic"] == pytest.approx(classic.loc[0, "statistic"], rel=0.1)
    with pytest.raises(InputError, match="variance"):
        camera(z, sets, residuals=resid, variance="exact")


def test_camera_matches_formula_with_fixed_correlation():
    rng = np.random.default_rng(5)
    z = pd.Series(rng.standard_normal(30), index=[f"f{i}" for i in range(30)])
    z.iloc[:5] += 1.5
    res = camera(z, {"a": list(z.index[:5])}, correlation=0.1)
    G, m = 30, 5
    delta = z.iloc[:5].mean() - z.iloc[5:].mean()
    s2 = ((G - 1) * z.var(ddof=1) - delta**2 * m * (G - m) / G) / (G - 2)
    t = delta / np.sqrt(s2 * ((1 + (m - 1) * 0.1) / m + 1 / (G - m)))
    assert res.loc[0, "statistic"] == pytest.approx(t)
    assert res.loc[0, "pval"] == pytest.approx(2 * stats.t.sf(abs(t), G - 2))
    assert list(res.columns) == SET_COLUMNS


def test_camera_skips_small_sets_and_reports_coefficient_effect():
    z = pd.Series(np.arange(10.0), index=list("abcdefghij"))
    coef = pd.Series(np.r_[np.ones(3), np.zeros(7)], index=z.index)
    res = camera(z, {"big": ["a", "b", "c"], "tiny": ["a", "zz"]}, correlation=0.0, coefficients=coef)
    assert list(res["set"]) == ["big"]
    assert res.loc[0, "effect"] == pytest.approx(1.0)


def test_camera_errors():
    z = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    with pytest.raises(InputError, match="residuals"):
        camera(z, {"s": ["a", "b"]})
    with pytest.raises(InputError, match="shape"):
        camera(z, {"s": ["a", "b"]}, residuals=np.zeros((5, 3)), min_size=2)
    with pytest.raises(InputError, match="lack feature"):
        camera(z, {"s": ["a", "b"]}, residuals=pd.DataFrame(np.zeros((5, 2)), columns=["a", "b"]), min_size=2)
    with pytest.raises(InputError, match="at least 3"):
        camera(z.iloc[:2], {"s": ["a"]}, correlation=0.0)


def test_ols_fit_matches_statsmodels_and_errors():
    import statsmodels.api as sm

    features, metadata = simulate(n=50, seed=9)
    fit = ols_phenotype_fit(features, metadata, "vbmd", ["age", "sex"])
    X = sm.add_constant(pd.get_dummies(metadata[["vbmd", "age", "sex"]], drop_first=True, dtype=float))
    X["vbmd"] = (X["vbmd"] - X["vbmd"].mean()) / X["vbmd"].std()  # set effects are per SD of the phenotype
    ref = sm.OLS(features["g3"], X).fit()
    assert fit.coef["g3"] == pytest.approx(ref.params["vbmd"])
    assert fit.stderr["g3"] == pytest.approx(ref.bse["vbmd"])
    assert fit.df == 46 and fit.n == 50
    with pytest.raises(InputError, match="not found"):
        ols_phenotype_fit(features, metadata, "tibia", [])
    with pytest.raises(InputError, match="numeric phenotype"):
        ols_phenotype_fit(features, metadata, "sex", [])
    with pytest.raises(InputError, match="share no sample"):
        ols_phenotype_fit(features.set_axis([f"x{i}" for i in range(50)]), metadata, "vbmd", [])


def test_permutation_test_finds_signal_is_seeded_and_calibrated():
    features, metadata = simulate(n=120, effect=0.35, seed=11)
    res = permutation_set_test(features, metadata, "vbmd", SETS, covariates=["age"], permutations=199, seed=4)
    again = permutation_set_test(
        features, metadata, "vbmd", SETS, covariates=["age"], permutations=199, seed=4
    )
    pd.testing.assert_frame_equal(res, again)
    top = res.set_index("set").loc["butyrate producer"]
    assert top["pval"] == pytest.approx(1 / 200) and top["effect"] > 0.2
    nulls = []
    for seed in range(60):
        f, m = simulate(n=60, seed=500 + seed, rho_set=0.5)
        r = permutation_set_test(f, m, "vbmd", SETS, permutations=99, seed=seed).set_index("set")
        nulls.append(r.loc["butyrate producer", "pval"])
    assert stats.kstest(nulls, "uniform").pvalue > 0.01


def test_meta_set_results_weighted_stouffer():
    a = pd.DataFrame(
        {
            "set": ["s1", "s2"],
            "phenotype": "vbmd",
            "effect": [0.2, 0.0],
            "statistic": [2.0, -0.5],
            "pval": [0.04, 0.6],
            "N": [400, 400],
        }
    )
    b = pd.DataFrame(
        {
            "set": ["s1", "s2"],
            "phenotype": "vbmd",
            "effect": [0.1, 0.05],
            "statistic": [1.5, 0.3],
            "pval": [0.1, 0.8],
            "N": [100, 100],
        }
    )
    res = meta_set_results({"fhs": a, "mros": b}).set_index("set")
    z1, z2 = stats.norm.isf(0.04 / 2), stats.norm.isf(0.1 / 2)
    expect = (20 * z1 + 10 * z2) / np.sqrt(20**2 + 10**2)
    assert res.loc["s1", "statistic"] == pytest.approx(expect)
    assert res.loc["s1", "pval"] == pytest.approx(2 * stats.norm.sf(expect))
    assert res.loc["s1", "effect"] == pytest.approx((0.2 * 400 + 0.1 * 100) / 500)
    assert res.loc["s1", "k"] == 2 and {"effect_fhs", "pval_mros", "qval"} <= set(res.columns)
    with pytest.raises(InputError, match="lack column"):
        meta_set_results({"fhs": a.drop(columns="N")})
    with pytest.raises(InputError, match="no cohort"):
        meta_set_results({})


def test_qvalues_are_bh_and_t_to_z():
    features, metadata = simulate(n=60, seed=4)
    res = camera_by_phenotype(features, metadata, ["vbmd", "age"], SETS)
    assert np.allclose(res["qval"], multipletests(res["pval"], method="fdr_bh")[1])
    assert np.allclose(t_to_z(np.array([-2.0, 3.0]), np.inf), [-2.0, 3.0])
    z = t_to_z(np.array([-40.0, 2.0, 40.0]), 30)
    assert z[0] == pytest.approx(-z[2]) and np.isfinite(z).all() and 0 < z[1] < 2


def test_set_tests_across_cohorts_meta_finds_planted_group():
    cohorts = {"fhs": simulate(n=150, effect=0.2, seed=21), "mros": simulate(n=120, effect=0.2, seed=22)}
    per_cohort, meta = set_tests_across_cohorts(cohorts, ["vbmd"], SETS, covariates=["age"])
    assert list(per_cohort.columns[:3]) == ["cohort", "set", "phenotype"]
    assert set(per_cohort["cohort"]) == {"fhs", "mros"} and len(per_cohort) == 6
    top = meta.set_index("set").loc["butyrate producer"]
    assert top["qval"] < 0.05 and top["k"] == 2 and top["effect"] > 0
    assert (meta.set_index("set").drop("butyrate producer")["pval"] > 0.01).all()


def test_set_tests_across_cohorts_with_covariates_per_cohort_skip_cohorts_without_sets():
    fhs, mros = simulate(n=80, seed=23), simulate(n=70, seed=24)
    covariates = {"fhs": ["age", "sex"], "mros": ["age"]}
    per_cohort, meta = set_tests_across_cohorts({"fhs": fhs, "mros": mros}, ["vbmd"], SETS, covariates)
    for name, (features, metadata) in (("fhs", fhs), ("mros", mros)):
        alone = camera_by_phenotype(features, metadata, ["vbmd"], SETS, covariates[name])
        rows = per_cohort[per_cohort["cohort"] == name].drop(columns="cohort").reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, alone)
    assert meta["k"].eq(2).all()
    renamed = (mros[0].add_prefix("x"), mros[1])  # no feature of any set: no table for this cohort
    per_cohort, meta = set_tests_across_cohorts({"fhs": fhs, "mros": renamed}, ["vbmd"], SETS, covariates)
    assert set(per_cohort["cohort"]) == {"fhs"} and meta is None
    per_cohort, meta = set_tests_across_cohorts({"mros": renamed}, ["vbmd"], SETS, covariates)
    assert per_cohort.empty and list(per_cohort.columns[:3]) == ["cohort", "set", "phenotype"] and meta is None


def test_planted_group_found_and_other_groups_uniform_over_seeds():
    """Study-like size (300 genera): butyrate producers carry a shared planted association; the other sets
    must stay calibrated. (With few features the competitive null shifts: a strongly associated set raises
    the mean of 'the rest', making other sets' p-values conservative, not anti-conservative.)"""
    found, p_other = 0, {"mucin degrader": [], "methanogen": []}
    for seed in range(200):
        features, metadata = simulate(n=120, seed=2000 + seed, effect=0.35, rho_set=0.4, n_features=300)
        fit = ols_phenotype_fit(features, metadata, "vbmd", ["age"])
        res = camera(fit.t, SETS, residuals=fit.residuals, df=fit.df).set_index("set")
        found += res.loc["butyrate producer", "qval"] < 0.05
        for name, p in p_other.items():
            p.append(res.loc[name, "pval"])
    assert found >= 190
    for name, p in p_other.items():
        assert stats.kstest(p, "uniform").pvalue > 0.01, name


def test_constant_covariate_is_left_out_with_a_warning():
    features, metadata = simulate(n=60, seed=4)
    single_sex = metadata.assign(sex="M")
    with pytest.warns(UserWarning, match="'sex'.*left out"):
        fit = ols_phenotype_fit(features, single_sex, "vbmd", ["age", "sex"])
    ref = ols_phenotype_fit(features, metadata.drop(columns="sex"), "vbmd", ["age"])
    assert np.allclose(fit.t, ref.t) and fit.df == ref.df == 57
