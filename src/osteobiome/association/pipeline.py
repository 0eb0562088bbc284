"""Per-cohort feature × metadata associations (MaAsLin2's pipeline, vectorized over features).

Pipeline: align samples → :func:`~osteobiome.stats.preprocess.filter_features` on raw values → normalize over the
retained features → transform → :func:`~osteobiome.stats.design.build_design` → one model per feature (OLS for all
features at once, or random intercepts by REML) → multiple-testing correction → a tidy table with MaAsLin2's
columns first (``feature metadata value coef stderr N N.not.0 pval qval``), then ``N.used``, ``df`` and
``log10.pval``, sorted by q-value (ties keep feature-then-coefficient order, as MaAsLin2).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from osteobiome.association.variants import VariantFit, check_options, fit_two_part, refine_linear
from osteobiome.compute.memory import check_memory, dense_bytes
from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort
from osteobiome.stats.design import Design
from osteobiome.stats.fittable import check_median_fittable, check_samples, model_design, warn_rare
from osteobiome.stats.lm import LMResult, fit_lm
from osteobiome.stats.multitest import adjust_grouped
from osteobiome.stats.preprocess import check_combination, filter_features, normalize, transform

MAASLIN2_COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]
EXTRA_COLUMNS = ["N.used", "df", "log10.pval"]
#: Dense samples × features copies run_association holds at once (table, raw, filtered, normalized, transformed, Y).
DENSE_COPIES = 6

# Presets: every option of the pipeline, declaratively. ``maaslin2`` is MaAsLin2 1.15's defaults (one OLS per
# feature on log2 TSS with half-minimum zeros, BH pooled over every coefficient of the call).
# ``default`` was chosen by the calibration benchmark (issue 9; ``osteobiome benchmark calibration``, numbers in
# benchmarks/RESULTS.md § calibration): a MaAsLin3-style two-part model (logistic prevalence with weighted
# augmentation + log2 abundance on the samples where the feature is present; no prevalence model for a feature
# present in every sample, as MaAsLin3), the two p-values joined by a Cauchy combination weighted by how often the
# feature is present (``joint="cauchy"``; MaAsLin3's ``1 - (1 - min p)^2`` is ``joint="beta"``), the abundance
# coefficient compared with the median coefficient of the same variable (compositional correction, analytic
# covariance, no Monte Carlo), BH per variable. On Twins implantations (q = 0.1, 100 seeds) it has about twice
# MaAsLin2's recall at effects >= 0.5 log2 FC per SD, higher AUPRC in every cell, and keeps the phenotype's
# FDR <= 0.10 where MaAsLin2 and the uncorrected models lose it to compositional closure.
# Other options: ``model`` (lm | twopart), ``variance`` (classical | HC3), ``compositional`` (none | median |
# linda), ``compositional_prevalence`` (median-centre the prevalence part too), ``depth_covariate`` (none |
# prevalence | both: log read depth in the two-part designs), ``joint`` (beta | cauchy: how the two parts' p-values
# are combined). See :mod:`osteobiome.association.variants`.
_MAASLIN2 = {
    "normalization": "TSS",
    "transform": "LOG",
    "min_abundance": 0.0,
    "min_prevalence": 0.1,
    "min_variance": 0.0,
    "standardize": True,
    "correction": "BH",
    "fdr_scope": "all",
    "max_significance": 0.1,  # as run's fdr.cohort; MaAsLin2's own default is 0.25
    "model": "lm",
    "variance": "classical",
    "compositional": "none",
    "compositional_prevalence": False,
    "depth_covariate": "none",
    "joint": "beta",
}
PRESETS: dict[str, dict[str, Any]] = {
    "maaslin2": _MAASLIN2,
    "default": _MAASLIN2 | {"fdr_scope": "per-variable", "model": "twopart", "compositional": "median", "joint": "cauchy"},
}


def resolve_options(preset: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The preset's options updated with the non-None ``overrides``; unknown names raise InputError."""
    if preset not in PRESETS:
        raise InputError(f"preset {preset!r} is not known{suggest(preset, PRESETS)}; use one of {', '.join(PRESETS)}.")
    options = dict(PRESETS[preset])
    for name, value in overrides.items():
        if name not in options:
            raise InputError(f"option {name!r} is not known{suggest(name, options)}; options: {', '.join(options)}.")
        if value is not None:
            options[name] = value
    options["normalization"], options["transform"] = check_combination(options["normalization"], options["transform"])
    check_options(
        options["model"], options["variance"], options["compositional"], options["depth_covariate"], options["joint"]
    )
    if options["model"] == "twopart" and options["normalization"] != "TSS":
        raise InputError(f"model='twopart' works on relative abundances; use normalization='TSS', not {options['normalization']!r}.")
    return options


