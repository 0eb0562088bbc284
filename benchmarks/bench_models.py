"""Speed of the calibrated model functions (issue 9) against per-feature statsmodels loops.

Framingham-sized problem: 1,227 samples × 300 genera, 6 coefficients. Vectorized: ``fit_prevalence`` (IRLS with
MaAsLin3's augmentation, all features at once), ``fit_abundance`` (masked OLS), ``hc3_stderr`` and the
analytic ``median_contrast``. Baseline, in the same process: statsmodels ``Logit`` / ``OLS`` / ``OLS(cov_type=
"HC3")`` fitted feature by feature (without augmentation, as statsmodels has none). Best of 3.
Usage: ``python benchmarks/bench_models.py [n_samples] [n_features]``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import statsmodels.api as sm
from _timing import best_of

from osteobiome.stats.compositional import median_contrast, residual_influence
from osteobiome.stats.robust import hc3_stderr
from osteobiome.stats.twopart import fit_abundance, fit_prevalence, log2_nonzero


def main(n: int = 1227, m: int = 300) -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 5))])
    rel = rng.dirichlet(np.full(m, 0.3), size=n) * (rng.random((n, m)) < rng.uniform(0.2, 0.95, m))
    rel /= rel.sum(axis=1, keepdims=True)
    present, log_rel = rel > 0, log2_nonzero(rel)
    Y = np.log2(rel + 1e-6)
    coef = np.linalg.lstsq(X, Y, rcond=None)[0]
    resid = Y - X @ coef

    def prevalence_loop() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for j in range(m):
                sm.Logit(present[:, j].astype(float), X).fit(disp=0)

    def abundance_loop() -> None:
        for j in range(m):
            keep = present[:, j]
            sm.OLS(log_rel[keep, j], X[keep]).fit()

    def hc3_loop() -> None:
        for j in range(m):
            sm.OLS(Y[:, j], X).fit(cov_type="HC3")

    se = np.sqrt(np.sum(resid**2, axis=0) / (n - 6) * np.linalg.inv(X.T @ X)[1, 1])
    rows = [
        ("prevalence (logistic IRLS)", lambda: fit_prevalence(present, X), prevalence_loop),
        ("abundance (masked OLS)", lambda: fit_abundance(log_rel, X), abundance_loop),
        ("HC3 standard errors", lambda: hc3_stderr(X, resid), hc3_loop),
        (
            "median comparison (analytic)",
            lambda: median_contrast(coef[1], residual_influence(se, resid), n - 6),
            None,
        ),
    ]
    print(f"{n} samples x {m} features, {X.shape[1]} coefficients, best of 3")
    for name, vectorized, loop in rows:
        ours = best_of(vectorized)
        if loop is None:
            print(f"{name}: {ours:.4f} s")
            continue
        base = best_of(loop, 1)
        print(
            f"{name}: {ours:.4f} s vectorized, statsmodels per feature {base:.3f} s (ratio {ours / base:.3f}x)"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
