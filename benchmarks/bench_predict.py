"""Does the prediction module find microbiome signal only when there is one? ΔAUC over seeds on the Twins table.

Design: the Twins 16S genus counts (278 samples × 130 genera, ../shared) as template; per seed, host covariates
drawn independently of the microbiome (age ~ N(70, 8), sex ~ Bernoulli(½), BMI ~ N(27, 4)); a bone score
``y = w_age·z(age) + w_sex·male + w_BMI·z(BMI) + ε`` implanted with ``osteobiome.simulate.implant_signal``, and
the binary outcome ``low_bmd`` = lowest tertile of y. Designs (``--design``): ``strong`` covariates (1.0, 0.5,
−0.7; the covariates alone reach AUC ≈ 0.86) and ``moderate`` ones (0.6, 0.3, −0.4; AUC ≈ 0.75). Scenarios: ``null`` (effect 0: the microbiome does not depend
on the outcome) and ``markers`` (10 genera with |log2 fold change| = EFFECT per SD of y). Each seed runs
``osteobiome.predict.cross_validate`` (5 outer folds × 2 repeats, 3 inner folds; penalized and forest learners)
and reads ΔAUC (microbiome + covariates − covariates) with its DeLong 95% CI from ``comparison``.

Timing: absolute seconds per run, and the penalized learner's tuning (``PenaltyPathCV``, warm-started path) against
scikit-learn's ``GridSearchCV`` over the same grid and folds, fitted on the same data in this process (best of 3).

Run: ``.venv/bin/python benchmarks/bench_predict.py [--seeds 10] [--scenario null|markers|all]`` (needs ../shared).
Writes benchmarks/results/predict_seeds_<scenario>.tsv; ``--summary`` prints the Markdown section for
benchmarks/RESULTS.md from the per-scenario files (the two scenarios may run as two processes).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import best_of

from osteobiome.predict import cross_validate
from osteobiome.predict._data import build_design
from osteobiome.predict._pipelines import PredictOptions, _features, build_model, inner_cv
from osteobiome.simulate import implant_signal
from osteobiome.simulate.fit import read_template

ROOT = Path(__file__).resolve().parents[1]
TWINS = ROOT.parent / "shared" / "data" / "twins" / "Twins.csv"
RESULTS = ROOT / "benchmarks" / "results"
EFFECT = 1.0
TREES = 100
DESIGNS = {"strong": {"age": 1.0, "sex": 0.5, "BMI": -0.7}, "moderate": {"age": 0.6, "sex": 0.3, "BMI": -0.4}}
COVARIATES = ["age", "sex", "BMI"]


def cohort(template: pd.DataFrame, scenario: str, seed: int, design: str = "strong") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The implanted table and metadata (with ``low_bmd``) of one scenario and seed."""
    rng = np.random.default_rng(seed)
    n = len(template)
    meta = pd.DataFrame(
        {"age": rng.normal(70, 8, n), "sex": rng.choice(["female", "male"], n), "BMI": rng.normal(27, 4, n)},
        index=template.index,
    )
    implanted = implant_signal(
        template,
        meta,
        n_markers=10,
        effect=EFFECT if scenario == "markers" else 0.0,
        covariate_weights=DESIGNS[design],
        noise_sd=1.0,
        phenotype="bmd",
        seed=rng,
    )
    meta = implanted.metadata
    meta["low_bmd"] = (meta["bmd"] <= meta["bmd"].quantile(1 / 3)).astype(int)
    return implanted.table, meta