@dataclass(frozen=True)
class Association:
    """Everything one run produced: the result table and the intermediate (samples × features) tables."""

    results: pd.DataFrame
    filtered: pd.DataFrame
    normalized: pd.DataFrame
    transformed: pd.DataFrame
    design: Design
    options: dict[str, Any]

    def significant(self) -> pd.DataFrame:
        """Rows with q <= ``max_significance``."""
        return self.results[self.results["qval"] <= self.options["max_significance"]].reset_index(drop=True)


def align_samples(samples: pd.Index, metadata: pd.DataFrame | None) -> tuple[np.ndarray, pd.DataFrame]:
    """Match the feature table's sample ids to the metadata (both compared as strings).

    Returns a boolean mask of the table's samples that have metadata and the metadata rows in the table's
    order. Duplicate ids (in the table or the metadata), no shared id or no metadata raise InputError;
    samples on one side only are left out with a warning."""
    if metadata is None:
        raise InputError("no metadata given; pass a DataFrame indexed by sample id.")
    samples = pd.Index(samples).astype(str)
    metadata = metadata.set_axis(metadata.index.astype(str), axis=0)
    for what, ids in (("feature table", samples), ("metadata", metadata.index)):
        if ids.has_duplicates:
            dup = ids[ids.duplicated()].unique()
            raise InputError(f"the {what} has duplicate sample ids {preview(dup)}; give each sample one row.")
    used = samples.isin(metadata.index)
    if not used.any():
        raise InputError(
            f"no sample id is in both the feature table ({preview(samples)}) and the metadata "
            f"({preview(metadata.index)}); check which axis holds samples."
        )
    for what, extra in (("feature table", samples[~used]), ("metadata", metadata.index.difference(samples))):
        if len(extra):
            warnings.warn(f"{len(extra)} samples only in the {what} are left out: {preview(extra)}.", stacklevel=4)
    return used, metadata.loc[samples[used]]


