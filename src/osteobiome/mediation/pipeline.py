"""Mediation from features (genera) through mediators (metabolites) to an outcome (bone), every pair at once.

Pipeline: align the feature table, metadata and mediator table by sample id → the preset's
:func:`~osteobiome.stats.preprocess.filter_features` / normalize / transform on the features (the exposures) →
covariate design by :func:`~osteobiome.stats.design.build_design` on the complete cases of the outcome and
covariates → per group of mediators sharing a missing-value pattern, :func:`~osteobiome.mediation._fit.fit_pairs`
(α, β, direct and total effects of every exposure × mediator pair, standardized variables) → path p-values (t
tests, as R's ``lm``) → a composite-null p-value per pair (:mod:`~osteobiome.mediation.composite`; DACT by
HDMT by default) → q-values → CI of the indirect effect αβ (:mod:`~osteobiome.mediation._intervals`) → mechanism
annotation (:mod:`~osteobiome.mediation.annotate`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from osteobiome._signatures import parameters_of
from osteobiome.association.options import AssociationOptions
from osteobiome.association.pipeline import aligned_table
from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.align import align_samples
from osteobiome.io.cohort import Cohort
from osteobiome.mediation._fit import fit_pairs
from osteobiome.mediation._intervals import bootstrap_interval, delta_interval
from osteobiome.mediation.annotate import ANNOTATION_COLUMNS, annotate_pairs
from osteobiome.mediation.composite import TESTS, composite_pvalues
from osteobiome.stats.design import build_design
from osteobiome.stats.lm import missing_patterns
from osteobiome.stats.multitest import adjust
from osteobiome.stats.preprocess import preprocessed_table

COLUMNS = [
    "feature", "mediator", "alpha", "alpha.se", "pval.alpha", "beta", "beta.se", "pval.beta", "indirect",
    "indirect.lower", "indirect.upper", "prop.mediated", "pval", "qval",
]
EXTRA_COLUMNS = ["direct", "total", "N", "ci.method", *ANNOTATION_COLUMNS]
CI_METHODS = ("bootstrap", "delta")


@dataclass(frozen=True)
class Mediation:
    """One run: ``results`` (columns :data:`COLUMNS` then :data:`EXTRA_COLUMNS`, sorted by p-value), the
    exposures (samples × features after filter/normalization/transform) and the settings used."""

    results: pd.DataFrame
    exposures: pd.DataFrame
    options: dict[str, Any]

    def significant(self, q: float = 0.1) -> pd.DataFrame:
        """Pairs with q-value <= ``q``."""
        return self.results[self.results["qval"] <= q].reset_index(drop=True)


def _mediator_matrix(mediators: pd.DataFrame, samples: pd.Index) -> np.ndarray:
    """The mediator table's rows for ``samples`` (NaN rows where a sample has none), as floats."""
    if not isinstance(mediators, pd.DataFrame) or mediators.shape[1] == 0:
        raise InputError("mediators must be a samples × mediators DataFrame with at least one column (io.read_mediators).")
    non_numeric = [c for c in mediators.columns if not pd.api.types.is_numeric_dtype(mediators[c])]
    if non_numeric:
        raise InputError(f"mediators {preview(non_numeric)} are not numeric; mediators must be numbers.")
    used, rows = align_samples(samples, mediators, "mediator table", "check the mediator table's id column")
    matrix = np.full((len(samples), mediators.shape[1]), np.nan)
    matrix[used] = rows.to_numpy(dtype=float)
    return matrix


def _check_roles(metadata: pd.DataFrame, outcome: str, covariates: Sequence[str]) -> None:
    if outcome not in metadata.columns:
        raise InputError(f"outcome {outcome!r} is not a metadata column{suggest(outcome, metadata.columns)}; columns: {preview(metadata.columns, 8)}.")
    if not pd.api.types.is_numeric_dtype(metadata[outcome]) or pd.api.types.is_bool_dtype(metadata[outcome]):
        raise InputError(f"outcome {outcome!r} is not numeric; mediation needs a numeric outcome (bone density, a score).")
    if outcome in covariates:
        raise InputError(f"outcome {outcome!r} is also listed as a covariate; remove it from the covariates.")


