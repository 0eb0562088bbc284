"""Inverse-variance pooling of per-cohort estimates with z or Knapp–Hartung tests (metafor ``rma.uni``).

Given τ² (from :mod:`osteobiome.meta.estimators`) and weights ``w = 1/(v + τ²)``: pooled ``β = Σwy/Σw``,
``Var β = 1/Σw`` (times ``s² = Q_w/(k-1)`` for Knapp–Hartung, 0 if ``Q_w <= ε``), z or t(k-1) test and
confidence interval; Cochran's ``Q`` with fixed-effect weights and ``p = P(χ²_{k-1} > Q)``; with the typical
sampling variance ``ṽ = (k-1)/tr P_FE``: ``I² = 100 τ²/(ṽ+τ²)``, ``H² = τ²/ṽ + 1`` (fixed effect:
``I² = max(0, 100 (Q-(k-1))/Q)``, ``H² = Q/(k-1)``); weights in percent.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, suggest
from osteobiome.meta import estimators as est
from osteobiome.stats.distributions import chi2_sf, normal_isf, normal_sf, t_isf, t_sf

METHODS: tuple[str, ...] = ("REML", "FE", "DL", "PM", "ML", "HE", "SJ")
TESTS: tuple[str, ...] = ("z", "knha")
#: Fisher-scoring control of each preset: (absolute threshold on |Δτ²| or None for the relative default, maxiter).
PRESETS: dict[str | None, tuple[float | None, int]] = {None: (None, 1000), "mmuphin": (1e-4, 1000)}


@dataclass(frozen=True)
class MetaResult:
    """Pooled results of ``n`` features (arrays of length ``n``; ``weights`` is n × cohorts, in %)."""

    method: str
    test: str
    coef: np.ndarray
    stderr: np.ndarray
    stat: np.ndarray
    df: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    k: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    Q: np.ndarray
    Qp: np.ndarray
    I2: np.ndarray
    H2: np.ndarray
    weights: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray

    def to_frame(self, index=None) -> pd.DataFrame:
        """One row per feature with metafor's names (``se.tau2``, ``QEp``, …); weights left out."""
        names = {"ci_lb": "ci.lb", "ci_ub": "ci.ub", "se_tau2": "se.tau2", "Q": "QE", "Qp": "QEp"}
        cols = {
            names.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("method", "test", "weights")
        }
        return pd.DataFrame(cols, index=index)


#: The float per-feature arrays of :class:`MetaResult` that ``pool`` fills (NaN where not defined).
PER_FEATURE = (
    "coef",
    "stderr",
    "stat",
    "df",
    "pval",
    "ci_lb",
    "ci_ub",
    "tau2",
    "se_tau2",
    "Q",
    "Qp",
    "I2",
    "H2",
)

ESTIMATORS = {
    "FE": est.fixed_effect,
    "DL": est.dersimonian_laird,
    "HE": est.hedges,
    "SJ": est.sidik_jonkman,
}


def validated(yi, sei, vi, where: str = "pool") -> tuple[np.ndarray, np.ndarray]:
    """Estimates (2-D, features × cohorts) and sampling variances from exactly one of ``sei`` or ``vi``."""
    yi = np.atleast_2d(np.asarray(yi, dtype=float))
    if (sei is None) == (vi is None):
        raise InputError(f"{where}: give exactly one of sei (standard errors) or vi (sampling variances).")
    spread = np.asarray(sei if vi is None else vi, dtype=float)
    spread = np.atleast_2d(spread)
    if spread.shape != yi.shape:
        raise InputError(
            f"{where}: estimates have shape {yi.shape} but standard errors {spread.shape}; give features × cohorts arrays of one shape."
        )
    if np.any(spread < 0):
        raise InputError(
            f"{where}: negative standard errors or variances; check the stderr column of the inputs."
        )
    return yi, spread**2 if vi is None else spread


def _choice(value: str | None, options, what: str) -> str | None:
    matches = [o for o in options if o is not None and isinstance(value, str) and o.lower() == value.lower()]
    if matches:
        return matches[0]
    if value not in options:
        shown = ", ".join(str(o) for o in options if o is not None)
        raise InputError(
            f"{what} {value!r} is unknown{suggest(str(value), [str(o) for o in options])}; use one of {shown}."
        )
    return value


def resolve_settings(
    method: str, test: str, preset: str | None, threshold: float | None, maxiter: int | None, level: float
) -> tuple[str, str, float | None, int]:
    """Checked ``method`` and ``test`` (case-insensitive) and the Fisher-scoring ``threshold``/``maxiter`` of
    ``preset`` unless given; InputError naming the option otherwise."""
    method = _choice(method, METHODS, "method")
    test = _choice(test, TESTS, "test")
    preset = _choice(preset, tuple(PRESETS), "preset")
    default_threshold, default_maxiter = PRESETS[preset]
    if not 0 < level < 1:
        raise InputError(
            f"level {level}: give the confidence level as a fraction between 0 and 1 (e.g. 0.95)."
        )
    return (
        method,
        test,
        default_threshold if threshold is None else threshold,
        default_maxiter if maxiter is None else maxiter,
    )


def estimate_tau2(d: est.Cohorts, method: str, threshold: float | None, maxiter: int) -> est.Tau2Estimate:
    """τ² of features with ``k >= 2`` by ``method`` (see :data:`METHODS`)."""
    if method in ("REML", "ML"):
        return est.fisher_scoring(d, reml=method == "REML", threshold=threshold, maxiter=maxiter)
    if method == "PM":
        return est.paule_mandel(d, maxiter=maxiter)
    return ESTIMATORS[method](d)


