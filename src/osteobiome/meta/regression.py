"""Mixed-effects meta-regression (metafor ``rma.uni(yi, vi, mods = ~ ...)``), vectorized over features.

Model: ``y_i = x_iᵀβ + u_i + e_i``, ``u_i ~ N(0, τ²)``, ``e_i ~ N(0, v_i)`` for the ``k`` cohorts ``i`` of a
feature with ``p`` coefficients (intercept + moderators). τ² by any estimator of :mod:`osteobiome.meta.pooling`
(FE DL HE SJ PM ML REML, metafor's definitions with ``k - p`` degrees of freedom, see
:mod:`osteobiome.meta.estimators`); then with ``W = diag(1/(v + τ²))``: ``β = (XᵀWX)⁻¹XᵀWy``,
``Var β = (XᵀWX)⁻¹`` (Knapp–Hartung: times ``s² = yᵀPy/(k-p)``, 0 if ``yᵀPy <= ε``; t tests with ``k-p`` df);
the omnibus test of the moderators ``QM = β_mᵀ (Var β_m)⁻¹ β_m`` over the non-intercept coefficients
(χ²_m; Knapp–Hartung: ``QM/m`` against F(m, k-p)); the residual heterogeneity ``QE = yᵀP_FE y`` with
fixed-effect weights ``1/v`` (χ²_{k-p}); ``I² = 100 τ²/(ṽ + τ²)``, ``H² = τ²/ṽ + 1`` with
``ṽ = (k-p)/tr P_FE`` (FE: ``I² = max(0, 100 (QE-(k-p))/QE)``, ``H² = QE/(k-p)``); ``R²`` (percent) =
``max(0, 100 (τ²_0 - τ²)/τ²_0)`` against the intercept-only model's ``τ²_0`` (FE: the adjusted R² of the
weighted least-squares fit), as metafor prints it.

Permutation test (metafor ``permutest``): the rows of the design are permuted, every permutation refitted
(all at once, each as one more "feature"), and ``p = mean(|z_perm| >= |z| - √ε)``, ``p(QM) = mean(QM_perm >=
QM - √ε)`` over the permutations that converged, the observed order included. All distinct permutations when
there are at most ``permutations`` of them (exact test), else ``permutations`` random ones (seeded; the first
is the observed order).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, suggest
from osteobiome.meta import estimators as est
from osteobiome.meta.pooling import (
    estimate_tau2,
    heterogeneity,
    knha_factor,
    resolve_settings,
    validated,
    wald_tests,
)
from osteobiome.meta.weighted import batched_inverse
from osteobiome.stats.distributions import chi2_sf, f_sf

#: metafor's name of the intercept.
INTERCEPT = "intrcpt"
#: Tolerance of the permutation comparisons (metafor's ``comptol``).
PERMUTATION_TOLERANCE = float(np.sqrt(np.finfo(float).eps))
#: Features fitted together (the projections hold features × k × k values).
CHUNK = 4096


@dataclass(frozen=True)
class RegressionFit:
    """Meta-regressions of ``n`` features with ``p`` coefficients: ``beta``/``se``/``zval``/``pval``/``ci_lb``/
    ``ci_ub`` (n × p); per feature ``k``, ``tau2``, ``se_tau2``, ``QM``, ``QMp``, ``QE``, ``QEp``, ``I2``,
    ``H2``, ``R2``, ``converged``; ``QMdf`` = (m, k-p for knha else NaN) per feature (n × 2)."""

    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    k: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    QM: np.ndarray
    QMdf: np.ndarray
    QMp: np.ndarray
    QE: np.ndarray
    QEp: np.ndarray
    I2: np.ndarray
    H2: np.ndarray
    R2: np.ndarray
    converged: np.ndarray


PER_FEATURE = ("k", "tau2", "se_tau2", "QM", "QMp", "QE", "QEp", "I2", "H2", "R2", "converged")
PER_TERM = ("beta", "se", "zval", "pval", "ci_lb", "ci_ub")


def design_matrix(mods, k: int, intercept: bool = True) -> tuple[np.ndarray, list[str]]:
    """Design (k × p) and term names from moderators: a DataFrame (numeric columns as they are, other columns
    dummy-coded against their first sorted level, R's treatment contrasts: ``regionEurope``), a 2-D array or
    a 1-D array (one moderator ``mod1``…). ``intercept`` prepends ``intrcpt``. Missing values stay NaN."""
    if isinstance(mods, pd.Series):
        mods = mods.to_frame()
    if isinstance(mods, pd.DataFrame):
        parts, names = [], []
        for column in mods.columns:
            values = mods[column]
            if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                levels = sorted(values.dropna().astype(str).unique())
                for level in levels[1:]:
                    dummy = (values.astype(str) == level).astype(float).where(values.notna())
                    parts.append(dummy.to_numpy())
                    names.append(f"{column}{level}")
            else:
                parts.append(values.to_numpy(float))
                names.append(str(column))
        X = np.column_stack(parts) if parts else np.empty((len(mods), 0))
    else:
        X = np.asarray(mods, dtype=float)
        X = X[:, None] if X.ndim == 1 else X
        names = [f"mod{j + 1}" for j in range(X.shape[1])] if X.ndim == 2 else []
    if X.ndim != 2 or X.shape[0] != k:
        raise InputError(
            f"meta_regression: moderators have {X.shape[0] if X.ndim else 0} row(s) for {k} cohort(s); give one row per cohort."
        )
    if intercept:
        X = np.column_stack([np.ones(k), X])
        names = [INTERCEPT, *names]
    if X.shape[1] == 0:
        raise InputError("meta_regression: no coefficients; give moderators or keep the intercept.")
    return X, names


def _estimable(d: est.Cohorts) -> np.ndarray:
    """Features with more present cohorts than coefficients and a full-rank design on them."""
    p = d.design.shape[2]
    masked = d.design * d.present[:, :, None]
    return (d.k > p) & (np.linalg.matrix_rank(masked) == p)


def _omnibus(beta: np.ndarray, vb: np.ndarray, btt: np.ndarray) -> np.ndarray:
    """Wald statistic ``β_mᵀ (Var β_m)⁻¹ β_m`` of the coefficients ``btt`` (NaN where ``Var β_m`` is singular)."""
    b = beta[:, btt]
    inv = batched_inverse(vb[:, btt][:, :, btt])
    return np.einsum("np,npq,nq->n", b, inv, b)


def _r2(d: est.Cohorts, tau2: np.ndarray, qe: np.ndarray, method: str, threshold, maxiter) -> np.ndarray:  # noqa: ANN001
    """metafor's pseudo-R² (percent) of models with an intercept and moderators (see the module docstring)."""
    base = dataclasses.replace(d, design=None)  # the intercept-only model
    if method == "FE":
        q0 = base.fixed_projection().ypy
        with np.errstate(divide="ignore", invalid="ignore"):
            adjusted = 1 - (qe / d.df) / (q0 / (d.k - 1.0))
        return np.where(q0 > 0, np.maximum(0.0, 100 * adjusted), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau2_0 = estimate_tau2(base, method, threshold, maxiter).tau2
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.maximum(0.0, 100 * (tau2_0 - tau2) / tau2_0)
    return np.where(tau2_0 == 0, 0.0, r2)


def _fit_chunk(
    d: est.Cohorts,
    method: str,
    test: str,
    btt: np.ndarray,
    r2: bool,
    threshold,
    maxiter,
    level,  # noqa: ANN001
) -> dict[str, np.ndarray]:
    """Every output of :class:`RegressionFit` for estimable features ``d``."""
    n, _, p = d.design.shape
    fit = estimate_tau2(d, method, threshold, maxiter)
    tau2 = np.where(fit.converged, fit.tau2, 0.0)
    df = d.df
    proj = d.projection(tau2)
    vb = proj.cov.copy()
    if test == "knha":
        vb *= knha_factor(proj.ypy, df)[:, None, None]
    se = np.sqrt(np.einsum("npp->np", vb))
    zval, pval, ci_lb, ci_ub = wald_tests(proj.beta, se, test, df[:, None], level)
    m = btt.size
    with np.errstate(divide="ignore", invalid="ignore"):
        qm = _omnibus(proj.beta, vb, btt) if m else np.full(n, np.nan)
        if test == "knha":
            qm = qm / m
            qmp = f_sf(qm, m, df)
        else:
            qmp = chi2_sf(qm, m)
    qe, i2, h2 = heterogeneity(d, df, tau2, method)
    out = {
        "beta": proj.beta,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": ci_lb,
        "ci_ub": ci_ub,
        "k": d.k.astype(float),
        "tau2": tau2,
        "se_tau2": fit.se_tau2,
        "QM": qm,
        "QMp": qmp,
        "QE": qe,
        "QEp": chi2_sf(qe, df),
        "I2": i2,
        "H2": h2,
        "R2": _r2(d, tau2, qe, method, threshold, maxiter) if r2 else np.full(n, np.nan),
        "converged": fit.converged.astype(float),
    }
    bad = ~fit.converged
    for name, value in out.items():
        if name not in ("k", "converged"):
            value[bad] = np.nan
    return out


def fit_regressions(
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    method: str = "REML",
    test: str = "z",
    *,
    intercept: bool = True,
    preset: str | None = None,
    threshold: float | None = None,
    maxiter: int | None = None,
    level: float = 0.95,
) -> RegressionFit:
    """Meta-regression of every row of ``yi`` (features × cohorts, NaN = absent; sampling variances ``vi``)
    on the design ``X`` (cohorts × p, shared, or features × cohorts × p); ``intercept``: column 0 is the
    intercept (left out of ``QM``; ``R²`` reported). A cohort with a missing moderator is left out of that
    regression. Features with ``k <= p``, a rank-deficient design or a τ² estimator that did not converge get
    NaN (with a warning). Options as :func:`osteobiome.meta.pool`."""
    method, test, threshold, maxiter = resolve_settings(method, test, preset, threshold, maxiter, level)
    yi = np.atleast_2d(np.asarray(yi, float))
    vi = np.atleast_2d(np.asarray(vi, float))
    n, k = yi.shape
    X = np.asarray(X, float)
    X = np.broadcast_to(X, (n, *X.shape)) if X.ndim == 2 else X
    if X.shape[:2] != (n, k):
        raise InputError(f"meta_regression: design of shape {X.shape} for {n} feature(s) × {k} cohort(s).")
    p = X.shape[2]
    complete = np.isfinite(X).all(axis=2)
    d_all = est.Cohorts.from_arrays(
        np.where(complete, yi, np.nan), vi, np.where(complete[:, :, None], X, 0.0)
    )
    btt = np.arange(1 if intercept else 0, p)
    out = {name: np.full((n, p), np.nan) for name in PER_TERM}
    out.update({name: np.full(n, np.nan) for name in PER_FEATURE})
    out["k"] = d_all.k.astype(float)
    out["converged"] = np.zeros(n)
    estimable = np.zeros(n, bool)
    for start in range(0, n, CHUNK):
        rows = np.arange(start, min(n, start + CHUNK))
        d = d_all.take(rows)
        ok = _estimable(d)
        estimable[rows] = ok
        if ok.any():
            chunk = _fit_chunk(d.take(ok), method, test, btt, intercept and p > 1, threshold, maxiter, level)
            for name, value in chunk.items():
                out[name][rows[ok]] = value
    if not estimable.all():
        warnings.warn(
            f"meta-regression: {int((~estimable).sum())} feature(s) have no more cohorts than coefficients ({p}) "
            "or moderators constant over their cohorts; their results are NaN.",
            stacklevel=2,
        )
    not_converged = estimable & (out["converged"] == 0)
    if not_converged.any():
        warnings.warn(
            f"{method}: τ² estimation did not converge for {int(not_converged.sum())} meta-regression(s); their "
            "results are NaN (try another method or a larger maxiter).",
            stacklevel=2,
        )
    qmdf = np.column_stack([np.full(n, float(btt.size)), d_all.df if test == "knha" else np.full(n, np.nan)])
    out["converged"] = out["converged"].astype(bool)
    return RegressionFit(QMdf=qmdf, **out)


def _distinct_arrangements(counts: list[int]) -> Iterator[list[int]]:
    """Every distinct sequence holding label ``g`` ``counts[g]`` times (the permutations of a multiset)."""
    if sum(counts) == 0:
        yield []
        return
    for g, c in enumerate(counts):
        if c:
            counts[g] -= 1
            for rest in _distinct_arrangements(counts):
                yield [g, *rest]
            counts[g] += 1


def _permutation_orders(k: int, rows: np.ndarray, permutations: int, seed: int) -> tuple[np.ndarray, bool]:
    """Row orders to test: all distinct ones (rows equal in the design are interchangeable) when there are at
    most ``permutations``, else ``permutations`` random ones with the observed order first."""
    _, labels = np.unique(rows, axis=0, return_inverse=True)
    labels = labels.ravel()
    counts = np.bincount(labels)
    distinct = math.factorial(k) // math.prod(math.factorial(int(c)) for c in counts)
    if distinct <= permutations:
        rows_of = [list(np.flatnonzero(labels == g)) for g in range(counts.size)]
        orders = []
        for sequence in _distinct_arrangements(counts.tolist()):
            taken = [0] * counts.size
            order = []
            for g in sequence:  # rows with equal labels are interchangeable: take them in turn
                order.append(rows_of[g][taken[g]])
                taken[g] += 1
            orders.append(order)
        return np.array(orders), True
    rng = np.random.default_rng(seed)
    orders = np.array([np.arange(k)] + [rng.permutation(k) for _ in range(permutations - 1)])
    return orders, False


def _permutation_test(yi, vi, X, observed: RegressionFit, permutations: int, seed: int, options) -> dict:  # noqa: ANN001
    present = np.isfinite(yi[0]) & np.isfinite(vi[0]) & (vi[0] > 0) & np.isfinite(X).all(axis=1)
    y, v, Xp = yi[0, present], vi[0, present], X[present]
    orders, exact = _permutation_orders(int(present.sum()), Xp, permutations, seed)
    B = orders.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perm = fit_regressions(np.tile(y, (B, 1)), np.tile(v, (B, 1)), Xp[orders], **options)
    tol = PERMUTATION_TOLERANCE
    with np.errstate(invalid="ignore"):
        z_hits = np.abs(perm.zval) >= np.abs(observed.zval[0]) - tol
        qm_hits = perm.QM >= observed.QM[0] - tol
    ok = perm.converged
    return {
        "pval": z_hits[ok].mean(axis=0),
        "QMp": float(qm_hits[ok].mean()),
        "permutations": int(ok.sum()),
        "exact": exact,
    }


def meta_regression(
    yi,
    sei=None,
    mods=None,
    method: str = "REML",
    test: str = "z",
    *,
    vi=None,
    intercept: bool = True,
    preset: str | None = None,
    threshold: float | None = None,
    maxiter: int | None = None,
    level: float = 0.95,
    permutations: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Meta-regression of one effect (metafor ``rma(yi, vi, mods = ~ ..., method=, test=)``).

    Parameters
    ----------
    yi, sei / vi : array-like (k,)
        Per-cohort estimates and their standard errors (or sampling variances ``vi``); NaN = cohort left out.
    mods : DataFrame, array (k × m) or (k,)
        Cohort-level moderators (mean age, share of women, sequencing region, …); see :func:`design_matrix`.
    method : {"REML", "FE", "DL", "PM", "ML", "HE", "SJ"}
        τ² estimator; REML/ML fully converged unless ``preset="mmuphin"`` or ``threshold``/``maxiter`` (metafor's
        default control is ``threshold=1e-5, maxiter=100``).
    test : {"z", "knha"}
        z tests, or Knapp–Hartung t/F tests with ``k - p`` df.
    permutations : int, optional
        Also run metafor's ``permutest``: exact when at most this many distinct permutations exist (``k <= 6``
        with 1,000), else this many random ones from ``seed``. Adds ``pval.perm`` and attrs ``QMp.perm``.

    Returns
    -------
    DataFrame
        One row per coefficient: ``term estimate se zval pval ci.lb ci.ub`` (``zval`` is a t statistic with
        knha); ``attrs``: ``k p tau2 se.tau2 QM QMdf QMp QE QEp I2 H2 R2 method test`` (I², R² in percent).
    """
    yi, vi = validated(
        np.asarray(yi, float).reshape(1, -1),
        None if sei is None else np.asarray(sei, float).reshape(1, -1),
        None if vi is None else np.asarray(vi, float).reshape(1, -1),
        "meta_regression",
    )
    if mods is None and not intercept:
        raise InputError("meta_regression: no coefficients; give moderators or keep the intercept.")
    X, terms = design_matrix(np.empty((yi.shape[1], 0)) if mods is None else mods, yi.shape[1], intercept)
    options = {
        "method": method,
        "test": test,
        "intercept": intercept,
        "preset": preset,
        "threshold": threshold,
        "maxiter": maxiter,
        "level": level,
    }
    fit = fit_regressions(yi, vi, X, **options)
    table = pd.DataFrame(
        {
            "term": terms,
            "estimate": fit.beta[0],
            "se": fit.se[0],
            "zval": fit.zval[0],
            "pval": fit.pval[0],
            "ci.lb": fit.ci_lb[0],
            "ci.ub": fit.ci_ub[0],
        }
    )
    method_name, test_name, _, _ = resolve_settings(method, test, preset, threshold, maxiter, level)
    attrs = {
        name.replace("_", "."): float(getattr(fit, name)[0]) for name in PER_FEATURE if name != "converged"
    }
    attrs.update(
        {
            "k": int(fit.k[0]),
            "p": X.shape[1],
            "QMdf": tuple(fit.QMdf[0]),
            "method": method_name,
            "test": test_name,
        }
    )
    if permutations is not None:
        if permutations < 2:
            raise InputError(f"permutations={permutations}: give at least 2 (metafor's iter).")
        if X.shape[1] == 1 and intercept:
            raise InputError("meta_regression: the permutation test needs moderators (mods).")
        perm = _permutation_test(yi, vi, X, fit, permutations, seed, options)
        table["pval.perm"] = perm["pval"]
        attrs.update({"QMp.perm": perm["QMp"], "permutations": perm["permutations"], "exact": perm["exact"]})
    table.attrs.update(attrs)
    return table


def cohort_moderators(moderators: pd.DataFrame, cohorts: list[str]) -> pd.DataFrame:
    """The rows of ``moderators`` (indexed by cohort name, or with a ``cohort`` column) for ``cohorts``, in order."""
    table = moderators.set_index("cohort") if "cohort" in moderators.columns else moderators
    table = table.set_axis(table.index.astype(str))  # not in place: the caller's table is shared across calls
    missing = [c for c in cohorts if c not in table.index]
    if missing:
        raise InputError(
            f"moderators: no row for cohort(s) {', '.join(missing)}{suggest(missing[0], table.index)}; give one row "
            "per cohort (cohort names as the first column)."
        )
    return table.loc[cohorts]


def moderator_columns(
    yi: np.ndarray,
    sei: np.ndarray,
    features: np.ndarray,
    exposure: str,
    cohorts: list[str],
    moderators: pd.DataFrame,
    method: str = "REML",
    test: str = "z",
    preset: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Meta-regressions of every feature (rows of ``yi``/``sei``, features × cohorts) on the cohort-level
    ``moderators``: per feature ``mods.k mods.tau2 mods.I2 mods.R2 mods.QM mods.QMp mods.QE mods.QEp`` and,
    per moderator term, ``mods.<term>.coef mods.<term>.pval``; and the long table ``feature exposure term
    estimate se zval pval ci.lb ci.ub`` (plus ``k tau2 QM QMp R2``) with one row per feature × coefficient."""
    X, terms = design_matrix(cohort_moderators(moderators, cohorts), len(cohorts))
    fit = fit_regressions(yi, np.asarray(sei, float) ** 2, X, method, test, preset=preset)
    wide = pd.DataFrame(
        {
            f"mods.{name}": getattr(fit, attr)
            for name, attr in (
                ("k", "k"),
                ("tau2", "tau2"),
                ("I2", "I2"),
                ("R2", "R2"),
                ("QM", "QM"),
                ("QMp", "QMp"),
                ("QE", "QE"),
                ("QEp", "QEp"),
            )
        }
    )
    for j, term in enumerate(terms[1:], start=1):
        wide[f"mods.{term}.coef"] = fit.beta[:, j]
        wide[f"mods.{term}.pval"] = fit.pval[:, j]
    n, p = fit.beta.shape
    long = pd.DataFrame(
        {
            "feature": np.repeat(features, p),
            "exposure": exposure,
            "term": np.tile(terms, n),
            "estimate": fit.beta.ravel(),
            "se": fit.se.ravel(),
            "zval": fit.zval.ravel(),
            "pval": fit.pval.ravel(),
            "ci.lb": fit.ci_lb.ravel(),
            "ci.ub": fit.ci_ub.ravel(),
            "k": np.repeat(fit.k, p),
            "tau2": np.repeat(fit.tau2, p),
            "QM": np.repeat(fit.QM, p),
            "QMp": np.repeat(fit.QMp, p),
            "R2": np.repeat(fit.R2, p),
        }
    )
    return wide, long