def run_mediation(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None,
    mediators: pd.DataFrame,
    outcome: str,
    covariates: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    preset: str = "default",
    test: str = "hdmt",
    ci: str = "bootstrap",
    n_boot: int = 1000,
    ci_screen: float = 0.05,
    level: float = 0.95,
    seed: int = 1,
    **options: Any,
) -> Mediation:
    """Run the pipeline (module text) for every (feature, mediator) pair, keeping the exposures.

    Parameters
    ----------
    features : Cohort or DataFrame
        A :class:`~osteobiome.io.cohort.Cohort` (its metadata used when ``metadata`` is None) or a samples ×
        features DataFrame; the exposure is each feature after the preset's filter / normalization / transform.
    metadata : DataFrame or None
        Indexed by sample id; holds ``outcome`` and ``covariates``.
    mediators : DataFrame
        Samples × mediators (NaN = missing; each mediator's pairs use the samples where it is observed; see
        :func:`osteobiome.io.mediators.read_mediators`); samples are matched to the table as the metadata are.
    outcome : str
        Numeric metadata column (bone density, a score).
    covariates : sequence of str, optional
        Adjustment variables, coded as :func:`osteobiome.associate`'s fixed effects.
    reference : mapping, optional
        Reference level of categorical covariates, ``{"sex": "F"}``.
    preset : str
        Association preset whose filter / normalization / transform / correction are used.
    test : {'hdmt', 'dact', 'maxp'}
        Test of the composite null alpha = 0 or beta = 0 (see :func:`mediate`).
    ci : {'bootstrap', 'delta'}
        CI of the indirect effect: percentile bootstrap for screened pairs (delta method for the rest), or the
        delta method for all.
    n_boot : int
        Bootstrap resamples (at least 10).
    ci_screen : float
        Pairs with ``pval <= ci_screen`` get the bootstrap CI.
    level : float
        Confidence level of the CI, in (0, 1).
    seed : int
        Seed of the bootstrap.
    **options
        Override the preset's filter / normalization / transform / correction fields.

    Returns
    -------
    Mediation
        ``results`` (the table :func:`mediate` returns), ``exposures`` (samples × features after filter /
        normalization / transform) and the settings run.
    """
    if test not in TESTS:
        raise InputError(f"mediation test {test!r} is not known{suggest(test, TESTS)}; use one of {', '.join(TESTS)}.")
    if ci not in CI_METHODS:
        raise InputError(f"CI method {ci!r} is not known{suggest(ci, CI_METHODS)}; use bootstrap or delta.")
    if not 0 < level < 1 or n_boot < 10:
        raise InputError(f"level must lie in (0, 1) and n_boot be at least 10 (got level={level}, n_boot={n_boot}).")
    opts = AssociationOptions.resolve(preset, options)
    table, metadata = aligned_table(features, metadata)
    covariates = list(covariates)
    _check_roles(metadata, outcome, covariates)
    exposures = preprocessed_table(table, opts)
    M_all = _mediator_matrix(mediators, table.index)
    design = build_design(metadata, [outcome, *covariates], reference, True, opts.require_reference)
    C = np.delete(design.matrix, 1, axis=1)
    y = design.matrix[:, 1]
    E = exposures.to_numpy()[design.rows]
    M = M_all[design.rows]
    p, K = E.shape[1], M.shape[1]

    names = ("alpha", "alpha_se", "beta", "beta_se", "direct", "total", "lower", "upper")
    grid = {name: np.full((p, K), np.nan) for name in names}
    n_used = np.zeros(K, dtype=int)
    groups = []
    for rows, cols in missing_patterns(np.isnan(M)):
        if rows.sum() < C.shape[1] + 3 or np.linalg.matrix_rank(C[rows]) < C.shape[1]:
            warnings.warn(
                f"mediators {preview(pd.Index(mediators.columns)[cols])} have too few complete samples "
                f"({int(rows.sum())}) for the covariates; left out.",
                stacklevel=3,
            )
            continue
        fit = fit_pairs(E[rows], M[np.ix_(rows, cols)], y[rows], C[rows])
        for name in names[:5]:
            grid[name][:, cols] = getattr(fit, name)
        grid["total"][:, cols] = fit.total[:, None]
        grid["lower"][:, cols], grid["upper"][:, cols] = delta_interval(fit, level)
        n_used[cols] = fit.n
        groups.append((rows, cols, fit))

    p_alpha, p_beta = np.full((p, K), np.nan), np.full((p, K), np.nan)
    for _, cols, fit in groups:
        p_alpha[:, cols], p_beta[:, cols] = fit.pvals()
    pval = composite_pvalues(p_alpha, p_beta, test)
    ci_method = np.full((p, K), "delta", dtype=object)
    if ci == "bootstrap":
        for g, (rows, cols, _) in enumerate(groups):
            screened = np.argwhere(pval[:, cols] <= ci_screen)
            if screened.size == 0:
                continue
            j, k = screened[:, 0], cols[screened[:, 1]]
            grid["lower"][j, k], grid["upper"][j, k] = bootstrap_interval(
                E[rows], M[rows][:, cols], y[rows], C[rows], j, screened[:, 1], n_boot, level, (seed, g)
            )
            ci_method[j, k] = "bootstrap"

    indirect = grid["alpha"] * grid["beta"]
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = indirect / grid["total"]
    results = pd.DataFrame(
        {
            "feature": np.repeat(exposures.columns.to_numpy(), K),
            "mediator": np.tile(pd.Index(mediators.columns).astype(str).to_numpy(), p),
            "alpha": grid["alpha"].ravel(),
            "alpha.se": grid["alpha_se"].ravel(),
            "pval.alpha": p_alpha.ravel(),
            "beta": grid["beta"].ravel(),
            "beta.se": grid["beta_se"].ravel(),
            "pval.beta": p_beta.ravel(),
            "indirect": indirect.ravel(),
            "indirect.lower": grid["lower"].ravel(),
            "indirect.upper": grid["upper"].ravel(),
            "prop.mediated": prop.ravel(),
            "pval": pval.ravel(),
            "direct": grid["direct"].ravel(),
            "total": grid["total"].ravel(),
            "N": np.tile(n_used, p),
            "ci.method": ci_method.ravel(),
        }
    )
    failed = results["pval"].isna()
    if failed.any():
        left = results.loc[failed, "feature"].unique()
        warnings.warn(f"{int(failed.sum())} pairs could not be fitted (constant on the samples used) and are left out: features {preview(left)}.", stacklevel=3)
        results = results.loc[~failed].reset_index(drop=True)
    results["qval"] = adjust(results["pval"].to_numpy(), opts["correction"])
    results = pd.concat([results, annotate_pairs(results["feature"], results["mediator"])], axis=1)
    results = results.sort_values("pval", kind="stable").reset_index(drop=True)[COLUMNS + EXTRA_COLUMNS]
    settings = dict(opts.as_dict(), outcome=outcome, covariates=covariates, test=test, ci=ci, n_boot=n_boot, ci_screen=ci_screen, level=level, seed=seed, preset=preset)
    return Mediation(results, exposures, settings)


