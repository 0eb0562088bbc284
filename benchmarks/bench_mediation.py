"""Mediation (issue 19): calibration of the composite-null tests on the Twins template, and speed.

Run: ``.venv/bin/python benchmarks/bench_mediation.py [--seeds 30]`` (needs ../shared). Prints a Markdown
section for benchmarks/RESULTS.md.

Calibration. Template: the Twins 16S genus table (278 samples × 130 genera; exposures = MaAsLin2's 10%
prevalence filter, TSS, log2). Per replicate (seed): covariates age ~ N(0, 1) and sex; 50 mediators, each
``m = a · x_driver + 0.2 · age + e`` with standardized exposures x: 6 on a true path (driven by a random genus,
acting on the outcome), 6 inert (driven by a genus, no effect on the outcome: H10 pairs), 6 outcome-only (no
genus drives them, they act on the outcome: H01 pairs), 32 noise. Outcome ``y = b · Σ (true-path and
outcome-only mediators) + 0.3 · age + e``. A declared pair (q <= 0.1) is false when its mediator lies on no
true path; recall = share of the 6 implanted (driver genus, mediator) pairs declared. One fit per replicate
(``run_mediation(..., test="maxp", ci="delta")``), the other tests on its path p-values.

Speed. 300 genera (simulator draws, Twins-fitted parameters, all passing the 10% prevalence filter) × 50
mediators × 1,000 samples, 3 covariates, HDMT with bootstrap CIs (1,000 resamples) for pairs with p <= 0.05;
baselines: the same two models per pair by ``numpy.linalg.lstsq`` in a loop (timed on 500 pairs, scaled to all
pairs), and the bootstrap by refitting every resample's rows (timed on 20 resamples, scaled to 1,000).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import timed

from osteobiome.mediation import composite_pvalues, run_mediation
from osteobiome.mediation._fit import fit_pairs
from osteobiome.simulate import default_params
from osteobiome.simulate.copula import simulate_counts
from osteobiome.simulate.fit import read_template
from osteobiome.stats.multitest import adjust
from osteobiome.stats.preprocess import filter_features, normalize, transform

ROOT = Path(__file__).resolve().parents[1]
TWINS = ROOT.parent / "shared" / "data" / "twins" / "Twins.csv"
TESTS = ("dact", "hdmt", "maxp")
N_PATH, N_INERT, N_OUTCOME_ONLY, N_MEDIATORS = 6, 6, 6, 50
SETTINGS = ((0.3, 0.2), (0.4, 0.3))  # (a, b): exposure → mediator, mediator → outcome, per SD


def replicate(table: pd.DataFrame, exposures: np.ndarray, a: float, b: float, seed: int) -> dict[str, tuple[float, float]]:
    """FDR and recall of each test at q = 0.1 for one simulated mediator table and outcome."""
    rng = np.random.default_rng(seed)
    n, p = exposures.shape
    age = rng.normal(size=n)
    sex = rng.choice(["F", "M"], n)
    drivers = rng.choice(p, N_PATH + N_INERT, replace=False)
    M = rng.normal(size=(n, N_MEDIATORS)) + 0.2 * age[:, None]
    M[:, : N_PATH + N_INERT] += a * exposures[:, drivers]
    acting = np.r_[0:N_PATH, N_PATH + N_INERT : N_PATH + N_INERT + N_OUTCOME_ONLY]
    y = b * M[:, acting].sum(axis=1) + 0.3 * age + rng.normal(size=n)
    metadata = pd.DataFrame({"y": y, "age": age, "sex": sex}, index=table.index)
    mediators = pd.DataFrame(M, index=table.index, columns=[f"m{k}" for k in range(N_MEDIATORS)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_mediation(table, metadata, mediators, "y", ["age", "sex"], preset="maaslin2", test="maxp", ci="delta").results
    kept = res["feature"].unique()
    names = table.columns
    truth = {(names[drivers[k]], f"m{k}") for k in range(N_PATH) if names[drivers[k]] in kept}
    on_path = {f"m{k}" for k in range(N_PATH)}
    out = {}
    for test in TESTS:
        pval = composite_pvalues(res["pval.alpha"].to_numpy(), res["pval.beta"].to_numpy(), test)
        declared = res.loc[adjust(pval, "BH") <= 0.1, ["feature", "mediator"]]
        false = (~declared["mediator"].isin(on_path)).sum()
        fdr = false / len(declared) if len(declared) else 0.0
        hits = len(truth & set(map(tuple, declared.to_numpy())))
        out[test] = (fdr, hits / len(truth) if truth else np.nan)
    return out


def calibration(seeds: int) -> None:
    table = read_template(TWINS)
    raw = table.to_numpy(float)
    kept = filter_features(raw, 0.0, 0.1, 0.0)  # the maaslin2 preset's exposures, as mediate computes them
    x = transform(normalize(raw[:, kept], "TSS"), "LOG")
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    table = table.loc[:, kept]
    print(f"Template: Twins ({table.shape[0]} samples × {table.shape[1]} genera after the 10% prevalence filter), "
          f"{N_MEDIATORS} mediators ({N_PATH} on a true path, {N_INERT} inert, {N_OUTCOME_ONLY} outcome-only), "
          f"{seeds} seeds per setting; q = 0.1.\n")
    print("| a | b | test | FDR (mean) | FDR sd | recall (mean) |")
    print("|---|---|---|---|---|---|")
    for a, b in SETTINGS:
        runs = [replicate(table, x, a, b, seed) for seed in range(seeds)]
        for test in TESTS:
            fdr = np.array([r[test][0] for r in runs])
            recall = np.array([r[test][1] for r in runs])
            name = "MaxP + BH" if test == "maxp" else test.upper() + " + BH"
            print(f"| {a} | {b} | {name} | {fdr.mean():.3f} | {fdr.std(ddof=1):.3f} | {np.nanmean(recall):.3f} |")


def speed() -> None:
    rng = np.random.default_rng(7)
    params = default_params()
    blocks: list[np.ndarray] = []
    while sum(b.shape[1] for b in blocks) < 300:  # 300 genera that pass the prevalence filter
        draw = simulate_counts(params, 1000, rng)
        blocks.append(draw[:, (draw > 0).mean(axis=0) > 0.1])
    counts = np.hstack(blocks)[:, :300]
    samples = [f"s{i}" for i in range(1000)]
    table = pd.DataFrame(counts, index=samples, columns=[f"g{j}" for j in range(counts.shape[1])])
    x = np.log2(table.to_numpy() + 1)
    metadata = pd.DataFrame(
        {"y": rng.normal(size=1000), "age": rng.normal(size=1000), "bmi": rng.normal(size=1000), "sex": rng.choice(["F", "M"], 1000)},
        index=samples,
    )
    M = rng.normal(size=(1000, 50))
    M[:, :5] += 0.3 * x[:, :5]
    metadata["y"] += 0.3 * M[:, :5].sum(axis=1)
    mediators = pd.DataFrame(M, index=samples, columns=[f"m{k}" for k in range(50)])
    covariates = ["age", "bmi", "sex"]
    load = os.getloadavg()[0]
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            start = time.perf_counter()
            res = run_mediation(table, metadata, mediators, "y", covariates, preset="maaslin2")
            runs.append(time.perf_counter() - start)
        t_fit, _ = timed(lambda: run_mediation(table, metadata, mediators, "y", covariates, preset="maaslin2", test="maxp", ci="delta"), repeats=3)
    n_pairs = len(res.results)
    booted = res.results[res.results["ci.method"] == "bootstrap"]
    # baselines in the same process: (1) two lstsq fits per pair in a loop; (2) the bootstrap by refitting
    # fit_pairs on each resample's rows (screened exposures × screened mediators), timed on 20 resamples
    C = np.column_stack([np.ones(1000), metadata["age"], metadata["bmi"], metadata["sex"] == "M"]).astype(float)
    E = res.exposures.to_numpy()
    y = metadata["y"].to_numpy()
    pairs = [(j, k) for j in range(20) for k in range(25)]

    def loop() -> None:
        for j, k in pairs:
            Xa = np.column_stack([C, E[:, j]])
            np.linalg.lstsq(Xa, M[:, k], rcond=None)
            np.linalg.lstsq(np.column_stack([Xa, M[:, k]]), y, rcond=None)

    t_loop = timed(loop, repeats=3)[0] / len(pairs) * n_pairs
    Es = E[:, res.exposures.columns.get_indexer(booted["feature"].unique())]
    Ms = M[:, mediators.columns.get_indexer(booted["mediator"].unique())]

    def refit() -> None:
        for _ in range(20):
            idx = rng.integers(0, 1000, 1000)
            fit_pairs(Es[idx], Ms[idx], y[idx], C[idx])

    t_refit = timed(refit, repeats=1)[0] / 20 * 1000
    print(f"\n{E.shape[1]} genera × 50 mediators × 1,000 samples = {n_pairs} pairs, covariates age, BMI, sex; "
          f"{len(booted)} pairs (p <= 0.05) with bootstrap CIs ({Es.shape[1]} genera × {Ms.shape[1]} mediators, 1,000 "
          f"resamples). Load average before: {load:.1f} (2 cores shared with other jobs).\n")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| mediate, HDMT + bootstrap CIs (best of 3; runs {', '.join(f'{r:.2f}' for r in runs)}) | {min(runs):.2f} |")
    print(f"| mediate, MaxP + delta CIs (fits only, best of 3) | {t_fit:.2f} |")
    print(f"| baseline: per-pair lstsq loop (fits only; 500 pairs timed, scaled) | {t_loop:.2f} |")
    print(f"| baseline: bootstrap by refitting each resample (20 timed, scaled to 1,000) | {t_refit:.2f} |")
    print(f"\nratios: fits {t_loop / t_fit:.0f}× faster than the per-pair loop; whole run with bootstrap "
          f"{t_refit / min(runs):.1f}× faster than refitting alone.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args()
    print("## mediation\n")
    if not args.skip_calibration:
        calibration(args.seeds)
    speed()


if __name__ == "__main__":
    main()
