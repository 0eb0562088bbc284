"""Rows for omnibus tests of a factor (``group``) and for user contrasts, added to an association table.

Both come from the per-feature OLS coefficients and standard errors with the shared design
(:mod:`osteobiome.stats.wald`), so they need the linear model with classical variance, no compositional
correction and no random effects (checked by :func:`check_supported`, the one place).

- ``group``: one row per feature and variable, ``metadata`` = the variable, ``value`` = ``"(all levels)"``,
  ``coef``/``stderr`` empty, ``pval`` from the F test of all its columns (R's ``anova`` of the model without
  the variable against the full model), ``qval`` = BH over the features of that variable;
- contrasts: one row per feature and contrast, ``metadata`` = ``"contrast"``, ``value`` = the contrast's name,
  ``coef`` = ``c'β``, t test; ``qval`` = BH over every contrast × feature row asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from osteobiome.association.options import AssociationOptions
from osteobiome.errors import InputError, suggest
from osteobiome.stats.design import Design
from osteobiome.stats.lm import LMResult
from osteobiome.stats.multitest import adjust
from osteobiome.stats.wald import contrast_t, omnibus_f

GROUP_VALUE = "(all levels)"
CONTRAST = "contrast"


def check_supported(opts: AssociationOptions, random: Sequence[str], asked: str) -> None:
    """Omnibus and contrast tests need per-feature OLS on one shared design."""
    problem = None
    if opts.model != "lm":
        problem = f"model {opts.model!r}"
    elif opts.variance != "classical":
        problem = f"variance {opts.variance!r}"
    elif opts.compositional != "none":
        problem = f"compositional {opts.compositional!r}"
    elif random:
        problem = "random effects"
    if problem:
        raise InputError(
            f"{asked} needs the linear model with classical variance and no compositional correction (not "
            f"{problem}); use --preset maaslin2 (or --model lm --compositional none), or test the levels one by one."
        )


def contrast_matrix(contrasts: pd.DataFrame, design: Design) -> np.ndarray:
    """``contrasts`` (rows = named contrasts, columns = design column names, e.g. ``siteB``) as a matrix over
    every design column (zero weight where a column is not named)."""
    unknown = [c for c in contrasts.columns if c not in design.columns]
    if unknown:
        raise InputError(
            f"contrast column {unknown[0]!r} is not a model coefficient{suggest(unknown[0], design.columns)}; "
            f"coefficients: {', '.join(design.columns[1:])}."
        )
    C = contrasts.reindex(columns=design.columns, fill_value=0.0).to_numpy(float)
    if not np.isfinite(C).all() or (np.abs(C).sum(axis=1) == 0).any():
        raise InputError("contrasts: every row needs finite weights, at least one of them non-zero.")
    return C


def omnibus_rows(
    names: pd.Index,
    design: Design,
    fit: LMResult,
    n_samples: int,
    nonzero: np.ndarray,
    groups: Sequence[str],
    contrasts: pd.DataFrame | None,
) -> pd.DataFrame:
    """The group-test and contrast rows (MaAsLin2's columns plus ``N.used df log10.pval statistic``)."""
    V = np.linalg.inv(design.matrix.T @ design.matrix)
    shared = fit.n_used == design.n_used  # features fitted on the design's rows (no per-feature missing values)
    df = np.asarray(fit.df, float) if np.ndim(fit.df) == 1 else np.asarray(fit.df[1], float)
    frames = []
    terms = np.asarray(design.terms)
    for variable in groups:
        L = np.eye(len(design.columns))[terms == variable]
        if not len(L):
            raise InputError(f"--group {variable}: not a term of the model{suggest(variable, list(dict.fromkeys(design.terms[1:])))}.")
        F, p = omnibus_f(fit.coef, fit.stderr, V, L, df)
        p = np.where(shared, p, np.nan)
        frames.append(_rows(names, variable, GROUP_VALUE, np.full(len(names), np.nan), np.full(len(names), np.nan),
                            p, F, n_samples, nonzero, fit.n_used, df, adjust(p)))
    if contrasts is not None and len(contrasts):
        C = contrast_matrix(contrasts, design)
        estimate, se, p = contrast_t(fit.coef, fit.stderr, V, C, df)
        p = np.where(shared[None, :], p, np.nan)
        q = adjust(p.ravel()).reshape(p.shape)
        for i, name in enumerate(contrasts.index.astype(str)):
            frames.append(_rows(names, CONTRAST, name, estimate[i], se[i], p[i], estimate[i] / se[i], n_samples,
                                nonzero, fit.n_used, df, q[i]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _rows(names, metadata, value, coef, stderr, pval, statistic, n_samples, nonzero, n_used, df, qval) -> pd.DataFrame:  # noqa: ANN001
    with np.errstate(divide="ignore"):
        log10 = np.log10(pval)
    return pd.DataFrame(
        {
            "feature": names.to_numpy(),
            "metadata": metadata,
            "value": value,
            "coef": coef,
            "stderr": stderr,
            "N": n_samples,
            "N.not.0": nonzero,
            "pval": pval,
            "qval": qval,
            "N.used": n_used,
            "df": df,
            "log10.pval": log10,
            "statistic": statistic,
        }
    )
