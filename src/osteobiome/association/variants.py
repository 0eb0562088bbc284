"""The model variants a preset can ask for, on top of the per-feature linear model (arrays in, arrays out).

Options (columns of the presets table in :mod:`osteobiome.association.pipeline`):

- ``model``: ``"lm"`` (one linear model per feature on the transformed values; random intercepts when
  grouping variables are given) or ``"twopart"`` (:mod:`osteobiome.stats.twopart`: logistic prevalence +
  log2 abundance on present samples, joint p-value). With grouping variables the two-part model is mixed:
  random intercepts in both parts (abundance: REML LMM, :mod:`osteobiome.stats.lmm`; prevalence: Laplace
  logistic GLMM, :mod:`osteobiome.stats.glmm`), and a ``note`` column reports singular or non-converged fits.
- ``augment`` (``twopart``): MaAsLin3's weighted augmentation of the prevalence part against separation
  (on by default).
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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from osteobiome.errors import InputError
from osteobiome.stats import compositional as comp
from osteobiome.stats.lm import LMResult, t_test
from osteobiome.stats.robust import hc3_influence, hc3_stderr
from osteobiome.stats.twopart import (
    AbundanceFit,
    PrevalenceFit,
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
#: What :func:`fitted_model` calls each fit (keys of ``report.methods.MODEL``).
FITTED = {("lm", False): "LM", ("lm", True): "LMM", ("twopart", False): "TWOPART", ("twopart", True): "TWOPART_MIXED"}


def fitted_model(model: str, random: Sequence[str]) -> str:
    """The model actually fitted for option ``model`` with grouping variables ``random``: ``LM``, ``LMM``,
    ``TWOPART`` or ``TWOPART_MIXED`` (recorded in table attrs, run.json and the Methods text)."""
    return FITTED[(model, bool(random))]


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
    groups: Sequence[np.ndarray] = (),
    augment: bool = True,
    workers: int = 1,
) -> VariantFit:
    """Two-part model of ``relative`` abundances (n × m, rows of ``X``). ``coef``/``stderr`` are the abundance
    part's (log2 FC among present samples), ``pval`` the joint p-value; ``extra`` holds both parts.

    ``depth`` (reads per sample): with ``depth_covariate`` ``"prevalence"`` or ``"both"`` its z-scored log is
    added to the prevalence (and abundance) design; detection depends on depth. Its coefficient is not
    reported. Ignored when ``depth`` is None (relative abundances in, no read counts). ``variance``: the
    covariance used by the median comparison of the abundance part: ``"HC3"`` (per-sample sandwich terms)
    or ``"classical"`` (each feature's classical variance, correlation between features from the residuals
    on the samples where both are present). ``groups`` (integer codes per row, one array per grouping
    variable): random intercepts in both parts (:func:`_mixed_parts`); ``extra`` then also holds ``note``.
    ``augment``: MaAsLin3's augmentation of the prevalence part."""
    p = X.shape[1]
    if groups and (variance == "HC3" or compositional_prevalence):
        raise InputError(
            "the two-part mixed model supports variance='classical' and compositional_prevalence=False only; "
            "set those options or drop the random effects."
        )
    with_depth = X
    if depth is not None:
        log_depth = np.log(np.asarray(depth, dtype=float))
        sd = log_depth.std(ddof=1)
        if sd > 0:
            with_depth = np.column_stack([X, (log_depth - log_depth.mean()) / sd])
    abundance_design = with_depth if depth_covariate == "both" else X
    prevalence_design = X if depth_covariate == "none" else with_depth
    notes = None
    if groups:
        abundance, prevalence, notes = _mixed_parts(
            log2_nonzero(relative), abundance_design, prevalence_design, groups, augment, workers
        )
    else:
        abundance = fit_abundance(log2_nonzero(relative), abundance_design, influence=variance == "HC3")
        prevalence = fit_prevalence(
            np.asarray(relative) > 0, prevalence_design, augment=augment, influence=compositional_prevalence
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
            row_df = abundance.df if abundance.df.ndim == 1 else abundance.df[k]
            coef[k], stderr[k], p_abund[k], log_abund[k] = _centre(coef[k], stderr[k], influence, row_df, compositional)
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
    if notes is not None:
        extra["note"] = np.broadcast_to(notes, coef.shape)
    n_used = np.full(relative.shape[1], X.shape[0])
    present = abundance.n_used / relative.shape[0]
    present = np.broadcast_to(present, coef.shape)
    pval = joint_pvalue(p_abund, p_prev, joint, present)
    log_pval = log_joint_pvalue(log_abund, log_prev, joint, present)
    df = abundance.df if abundance.df.ndim == 1 else abundance.df[:p]
    return _with_tests(coef, stderr, pval, df, n_used, extra, log_pval)


def _mixed_parts(
    log_abundance: np.ndarray,
    abundance_design: np.ndarray,
    prevalence_design: np.ndarray,
    groups: Sequence[np.ndarray],
    augment: bool,
    workers: int,
) -> tuple[AbundanceFit, PrevalenceFit, np.ndarray]:
    """Both parts with random intercepts for ``groups``, and one note per feature (empty when both fits are
    clean). Abundance: REML LMM on the present samples, Satterthwaite df (per coefficient); its ``resid`` are
    the marginal residuals ``y - X b`` there (0 elsewhere), which give the median comparison its correlation
    across features. Prevalence: Laplace logistic GLMM (MaAsLin3 augmentation if ``augment``). A singular fit
    (a random-intercept sd estimated at 0) is kept and noted; a prevalence fit that did not converge is noted
    and left out (NaN, the joint p-value is then the abundance part's, as MaAsLin3 does with failed fits)."""
    from osteobiome.stats.glmm import fit_glmm
    from osteobiome.stats.lmm import fit_lmm

    lmm = fit_lmm(log_abundance, abundance_design, groups, workers=workers)
    used = np.isfinite(log_abundance)
    resid = np.where(used, np.nan_to_num(log_abundance) - abundance_design @ np.nan_to_num(lmm.coef), 0.0)
    abundance = AbundanceFit(lmm.coef, lmm.stderr, lmm.pval, lmm.log_pval, lmm.df, used.sum(axis=0), resid, None)
    glmm = fit_glmm(used, prevalence_design, groups, augment=augment, workers=workers)
    fitted = np.isfinite(glmm.coef).all(axis=0)
    failed = fitted & ~glmm.converged
    drop = lambda values: np.where(failed, np.nan, values)  # noqa: E731
    prevalence = PrevalenceFit(drop(glmm.coef), drop(glmm.stderr), drop(glmm.pval), drop(glmm.log_pval), None)
    notes = []
    for j in range(log_abundance.shape[1]):
        note = []
        if not np.isfinite(lmm.coef[:, j]).all():
            note.append("abundance: not fitted (too few present samples)")
        elif np.any(lmm.theta[:, j] == 0):
            note.append("abundance: singular (a random-intercept sd is 0)")
        if failed[j]:
            note.append("prevalence: not converged (left out; joint p-value = abundance part)")
        elif fitted[j] and glmm.singular[j]:
            note.append("prevalence: singular (a random-intercept sd is 0)")
        notes.append("; ".join(note))
    return abundance, prevalence, np.array(notes, dtype=object)
