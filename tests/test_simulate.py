"""Simulator: presets, host data, planted associations, covariate effects, parameters, fitting, output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_data import MODEL_GENERA

from osteobiome.errors import InputError
from osteobiome.io.outputs import MARKER
from osteobiome.simulate import SimParams, default_params, fit_params, simulate_cohort
from osteobiome.simulate.fit import marginal_moments, read_template, relabel
from osteobiome.simulate.presets import phenotype_specs


def _log2_rel(cohort, feature):
    x = cohort.features
    return np.log2((x[feature] + 0.5) / x.sum(axis=1))


def test_shipped_params_have_silva_names_and_taxonomy():
    p = default_params()
    assert p.n_features == 130
    assert set(MODEL_GENERA) <= set(p.features)
    tax = p.taxonomy
    assert list(tax.columns) == ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus"]
    assert tax.loc["Akkermansia", "Family"] == "Akkermansiaceae"
    assert tax.loc["Faecalibacterium", "Family"] == "Ruminococcaceae"
    assert tax.loc["Lachnospiraceae NK4A136 group", "Family"] == "Lachnospiraceae"
    assert tax.loc["Methanobrevibacter", "Kingdom"] == "Archaea"
    assert np.all(np.linalg.eigvalsh(p.correlation()) > 0)


def test_presets_host_data():
    fhs = simulate_cohort("fhs", seed=3)
    meta = fhs.metadata
    assert len(meta) == 1227
    assert meta["age"].between(32, 89).all() and abs(meta["age"].mean() - 55) < 2
    assert set(meta["sex"]) == {"female", "male"}
    assert np.allclose(meta["BMI"], meta["weight"] / (meta["height"] / 100) ** 2, atol=0.05)
    assert set(phenotype_specs()) <= set(meta.columns)
    assert all(name.isidentifier() for name in meta.columns)
    women, men = meta[meta.sex == "female"], meta[meta.sex == "male"]
    assert women["radius_Tt_vBMD"].mean() < men["radius_Tt_vBMD"].mean()
    assert np.polyfit(women["age"], women["radius_Tt_vBMD"], 1)[0] < 0  # loss with age
    assert np.polyfit(women["age"], women["tibia_Ct_Po"], 1)[0] > 0
    corr = meta.drop(columns="sex").corr()
    assert corr.loc["radius_Tt_vBMD", "tibia_Tt_vBMD"] > 0.5
    assert corr.loc["radius_Tb_N", "radius_Tb_Sp"] < -0.8
    assert corr.loc["fn_aBMD", "total_hip_aBMD"] > 0.7

    mros = simulate_cohort("mros", seed=3).metadata
    assert len(mros) == 831 and (mros["sex"] == "male").all()
    assert mros["age"].between(78, 98).all() and abs(mros["age"].mean() - 84) < 1.5


def test_same_seed_same_cohort_other_seed_differs():
    a, b = simulate_cohort("mros", n=200, seed=7), simulate_cohort("mros", n=200, seed=7)
    pd.testing.assert_frame_equal(a.features, b.features)
    pd.testing.assert_frame_equal(a.metadata, b.metadata)
    c = simulate_cohort("mros", n=200, seed=8)
    assert not a.features.equals(c.features)


def test_default_truth_mirrors_model_study_directions():
    truth = simulate_cohort("fhs", n=50).truth
    assert list(truth.columns) == ["feature", "phenotype", "log2fc", "cohort"]
    signs = dict(zip(truth.feature, np.sign(truth.log2fc), strict=True))
    assert signs["Akkermansia"] < 0 and signs["DTU089"] < 0
    assert signs["Lachnospiraceae NK4A136 group"] > 0 and signs["Faecalibacterium"] > 0
    assert (truth.log2fc.abs() <= 0.35).all() and (truth.cohort == "fhs").all()


def test_planted_effect_is_recovered_on_log2_scale():
    assoc = pd.DataFrame(
        {
            "feature": ["Faecalibacterium", "Bacteroides"],
            "phenotype": ["tibia_Ct_vBMD"] * 2,
            "log2fc": [1.0, -1.0],
        }
    )
    sim = simulate_cohort("fhs", n=4000, seed=11, associations=assoc)
    z = sim.metadata["tibia_Ct_vBMD"]
    z = (z - z.mean()) / z.std()
    # both are nearly always present; slope of log2 relative abundance on the phenotype z-score ≈ log2fc
    assert np.polyfit(z, _log2_rel(sim, "Faecalibacterium"), 1)[0] == pytest.approx(1.0, abs=0.2)
    assert np.polyfit(z, _log2_rel(sim, "Bacteroides"), 1)[0] == pytest.approx(-1.0, abs=0.2)
    null = simulate_cohort("fhs", n=4000, seed=11, associations=assoc.iloc[:0])
    assert abs(np.polyfit(z, _log2_rel(null, "Faecalibacterium"), 1)[0]) < 0.2


def test_covariates_confound_microbiome():
    sim = simulate_cohort(
        "fhs", n=4000, seed=2, associations=pd.DataFrame(columns=["feature", "phenotype", "log2fc"])
    )
    meta = sim.metadata

    def slope_when_present(covariate, feature):  # per SD, over the samples where the genus was sequenced
        present = sim.features[feature] > 0
        x = meta[covariate]
        return np.polyfit(((x - x.mean()) / x.std())[present], _log2_rel(sim, feature)[present], 1)[0]

    assert slope_when_present("age", "Bifidobacterium") < -0.1  # planted −0.25 per SD
    assert slope_when_present("BMI", "Christensenellaceae R-7 group") < -0.1  # planted −0.30 per SD
    assert abs(slope_when_present("height", "Bifidobacterium")) < 0.1


def test_association_errors_are_one_line_with_hints(tmp_path):
    bad_feature = pd.DataFrame({"feature": ["Akkermansiaa"], "phenotype": ["fn_aBMD"], "log2fc": [0.2]})
    with pytest.raises(InputError, match="did you mean 'Akkermansia'"):
        simulate_cohort("fhs", n=20, associations=bad_feature)
    bad_pheno = pd.DataFrame({"feature": ["Akkermansia"], "phenotype": ["fn_BMD"], "log2fc": [0.2]})
    with pytest.raises(InputError, match="fn_aBMD"):
        simulate_cohort("fhs", n=20, associations=bad_pheno)
    with pytest.raises(InputError, match="not numeric"):
        simulate_cohort("fhs", n=20, associations=bad_feature.assign(feature="Akkermansia", phenotype="sex"))
    path = tmp_path / "assoc.tsv"
    path.write_text("genus\tphenotype\teffect\nAkkermansia\tfn_aBMD\t0.2\n")
    with pytest.raises(InputError, match="missing column"):
        simulate_cohort("fhs", n=20, associations=path)
    path.write_text("genus\tphenotype\tlog2fc\tcohort\nAkkermansia\tfn_aBMD\tbig\tfhs\n")
    with pytest.raises(InputError, match="not a number"):
        simulate_cohort("fhs", n=20, associations=path)
    path.write_text(
        "genus\tphenotype\tlog2fc\tcohort\nAkkermansia\tfn_aBMD\t0.3\tfhs\nBlautia\tfn_aBMD\t0.3\tmros\n"
    )
    truth = simulate_cohort("mros", n=20, associations=path).truth
    assert list(truth.feature) == ["Blautia"]
    with pytest.raises(InputError, match="did you mean 'mros'"):
        simulate_cohort("mrso")
    with pytest.raises(InputError, match="at least 3"):
        simulate_cohort("fhs", n=1)


def test_write_and_to_cohort(tmp_path):
    sim = simulate_cohort("mros", n=40, seed=1)
    out = sim.write(tmp_path / "sim")
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == [
        "features.tsv",
        "metadata.tsv",
        "taxonomy.tsv",
        "truth.tsv",
    ]
    back = pd.read_csv(out / "features.tsv", sep="\t", index_col=0)
    assert back.shape == (40, 130) and (back.to_numpy() == sim.features.to_numpy()).all()
    sim.write(tmp_path / "sim")  # overwriting an existing folder works
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    cohort = sim.to_cohort()
    assert cohort.n_samples == 40 and cohort.value_type == "counts" and cohort.taxonomy is not None


def test_params_roundtrip_and_errors(tmp_path):
    p = default_params()
    p.save(tmp_path / "p.json")
    q = SimParams.load(tmp_path / "p.json")
    assert q.features == p.features and np.allclose(q.loadings, p.loadings)
    with pytest.raises(InputError, match="not found"):
        SimParams.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a JSON"):
        SimParams.load(tmp_path / "bad.json")
    (tmp_path / "short.json").write_text('{"features": ["a"]}')
    with pytest.raises(InputError, match="missing field"):
        SimParams.load(tmp_path / "short.json")
    custom = simulate_cohort(
        "fhs",
        n=30,
        params=tmp_path / "p.json",
        associations=pd.DataFrame(columns=["feature", "phenotype", "log2fc"]),
    )
    assert custom.features.sum(axis=1).median() < 5000  # a parameter file keeps its own (Twins) depth


def test_fit_recovers_a_known_simulator():
    rng = np.random.default_rng(0)
    p = 12
    truth = SimParams(
        features=tuple(f"g{j}" for j in range(p)),
        prevalence=np.linspace(0.3, 0.95, p),
        meanlog=np.linspace(-6, -2, p),
        sdlog=np.full(p, 1.0),
        loadings=np.zeros((p, 1)),
        depth_meanlog=np.log(20000),
        depth_sdlog=0.3,
    )
    from osteobiome.simulate.copula import simulate_counts

    table = pd.DataFrame(simulate_counts(truth, 600, rng), columns=list(truth.features))
    fitted = fit_params(table, n_factors=2, calibration_rounds=15, n_calibration=1500)
    obs = marginal_moments(table.to_numpy(float))
    assert np.abs(fitted.prevalence - truth.prevalence).max() < 0.08
    assert np.abs(fitted.depth_meanlog - truth.depth_meanlog) < 0.05
    sim = simulate_counts(fitted, 3000, np.random.default_rng(1))
    again = marginal_moments(sim.astype(float))
    assert np.abs(again[0] - obs[0]).max() < 0.05
    assert np.nanmax(np.abs(again[1] - obs[1])) < 0.3


def test_fit_errors_and_relabel(tmp_path):
    ok = pd.DataFrame(np.random.default_rng(0).poisson(5, (20, 4)), columns=list("abcd"))
    with pytest.raises(InputError, match="integer counts"):
        fit_params(ok / 10.0)
    with pytest.raises(InputError, match="at least 10 samples"):
        fit_params(ok.iloc[:5])
    with pytest.warns(UserWarning, match="never observed: 'e'"):
        assert fit_params(
            ok.assign(e=0), n_factors=1, calibration_rounds=1, n_calibration=100
        ).features == tuple("abcd")
    fitted = fit_params(ok, n_factors=1, calibration_rounds=2, n_calibration=200)
    mapping = pd.DataFrame({"source": list("abc"), "Family": ["F"] * 3, "Genus": ["A", "B", "C"]})
    with pytest.raises(InputError, match="no row for feature"):
        relabel(fitted, mapping)
    mapping = pd.concat([mapping, pd.DataFrame({"source": ["d"], "Family": ["F"], "Genus": ["D"]})])
    assert relabel(fitted, mapping).features == ("A", "B", "C", "D")
    with pytest.raises(InputError, match="no such file"):
        read_template(tmp_path / "none.csv")


def test_twins_template_reads_as_samples_by_features(shared):
    table = read_template(shared / "data" / "twins" / "Twins.csv")
    assert table.shape == (278, 130)


@pytest.mark.parametrize(
    ("loc", "scale", "low", "high"),
    [
        (54.0, 11.5, 32, 89), (82.5, 4.8, 78, 98), (0.0, 1.0, -5, -1), (0.0, 1.0, 0.5, 6), (0.0, 1.0, 6, 9),
        (54.0, 11.5, -np.inf, np.inf), (54.0, 11.5, 60, np.inf), (54.0, 11.5, -np.inf, 40),  # open either side
    ],
)
def test_truncated_normal_draws_equal_scipys_from_the_same_generator(loc, scale, low, high):
    from scipy.stats import truncnorm

    from osteobiome.simulate.host import truncated_normal

    ours = truncated_normal(np.random.default_rng(7), loc, scale, low, high, 20000)
    a, b = (low - loc) / scale, (high - loc) / scale
    theirs = truncnorm.rvs(a, b, loc=loc, scale=scale, size=20000, random_state=np.random.default_rng(7))
    assert ours.min() >= low and ours.max() <= high
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize(("scale", "low", "high"), [(8.0, 80.0, 60.0), (8.0, 70.0, 70.0), (0.0, 60.0, 80.0), (np.nan, 60.0, 80.0)])
def test_truncated_normal_refuses_reversed_bounds_and_a_scale_that_is_not_positive(scale, low, high):
    """Reversed bounds would otherwise be drawn between them (the mirrored branch), as if given the right way."""
    from osteobiome.simulate.host import truncated_normal

    with pytest.raises(ValueError, match="scale > 0 and low < high"):
        truncated_normal(np.random.default_rng(1), 70.0, scale, low, high, 5)
