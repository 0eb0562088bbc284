"""The model variants a preset can ask for, on top of the per-feature linear model (arrays in, arrays out).

Options (columns of the presets table in :mod:`osteobiome.association.pipeline`):

- ``model``: ``"lm"`` (one linear model per feature on the transformed values; random intercepts when
  grouping variables are given) or ``"twopart"`` (:mod:`osteobiome.stats.twopart`: logistic prevalence +
  log2 abundance on present samples, joint p-value; fixed effects only).
- ``variance``: ``"classical"`` or ``"HC3"`` (:mod:`osteobiome.stats.robust`; OLS only). HC3 p-values use
  Student's t with the residual df (statsmodels uses the normal; t is slightly more conservative).
- ``compositional``: ``"none"``, ``"median"`` (each coefficient compared with the median coefficient of the
  same variable, analytic covariance: :func:`osteobiome.stats.compositional.median_contrast`) or
  ``"linda"`` (LinDA's mode correction). For ``twopart`` it applies to the abundance part (as MaAsLin3),
  and also to the prevalence part with ``compositional_prevalence=True`` (its covariance across features
  borrowed from the per-sample score contributions, z tests).
- ``depth_covariate`` (``twopart``): ``"none"``, ``"prevalence"`` or ``"both"``: adjust the prevalence (and
  abundance) part for log read depth when the input holds counts.
- ``joint`` (``twopart``): ``"beta"`` (MaAsLin3's ``1 - (1 - min p)^2``) or ``"cauchy"`` (presence-weighted
  Cauchy combination): :func:`osteobiome.stats.twopart.joint_pvalue`.

Every function returns :class:`VariantFit`, shaped like ``LMResult`` (coefficients on rows, features on
columns) plus ``extra``: additional per-coefficient arrays reported as extra result columns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from osteobiome.errors import InputError
from osteobiome.stats import compositional as comp
from osteobiome.stats.lm import LMResult, t_test
from osteobiome.stats.robust import hc3_influence, hc3_stderr
from osteobiome.stats.twopart import (
    fit_abundance,
    fit_prevalence,
    joint_pvalue,
    log2_nonzero,
    log_joint_pvalue,
)

MODELS = ("lm", "twopart")
VARIANCES = ("classical", "HC3")
COMPOSITIONAL = ("none", "median", "linda")
DEPTH_COVARIATE = ("none", "prevalence", "both")
JOINT = ("beta", "cauchy")
MIN_FEATURES = 10


@dataclass(frozen=True)
class VariantFit(LMResult):
    """:class:`LMResult`'s arrays (``df`` (m,) or (p × m)) plus ``extra``: more per-coefficient arrays."""

    extra: dict[str, np.ndarray] = field(default_factory=dict)


def check_options(
    model: str, variance: str, compositional: str, depth_covariate: str = "none", joint: str = "beta"
) -> None:
    """InputError naming the option when a value is unknown."""
    for name, value, allowed in (
        ("joint", joint, JOINT),
        ("model", model, MODELS),
        ("variance", variance, VARIANCES),
        ("compositional", compositional, COMPOSITIONAL),
        ("depth_covariate", depth_covariate, DEPTH_COVARIATE),
    ):
        if value not in allowed:
            raise InputError(f"option {name}={value!r} is not known; use one of {', '.join(allowed)}.")


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p)


