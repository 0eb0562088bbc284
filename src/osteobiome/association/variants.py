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

Per-feature and global steps are separate, so the pipeline can run features in blocks: :func:`linear_block` and
:func:`two_part_block` fit one block of features and keep, besides the per-feature estimates, the covariance
pieces the median comparison needs (:class:`~osteobiome.stats.compositional.Influence`, factored and sparse where
the two-part residuals are); :func:`finish` applies the compositional correction over all blocks at once and
joins the two parts' p-values. One block is the whole table (:func:`refine_linear`, :func:`fit_two_part`).
:func:`finish` returns :class:`VariantFit`, shaped like ``LMResult`` (coefficients on rows, features on
columns) plus ``extra``: additional per-coefficient arrays reported as extra result columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.stats import compositional as comp
from osteobiome.stats.lm import LMResult, t_test
from osteobiome.stats.robust import hc3_factors, hc3_stderr
from osteobiome.stats.twopart import (
    AbundanceFit,
    PartFit,
    PrevalenceFit,
    fit_abundance,
    fit_prevalence,
    joint_pvalue,
    log2_nonzero,
    log_joint_pvalue,
)

MIN_FEATURES = 10
#: Masked two-part residuals are kept sparse below this density.
SPARSE_DENSITY = 0.5

Pieces = tuple[comp.Influence | None, ...]


#: What :func:`fitted_model` calls each fit (keys of ``report.methods.MODEL``).
FITTED = {
    ("lm", False): "LM",
    ("lm", True): "LMM",
    ("lmm", True): "LMM",
    ("twopart", False): "TWOPART",
    ("twopart", True): "TWOPART_MIXED",
}


def fitted_model(model: str, random: Sequence[str]) -> str:
    """The model actually fitted for option ``model`` with grouping variables ``random``: ``LM``, ``LMM``,
    ``TWOPART`` or ``TWOPART_MIXED`` (recorded in table attrs, run.json and the Methods text)."""
    return FITTED[(model, bool(random))]


@dataclass(frozen=True)
class VariantFit(LMResult):
    """:class:`LMResult`'s arrays (``df`` (m,) or (p × m)) plus ``extra``: more per-coefficient arrays."""

    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class BlockFit:
    """One block's per-feature fits, before the global stage (:func:`finish`).

    ``main``: the linear fit, or the two-part model's abundance part (``n_used`` = samples in the model);
    ``influence``: per coefficient row, the median comparison's covariance pieces of ``main`` (None for the
    intercept or when not needed); ``prevalence`` / ``prevalence_influence`` / ``n_present``: the two-part
    model's prevalence part, its pieces and the samples where each feature is present; ``nonzero``: values > 0
    per feature (``N.not.0``, set by the pipeline)."""

    main: LMResult
    influence: Pieces = ()
    prevalence: PartFit | None = None
    prevalence_influence: Pieces = ()
    n_present: np.ndarray | None = None
    nonzero: np.ndarray | None = None
    note: np.ndarray | None = None


def _with_tests(coef, stderr, pval, log_pval, df, n_used, extra=None) -> VariantFit:  # noqa: ANN001
    """``VariantFit`` with ``tval = coef / stderr`` (``log_pval``: finite where ``pval`` underflows)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = coef / stderr
    return VariantFit(coef, stderr, tval, pval, log_pval, df, n_used, extra or {})


def _enough_features(m: int, compositional: str) -> bool:
    if compositional != "none" and m < MIN_FEATURES:
        warnings.warn(
            f"compositional={compositional} needs at least {MIN_FEATURES} features (got {m}); not applied.",
            stacklevel=4,
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


def _shared_pieces(matrix: np.ndarray | sp.spmatrix, stderr: np.ndarray, rows: np.ndarray | None = None) -> Pieces:
    """Per coefficient k >= 1, ``U_k`` from one normalized residual matrix (classical) and row k's scale."""
    if rows is not None:
        return (None, *(comp.Influence(matrix, rows[k]) for k in range(1, stderr.shape[0])))
    shared = comp.Influence(matrix).with_squares()
    return (None, *(replace(shared, cols=np.nan_to_num(stderr[k])) for k in range(1, stderr.shape[0])))


def _maybe_sparse(matrix: np.ndarray) -> np.ndarray | sp.csc_matrix:
    return sp.csc_matrix(matrix) if matrix.size and np.count_nonzero(matrix) < SPARSE_DENSITY * matrix.size else matrix


