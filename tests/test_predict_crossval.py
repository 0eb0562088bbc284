"""osteobiome.predict end to end: no leakage, signal found, reproducible, external validation, errors."""

import re

import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.predict import cross_validate, external_validate
from osteobiome.predict._data import build_design
from osteobiome.predict._transformers import AbundanceFeatures
from osteobiome.predict._tuning import PenaltyPathCV
from osteobiome.predict.crossval import options_from, outer_splits

FAST = {"learners": ("penalized",), "folds": 3, "repeats": 1, "inner_folds": 3, "bootstrap": 200}


def cohort(n=90, taxa=40, effect=0.0, seed=0, prefix="S", continuous=False):
    """Counts (log-normal, some zeros), covariates age/sex/bmi; outcome = lowest tertile of a score made of the
    covariates plus an independent part, which 4 marker taxa follow with ``effect`` (log scale per SD)."""
    rng = np.random.default_rng(seed)
    ids = [f"{prefix}{i:03d}" for i in range(n)]
    meta = pd.DataFrame(
        {"age": rng.normal(65, 8, n), "sex": rng.choice(["F", "M"], n), "bmi": rng.normal(27, 4, n)}, index=ids
    )
    hidden = rng.normal(size=n)
    score = 0.8 * (meta["age"] - 65) / 8 - 0.5 * (meta["bmi"] - 27) / 4 + hidden
    z = (hidden - hidden.mean()) / hidden.std()
    log_mean = rng.normal(3, 1.2, taxa) + rng.normal(0, 0.8, (n, taxa))
    log_mean[:, :4] += effect * z[:, None] * np.array([1, -1, 1, -1])
    counts = rng.poisson(np.exp(log_mean) * (rng.uniform(size=(n, taxa)) > 0.2))
    table = pd.DataFrame(counts, index=ids, columns=[f"Genus{j}" for j in range(taxa)])
    meta["low_bmd"] = score if continuous else (score <= np.quantile(score, 1 / 3)).astype(int)
    return table, meta


def auc_of(result, model, learner="penalized"):
    perf = result.performance.set_index(["learner", "model", "metric"])
    return perf.loc[(learner, model, "AUC"), "estimate"]


def test_pure_noise_gives_chance_auc_and_a_leaky_filter_would_not():
    """Many noise taxa, outcome unrelated to everything: the microbiome model's out-of-fold AUC is ≈ 0.5.
    The same taxa screened against the outcome on all samples first (a supervised filter moved outside the
    folds) give a clearly optimistic AUC — the test would catch such a leak in the pipeline."""
    rng = np.random.default_rng(5)
    n, p = 80, 300
    table = pd.DataFrame(rng.poisson(rng.lognormal(2, 1, (n, p))) + 1, index=[f"s{i}" for i in range(n)],
                         columns=[f"g{j}" for j in range(p)])
    meta = pd.DataFrame({"age": rng.normal(60, 5, n), "y": rng.permutation(np.r_[np.ones(40), np.zeros(40)])},
                        index=table.index)
    honest = cross_validate(table, meta, "y", ["age"], seed=1, importance=False, **FAST)
    assert abs(auc_of(honest, "microbiome") - 0.5) < 0.1
    assert abs(auc_of(honest, "microbiome+covariates") - 0.5) < 0.1

    clr = np.log(table.to_numpy(float))
    clr -= clr.mean(axis=1, keepdims=True)
    y = meta["y"].to_numpy()
    t = (clr[y == 1].mean(0) - clr[y == 0].mean(0)) / clr.std(0)
    screened = table.iloc[:, np.argsort(-np.abs(t))[:15]]  # chosen with every sample's outcome: a leak
    leaky = cross_validate(screened, meta, "y", ["age"], seed=1, importance=False, **FAST)
    assert auc_of(leaky, "microbiome") > 0.75


def test_every_learned_step_sees_training_rows_only(monkeypatch):
    """The prevalence filter / transform and the tuning are fitted only on rows of an outer training set."""
    table, meta = cohort(n=60, taxa=15, seed=2)
    seen = []
    for cls in (AbundanceFeatures, PenaltyPathCV):
        original = cls.fit

        def spy(self, X, y=None, _original=original):
            seen.append(frozenset(X.index))
            return _original(self, X, y)

        monkeypatch.setattr(cls, "fit", spy)
    cross_validate(table, meta, "low_bmd", ["age", "sex", "bmi"], seed=3, importance=False, **FAST)
    design = build_design(table, meta, "low_bmd", ["age", "sex", "bmi"])
    trains = [frozenset(design.samples[train]) for _, train, _ in outer_splits(design, options_from({**FAST, "seed": 3}))]
    assert len(seen) > 20
    assert all(any(s <= t for t in trains) for s in seen)
    assert all(len(s) < len(design.samples) for s in seen)


