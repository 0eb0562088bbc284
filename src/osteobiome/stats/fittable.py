"""What makes an association refusable, checked in one place: by ``associate`` before it fits and by
``validate`` before a study runs, so that ``validate`` accepts only what ``run`` will do.

- :func:`model_design`: :func:`~osteobiome.stats.design.build_design` whose errors name the metadata file;
- :func:`check_samples`: enough samples for any model;
- :func:`check_median`: enough fitted features for the median comparison (``compositional='median'``);
- :func:`check_model`: all of them for one model of a cohort, without fitting (``validate``);
- :func:`warn_rare`: features whose abundance part could not be fitted, named with their present samples.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview
from osteobiome.stats.design import Design, build_design

MEDIAN_MIN_FEATURES = 3
"""Fitted features the median comparison needs (a median of fewer is not a reference)."""


def model_design(
    metadata: pd.DataFrame,
    fixed: Sequence[str],
    reference: Mapping[str, str] | None,
    standardize: bool,
    require_reference: bool,
    random: Sequence[str],
) -> Design:
    """:func:`~osteobiome.stats.design.build_design`, its errors prefixed by the metadata file when known
    (``metadata.attrs['source']``, set by :func:`osteobiome.io.read_metadata`)."""
    try:
        return build_design(metadata, fixed, reference, standardize, require_reference, random)
    except InputError as exc:
        source = metadata.attrs.get("source")
        if source and not str(exc).startswith(str(source)):
            raise InputError(f"{source}: {exc}") from None
        raise


def check_samples(n_samples: int) -> None:
    """An :class:`InputError` when ``n_samples`` (with both a profile and metadata) cannot carry any model."""
    if n_samples < 3:
        raise InputError(
            f"only {n_samples} sample{'s' if n_samples != 1 else ''} with both a feature profile and metadata; "
            "a model needs more samples than coefficients (at least 3). Check that the sample ids match."
        )


def check_median(n_fitted: int, why: str = "") -> None:
    """An :class:`InputError` when fewer than :data:`MEDIAN_MIN_FEATURES` features have a coefficient
    (``why``: what a feature needs to be fitted, said in the message)."""
    if n_fitted >= MEDIAN_MIN_FEATURES:
        return
    raise InputError(
        f"the median comparison needs at least {MEDIAN_MIN_FEATURES} features with a fitted coefficient, but only "
        f"{n_fitted} can be fitted{f' ({why})' if why else ''}; use more samples or fewer covariates, or switch "
        "it off with compositional: none (--compositional none)."
    )


def check_median_fittable(X: np.ndarray | sp.spmatrix, design: Design, model: str, random: Sequence[str]) -> None:
    """:func:`check_median` before fitting ``X`` (samples × retained features): the two-part abundance part
    fits a feature present in more samples than coefficients (one more with random intercepts: the REML fit
    needs a residual degree of freedom beyond them); a linear model fits every feature."""
    p = design.matrix.shape[1] + (1 if random else 0)
    if model == "twopart":
        check_median(int(np.sum(present_counts(X, design.rows) > p)), f"a feature must be present in more than {p} samples")
    else:
        check_median(X.shape[1], "after the filters")


def present_counts(X: np.ndarray | sp.spmatrix, rows: np.ndarray) -> np.ndarray:
    """Per feature, the samples of ``rows`` (boolean) where it is present (> 0); ``X`` dense or sparse."""
    sub = X[np.flatnonzero(rows)]
    if sp.issparse(sub):
        return np.asarray((sub > 0).sum(axis=0)).ravel()
    return np.count_nonzero(np.asarray(sub) > 0, axis=0)


def check_model(
    X: np.ndarray | sp.spmatrix,
    metadata: pd.DataFrame,
    fixed: Sequence[str],
    random: Sequence[str],
    reference: Mapping[str, str] | None,
    options: Any,
) -> Design:
    """Everything ``associate`` would refuse for ``X`` (samples × features, rows matching ``metadata``)
    before fitting: too few samples, the model's design, and the features the median comparison needs.
    ``options``: the resolved :class:`~osteobiome.association.options.AssociationOptions` (read by attribute,
    so this module does not import the association layer above it)."""
    check_samples(X.shape[0])
    design = model_design(metadata, fixed, reference, options.standardize, options.require_reference, random)
    above = present_counts(X > options.min_abundance, np.ones(X.shape[0], bool))
    kept = above > X.shape[0] * options.min_prevalence
    if not kept.any():
        raise InputError(
            f"all {X.shape[1]} features were filtered out (min_prevalence={options.min_prevalence}, "
            f"min_abundance={options.min_abundance}); lower the thresholds."
        )
    if options.compositional == "median":
        check_median_fittable(X[:, np.flatnonzero(kept)], design, options.model, random)
    return design


def warn_rare(results: pd.DataFrame, n_coefficients: int) -> None:
    """Warn about features whose abundance part was not fitted because they are present in at most
    ``n_coefficients`` samples (two-part results: column ``N.present``), naming a few with their counts."""
    if "N.present" not in results.columns:
        return
    few = results["N.present"].to_numpy() <= n_coefficients
    if not few.any():
        return
    rare = results.loc[few, ["feature", "N.present"]].drop_duplicates("feature")
    named = [f"{f} ({int(k)} sample{'s' if k != 1 else ''})" for f, k in rare.itertuples(index=False)]
    warnings.warn(
        f"{len(rare)} feature(s) are present in too few samples for the abundance part (it needs more than "
        f"{n_coefficients}): {preview(named)}; their coef is empty and their p-value is the prevalence part's.",
        stacklevel=3,
    )