def _with_tests(coef, stderr, pval, df, n_used, extra=None, log_pval=None) -> VariantFit:  # noqa: ANN001
    """``VariantFit`` with ``tval = coef / stderr``; ``log_pval`` (finite where ``pval`` underflows) defaults to
    ``log(pval)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = coef / stderr
    return VariantFit(coef, stderr, tval, pval, _log(pval) if log_pval is None else log_pval, df, n_used, extra or {})


def _enough_features(m: int, compositional: str) -> bool:
    if compositional != "none" and m < MIN_FEATURES:
        warnings.warn(
            f"compositional={compositional} needs at least {MIN_FEATURES} features (got {m}); not applied.",
            stacklevel=3,
        )
        return False
    return compositional != "none"


def _centre(coef, stderr, influence, df, compositional):  # noqa: ANN001, ANN202
    """One coefficient row centred by ``compositional``: (coef, stderr, pval, log_pval)."""
    if compositional == "median":
        test = comp.median_contrast(coef, influence, df)
    else:
        test = comp.linda_correct(coef, stderr, df)
    return test.coef, test.stderr, test.pval, test.log_pval


def refine_linear(
    fit, Y: np.ndarray, X: np.ndarray, variance: str, compositional: str, mixed: bool
) -> VariantFit:  # noqa: ANN001
    """Apply ``variance`` and ``compositional`` to a linear fit (``LMResult`` of ``Y`` on ``X``; ``mixed``:
    it came from random-intercept models, whose marginal residuals ``Y - X coef`` carry the correlation)."""
    coef, stderr, pval, log_pval = fit.coef.copy(), fit.stderr.copy(), fit.pval.copy(), fit.log_pval.copy()
    df = np.asarray(fit.df, dtype=float)
    if variance == "classical" and compositional == "none":
        return VariantFit(coef, stderr, fit.tval, pval, fit.log_pval, fit.df, fit.n_used)
    if np.isnan(Y).any() and (variance == "HC3" or compositional != "none"):
        raise InputError(
            "HC3 and compositional corrections need complete feature values; impute or drop NaN first."
        )
    resid = Y - X @ np.nan_to_num(coef)
    if variance == "HC3":
        if mixed:
            raise InputError(
                "variance='HC3' is for fixed-effects models; drop the random effects or use classical."
            )
        stderr = hc3_stderr(X, resid)
        with np.errstate(divide="ignore", invalid="ignore"):
            pval, log_pval = t_test(coef / stderr, df)
    if _enough_features(Y.shape[1], compositional):
        for k in range(1, X.shape[1]):
            influence = (
                hc3_influence(X, resid, k) if variance == "HC3" else comp.residual_influence(stderr[k], resid)
            )
            row_df = df if df.ndim == 1 else df[k]
            coef[k], stderr[k], pval[k], log_pval[k] = _centre(coef[k], stderr[k], influence, row_df, compositional)
    return _with_tests(coef, stderr, pval, fit.df, fit.n_used, log_pval=log_pval)


def _first_rows(fit, p: int):  # noqa: ANN001, ANN202
    """``fit`` restricted to its first ``p`` coefficients (drops the depth nuisance term)."""
    changes = {name: getattr(fit, name)[:p] for name in ("coef", "stderr", "pval", "log_pval")}
    if fit.influence is not None:
        changes["influence"] = fit.influence[:p]
    return replace(fit, **changes)


def fit_two_part(
    relative: np.ndarray,
    X: np.ndarray,
    compositional: str,
    compositional_prevalence: bool = False,
    depth: np.ndarray | None = None,
    depth_covariate: str = "none",
    variance: str = "HC3",
    joint: str = "beta",
) -> VariantFit:
    """Two-part model of ``relative`` abundances (n × m, rows of ``X``). ``coef``/``stderr`` are the abundance
    part's (log2 FC among present samples), ``pval`` the joint p-value; ``extra`` holds both parts.

    ``depth`` (reads per sample): with ``depth_covariate`` ``"prevalence"`` or ``"both"`` its z-scored log is
    added to the prevalence (and abundance) design; detection depends on depth. Its coefficient is not
    reported. Ignored when ``depth`` is None (relative abundances in, no read counts). ``variance``: the
    covariance used by the median comparison of the abundance part: ``"HC3"`` (per-sample sandwich terms)
    or ``"classical"`` (each feature's classical variance, correlation between features from the residuals
    on the samples where both are present)."""
    p = X.shape[1]
    with_depth = X
    if depth is not None:
        log_depth = np.log(np.asarray(depth, dtype=float))
        sd = log_depth.std(ddof=1)
        if sd > 0:
            with_depth = np.column_stack([X, (log_depth - log_depth.mean()) / sd])
    abundance = fit_abundance(
        log2_nonzero(relative), with_depth if depth_covariate == "both" else X, influence=variance == "HC3"
    )
    prevalence = fit_prevalence(
        np.asarray(relative) > 0,
        X if depth_covariate == "none" else with_depth,
        influence=compositional_prevalence,
    )
    abundance, prevalence = _first_rows(abundance, p), _first_rows(prevalence, p)
    coef, stderr, p_abund = abundance.coef.copy(), abundance.stderr.copy(), abundance.pval.copy()
    p_coef, p_stderr, p_prev = prevalence.coef.copy(), prevalence.stderr.copy(), prevalence.pval.copy()
    log_abund, log_prev = abundance.log_pval.copy(), prevalence.log_pval.copy()
    if _enough_features(relative.shape[1], compositional):
        for k in range(1, X.shape[1]):
            influence = (
                abundance.influence[k]
                if variance == "HC3"
                else comp.residual_influence(stderr[k], abundance.resid)
            )
            coef[k], stderr[k], p_abund[k], log_abund[k] = _centre(
                coef[k], stderr[k], influence, abundance.df, compositional
            )
            if compositional_prevalence:
                influence = comp.residual_influence(p_stderr[k], prevalence.influence[k])
                p_coef[k], p_stderr[k], p_prev[k], log_prev[k] = _centre(
                    p_coef[k], p_stderr[k], influence, np.inf, compositional
                )
    extra = {
        "pval.abundance": p_abund,
        "coef.prevalence": p_coef,
        "stderr.prevalence": p_stderr,
        "pval.prevalence": p_prev,
        "N.present": np.broadcast_to(abundance.n_used, coef.shape),
    }
    n_used = np.full(relative.shape[1], X.shape[0])
    present = abundance.n_used / relative.shape[0]
    present = np.broadcast_to(present, coef.shape)
    pval = joint_pvalue(p_abund, p_prev, joint, present)
    log_pval = log_joint_pvalue(log_abund, log_prev, joint, present)
    return _with_tests(coef, stderr, pval, abundance.df, n_used, extra, log_pval)