def test_marker_taxa_raise_the_auc_beyond_the_covariates():
    table, meta = cohort(n=120, effect=1.5, seed=4)
    result = cross_validate(table, meta, "low_bmd", ["age", "sex", "bmi"], seed=0, **FAST)
    row = result.comparison.iloc[0]
    assert row["comparison"] == "microbiome+covariates vs covariates" and row["method"] == "DeLong"
    assert row["estimate"] > 0.05 and row["ci.lower"] > 0 and row["pval"] < 0.05
    taxa = result.importance[result.importance["kind"] == "taxon"].set_index("feature")
    markers = {"Genus0": -1, "Genus1": 1, "Genus2": -1, "Genus3": 1}  # low_bmd = low score: +effect taxa lower
    top = [f for f in taxa.index[:4] if f in markers]
    assert len(top) >= 2
    assert all(taxa.loc[f, "direction"] == markers[f] for f in top)
    assert set(result.calibration.columns) >= {"slope", "intercept", "brier"}
    assert len(result.predictions) == 3 * len(meta)
    d = result.decision
    assert set(d["model"]) == {"covariates", "microbiome", "microbiome+covariates", "treat all", "treat none"}


def test_continuous_outcome_reports_r2_and_rmse():
    table, meta = cohort(n=90, effect=1.5, seed=6, continuous=True)
    result = cross_validate(table, meta, "low_bmd", ["age", "bmi"], seed=0, importance=False, **FAST)
    assert result.task == "continuous"
    assert set(result.performance["metric"]) == {"R2", "RMSE"}
    comp = result.comparison.set_index("metric")
    assert comp.loc["R2", "estimate"] > 0 and comp.loc["R2", "ci.lower"] > 0
    assert comp.loc["RMSE", "estimate"] < 0
    assert result.calibration["brier"].isna().all() and not len(result.decision)


def test_same_seed_same_tables_and_workers_do_not_change_results(tmp_path):
    table, meta = cohort(n=60, taxa=12, effect=1.0, seed=7)
    args = (table, meta, "low_bmd", ["age", "sex"])
    one = cross_validate(*args, seed=5, **FAST)
    again = cross_validate(*args, seed=5, **FAST)
    two = cross_validate(*args, seed=5, workers=2, **FAST)
    for name in ("performance", "comparison", "calibration", "importance", "predictions"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(again, name))
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    other = cross_validate(*args, seed=6, **FAST)
    assert not one.predictions["predicted"].equals(other.predictions["predicted"])
    paths = one.write(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.tsv" for n in
                                                     ("performance", "comparison", "calibration", "importance",
                                                      "predictions", "decision"))


def test_external_validation_leaves_each_cohort_out():
    a = cohort(n=80, taxa=20, effect=1.5, seed=8, prefix="A")
    b_table, b_meta = cohort(n=70, taxa=22, effect=1.5, seed=9, prefix="B")
    b_table = b_table.rename(columns={"Genus21": "OnlyInB"})
    result = external_validate({"A": a, "B": (b_table, b_meta)}, "low_bmd", ["age", "sex", "bmi"],
                               learners=("penalized",), inner_folds=3, bootstrap=200)
    assert set(result.performance["validation"]) == {"external"}
    assert set(result.performance["cohort"]) == {"A", "B"}
    assert (result.comparison["estimate"] > 0).all()
    assert result.predictions.groupby("cohort")["sample"].nunique().to_dict() == {"A": 80, "B": 70}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "low_bdm"}, "outcome column 'low_bdm' not found (did you mean 'low_bmd'"),
        ({"covariates": ["agee"]}, "covariate column 'agee' not found"),
        ({"positive": "yes"}, "positive level 'yes' is not a level of outcome 'low_bmd'"),
        ({"learners": ("boosting",)}, "learners: ['boosting'] not available"),
        ({"folds": 1}, "folds = 1: cross-validation needs at least 2 folds"),
        ({"covariates": []}, "the covariates-only model needs at least one covariate"),
        ({"foldz": 3}, "prediction option(s) ['foldz'] unknown"),
    ],
)
def test_bad_input_is_one_line(change, message):
    table, meta = cohort(n=40, taxa=8, seed=10)
    kwargs = {"outcome": "low_bmd", "covariates": ["age"], **FAST, **change}
    with pytest.raises(InputError) as err:
        cross_validate(table, meta, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_outcome_coding_errors():
    table, meta = cohort(n=40, taxa=8, seed=11)
    meta["one"] = 1
    meta["three"] = np.resize(["a", "b", "c"], len(meta))
    meta["rare"] = (np.arange(len(meta)) < 3).astype(int)
    for column, message in (("one", "takes a single value"), ("three", "give a binary (two levels) or a numeric"),
                            ("rare", "only 3 sample(s) in the smaller class")):
        with pytest.raises(InputError, match=re.escape(message)):
            cross_validate(table, meta, column, ["age"], **FAST)
    meta["status"] = np.where(meta["low_bmd"] == 1, "osteoporosis", "normal")
    with pytest.warns(UserWarning, match="predicting 'osteoporosis'"):
        result = cross_validate(table, meta, "status", ["age"], importance=False, **FAST)
    assert result.settings["positive"] == "osteoporosis"