def tuning_timing(table: pd.DataFrame, meta: pd.DataFrame) -> tuple[float, float]:
    """Seconds to tune + fit the penalized microbiome + covariates model: our path vs GridSearchCV (baseline)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from osteobiome.predict._glm import PartlyPenalizedLogistic

    design = build_design(table, meta, "low_bmd", COVARIATES)
    options = PredictOptions()
    ours = build_model(design, "microbiome+covariates", "penalized", options, 1)
    grid = GridSearchCV(
        Pipeline([("features", _features(design, "microbiome+covariates", options)), ("model", PartlyPenalizedLogistic())]),
        {"model__alpha": list(options.alphas)},
        scoring="neg_log_loss",
        cv=inner_cv("binary", options.inner_folds, 1),
    )
    return best_of(lambda: ours.fit(design.X, design.y)), best_of(lambda: grid.fit(design.X, design.y))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenario", choices=("null", "markers", "all"), default="all")
    parser.add_argument("--design", choices=tuple(DESIGNS), default="strong")
    parser.add_argument("--learners", default="penalized,forest")
    parser.add_argument("--summary", action="store_true", help="print the RESULTS.md section from the saved rows")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    template = read_template(TWINS)
    if args.summary:
        frame = pd.concat([pd.read_csv(p, sep="\t", keep_default_na=False)  # keep "null" a word
                           for p in sorted(RESULTS.glob("predict_seeds_*.tsv"))])
        ours, grid = tuning_timing(*cohort(template, "null", 0))
        print(summary(frame, ours, grid))
        return
    for scenario in ("null", "markers") if args.scenario == "all" else (args.scenario,):
        rows = []
        for seed in range(args.seeds):
            table, meta = cohort(template, scenario, seed, args.design)
            load = os.getloadavg()[0]
            start = time.perf_counter()
            result = cross_validate(table, meta, "low_bmd", COVARIATES, seed=seed, trees=TREES,
                                    learners=tuple(args.learners.split(",")))
            seconds = time.perf_counter() - start
            perf = result.performance.set_index(["learner", "model"])["estimate"]
            for _, row in result.comparison.iterrows():
                rows.append({
                    "design": args.design, "scenario": scenario, "seed": seed, "learner": row["learner"],
                    "auc_covariates": perf[(row["learner"], "covariates")],
                    "auc_microbiome": perf[(row["learner"], "microbiome")],
                    "auc_both": perf[(row["learner"], "microbiome+covariates")],
                    "delta": row["estimate"], "ci.lower": row["ci.lower"], "ci.upper": row["ci.upper"],
                    "pval": row["pval"], "seconds": seconds, "load": load,
                })
            print(f"{scenario} seed {seed}: {seconds:.1f} s (load {load:.1f})", flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"predict_seeds_{args.design}_{scenario}.tsv"
        pd.DataFrame(rows).to_csv(out, sep="\t", index=False, float_format="%.6g")


def summary(frame: pd.DataFrame, ours: float, grid: float) -> str:
    strong = frame[frame["design"] == "strong"].groupby(["scenario", "seed"])["seconds"].first()
    lines = [
        "## predict: ΔAUC with and without microbiome signal (Twins template)",
        "",
        f"`python benchmarks/bench_predict.py --seeds {frame['seed'].nunique()}` — Twins genus counts (278 × 130), covariates drawn "
        "independently of the microbiome, outcome = lowest tertile of an implanted bone score "
        f"(10 marker genera at |log2FC| = {EFFECT} per SD in `markers`, none in `null`); nested CV 5 folds × 2 "
        f"repeats, 3 inner folds, forest of {TREES} trees; ΔAUC = microbiome + covariates − covariates, DeLong 95% CI. Per-seed rows: "
        "`benchmarks/results/predict_seeds_<design>_<scenario>.tsv`.",
        "",
        "| covariates | scenario | learner | seeds | AUC covariates | AUC microbiome | AUC both | mean ΔAUC (SD) | CI holds 0 | CI above 0 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (design, scenario, learner), g in frame.groupby(["design", "scenario", "learner"], sort=False):
        holds = ((g["ci.lower"] <= 0) & (g["ci.upper"] >= 0)).mean()
        above = (g["ci.lower"] > 0).mean()
        lines.append(
            f"| {design} | {scenario} | {learner} | {len(g)} | {g['auc_covariates'].mean():.3f} | {g['auc_microbiome'].mean():.3f} | "
            f"{g['auc_both'].mean():.3f} | {g['delta'].mean():+.4f} ({g['delta'].std():.4f}) | {holds:.0%} | {above:.0%} |"
        )
    lines += [
        "",
        f"Time per seed (strong design, both learners: 60 outer fits incl. tuning and permutation importance): "
        f"median {strong.median():.1f} s, range {strong.min():.1f}–{strong.max():.1f} s; load average during the run "
        f"{frame['load'].min():.1f}–{frame['load'].max():.1f} on 2 cores.",
        f"Tuning + fit of the penalized microbiome + covariates model on 278 samples (10 penalties × 3 inner folds): "
        f"warm-started path {ours:.2f} s vs GridSearchCV baseline {grid:.2f} s (ratio {grid / ours:.1f}x, best of 3).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