@parameters_of(run_mediation)
def mediate(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Does each feature act on ``outcome`` through each mediator? One row per (feature, mediator) pair.

    Per pair, on standardized variables (mean 0, SD 1 with n − 1, as R's ``scale()``; the exposure is the feature
    after the preset's filter / normalization / transform): ``alpha`` = exposure coefficient in
    ``mediator ~ exposure + covariates``, ``beta`` = mediator coefficient in ``outcome ~ mediator + exposure +
    covariates`` (t-test p-values ``pval.alpha``, ``pval.beta`` as R's ``lm``), ``indirect`` = alpha · beta,
    ``direct`` = the exposure coefficient of the outcome model, ``total`` = the exposure coefficient of
    ``outcome ~ exposure + covariates`` (= direct + indirect), ``prop.mediated`` = indirect / total.
    ``pval`` tests the composite null alpha = 0 or beta = 0 by ``test``: ``'hdmt'`` (default; the mixture null
    of max p, calibrated in benchmarks/RESULTS.md § mediation), ``'dact'`` (anti-conservative there when many
    mediators act on the outcome or are driven by a genus) or ``'maxp'`` (conservative); ``qval`` by the preset's correction (BH) over all pairs.
    ``indirect.lower/upper``: ``level`` CI — with ``ci='bootstrap'`` a percentile bootstrap (``n_boot``
    resamples, ``seed``) for pairs with ``pval <= ci_screen`` and the delta method for the rest (``ci.method``
    says which); ``ci='delta'``: the delta method for all.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, then ``direct total N ci.method mechanism knowledge reference`` (the mediator's
        mechanism group and the genus's knowledge-table traits in it), sorted by p-value.
    """
    return run_mediation(*args, **kwargs).results