def heterogeneity(model, df: np.ndarray, tau2: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """metafor's heterogeneity statistics of a (meta-regression) model with ``.fixed_projection()``:
    Cochran's ``Q`` (the fixed-effect weighted residual sum of squares), ``I²`` (%) and ``H²``. With ``FE``
    they come from Q (``I² = 100 (Q − df) / Q``, ``H² = Q / df``); otherwise from τ² and the typical
    within-study variance ``v = df / tr(P)``: ``I² = 100 τ² / (v + τ²)``, ``H² = τ² / v + 1``."""
    fe = model.fixed_projection()
    q = np.maximum(fe.ypy, 0.0)
    if method == "FE":
        with np.errstate(divide="ignore", invalid="ignore"):
            return q, np.maximum(0.0, 100 * (q - df) / q), q / df
    typical_v = df / fe.tr_p
    return q, 100 * tau2 / (typical_v + tau2), tau2 / typical_v + 1


def knha_factor(rss: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Knapp–Hartung's factor on the variance of the estimates: the weighted residual sum of squares over its
    ``df`` (0 where it is 0, identical estimates, as metafor)."""
    return np.where(rss <= np.finfo(float).eps, 0.0, rss / df)


def wald_tests(
    estimate: np.ndarray, se: np.ndarray, test: str, df: np.ndarray | None, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(stat, pval, ci_lb, ci_ub)`` of ``stat = estimate / se``: two-sided p-value and ``level`` CI from the
    normal distribution (``test="z"``) or from t with ``df`` (``"knha"``; ``df`` broadcast against
    ``estimate``). ``se = 0`` gives ``|stat| = inf`` and ``p = 0``, as metafor."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = estimate / se
    if test == "knha":
        crit, pval = t_isf((1 - level) / 2, df), 2 * t_sf(np.abs(stat), df)
    else:
        crit, pval = normal_isf((1 - level) / 2), 2 * normal_sf(np.abs(stat))
    return stat, pval, estimate - crit * se, estimate + crit * se


def pool(
    yi,
    sei=None,
    method: str = "REML",
    test: str = "z",
    *,
    vi=None,
    preset: str | None = None,
    threshold: float | None = None,
    maxiter: int | None = None,
    level: float = 0.95,
) -> MetaResult:
    """Meta-analyse each row of ``yi`` (features × cohorts; 1-D = one feature) with standard errors ``sei``
    (or sampling variances ``vi``). NaN, or a missing or zero standard error, = cohort absent for that feature.

    ``method``: FE or a τ² estimator (REML, ML, DL, PM, HE, SJ); ``test``: ``"z"`` or ``"knha"``
    (Knapp–Hartung t with k-1 df). REML/ML run Fisher scoring to full convergence unless ``preset="mmuphin"``
    (MMUPHin ``lm_meta``: stop at ``|Δτ²| < 1e-4``, at most 1,000 steps) or ``threshold``/``maxiter`` say
    otherwise. Features with ``k = 1`` carry their one estimate (no heterogeneity values, weight 100);
    ``k = 0`` or an estimator that did not converge give NaN (with a warning).
    """
    method, test, threshold, maxiter = resolve_settings(method, test, preset, threshold, maxiter, level)
    yi, vi = validated(yi, sei, vi)
    d = est.Cohorts.from_arrays(yi, vi)
    n, n_cohorts = yi.shape
    out = {name: np.full(n, np.nan) for name in PER_FEATURE}
    weights = np.full((n, n_cohorts), np.nan)
    converged = d.k > 0
    iterations = np.zeros(n, int)

    single = np.flatnonzero(d.k == 1)
    if single.size:
        s = d.take(single)
        out["coef"][single] = s.y0.sum(axis=1)
        out["stderr"][single] = np.sqrt(s.v0.sum(axis=1))
        weights[single] = np.where(s.present, 100.0, np.nan)
        if test == "z":
            tests = wald_tests(out["coef"][single], out["stderr"][single], "z", None, level)
            for name, value in zip(("stat", "pval", "ci_lb", "ci_ub"), tests, strict=True):
                out[name][single] = value

    multi = np.flatnonzero(d.k >= 2)
    if multi.size:
        m = d.take(multi)
        fit = estimate_tau2(m, method, threshold, maxiter)
        ok = fit.converged
        if not ok.all():
            warnings.warn(
                f"{method}: τ² estimation did not converge for {int((~ok).sum())} feature(s); their results are NaN "
                "(try another method or a larger maxiter).",
                stacklevel=2,
            )
        converged[multi] = ok
        iterations[multi] = fit.iterations
        rows, m, fit_tau2, fit_se = multi[ok], m.take(ok), fit.tau2[ok], fit.se_tau2[ok]
        df = m.k - 1.0
        proj = m.projection(fit_tau2)
        var_b = 1.0 / proj.s1
        if test == "knha":
            var_b = var_b * knha_factor(proj.ypy, df)
        se = np.sqrt(var_b)
        stat, pval, ci_lb, ci_ub = wald_tests(proj.mu, se, test, df, level)
        q, i2, h2 = heterogeneity(m, df, fit_tau2, method)
        values = {
            "coef": proj.mu,
            "stderr": se,
            "stat": stat,
            "pval": pval,
            "ci_lb": ci_lb,
            "ci_ub": ci_ub,
            "tau2": fit_tau2,
            "se_tau2": fit_se,
            "Q": q,
            "Qp": chi2_sf(q, df),
            "I2": i2,
            "H2": h2,
        }
        if test == "knha":
            values["df"] = df
        for name, value in values.items():
            out[name][rows] = value
        weights[rows] = np.where(m.present, 100 * proj.w / proj.s1[:, None], np.nan)

    return MetaResult(
        method=method, test=test, k=d.k, weights=weights, converged=converged, iterations=iterations, **out
    )