def linear_block(base: LMResult, Y: np.ndarray, X: np.ndarray, variance: str, compositional: str, mixed: bool) -> BlockFit:
    """A block's linear fit (``base``: ``LMResult`` of ``Y`` on ``X``; ``mixed``: from random-intercept models,
    whose marginal residuals ``Y - X coef`` carry the correlation) with ``variance`` applied (per feature) and,
    for ``compositional='median'``, its covariance pieces."""
    fields = ("coef", "stderr", "tval", "pval", "log_pval", "df", "n_used")
    main = LMResult(*(getattr(base, name) for name in fields))
    if variance == "classical" and compositional == "none":
        return BlockFit(main)
    if np.isnan(Y).any():
        raise InputError("HC3 and compositional corrections need complete feature values; impute or drop NaN first.")
    resid = Y - X @ np.nan_to_num(main.coef)
    influence: Pieces = ()
    if variance == "HC3":
        if mixed:
            raise InputError("variance='HC3' is for fixed-effects models; drop the random effects or use classical.")
        stderr = hc3_stderr(X, resid)
        with np.errstate(divide="ignore", invalid="ignore"):
            tval = main.coef / stderr
            pval, log_pval = t_test(tval, np.asarray(main.df, dtype=float))
        main = LMResult(main.coef, stderr, tval, pval, log_pval, main.df, main.n_used)
        if compositional == "median":
            B, scaled = hc3_factors(X, resid)
            influence = _shared_pieces(scaled, main.stderr, rows=B)
    elif compositional == "median":
        influence = _shared_pieces(comp.residual_factors(main.stderr[1], resid).matrix, main.stderr)
    return BlockFit(main, influence)


def _first_rows(fit, p: int):  # noqa: ANN001, ANN202
    """``fit`` restricted to its first ``p`` coefficients (drops the depth nuisance term)."""
    changes = {name: getattr(fit, name)[:p] for name in ("coef", "stderr", "pval", "log_pval")}
    if fit.influence is not None:
        changes["influence"] = fit.influence[:p]
    return replace(fit, **changes)


def two_part_block(
    relative: np.ndarray,
    X: np.ndarray,
    compositional: str,
    compositional_prevalence: bool = False,
    depth: np.ndarray | None = None,
    depth_covariate: str = "none",
    variance: str = "HC3",
    groups: Sequence[np.ndarray] = (),
    augment: bool = True,
    workers: int = 1,
) -> BlockFit:
    """The two-part model of one block of ``relative`` abundances (n × b, rows of ``X``) and the covariance
    pieces of its median comparison (the whole table as one block: :func:`fit_two_part`).

    ``depth`` (reads per sample): with ``depth_covariate`` ``"prevalence"`` or ``"both"`` its z-scored log is
    added to the prevalence (and abundance) design; detection depends on depth. Its coefficient is not
    reported. Ignored when ``depth`` is None (relative abundances in, no read counts). ``variance``: the
    covariance used by the median comparison of the abundance part: ``"HC3"`` (per-sample sandwich terms)
    or ``"classical"`` (each feature's classical variance, correlation between features from the residuals
    on the samples where both are present). ``groups`` (integer codes per row, one array per grouping
    variable): random intercepts in both parts (:func:`_mixed_parts`), whose per-feature ``note`` the block
    keeps. ``augment``: MaAsLin3's augmentation of the prevalence part."""
    if groups and (variance == "HC3" or compositional_prevalence):
        raise InputError(
            "the two-part mixed model supports variance='classical' and compositional_prevalence=False only; "
            "set those options or drop the random effects."
        )
    p = X.shape[1]
    with_depth = X
    if depth is not None:
        log_depth = np.log(np.asarray(depth, dtype=float))
        sd = log_depth.std(ddof=1)
        if sd > 0:
            with_depth = np.column_stack([X, (log_depth - log_depth.mean()) / sd])
    median = compositional == "median"
    abundance_design = with_depth if depth_covariate == "both" else X
    prevalence_design = X if depth_covariate == "none" else with_depth
    notes = None
    if groups:
        abundance, prevalence, notes = _mixed_parts(
            log2_nonzero(relative), abundance_design, prevalence_design, groups, augment, workers
        )
    else:
        abundance = fit_abundance(log2_nonzero(relative), abundance_design, influence=median and variance == "HC3")
        prevalence = fit_prevalence(
            np.asarray(relative) > 0,
            prevalence_design,
            augment=augment,
            influence=median and compositional_prevalence,
        )
    abundance, prevalence = _first_rows(abundance, p), _first_rows(prevalence, p)
    influence: Pieces = ()
    prevalence_influence: Pieces = ()
    if median:
        if variance == "HC3":
            influence = (None, *(comp.Influence(_maybe_sparse(abundance.influence[k])) for k in range(1, p)))
        else:
            resid = _maybe_sparse(comp.residual_factors(abundance.stderr[1], abundance.resid).matrix)
            influence = _shared_pieces(resid, abundance.stderr)
        if compositional_prevalence:
            prevalence_influence = (
                None,
                *(comp.residual_factors(prevalence.stderr[k], prevalence.influence[k]) for k in range(1, p)),
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = abundance.coef / abundance.stderr
    main = LMResult(
        abundance.coef, abundance.stderr, tval, abundance.pval, abundance.log_pval, abundance.df,
        np.full(relative.shape[1], X.shape[0]),
    )
    part = PartFit(prevalence.coef, prevalence.stderr, prevalence.pval, prevalence.log_pval)
    return BlockFit(main, influence, part, prevalence_influence, abundance.n_used, note=notes)


def _concat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays, axis=-1)