def _aligned(features: Cohort | pd.DataFrame, metadata: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(features, Cohort):
        table = features.table
        metadata = features.metadata if metadata is None else metadata
    elif isinstance(features, pd.DataFrame):
        table = features
    else:
        raise InputError(f"features must be a Cohort or a samples × features DataFrame, not {type(features).__name__}.")
    used, metadata = align_samples(table.index, metadata)
    table = table.set_axis(table.index.astype(str), axis=0).set_axis(table.columns.astype(str), axis=1)
    bad_dtypes = [dtype for dtype in set(table.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    if bad_dtypes:
        non_numeric = table.columns[table.dtypes.isin(bad_dtypes)]
        raise InputError(f"feature table has non-numeric columns {preview(non_numeric)}; features must be numbers.")
    return (table if used.all() else table.loc[used]), metadata


def _read_depth(raw: np.ndarray, rows: np.ndarray, opts: Mapping[str, Any]) -> np.ndarray | None:
    """Reads per sample (of ``rows``) when a two-part model uses depth and the table holds counts; else None."""
    if opts["model"] != "twopart" or opts["depth_covariate"] == "none" or not np.array_equal(raw, np.round(raw)):
        return None
    return raw.sum(axis=1)[rows]


def _rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` (boolean ``rows``), without a copy when every row is used."""
    return values if rows.all() else values[rows]


def _fit(  # noqa: ANN202
    transformed: np.ndarray,
    relative: np.ndarray,
    depth: np.ndarray | None,
    design: Design,
    random: Sequence[str],
    opts: Mapping[str, Any],
    workers: int = 1,
):
    """The preset's model on the rows of ``design`` (all samples × features in): two-part on ``relative``, or
    linear on ``transformed`` (random intercepts if ``random``, fitted over ``workers`` processes) refined by
    the ``variance`` and ``compositional`` options (:mod:`osteobiome.association.variants`)."""
    if opts["model"] == "twopart":
        return fit_two_part(
            _rows(relative, design.rows),
            design.matrix,
            opts["compositional"],
            opts["compositional_prevalence"],
            depth,
            opts["depth_covariate"],
            opts["variance"],
            opts["joint"],
        )
    Y = _rows(transformed, design.rows)
    if random:
        from osteobiome.stats.lmm import fit_lmm

        base = fit_lmm(Y, design.matrix, [design.groups[name] for name in random], workers=workers)
    else:
        base = fit_lm(Y, design.matrix)
    return refine_linear(base, Y, design.matrix, opts["variance"], opts["compositional"], mixed=bool(random))


def with_random_effects(opts: Mapping[str, Any], random: Sequence[str]) -> dict[str, Any]:
    """The options of the model that actually runs when ``random`` grouping variables are given: linear mixed
    models with random intercepts, recorded as ``model="lmm"`` (run.json, the Methods text). The two-part model
    has no mixed version: asking for it (the default preset does) warns and fits LMMs; its ``joint`` option
    then does not apply and is recorded as None."""
    opts = dict(opts)
    if not random:
        return opts
    if opts["model"] == "twopart":
        warnings.warn(
            "the two-part model has no random-effects version; fitting linear mixed models instead (model='lmm').",
            stacklevel=3,
        )
        opts["joint"] = None
    opts["model"] = "lmm"
    return opts


def results_table(
    names: pd.Index, design: Design, fit: LMResult | VariantFit, n_samples: int, n_not0: np.ndarray, opts: Mapping[str, Any]
) -> pd.DataFrame:
    """The tidy result table of a fit of ``names`` (per-feature arrays of ``fit``, coefficients on rows):
    one row per feature × non-intercept coefficient (plus the fit's ``extra`` columns), q-values by ``opts``,
    unfitted rows dropped with a warning, sorted by q-value (stable)."""
    n_coef, n_feat = fit.coef.shape[0] - 1, len(names)
    results = pd.DataFrame(
        {
            "feature": np.repeat(names.to_numpy(), n_coef),
            "metadata": np.tile(design.terms[1:], n_feat),
            "value": np.tile(design.values[1:], n_feat),
            "coef": fit.coef[1:].T.ravel(),
            "stderr": fit.stderr[1:].T.ravel(),
            "N": n_samples,
            "N.not.0": np.repeat(n_not0, n_coef),
            "pval": fit.pval[1:].T.ravel(),
            "N.used": np.repeat(fit.n_used, n_coef),
            "df": np.repeat(fit.df, n_coef) if fit.df.ndim == 1 else fit.df[1:].T.ravel(),
            "log10.pval": fit.log_pval[1:].T.ravel() / np.log(10.0),
        }
    )
    extra = getattr(fit, "extra", None) or {}
    for column, values in extra.items():
        results[column] = values[1:].T.ravel()
    results["qval"] = adjust_grouped(results["pval"].to_numpy(), results["metadata"].to_numpy(), opts["correction"], opts["fdr_scope"])
    failed = results.loc[results["qval"].isna(), "feature"].unique()
    if len(failed):
        warnings.warn(f"{len(failed)} features could not be fitted and are left out: {preview(failed)}.", stacklevel=3)
    results = results.dropna(subset=["qval"]).sort_values("qval", kind="stable").reset_index(drop=True)
    return results[MAASLIN2_COLUMNS + EXTRA_COLUMNS + list(extra)]


def run_association(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None,
    fixed: Sequence[str],
    random: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    preset: str = "default",
    workers: int = 1,
    **options: Any,
) -> Association:
    """Run the pipeline and keep the intermediate tables (the CLI writes them to ``features/``)."""
    opts = with_random_effects(resolve_options(preset, options), random)
    if isinstance(features, Cohort | pd.DataFrame):  # the dense path holds ~DENSE_COPIES copies of the table
        n_samples, n_features = features.X.shape if isinstance(features, Cohort) else features.shape
        check_memory(
            dense_bytes(n_samples, n_features, DENSE_COPIES),
            f"the dense association of {n_samples} samples × {n_features} features",
            "the blocked sparse path (--block-size N, osteobiome.association.blocked.associate_blocked)",
        )
    table, metadata = _aligned(features, metadata)
    raw = table.to_numpy(dtype=float)
    check_samples(raw.shape[0])
    kept = filter_features(raw, opts["min_abundance"], opts["min_prevalence"], opts["min_variance"])
    if not kept.any():
        raise InputError(
            f"all {raw.shape[1]} features were filtered out (min_prevalence={opts['min_prevalence']}, "
            f"min_abundance={opts['min_abundance']}, min_variance={opts['min_variance']}); lower the thresholds."
        )
    names = table.columns[kept]
    filtered = raw[:, kept]
    normalized = normalize(filtered, opts["normalization"])
    transformed = transform(normalized, opts["transform"])
    design = model_design(metadata, fixed, reference, opts["standardize"], preset, random)
    if opts["compositional"] == "median":
        check_median_fittable(filtered, design, opts["model"], random)

    depth = _read_depth(raw, design.rows, opts)
    fit = _fit(transformed, normalized, depth, design, list(random), opts, workers)
    results = results_table(names, design, fit, raw.shape[0], np.sum(filtered > 0, axis=0), opts)
    warn_rare(results, design.matrix.shape[1])

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=table.index, columns=names, copy=False)

    return Association(results, frame(filtered), frame(normalized), frame(transformed), design, opts)


def associate(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None,
    fixed: Sequence[str],
    random: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    preset: str = "default",
    workers: int = 1,
    **options: Any,
) -> pd.DataFrame:
    """Test every feature against the ``fixed`` metadata variables; one row per feature × coefficient.

    ``features``: a :class:`~osteobiome.io.cohort.Cohort` (its metadata is used when ``metadata`` is None) or a
    samples × features DataFrame; ``metadata``: DataFrame indexed by sample id; ``random``: grouping variables
    for random intercepts (``('subject',)``, ``('site', 'subject')``); ``reference``: ``{"sex": "F"}``;
    ``preset``: ``'maaslin2'`` (MaAsLin2 1.15 exactly, BH over all coefficients) or ``'default'``;
    ``workers``: processes for the random-intercept fits (> 1 needs an ``if __name__ == "__main__":`` guard);
    ``options`` override the preset: normalization, transform, min_abundance, min_prevalence (fraction),
    min_variance, standardize, correction, fdr_scope (``all`` | ``per-variable``), max_significance, model
    (``lm`` | ``twopart``), variance (``classical`` | ``HC3``), compositional (``none`` | ``median`` |
    ``linda``), compositional_prevalence, depth_covariate (``none`` | ``prevalence`` | ``both``), joint
    (``cauchy`` | ``beta``: how the two-part model's p-values are combined). With
    ``model='twopart'`` (the default preset) ``coef``/``stderr`` are the abundance part's, ``pval`` is the
    joint p-value, and the columns ``pval.abundance coef.prevalence stderr.prevalence pval.prevalence
    N.present`` are added. With ``random`` the fits are linear mixed models (:func:`with_random_effects`).
    """
    return run_association(features, metadata, fixed, random, reference, preset, workers, **options).results
