"""Per-cohort feature × metadata associations: one pipeline, the feature axis in blocks (one block = the dense
path), blocks run in this process or on dask.

Pipeline (MaAsLin2's order, vectorized over features):

1. align samples to the metadata (:mod:`~osteobiome.association._source`);
2. filter statistics of every feature in one pass over the non-zeros (MaAsLin2's filter on raw values);
3. the design (:func:`~osteobiome.stats.design.build_design`) and, over the retained features, the global
   per-sample scales (TSS totals, CLR log-means) and read depth;
4. per block of retained features (:func:`~osteobiome.association._blocks.fit_block`): normalize with those
   scales, transform, one model per feature (OLS, random intercepts by REML, or the two-part model), keeping
   the covariance pieces of the median comparison;
5. one global stage: compositional correction (:func:`~osteobiome.association.variants.finish`), multiple
   testing and the tidy table (:func:`results_table`) with MaAsLin2's columns first
   (``feature metadata value coef stderr N N.not.0 pval qval``), then ``N.used``, ``df`` and ``log10.pval``,
   sorted by q-value (ties keep feature-then-coefficient order, as MaAsLin2).

The block size is automatic: the whole table when it is small, or dense in memory and its dense copies fit in
memory; else (sparse tables, stores, large tables) as many features as fit
:data:`~osteobiome.compute.memory.BLOCK_BUDGET`. Only CSS and TMM normalization need the whole table at once;
they are refused on several blocks (:func:`_check_blocks`, the one place).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome._signatures import parameters_of
from osteobiome.association._blocks import BlockJob, fit_block
from osteobiome.association._omnibus import check_supported, omnibus_rows
from osteobiome.association._source import Source, align_samples, aligned_source
from osteobiome.association.options import WHOLE_TABLE_NORMALIZATIONS, AssociationOptions
from osteobiome.association.variants import VariantFit, finish, fitted_model
from osteobiome.compute import memory
from osteobiome.compute.executors import parse_scheduler, run_blocks
from osteobiome.compute.memory import BLOCK_BUDGET, HEADROOM, check_memory, dense_bytes
from osteobiome.errors import InputError, preview
from osteobiome.io.cohort import Cohort
from osteobiome.io.store import FeatureStore
from osteobiome.stats.design import Design
from osteobiome.stats.fittable import check_samples, model_design, warn_rare
from osteobiome.stats.formula import build_formula_design
from osteobiome.stats.lm import LMResult
from osteobiome.stats.multitest import adjust_grouped
from osteobiome.stats.preprocess import check_kept

__all__ = [
    "EXTRA_COLUMNS", "MAASLIN2_COLUMNS", "Association", "align_samples", "aligned_table", "associate", "auto_block_size",
    "results_table", "run_association",
]

MAASLIN2_COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]
EXTRA_COLUMNS = ["N.used", "df", "log10.pval"]
#: Dense samples × block copies alive while one block is fitted (raw, normalized, transformed, Y, residuals, …);
#: the two-part model holds more (presence, weights, probabilities, masked log abundances, …).
BLOCK_COPIES = {"lm": 8, "lmm": 8, "twopart": 14}
#: The whole table is one block when its dense copies need at most this fraction of the available memory …
WHOLE_TABLE_SHARE = 0.25
#: … or at most these bytes (then memory is not even looked up).
SMALL_TABLE = 64 * 1024**2

Features = Cohort | pd.DataFrame | FeatureStore | str | Path


@dataclass(frozen=True)
class Association:
    """Everything one run produced: the result table, the options actually run and, when the table ran as one
    in-memory block, the intermediate (samples × features) tables (None otherwise)."""

    results: pd.DataFrame
    design: Design
    options: AssociationOptions
    filtered: pd.DataFrame | None = None
    normalized: pd.DataFrame | None = None
    transformed: pd.DataFrame | None = None
    n_blocks: int = 1

    def significant(self) -> pd.DataFrame:
        """Rows with q <= ``options.max_significance``."""
        return self.results[self.results["qval"] <= self.options.max_significance].reset_index(drop=True)


def results_table(
    names: pd.Index, design: Design, fit: LMResult | VariantFit, n_samples: int, n_not0: np.ndarray, opts: AssociationOptions
) -> pd.DataFrame:
    """The tidy result table of a fit of ``names`` (per-feature arrays of ``fit``, coefficients on rows):
    one row per feature × non-intercept coefficient (plus the fit's ``extra`` columns), q-values by ``opts``,
    unfitted rows dropped with a warning, sorted by q-value (stable). ``attrs["options"]`` records ``opts``."""
    n_coef, n_feat = fit.coef.shape[0] - 1, len(names)
    extra = getattr(fit, "extra", None) or {}
    pval = fit.pval[1:].T.ravel()
    metadata = np.tile(np.asarray(design.terms[1:], dtype=object), n_feat)
    qval = adjust_grouped(pval, metadata, opts.correction, opts.fdr_scope)
    feature = np.repeat(names.to_numpy(), n_coef)
    fitted = ~np.isnan(qval)
    if not fitted.all():
        failed = pd.unique(feature[~fitted])
        warnings.warn(f"{len(failed)} features could not be fitted and are left out: {preview(failed)}.", stacklevel=3)
    order = np.flatnonzero(fitted)[np.argsort(qval[fitted], kind="stable")]  # by q-value, ties in fit order
    columns = {
        "feature": feature,
        "metadata": metadata,
        "value": np.tile(np.asarray(design.values[1:], dtype=object), n_feat),
        "coef": fit.coef[1:].T.ravel(),
        "stderr": fit.stderr[1:].T.ravel(),
        "N": np.full(feature.size, n_samples),
        "N.not.0": np.repeat(n_not0, n_coef),
        "pval": pval,
        "qval": qval,
        "N.used": np.repeat(fit.n_used, n_coef),
        "df": np.repeat(fit.df, n_coef) if fit.df.ndim == 1 else fit.df[1:].T.ravel(),
        "log10.pval": fit.log_pval[1:].T.ravel() / np.log(10.0),
    } | {column: values[1:].T.ravel() for column, values in extra.items()}
    results = pd.DataFrame({name: values[order] for name, values in columns.items()})
    results.attrs["options"] = opts.as_dict()
    return results


def aligned_table(features: Features, metadata: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The samples that have metadata × all features as a dense DataFrame (for analyses that need the whole table:
    survival, mediation), and the metadata in the table's order; inputs as :func:`associate`'s."""
    source, metadata = aligned_source(features, metadata)
    if not source.in_memory:
        raise InputError("this analysis needs the table in memory; pass the table file, not a feature store.")
    X = source.matrix.toarray() if sp.issparse(source.matrix) else source.matrix
    return pd.DataFrame(X, index=source.samples, columns=source.features), metadata


def auto_block_size(n_samples: int, copies: int = BLOCK_COPIES["lm"], budget: int | None = None) -> int:
    """Features per block so that one block's dense copies stay within ``budget`` bytes (default: the smaller of
    :data:`BLOCK_BUDGET` and half of the memory available now)."""
    if budget is None:
        available = memory.available_memory()
        budget = BLOCK_BUDGET if available is None else min(BLOCK_BUDGET, int(HEADROOM * available / 2))
    return max(1, int(budget // dense_bytes(n_samples, 1, copies)))


def _block_size(requested: int | None, n: int, n_kept: int, copies: int, source: Source) -> int:
    """``requested``; else the whole table when it is small, or dense in memory and fits; else
    :func:`auto_block_size` (sparse tables and stores: a gene-family table is never densified whole)."""
    if requested is not None:
        if requested < 1:
            raise InputError(f"--block-size {requested}: give a positive number of features per block.")
        size = min(requested, n_kept)
        check_memory(
            dense_bytes(n, size, copies),
            f"a dense block of {n} samples × {size} features",
            f"a smaller --block-size (e.g. {auto_block_size(n, copies)})",
        )
        return size
    whole = dense_bytes(n, n_kept, copies)
    if source.in_memory and whole <= SMALL_TABLE:  # no need to ask the system
        return n_kept
    available = memory.available_memory()
    dense = source.in_memory and not sp.issparse(source.matrix)
    if dense and (available is None or whole <= WHOLE_TABLE_SHARE * available):
        return n_kept
    return min(n_kept, auto_block_size(n, copies))


def _check_values(stats_minimum: float, opts: AssociationOptions) -> None:
    if opts.normalization == "CLR" and stats_minimum <= -1:
        raise InputError("CLR needs values > -1 (it takes ln(x + 1)); pass raw counts or relative abundances.")
    if opts.normalization in ("TSS", "CSS", "TMM") and stats_minimum < 0:
        raise InputError(f"{opts.normalization} normalization needs non-negative abundances; the table has negative values.")


def _check_blocks(n_blocks: int, opts: AssociationOptions) -> None:
    """The one place where the blocked run refuses something: CSS/TMM scales need the whole table."""
    if n_blocks > 1 and opts.normalization in WHOLE_TABLE_NORMALIZATIONS:
        raise InputError(
            f"normalization {opts.normalization} needs the whole table at once, but the features run in {n_blocks} "
            "blocks (--block-size, a feature store, or a table too large for memory); use TSS, CLR or NONE."
        )


def run_association(
    features: Features,
    metadata: pd.DataFrame | None = None,
    fixed: Sequence[str] = (),
    random: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    preset: str | AssociationOptions = "default",
    workers: int = 1,
    *,
    block_size: int | None = None,
    scheduler: object = None,
    formula: str | None = None,
    group: Sequence[str] = (),
    ordered: Sequence[str] = (),
    contrasts: pd.DataFrame | None = None,
    keep_tables: bool = True,
    **options: Any,
) -> Association:
    """Test every feature against the ``fixed`` metadata variables, keeping the design, the options run and the
    intermediate tables (:func:`associate` returns only the result table).

    Parameters
    ----------
    features : Cohort, DataFrame, FeatureStore or str
        A :class:`~osteobiome.io.cohort.Cohort` (its own metadata is used when ``metadata`` is None), a
        samples × features DataFrame, or a feature store (path or :class:`~osteobiome.io.store.FeatureStore`,
        read block by block).
    metadata : DataFrame, optional
        Indexed by sample id; samples on one side only are left out with a warning.
    fixed : sequence of str
        Fixed-effect variables (metadata columns); every coefficient except the intercept is reported.
    random : sequence of str, optional
        Grouping variables for random intercepts (``('subject',)``, ``('site', 'subject')``), fitted by REML;
        with the two-part model (the default preset) both parts get them (two-part mixed model, Laplace logistic
        GLMM for the prevalence part) and a ``note`` column reports singular or non-converged fits.
    reference : mapping, optional
        Reference level of categorical variables, ``{"sex": "F"}``.
    preset : str or AssociationOptions
        ``'default'`` (two-part model, median comparison, BH per variable) or ``'maaslin2'`` (MaAsLin2 1.15
        exactly), or an :class:`~osteobiome.association.options.AssociationOptions` instance.
    workers : int
        Processes for the random-intercept fits (> 1 needs an ``if __name__ == "__main__":`` guard).
    block_size : int, optional
        Retained features per block (default: automatic, the whole table when it fits in memory).
    scheduler : str or distributed.Client, optional
        Run the blocks on dask: ``"threads"``, ``"processes"``, a scheduler address or a ``Client``.
    formula : str, optional
        Instead of ``fixed``: ``"~ bmd * sex + age"`` — main effects and two-way interactions
        (:mod:`osteobiome.stats.formula`; numeric variables standardized before interaction columns are
        formed). Interaction rows have ``metadata`` = the term (``bmd:sex``) and ``value`` = R's coefficient
        name (``bmd:sexM``).
    group : sequence of str, optional
        Factors tested as a whole (all levels at once, F test; linear model only): rows with ``value`` =
        ``"(all levels)"``, BH over features per factor.
    ordered : sequence of str, optional
        Factors coded level against previous level (successive differences), in their category order (sorted
        otherwise); the row of level ``k`` compares it with level ``k − 1``.
    contrasts : DataFrame, optional
        Rows = named contrasts, columns = coefficient names (``siteB``, ``bmd:sexM``) with their weights; rows
        ``metadata`` = ``"contrast"``, ``value`` = the name, BH over every contrast × feature (linear model only).
    keep_tables : bool
        Keep the intermediate (samples × features) tables when the table runs as one in-memory block (the CLI
        writes them to ``features/``; the study's set-level tests use the transformed one).
    **options
        Override fields of the preset (see :class:`~osteobiome.association.options.AssociationOptions`):
        ``normalization``, ``transform``, ``min_prevalence``, ``model``, ``compositional`` …

    Returns
    -------
    Association
        ``results`` (the table :func:`associate` returns), the ``design``, the ``options`` run, ``n_blocks`` and,
        with ``keep_tables`` and one in-memory block, ``filtered`` / ``normalized`` / ``transformed``.
    """
    random = list(random)
    opts = AssociationOptions.resolve(preset, options).fitted(bool(random))
    if group or contrasts is not None:
        check_supported(opts, random, "--group" if group else "--contrast")
    scheduler = parse_scheduler(scheduler)
    source, metadata = aligned_source(features, metadata)
    n = len(source.samples)
    check_samples(n)
    copies = BLOCK_COPIES[opts.model]

    depth_wanted = opts.model == "twopart" and opts.depth_covariate != "none"
    stats_block = block_size or (len(source.features) if source.in_memory else auto_block_size(n, copies))
    stats = source.stats(opts.min_abundance, stats_block, check_integer=depth_wanted)
    _check_values(stats.minimum, opts)
    kept = np.flatnonzero(stats.kept(n, opts.min_prevalence, opts.min_variance))
    check_kept(kept.size, len(source.features), opts)
    size = _block_size(block_size, n, kept.size, copies, source)
    n_blocks = math.ceil(kept.size / size)
    _check_blocks(n_blocks, opts)
    whole = n_blocks == 1 and source.in_memory
    design = _design(metadata, fixed, formula, ordered, reference, opts, random)
    depth = None
    if depth_wanted and stats.integer:
        depth = source.depth(size)[design.rows]
    job = BlockJob(
        design.matrix,
        design.rows,
        opts,
        scale=None if whole else source.scales(kept, opts.normalization, size),
        whole=whole,
        depth=depth,
        groups=tuple(design.groups[name] for name in random),
        workers=workers,
        keep=keep_tables and whole and scheduler is None,
        private=source.private_blocks(kept, size),
    )
    outputs = run_blocks(fit_block, source.blocks(kept, size, consume=True), job, scheduler)
    fit = finish([o.fit for o in outputs], opts.variance, opts.compositional, opts.compositional_prevalence, opts.joint)
    names = source.features[kept]
    nonzero = np.concatenate([o.fit.nonzero for o in outputs])
    results = results_table(names, design, fit, n, nonzero, opts)
    warn_rare(results, design.matrix.shape[1] + (1 if random else 0))
    if group or contrasts is not None:  # concat drops attrs: they are set below
        extra = omnibus_rows(names, design, fit, n, nonzero, group, contrasts)
        results = pd.concat([results, extra], ignore_index=True).sort_values("qval", kind="stable", na_position="last")
        results = results.reset_index(drop=True)
    results.attrs.update(options=opts.as_dict(), model=fitted_model(opts.model, random), random_effects=list(random))
    if outputs[0].tables is None:
        return Association(results, design, opts, n_blocks=n_blocks)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=source.samples, columns=names, copy=False)

    filtered, normalized, transformed = (frame(values) for values in outputs[0].tables)
    return Association(results, design, opts, filtered, normalized, transformed)


def _design(
    metadata: pd.DataFrame,
    fixed: Sequence[str],
    formula: str | None,
    ordered: Sequence[str],
    reference: Mapping[str, str] | None,
    opts: AssociationOptions,
    random: Sequence[str],
) -> Design:
    """The model's design from ``fixed`` (``~ a + b …``) or from ``formula`` (interactions, ordered factors)."""
    if formula is not None and list(fixed):
        raise InputError("give the model either as --fixed variables or as --formula, not both.")
    if formula is None and list(ordered):
        formula = "~ " + " + ".join(fixed) if list(fixed) else None
    if formula is None:
        return model_design(metadata, fixed, reference, opts.standardize, opts.require_reference, random)
    return build_formula_design(metadata, formula, reference, opts.standardize, opts.require_reference, random, ordered)


@parameters_of(run_association, omit=("keep_tables",))
def associate(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Test every feature against the ``fixed`` metadata variables; one row per feature × coefficient
    (:func:`run_association`'s result table).

    Returns
    -------
    DataFrame
        Columns ``feature metadata value coef stderr N N.not.0 pval qval N.used df log10.pval`` (MaAsLin2's
        first), sorted by q-value; ``coef`` is per SD of a standardized numeric variable (log2 fold change for
        the LOG transform). With ``model='twopart'`` ``coef``/``stderr`` are the abundance part's, ``pval`` is
        the joint p-value, and ``pval.abundance coef.prevalence stderr.prevalence pval.prevalence N.present``
        are added. ``attrs["options"]`` holds the options run.

    Examples
    --------
    >>> from osteobiome import associate
    >>> from osteobiome.simulate import simulate_cohort
    >>> cohort = simulate_cohort("mros", n=120, seed=1).to_cohort()
    >>> table = associate(cohort, fixed=["tibia_Ct_vBMD", "age"], preset="maaslin2")
    >>> list(table.columns[:5])
    ['feature', 'metadata', 'value', 'coef', 'stderr']
    """
    return run_association(*args, keep_tables=False, **kwargs).results
