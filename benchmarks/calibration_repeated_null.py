"""Null p-values of the two-part mixed model's parts with repeated samples (issue 16): is either part, or their
joint p-value, anti-conservative with 60 subjects?

Same design as ``calibration_repeated.py`` (:data:`osteobiome.evaluate.calibration.REPEATED`: Twins template, 60
subjects × 4 visits, ``(1 | subject)``): per seed, ``draws`` null phenotypes (no markers; the phenotype has the
hidden subject-level trait, so it varies between and within subjects). For every retained genus the phenotype's
p-value of the abundance part (REML LMM, Satterthwaite t, median comparison), of the prevalence part (Laplace
GLMM, Wald z = glmer's reference, and the same z referred to Student's t with ``subjects - p`` df) and the joint
(Cauchy) p-value. Tail rates P(p < 0.05 / 0.01 / 0.001) with Clopper–Pearson 95% intervals (p-values of one
phenotype are correlated across genera, so the run-clustered standard error is printed beside them).

``--effect E``: instead of null phenotypes, ``draws`` phenotypes per seed with markers implanted at E log2 FC per
SD (as the calibration grid), and the tails of the *non-marker* genera (null features of a run with signal:
they move only by closure). ``--no-augment``: the prevalence part without MaAsLin3's augmentation;
``--compositional none``: the abundance part's own LMM p-value (no median comparison); ``--subjects S``: S
subjects (× 4 visits) instead of 60.
Usage: ``python benchmarks/calibration_repeated_null.py [workers] [seeds] [draws] [--effect E] [--no-augment]
[--compositional none] [--subjects S] [--save PVALUES.tsv]``; writes ``benchmarks/results/calibration_repeated_null.tsv`` (tail table; with options,
``calibration_repeated_null_<options>.tsv``) and prints it.
"""

from __future__ import annotations

import argparse
import os
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


def null_pvalues(
    template: calibration.Template,
    seed: int,
    draws: int,
    effect: float = 0.0,
    augment: bool = True,
    compositional: str = "median",
    subjects: int = 60,
) -> pd.DataFrame:
    """Per genus × phenotype of one seed: the phenotype row's part p-values (default preset); null phenotypes,
    or with ``effect`` > 0 phenotypes with markers (``marker`` column)."""
    from osteobiome.association.pipeline import associate

    sizes = (subjects * calibration.REPEATED.visits,)
    if effect > 0:
        grid = replace(calibration.REPEATED, null_draws=0, effects=(effect,) * draws, sizes=sizes)
    else:
        grid = replace(calibration.REPEATED, null_draws=draws, effects=(), sizes=sizes)
    prepared = calibration.prepare_run(template, grid, grid.sizes[0], seed)
    n_subjects = prepared.subject.nunique()
    rows = []
    for draw, (markers, truth, _, _) in enumerate(prepared.plan()):
        table, metadata = prepared.implant(markers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = associate(
                table,
                metadata,
                fixed=FIXED,
                random=[calibration.SUBJECT],
                preset="default",
                augment=augment,
                compositional=compositional,
            )
        part = result[result["metadata"] == calibration.PHENOTYPE]
        z = part["coef.prevalence"] / part["stderr.prevalence"]
        df_t = n_subjects - (len(FIXED) + 1)
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
                    "marker": part["feature"].astype(str).isin(truth.index.astype(str)).to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def tails(pvalues: pd.DataFrame) -> pd.DataFrame:
    """P(p < level) per part with Clopper–Pearson 95% limits and the run-clustered standard error."""
    pvalues = pvalues[~pvalues["marker"]]
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
            out.append(
                {
                    "part": part,
                    "level": level,
                    "tests": n,
                    "hits": k,
                    "rate": rate,
                    "ratio": rate / level,
                    "cp_low": lo,
                    "cp_high": hi,
                    "clustered_se": clustered,
                }
            )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workers", type=int, nargs="?", default=2)
    parser.add_argument("seeds", type=int, nargs="?", default=100)
    parser.add_argument("draws", type=int, nargs="?", default=5)
    parser.add_argument("--effect", type=float, default=0.0)
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--compositional", choices=("median", "none"), default="median")
    parser.add_argument("--subjects", type=int, default=60)
    parser.add_argument("--save", type=Path, help="write every p-value here (TSV)")
    args = parser.parse_args()
    template = calibration.load_template(TWINS)
    start, cpu = time.perf_counter(), time.process_time()
    jobs = [
        [template] * args.seeds,
        range(args.seeds),
        [args.draws] * args.seeds,
        [args.effect] * args.seeds,
        [args.augment] * args.seeds,
        [args.compositional] * args.seeds,
        [args.subjects] * args.seeds,
    ]
    if args.workers > 1:
        from osteobiome.compute.executors import process_pool

        with process_pool(args.workers) as pool:
            parts = list(pool.map(null_pvalues, *jobs))
    else:
        parts = list(map(null_pvalues, *jobs))
    wall = time.perf_counter() - start
    pvalues = pd.concat(parts, ignore_index=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    table = tails(pvalues)
    suffix = (
        (f"_effect{args.effect:g}" if args.effect > 0 else "")
        + ("" if args.augment else "_no_augment")
        + ("" if args.compositional == "median" else f"_{args.compositional}")
        + ("" if args.subjects == 60 else f"_{args.subjects}subjects")
    )
    table.to_csv(out / f"calibration_repeated_null{suffix}.tsv", sep="\t", index=False, float_format="%.5g")
    print(table.to_string(index=False))
    kind = (
        f"phenotypes with markers at {args.effect:g} (non-markers)" if args.effect > 0 else "null phenotypes"
    )
    print(
        f"{args.seeds} seeds x {args.draws} {kind}, augment={args.augment}, "
        f"compositional={args.compositional}, {args.subjects} subjects: {wall:.0f} s wall on {args.workers} "
        f"workers, parent CPU {time.process_time() - cpu:.0f} s, load average {os.getloadavg()[0]:.1f}"
    )
    if args.save:
        pvalues.to_csv(args.save, sep="\t", index=False)


if __name__ == "__main__":
    main()
