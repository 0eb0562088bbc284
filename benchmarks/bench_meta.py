"""Benchmark of osteobiome.meta.pool: 100,000 features × 5 cohorts, every τ² estimator, z test.

Baselines, run in the same process on a subsample and extrapolated linearly to 100,000 features (stated as
such in the output): (1) statsmodels ``combine_effects`` called once per feature (DerSimonian–Laird,
``method_re="chi2"``, and Paule–Mandel, ``"iterated"``); (2) ``pool`` called once per feature (a scalar loop
over the same code). Usage: ``python benchmarks/bench_meta.py [n_features] [n_subsample]``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
from _timing import best_of, timed
from statsmodels.stats.meta_analysis import combine_effects

from osteobiome.meta import METHODS, meta_analyze, pool


def simulate(n: int, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-cohort estimates with heterogeneity and 2% of cohort × feature cells absent."""
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.05, 0.4, (n, k))
    tau = rng.uniform(0, 0.3, (n, 1))
    y = rng.normal(0, 0.2, (n, 1)) + rng.normal(0, 1, (n, k)) * np.sqrt(se**2 + tau**2)
    y[rng.uniform(size=(n, k)) < 0.02] = np.nan
    return y, se


def main(n: int = 100_000, n_sub: int = 300) -> None:
    y, se = simulate(n)
    sub = np.flatnonzero(np.isfinite(y[:n_sub]).all(axis=1))
    print(f"pool(): {n:,} features × {y.shape[1]} cohorts, best of 3 (seconds)")
    vectorized = {}
    for method in METHODS:
        vectorized[method], result = timed(lambda m=method: pool(y, se, m))
        print(f"  {method:5s} {vectorized[method]:7.3f} s   (max iterations {result.iterations.max()})")
    vectorized["REML mmuphin"] = best_of(lambda: pool(y, se, "REML", preset="mmuphin"))
    vectorized["REML knha"] = best_of(lambda: pool(y, se, "REML", "knha"))
    for label in ("REML mmuphin", "REML knha"):
        print(f"  {label:12s} {vectorized[label]:7.3f} s")

    tables = {}
    for c in range(y.shape[1]):
        ok = np.isfinite(y[:, c])
        table = pd.DataFrame(
            {"feature": [f"f{i}" for i in np.flatnonzero(ok)], "metadata": "bmd", "value": "bmd"}
        )
        table["coef"], table["stderr"] = y[ok, c], se[ok, c]
        table["pval"] = table["qval"] = 0.5
        tables[f"cohort{c}"] = table
    t_table = best_of(lambda: meta_analyze(tables), 1)
    print(f"  meta_analyze (REML, tables in, incl. leave-one-out and BH) {t_table:7.3f} s")

    scale = n / sub.size
    print(f"baselines on {sub.size} complete features, extrapolated ×{scale:.0f} to {n:,} features:")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, method_re in (("DL", "chi2"), ("PM", "iterated")):
            t = best_of(lambda mr=method_re: [combine_effects(y[i], se[i] ** 2, method_re=mr) for i in sub], 1)
            print(
                f"  statsmodels combine_effects {method}: {t * scale:8.1f} s (extrapolated); "
                f"vectorized pool is {t * scale / vectorized[method]:6.0f}× faster"
            )
        for method in ("REML", "DL", "PM"):
            t = best_of(lambda m=method: [pool(y[i], se[i], m) for i in sub], 1)
            print(
                f"  per-feature pool() loop {method}: {t * scale:8.1f} s (extrapolated); "
                f"vectorized is {t * scale / vectorized[method]:6.0f}× faster"
            )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