def finish(
    parts: Sequence[BlockFit],
    variance: str,
    compositional: str,
    compositional_prevalence: bool = False,
    joint: str = "beta",
) -> VariantFit:
    """The global stage over the blocks (in feature order): ``compositional`` correction of every coefficient
    row (median comparison from the blocks' covariance pieces, or LinDA's mode), and for two-part fits the
    joint p-value of the two parts."""
    main = LMResult(*(_concat([getattr(part.main, name) for part in parts]) for name in LMResult.__dataclass_fields__))
    coef, stderr, pval, log_pval = main.coef.copy(), main.stderr.copy(), main.pval.copy(), main.log_pval.copy()
    df = np.asarray(main.df, dtype=float)
    two_part = parts[0].prevalence is not None
    centre = _enough_features(coef.shape[1], compositional)
    for k in range(1, coef.shape[0]) if centre else ():
        pieces = [part.influence[k] for part in parts] if compositional == "median" else None
        row_df = df if df.ndim == 1 else df[k]
        coef[k], stderr[k], pval[k], log_pval[k] = _centre(coef[k], stderr[k], pieces, row_df, compositional)
    if not two_part:
        if variance == "classical" and compositional == "none":
            return VariantFit(coef, stderr, main.tval, pval, log_pval, main.df, main.n_used)
        return _with_tests(coef, stderr, pval, log_pval, main.df, main.n_used)
    prev = PartFit(*(_concat([getattr(part.prevalence, name) for part in parts]) for name in PartFit.__dataclass_fields__))
    p_coef, p_stderr, p_prev, log_prev = prev.coef.copy(), prev.stderr.copy(), prev.pval.copy(), prev.log_pval.copy()
    for k in range(1, coef.shape[0]) if centre and compositional_prevalence else ():
        pieces = [part.prevalence_influence[k] for part in parts] if compositional == "median" else None
        p_coef[k], p_stderr[k], p_prev[k], log_prev[k] = _centre(p_coef[k], p_stderr[k], pieces, np.inf, compositional)
    n_present = _concat([part.n_present for part in parts])
    extra = {
        "pval.abundance": pval,
        "coef.prevalence": p_coef,
        "stderr.prevalence": p_stderr,
        "pval.prevalence": p_prev,
        "N.present": np.broadcast_to(n_present, coef.shape),
    }
    if any(part.note is not None for part in parts):  # the two-part mixed model's per-feature notes
        notes = np.concatenate([part.note if part.note is not None else np.full(part.main.coef.shape[1], "") for part in parts])
        extra["note"] = np.broadcast_to(notes, coef.shape)
    present = np.broadcast_to(n_present / main.n_used, coef.shape)
    joint_p = joint_pvalue(pval, p_prev, joint, present)
    log_joint = log_joint_pvalue(log_pval, log_prev, joint, present)
    return _with_tests(coef, stderr, joint_p, log_joint, main.df, main.n_used, extra)


def refine_linear(fit, Y: np.ndarray, X: np.ndarray, variance: str, compositional: str, mixed: bool) -> VariantFit:  # noqa: ANN001
    """Apply ``variance`` and ``compositional`` to a linear fit of the whole table (one block)."""
    return finish([linear_block(fit, Y, X, variance, compositional, mixed)], variance, compositional)


def fit_two_part(
    relative: np.ndarray,
    X: np.ndarray,
    compositional: str,
    compositional_prevalence: bool = False,
    joint: str = "beta",
    **block_options: Any,
) -> VariantFit:
    """Two-part model of ``relative`` abundances (n × m, rows of ``X``), the whole table as one block.
    ``coef``/``stderr`` are the abundance part's (log2 FC among present samples), ``pval`` the joint p-value;
    ``extra`` holds both parts.

    ``block_options``: the other keyword arguments of :func:`two_part_block` (``depth``, ``depth_covariate``,
    ``variance``, ``groups``, ``augment``, ``workers``)."""
    block = two_part_block(relative, X, compositional, compositional_prevalence, **block_options)
    # finish reads ``variance`` for linear fits only; a two-part fit's is applied in the block.
    return finish([block], block_options.get("variance", "HC3"), compositional, compositional_prevalence, joint)


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
            note.append("abundance: not fitted (too few present samples, or the design is collinear on them)")
        elif np.any(lmm.theta[:, j] == 0):
            note.append("abundance: singular (a random-intercept sd is 0)")
        if failed[j]:
            note.append("prevalence: not converged (left out; joint p-value = abundance part)")
        elif fitted[j] and glmm.singular[j]:
            note.append("prevalence: singular (a random-intercept sd is 0)")
        notes.append("; ".join(note))
    return abundance, prevalence, np.array(notes, dtype=object)
