"""Calibration benchmark: metrics, sampling, summaries and reports (the end-to-end small grid is below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.evaluate import calibration as cal


def test_average_precision():
    marker = np.array([True, False, True, False])
    assert cal.average_precision(np.array([0.01, 0.5, 0.02, 0.9]), marker, 2) == pytest.approx(1.0)
    assert cal.average_precision(np.array([0.9, 0.01, 0.8, 0.02]), marker, 2) == pytest.approx(
        (1 / 3 + 2 / 4) / 2
    )
    # a marker that was not tested (absent from the result) counts as a miss
    assert cal.average_precision(np.array([0.01, 0.5]), np.array([True, False]), 2) == pytest.approx(0.5)
    assert cal.average_precision(np.array([np.nan, 0.1]), np.array([True, False]), 1) == 0.0


def test_score_counts_false_and_true_discoveries():
    result = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d"],
            "coef": [0.8, -0.3, 0.1, 0.0],
            "pval": [1e-5, 1e-3, 0.02, 0.5],
            "qval": [4e-5, 0.002, 0.03, 0.5],
        }
    )
    truth = pd.Series({"a": 1.0, "b": -1.0, "e": 1.0})
    rows = {r["q"]: r for r in cal.score(result, truth, (0.01, 0.05))}
    assert rows[0.01]["discoveries"] == 2 and rows[0.01]["false_discoveries"] == 0
    assert rows[0.01]["recall"] == pytest.approx(2 / 3)
    assert rows[0.05]["fdr"] == pytest.approx(1 / 3)
    # bias: sign-aligned (coef - truth) over tested markers; both attenuated (a: -0.2, b: -0.7)
    assert rows[0.05]["bias"] == pytest.approx(-0.45)
    null = cal.score(result, pd.Series(dtype=float), (0.05,))[0]
    assert null["false_discoveries"] == 3 and np.isnan(null["recall"]) and null["fdr"] == 1.0


def test_draw_samples_and_markers():
    rng = np.random.default_rng(0)
    template = pd.DataFrame(np.ones((10, 3)))
    small = cal.draw_samples(template, 6, rng)
    assert len(set(small)) == 6
    big = cal.draw_samples(template, 25, rng)
    assert len(big) == 25 and set(range(10)) <= set(big)
    markers = cal.choose_markers(pd.Index(list("abcdefghij")), 0.3, 0.5, rng)
    assert list(markers.to_numpy()) == [0.5, -0.5, 0.5]
    counts = pd.DataFrame({"x": [0, 1, 2, 3], "y": [0, 0, 0, 1]})
    assert list(cal.prevalent_features(counts, 0.5)) == ["x"]


def test_prepare_run_plans_the_null_draws_then_each_effect_reproducibly():
    rng = np.random.default_rng(4)
    counts = pd.DataFrame(rng.poisson(20, (40, 30)), columns=[f"g{j}" for j in range(30)])
    grid = cal.Grid(effects=(0.5, 1.0), sizes=(30,), seeds=1, null_draws=2)
    plans = []
    for _ in range(2):
        prepared = cal.prepare_run(cal.Template(counts), grid, 30, 0)
        assert list(prepared.covariates.columns) == ["age", "bmi", "sex"] and len(prepared.counts) == 30
        steps = [(m.to_dict(), len(t), e, d, prepared.implant(m)[1][cal.PHENOTYPE].sum()) for m, t, e, d in prepared.plan()]
        plans.append(steps)
    assert [(e, d) for _, _, e, d, _ in plans[0]] == [(0.0, 0), (0.0, 1), (0.5, 0), (1.0, 0)]
    assert [t for _, t, _, _, _ in plans[0][:2]] == [0, 0] and plans[0] == plans[1]


def test_repeated_samples_share_subject_level_covariates_and_profiles():
    rng = np.random.default_rng(4)
    counts = pd.DataFrame(rng.poisson(rng.gamma(0.5, 40, (40, 30))), columns=[f"g{j}" for j in range(30)])
    grid = cal.Grid(effects=(1.0,), sizes=(48,), seeds=1, null_draws=1, visits=4, methods=("default",))
    prepared = cal.prepare_run(cal.Template(counts), grid, 48, 0)
    subject = prepared.subject
    assert len(prepared.counts) == 48 and subject.nunique() == 12 and (subject.value_counts() == 4).all()
    per_subject = prepared.covariates.join(prepared.hidden).groupby(subject)
    assert (per_subject.nunique() == 1).all().all()  # covariates and the hidden trait are per subject
    table, metadata = prepared.implant(next(iter(prepared.plan()))[0])
    assert set(metadata.columns) == {"age", "bmi", "sex", cal.PHENOTYPE, cal.SUBJECT}  # the trait stays hidden
    assert metadata.groupby(cal.SUBJECT)[cal.PHENOTYPE].nunique().min() > 1  # the phenotype varies by visit
    # visits of one subject resemble each other more than visits of different subjects
    log = np.log2(table.to_numpy() + 1.0)
    corr = np.corrcoef(log - log.mean(axis=0))
    same = subject.to_numpy()[:, None] == subject.to_numpy()[None, :]
    off_diagonal = ~np.eye(len(log), dtype=bool)
    assert corr[same & off_diagonal].mean() > corr[~same].mean() + 0.1
    rows = cal.run_one(cal.Template(counts), grid, 48, 0)
    assert {row["method"] for row in rows} == {"default"} and len(rows) == 2 * len(grid.q_levels)


def _fake_runs() -> pd.DataFrame:
    rows = []
    for method, fdr, recall, null_fd in (("default", 0.05, 0.6, 0.05), ("maaslin2", 0.2, 0.5, 0.3)):
        for seed in range(3):
            for effect in (0.0, 0.5, 1.0):
                rows.append(
                    {
                        "method": method,
                        "n": 100,
                        "effect": effect,
                        "seed": seed,
                        "q": 0.1,
                        "discoveries": 3,
                        "false_discoveries": null_fd if effect == 0 else 1,
                        "fdr": 0.0 if effect == 0 else fdr + 0.01 * seed,
                        "recall": np.nan if effect == 0 else recall,
                        "auprc": np.nan if effect == 0 else 0.7,
                        "bias": np.nan if effect == 0 else -0.1,
                        "seconds": 0.01,
                    }
                )
    return pd.DataFrame(rows)


def test_summary_criteria_and_report(tmp_path):
    summary = cal.summarize(_fake_runs())
    row = summary[(summary.method == "default") & (summary.effect == 0.5)].iloc[0]
    assert row["fdr_mean"] == pytest.approx(0.06) and row["runs"] == 3
    criteria = cal.check_criteria(summary)
    assert criteria["ok"].all()
    failing = cal.check_criteria(summary, method="maaslin2", baseline="default")
    assert not failing["ok"].any()
    cal.write_outputs(_fake_runs(), tmp_path)
    text = (tmp_path / "calibration.md").read_text()
    assert "empirical FDR at q = 0.1" in text and "criteria at q = 0.1" in text
    assert (tmp_path / "calibration.png").read_bytes()[:4] == b"\x89PNG"  # its data: tests/test_figure_data.py
    assert len(pd.read_csv(tmp_path / "summary.tsv", sep="\t")) == len(summary)


def test_criteria_text_reports_check_criteria_verdicts_and_thresholds():
    summary = cal.summarize(_fake_runs())
    text = cal.criteria_text(cal.check_criteria(summary))
    assert "default's mean empirical FDR ≤ 0.1 in every cell: yes" in text
    strict = cal.criteria_text(cal.check_criteria(summary, max_fdr=0.01, max_null=0.0))
    assert "FDR ≤ 0.01 in every cell: no" in strict and "per run ≤ 0 or P(any) ≤ 0.1 (within 2 SE) at every n: no" in strict


def test_standard_errors_are_sd_over_root_runs_in_criteria_and_table():
    summary = cal.summarize(_fake_runs())  # default, effect 0.5: FDR 0.05, 0.06, 0.07 over 3 seeds
    criteria = cal.check_criteria(summary).set_index("effect")
    assert criteria.loc[0.5, "fdr_se"] == pytest.approx(0.01 / np.sqrt(3))
    assert "highest 0.060 ± 0.006 SE at n = 100, effect 0.5" in cal.criteria_text(cal.check_criteria(summary))
    lines = cal.standard_error_table(summary).splitlines()
    assert "| default | 100 | 0.5 | 3 | 0.060 ± 0.006 | 0.600 ± 0.000 | 0.700 ± 0.000 |  |  |" in lines
    assert "| maaslin2 | 100 | 0 | 3 |  |  |  | 0.300 ± 0.000 | 1.000 ± 0.000 |" in lines


def test_bad_requests(tmp_path):
    with pytest.raises(InputError, match="not known"):
        cal.run(cal.Template(pd.DataFrame(np.ones((5, 5)))), cal.Grid(methods=("maaslin3",)))
    table = tmp_path / "t.tsv"
    pd.DataFrame(
        np.arange(1, 61).reshape(20, 3), index=[f"s{i}" for i in range(20)], columns=["a", "b", "c"]
    ).rename_axis("sample").to_csv(table, sep="\t")
    with pytest.raises(InputError, match="--metadata"):
        cal.load_template(table, covariates=("age",))
    meta = tmp_path / "m.tsv"
    pd.DataFrame({"sample": [f"s{i}" for i in range(20)], "group": ["a", "b"] * 10, "age": range(20)}).to_csv(
        meta, sep="\t", index=False
    )
    with pytest.raises(InputError, match="not numeric"):
        cal.load_template(table, meta, ("group",))
    with pytest.raises(InputError, match="no column"):
        cal.load_template(table, meta, ("agee",))
    assert cal.load_template(table, meta, ("age",)).covariates.shape == (20, 1)


def test_small_grid_end_to_end_on_twins(shared, tmp_path):
    """The CI version of the benchmark: Twins template, one effect, one n, two seeds, every candidate."""
    template = cal.load_template(shared / "data" / "twins" / "Twins.csv")
    runs = cal.run(template, cal.SMALL)
    assert set(runs["method"]) == set(cal.STANDARD_METHODS)
    assert len(runs) == len(cal.STANDARD_METHODS) * 2 * 2 * 3  # methods × seeds × (null + 1 effect) × q
    again = cal.run(template, cal.SMALL)
    pd.testing.assert_frame_equal(runs.drop(columns="seconds"), again.drop(columns="seconds"))
    signal = runs[(runs["effect"] > 0) & (runs["q"] == 0.25)]
    assert signal["auprc"].between(0, 1).all() and signal["recall"].between(0, 1).all()
    summary = cal.write_outputs(runs, tmp_path)
    assert (summary["runs"] == 2).all()
    # numbers: every run redone by hand (same draws), its metrics counted from the q-values
    rows = runs.set_index(["method", "seed", "effect", "q"])
    checked = 0
    for seed in range(2):
        prepared = cal.prepare_run(template, cal.SMALL, 120, seed)
        for markers, truth, effect, _ in prepared.plan():  # the null draw, then effect 0.5, as in run_one
            table, metadata = prepared.implant(markers)
            names = [c for c in metadata.columns if c != cal.PHENOTYPE]
            for method in cal.SMALL.methods:
                result = cal.run_method(method, table, metadata, cal.PHENOTYPE, names)
                for q in cal.SMALL.q_levels:
                    found = result.loc[result["qval"] <= q, "feature"]
                    true = int(found.isin(truth.index).sum())
                    row = rows.loc[(method, seed, effect, q)]
                    assert row["discoveries"] == len(found) and row["false_discoveries"] == len(found) - true
                    assert row["fdr"] == pytest.approx((len(found) - true) / max(len(found), 1))
                    if len(truth):
                        assert row["recall"] == pytest.approx(true / len(truth))
                    checked += len(found) - true > 0
    assert checked > 0  # some false discovery was counted (the FDR check is not 0 == 0 everywhere)
    # the summary is the mean over the two seeds
    cell = runs[(runs["method"] == "default") & (runs["effect"] == 0.5) & (runs["q"] == 0.25)]
    mean = summary.set_index(["method", "effect", "q"]).loc[("default", 0.5, 0.25)]
    assert mean["recall_mean"] == pytest.approx(cell["recall"].mean()) and mean["fdr_mean"] == pytest.approx(cell["fdr"].mean())
    assert cell["recall"].mean() > 0.2  # a 0.5 log2 FC per SD signal at n = 120 is found (RESULTS.md: ~0.5)


def test_cli_runs_the_small_grid(shared, tmp_path):
    from osteobiome.cli import main

    out = tmp_path / "bench"
    twins = str(shared / "data" / "twins" / "Twins.csv")
    main(
        [
            "benchmark",
            "calibration",
            twins,
            "--out",
            str(out),
            "--grid",
            "small",
            "--seeds",
            "1",
            "--methods",
            "maaslin2, default",  # items are stripped
        ]
    )
    assert (out / "criteria.tsv").exists() and (out / "calibration.png").exists()
    notes = tmp_path / "notes"  # a folder that is not an osteobiome result: refused before any work
    notes.mkdir()
    (notes / "mine.txt").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "calibration", twins, "--out", str(notes), "--grid", "small"])
    assert exit_info.value.code == 2 and (notes / "mine.txt").exists()


def test_user_covariates_are_used_instead_of_simulated_ones(monkeypatch):
    """The user's covariate values (of the drawn samples) are the covariates: they drive the phenotype with
    weight USER_WEIGHT and every method adjusts for them; nothing is simulated."""
    rng = np.random.default_rng(1)
    n, m = 200, 40
    age = pd.Series(rng.normal(50, 9, n), index=[f"t{i}" for i in range(n)], name="age")
    mu = rng.gamma(0.8, 30, m)[None, :] * np.exp(0.4 * np.outer((age - 50) / 9, rng.choice([-1, 0, 0, 1], m)))
    counts = pd.DataFrame(rng.poisson(mu), index=age.index, columns=[f"g{j}" for j in range(m)])
    template = cal.Template(counts, age.to_frame(), "synthetic+age")
    grid = cal.Grid(effects=(1.0,), sizes=(300,), seeds=1, null_draws=1, methods=("maaslin2", "default"))

    prepared = cal.prepare_run(template, grid, 300, 0)
    assert list(prepared.covariates.columns) == ["age"]
    assert set(prepared.covariates["age"]) <= set(age) and prepared.weights == {"age": cal.USER_WEIGHT}
    seen = []
    original = cal.run_method

    def spy(name, table, metadata, phenotype, covariates, random=()):
        seen.append((name, list(covariates), metadata.copy()))
        return original(name, table, metadata, phenotype, covariates, random)

    monkeypatch.setattr(cal, "run_method", spy)
    runs = cal.run(template, grid)
    assert len(runs) == 2 * 2 * 3 and runs["recall"].dropna().gt(0).any()
    assert [s[:2] for s in seen] == [("maaslin2", ["age"]), ("default", ["age"])] * 2  # null, then effect 1.0
    for _, _, metadata in seen:
        assert list(metadata.columns) == ["age", cal.PHENOTYPE]
        np.testing.assert_array_equal(metadata["age"].to_numpy(), prepared.covariates["age"].to_numpy())
        # y = 0.3 age_z + N(0, 1): correlation 0.29 expected (SE 0.055 at n = 300)
        assert 0.15 < np.corrcoef(metadata["age"], metadata[cal.PHENOTYPE])[0, 1] < 0.45
