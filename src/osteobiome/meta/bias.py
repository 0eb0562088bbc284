"""Small-study effects: Egger's regression test as metafor's ``regtest`` (default ``model="rma"``,
``predictor="sei"``): the meta-regression ``y_i = β₀ + β₁ SE_i + u_i + e_i`` with the model's τ² estimator
and test; a funnel asymmetry shows as ``β₁ ≠ 0`` (its z or t test), and ``β₀`` is the effect expected in an
infinitely large study (metafor's ``est``, the "limit estimate"). Meaningful with ten or more cohorts."""

from __future__ import annotations

import numpy as np

from osteobiome.meta.regression import fit_regressions

#: Fewest cohorts for which the report draws a funnel plot and runs Egger's test (Sterne et al. 2011).
MIN_COHORTS = 10


def egger_test(yi, sei, method: str = "REML", test: str = "z", **options) -> dict[str, float]:  # noqa: ANN001
    """Egger's test of one effect (``yi``, ``sei`` per cohort; NaN = absent): ``zval`` and ``pval`` of the
    standard-error coefficient, ``limit`` (the intercept) and ``k``. ``options`` go to the meta-regression
    (``preset``, ``threshold``, ``maxiter``)."""
    yi = np.asarray(yi, float).reshape(1, -1)
    sei = np.asarray(sei, float).reshape(1, -1)
    X = np.stack([np.ones_like(sei[0]), sei[0]], axis=1)
    fit = fit_regressions(yi, sei**2, X, method, test, **options)
    return {
        "zval": float(fit.zval[0, 1]),
        "pval": float(fit.pval[0, 1]),
        "limit": float(fit.beta[0, 0]),
        "k": int(fit.k[0]),
    }
