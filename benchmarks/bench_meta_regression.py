"""Benchmark of the vectorized meta-regression (issue 21): features × 20 cohorts, two moderators, every τ²
estimator, z tests. Baseline, in the same process: ``meta_regression`` called once per feature on a subsample,
extrapolated linearly (stated as such). Usage: ``python benchmarks/bench_meta_regression.py [n] [n_subsample]``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from _timing import best_of, timed

from osteobiome.meta import METHODS
from osteobiome.meta.regression import design_matrix, fit_regressions, meta_regression


def simulate(n: int, k: int = 20, seed: int = 0):  # noqa: ANN201
    """Estimates depending on a cohort's mean age, with heterogeneity and 2% absent cells."""
    rng = np.random.default_rng(seed)
    mods = np.column_stack([rng.normal(65, 6, k), rng.integers(0, 2, k)])
    se = rng.uniform(0.05, 0.4, (n, k))
    slope = rng.normal(0, 0.02, (n, 1))
    y = slope * (mods[:, 0] - 65) + rng.normal(0, 1, (n, k)) * np.sqrt(se**2 + rng.uniform(0, 0.1, (n, 1)))
    y[rng.uniform(size=(n, k)) < 0.02] = np.nan
    return y, se, mods


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    sub = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    y, se, mods = simulate(n)
    X, _ = design_matrix(mods, mods.shape[0])
    print(f"{n} features × 20 cohorts, 2 moderators; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'method':>6} {'vectorized s':>13} {'loop s (extrap.)':>17} {'ratio':>7} {'spread s':>9}")
    for method in METHODS:
        times = [timed(lambda m=method: fit_regressions(y, se**2, X, m), repeats=1)[0] for _ in range(3)]
        fit = fit_regressions(y, se**2, X, method)
        loop = (
            best_of(lambda m=method: [meta_regression(y[i], se[i], mods, m) for i in range(sub)], repeats=1)
            * n
            / sub
        )
        best = min(times)
        print(
            f"{method:>6} {best:13.3f} {loop:17.2f} {loop / best:7.1f} {max(times) - best:9.3f}"
            f"   ({int(fit.converged.sum())} converged)"
        )


if __name__ == "__main__":
    main()
