"""Null p-values of the two-part mixed model's parts with repeated samples (issue 16): is either part, or their
joint p-value, anti-conservative with 60 subjects?

Same design as ``calibration_repeated.py`` (:data:`osteobiome.evaluate.calibration.REPEATED`: Twins template, 60
subjects × 4 visits, ``(1 | subject)``): per seed, ``draws`` null phenotypes (no markers; the phenotype has the
hidden subject-level trait, so it varies between and within subjects). For every retained genus the phenotype's
p-value of the abundance part (REML LMM, Satterthwaite t, median comparison), of the prevalence part (Laplace
GLMM, Wald z = glmer's reference, and the same z referred to Student's t with ``subjects - p`` df) and the joint
(Cauchy) p-value. Tail rates P(p < 0.05 / 0.01 / 0.001) with Clopper–Pearson 95% intervals (p-values of one
phenotype are correlated across genera, so the run-clustered standard error is printed beside them).
Usage: ``python benchmarks/calibration_repeated_null.py [workers] [seeds] [draws]``; writes
``benchmarks/results/calibration_repeated_null.tsv`` (tail table) and prints it.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from calibration import TWINS
from scipy import stats

from osteobiome.evaluate import calibration

HERE = Path(__file__).resolve().parent
LEVELS = (0.05, 0.01, 0.001)
FIXED = ["phenotype", "age", "bmi", "sex"]


def null_pvalues(template: calibration.Template, seed: int, draws: int) -> pd.DataFrame:
    """Per genus × null phenotype of one seed: the phenotype row's part p-values (default preset)."""
    from osteobiome.association.pipeline import associate

    grid = replace(calibration.REPEATED, null_draws=draws, effects=())
    prepared = calibration.prepare_run(template, grid, grid.sizes[0], seed)
    subjects = prepared.subject.nunique()
    rows = []
    for markers, _, _, draw in prepared.plan():
        table, metadata = prepared.implant(markers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = associate(table, metadata, fixed=FIXED, random=[calibration.SUBJECT], preset="default")
        part = result[result["metadata"] == calibration.PHENOTYPE]
        z = part["coef.prevalence"] / part["stderr.prevalence"]
        df_t = subjects - (len(FIXED) + 1)
        rows.append(
            pd.DataFrame(
                {
                    "seed": seed,
                    "draw": draw,
                    "feature": part["feature"].to_numpy(),
                    "abundance": part["pval.abundance"].to_numpy(),
                    "prevalence_z": part["pval.prevalence"].to_numpy(),
                    "prevalence_t": 2 * stats.t.sf(np.abs(z.to_numpy()), df_t),
                    "joint": part["pval"].to_numpy(),
                    "present": part["N.present"].to_numpy() / len(table),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def tails(pvalues: pd.DataFrame) -> pd.DataFrame:
    """P(p < level) per part with Clopper–Pearson 95% limits and the run-clustered standard error."""
    out = []
    for part in ("abundance", "prevalence_z", "prevalence_t", "joint"):
        runs = pvalues.dropna(subset=[part]).groupby(["seed", "draw"])[part]
        for level in LEVELS:
            hits = runs.apply(lambda p, level=level: int((p < level).sum()))
            tests = runs.size()
            k, n = int(hits.sum()), int(tests.sum())
            lo = stats.beta.ppf(0.025, k, n - k + 1) if k else 0.0
            hi = stats.beta.ppf(0.975, k + 1, n - k)
            rate = k / n
            clustered = np.sqrt(np.sum((hits - rate * tests) ** 2)) / n  # ratio estimator over runs
            out.append({"part": part, "level": level, "tests": n, "hits": k, "rate": rate, "ratio": rate / level,
                        "cp_low": lo, "cp_high": hi, "clustered_se": clustered})
    return pd.DataFrame(out)


def main(workers: int = 2, seeds: int = 100, draws: int = 5) -> None:
    template = calibration.load_template(TWINS)
    start, cpu = time.perf_counter(), time.process_time()
    if workers > 1:
        from osteobiome.compute.executors import process_pool

        with process_pool(workers) as pool:
            parts = list(pool.map(null_pvalues, [template] * seeds, range(seeds), [draws] * seeds))
    else:
        parts = [null_pvalues(template, seed, draws) for seed in range(seeds)]
    wall = time.perf_counter() - start
    pvalues = pd.concat(parts, ignore_index=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    table = tails(pvalues)
    table.to_csv(out / "calibration_repeated_null.tsv", sep="\t", index=False, float_format="%.5g")
    print(table.to_string(index=False))
    print(f"{seeds} seeds x {draws} null phenotypes: {wall:.0f} s wall on {workers} workers, "
          f"parent CPU {time.process_time() - cpu:.0f} s, load average {os.getloadavg()[0]:.1f}")
    if len(sys.argv) > 4:
        pvalues.to_csv(sys.argv[4], sep="\t", index=False)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
