"""The LM association path for large sparse tables: the feature axis in blocks, memory bounded by a block.

Same pipeline and numbers as :func:`osteobiome.association.pipeline.run_association` for linear models (``model="lm"``,
no compositional correction, fixed effects), in three passes over the non-zeros and never a dense copy of
the table:

1. :func:`column_stats` — prevalence, mean and variance of every feature from its non-zeros
   (``var = (Σ_nz (x − x̄)² + (n − nnz) x̄²) / (n − 1)``), giving MaAsLin2's filter.
2. :func:`sample_sums` — per-sample totals over the retained features (TSS: ``x / max(ε, Σ_j x_j)``) or
   the per-sample mean of ``ln(x + 1)`` (CLR), one pass.
3. :func:`fit_block` per block of ``block_size`` retained features: densify (the only dense step: the
   transformed block is dense since log 0 ≠ 0), normalize with the per-sample scale, transform (LOG's
   half-minimum pseudo-count is per feature, so per block), OLS by :func:`~osteobiome.stats.lm.fit_lm`
   (HC3 standard errors by :func:`~osteobiome.association.variants.refine_linear`, also per feature).

Blocks run through :func:`osteobiome.compute.blocks.run_blocks` (this process, or dask threads / processes /
cluster); the per-block fits are concatenated and :func:`osteobiome.association.pipeline.results_table` builds the
table (BH over all blocks at once). Input: a :class:`~osteobiome.io.cohort.Cohort` (CSR or dense), a samples ×
features DataFrame, or a feature store (:mod:`osteobiome.io.store`, read block by block in the workers).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.association.pipeline import Association, align_samples, resolve_options, results_table
from osteobiome.association.variants import VariantFit, refine_linear
from osteobiome.compute.blocks import parse_scheduler, run_blocks
from osteobiome.compute.memory import BLOCK_BUDGET, check_memory, dense_bytes
from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.io.store import FeatureStore
from osteobiome.stats.fittable import check_samples, model_design
from osteobiome.stats.lm import LMResult, fit_lm
from osteobiome.stats.preprocess import transform

#: Model options the blocked path supports (``variance`` may be classical or HC3: both are per feature).
BLOCKED_MODEL = {"model": "lm", "compositional": "none", "depth_covariate": "none"}
#: Normalizations whose per-sample scale comes from one pass over the non-zeros.
BLOCKED_NORMALIZATIONS = ("TSS", "CLR", "NONE")
#: Dense samples × block copies alive while one block is fitted (raw, normalized, transformed, Y, residuals, …).
BLOCK_COPIES = 8

Matrix = sp.spmatrix | np.ndarray


# ------------------------------------------------------------------ one-pass statistics
@dataclass(frozen=True)
class ColumnStats:
    """Per feature: ``above`` = #samples with x > min_abundance and ``variance`` (ddof 1); ``minimum`` =
    min(0, smallest value of the table), to check signs."""

    above: np.ndarray
    variance: np.ndarray
    minimum: float

    @classmethod
    def concat(cls, parts: Sequence[ColumnStats]) -> ColumnStats:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("above", "variance")),
            minimum=min(p.minimum for p in parts),
        )

    def kept(self, n_samples: int, min_prevalence: float, min_variance: float) -> np.ndarray:
        """MaAsLin2's filter, as :func:`osteobiome.stats.preprocess.filter_features`: above > n·min_prevalence and
        variance > min_variance."""
        if not 0.0 <= min_prevalence <= 1.0:
            raise InputError(f"min_prevalence {min_prevalence} must be a fraction between 0 and 1 (e.g. 0.1 for 10%).")
        return (self.above > n_samples * min_prevalence) & (np.nan_to_num(self.variance, nan=-np.inf) > min_variance)


def column_stats(X: Matrix, min_abundance: float = 0.0) -> ColumnStats:
    """:class:`ColumnStats` of a samples × features matrix; sparse input is scanned once through its non-zeros."""
    n, m = X.shape
    if not sp.issparse(X):
        X = np.asarray(X, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = X.var(axis=0, ddof=1) if n > 1 else np.zeros(m)
        return ColumnStats(np.sum(X > min_abundance, axis=0), variance, min(0.0, float(X.min())))
    coo = X.tocoo()
    data, cols = coo.data, coo.col
    stored = np.bincount(cols, minlength=m)
    above = np.bincount(cols, weights=data > min_abundance, minlength=m).astype(int)
    if min_abundance < 0:  # implicit zeros are above a negative threshold
        above += n - stored
    mean = np.bincount(cols, weights=data, minlength=m) / n
    squares = np.bincount(cols, weights=(data - mean[cols]) ** 2, minlength=m) + (n - stored) * mean**2
    variance = squares / (n - 1) if n > 1 else np.zeros(m)
    return ColumnStats(above, variance, float(data.min(initial=0.0)))


def sample_sums(X: Matrix, normalization: str) -> np.ndarray:
    """Per-sample sums over the features of ``X``: ``Σ_j x_ij`` (TSS) or ``Σ_j ln(1 + x_ij)`` (CLR)."""
    if normalization == "CLR":
        X = X.log1p() if sp.issparse(X) else np.log1p(X)
    return np.asarray(X.sum(axis=1)).ravel()


# ------------------------------------------------------------------ block sources
@dataclass(frozen=True)
class StoreBlock:
    """A block to read inside a task: store features ``cols`` (sorted) on sample ``rows`` (None = all)."""

    store: FeatureStore
    cols: np.ndarray
    rows: np.ndarray | None = None

    def load(self) -> sp.csc_matrix:
        block = self.store.columns(int(self.cols[0]), int(self.cols[-1]) + 1)[:, self.cols - self.cols[0]]
        return block if self.rows is None else block[self.rows]


def _load(item: StoreBlock | Matrix) -> Matrix:
    return item.load() if isinstance(item, StoreBlock) else item


# ------------------------------------------------------------------ fitting one block
@dataclass(frozen=True)
class BlockJob:
    """What every block needs besides its values: the design, the rows it uses and the preprocessing."""

    design: np.ndarray
    rows: np.ndarray
    normalization: str
    transform: str
    scale: np.ndarray | None
    variance: str = "classical"


@dataclass(frozen=True)
class BlockFit:
    """One block's fit and its number of values > 0 per feature (``N.not.0``)."""

    fit: LMResult | VariantFit
    nonzero: np.ndarray


def fit_block(job: BlockJob, item: StoreBlock | Matrix) -> BlockFit:
    """Normalize, transform and fit one block of retained features (samples × block)."""
    block = _load(item)
    if sp.issparse(block) and job.transform == "LOG" and job.normalization in ("TSS", "NONE"):
        transformed, nonzero = sparse_log(block, job.scale)
    else:
        raw = block.toarray() if sp.issparse(block) else np.asarray(block, dtype=float)
        if job.normalization == "TSS":
            values = raw / job.scale[:, None]
        elif job.normalization == "CLR":
            values = np.log1p(raw) - job.scale[:, None]
        else:
            values = raw
        transformed, nonzero = transform(values, job.transform), np.sum(raw > 0, axis=0)
    Y = transformed if job.rows.all() else transformed[job.rows]
    fit = fit_lm(Y, job.design)
    if job.variance != "classical":  # per feature, so per block (compositional corrections are not)
        fit = refine_linear(fit, Y, job.design, job.variance, "none", mixed=False)
    return BlockFit(fit, nonzero)


def sparse_log(block: sp.spmatrix, totals: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~osteobiome.stats.preprocess.transform` ``LOG`` of ``block / totals`` (TSS; None = no scaling) from the
    non-zeros: every cell starts at log2(½ · smallest positive value of its feature) and only the non-zeros
    are computed, so the cost is one dense fill plus O(nnz). Also returns #values > 0 per feature."""
    csc = sp.csc_matrix(block)
    n, b = csc.shape
    cols = np.repeat(np.arange(b), np.diff(csc.indptr))
    values = csc.data / totals[csc.indices] if totals is not None else csc.data
    if values.size and values.min() < 0:
        raise InputError("LOG transform needs non-negative values; use --transform NONE after CLR.")
    positive = values > 0
    stored = np.diff(csc.indptr) > 0
    smallest = np.full(b, np.inf)
    if values.size:  # per-feature minimum over the positive values (segments of the CSC data)
        smallest[stored] = np.minimum.reduceat(np.where(positive, values, np.inf), csc.indptr[:-1][stored])
    if np.any(~np.isfinite(smallest)):
        raise InputError("LOG transform: a feature has no non-zero value; filter features first (--min-prevalence).")
    out = np.empty((n, b), order="F")
    out[:] = np.log2(smallest / 2.0)
    out[csc.indices[positive], cols[positive]] = np.log2(values[positive])
    return out, np.bincount(cols[positive], minlength=b)


def concat_fits(parts: Sequence[LMResult | VariantFit]) -> LMResult:
    """One :class:`LMResult` from per-block results (features along the last axis)."""
    return LMResult(*(np.concatenate([getattr(p, f.name) for p in parts], axis=-1) for f in fields(LMResult)))


# ------------------------------------------------------------------ the table, aligned to the metadata
@dataclass(frozen=True)
class _Table:
    """Samples × features input restricted to the metadata's samples: in memory (CSC / dense) or a store."""

    samples: pd.Index
    features: pd.Index
    matrix: Matrix | None = None
    store: FeatureStore | None = None
    rows: np.ndarray | None = None  # store rows used (None = all)

    def columns(self, cols: np.ndarray) -> Matrix:
        """Samples × ``cols`` (sorted feature indices), from memory or read from the store."""
        return self.matrix[:, cols] if self.store is None else StoreBlock(self.store, cols, self.rows).load()

    def stats(self, min_abundance: float, block_size: int) -> ColumnStats:
        """Filter statistics: one pass over the non-zeros (block by block from a store)."""
        if self.store is None:
            return column_stats(self.matrix, min_abundance)
        n = self.store.shape[1]
        return ColumnStats.concat([column_stats(self.columns(cols), min_abundance) for cols in _chunks(np.arange(n), block_size)])

    def scales(self, kept: np.ndarray, normalization: str, block_size: int) -> np.ndarray | None:
        """Per-sample scale over the retained features, one pass: TSS totals ``max(ε, Σ_j x_j)`` (as
        :func:`~osteobiome.stats.preprocess.normalize`), CLR ``mean_j ln(1 + x_j)``; None for NONE."""
        if normalization == "NONE":
            return None
        sums = sum(sample_sums(self.columns(cols), normalization) for cols in _chunks(kept, block_size))
        return np.maximum(np.finfo(float).eps, sums) if normalization == "TSS" else sums / len(kept)

    def blocks(self, kept: np.ndarray, block_size: int) -> Iterator[StoreBlock | Matrix]:
        """Task inputs: store blocks are read inside the task; in-memory blocks are column slices."""
        for cols in _chunks(kept, block_size):
            yield StoreBlock(self.store, cols, self.rows) if self.store is not None else self.matrix[:, cols]


def _chunks(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    return (indices[i : i + size] for i in range(0, len(indices), size))


def _aligned_table(features: Any, metadata: pd.DataFrame | None) -> tuple[_Table, pd.DataFrame]:
    store = None
    if isinstance(features, str | Path):
        store = FeatureStore.open(features)
    elif isinstance(features, FeatureStore):
        store = features
    if store is not None:
        samples, names, matrix = store.samples, store.features, None
    elif isinstance(features, Cohort):
        samples, names, matrix = features.samples, features.features, features.X
        metadata = features.metadata if metadata is None else metadata
    elif isinstance(features, pd.DataFrame):
        samples, names = features.index.astype(str), features.columns.astype(str)
        matrix = features.to_numpy(dtype=float)
        if np.isnan(matrix).any():
            raise InputError("the feature table has missing values; use 0 for absent features.")
    else:
        raise InputError(
            f"features must be a Cohort, a samples × features DataFrame or a feature store path, not {type(features).__name__}."
        )
    used, metadata = align_samples(samples, metadata)
    samples = pd.Index(samples.astype(str))
    rows = np.flatnonzero(used)
    if store is not None:
        table = _Table(samples[rows], pd.Index(names.astype(str)), store=store, rows=None if used.all() else rows)
    else:
        matrix = matrix[rows] if not used.all() else matrix
        matrix = matrix.tocsc() if sp.issparse(matrix) else np.asarray(matrix, dtype=float)
        table = _Table(samples[rows], pd.Index(names.astype(str)), matrix=matrix)
    return table, metadata


def auto_block_size(n_samples: int, budget: int = BLOCK_BUDGET) -> int:
    """Features per block so that one block's dense copies stay within ``budget`` bytes."""
    return max(1, int(budget // dense_bytes(n_samples, 1, BLOCK_COPIES)))


@dataclass(frozen=True)
class BlockedAssociation:
    """The result table of the blocked path and the options used (no dense intermediate tables)."""

    results: pd.DataFrame
    options: dict[str, Any]
    filtered: None = None

    significant = Association.significant


def associate_blocked(
    features: Cohort | pd.DataFrame | FeatureStore | str | Path,
    metadata: pd.DataFrame | None,
    fixed: Sequence[str],
    reference: Mapping[str, str] | None = None,
    preset: str = "default",
    *,
    block_size: int | None = None,
    scheduler: object = None,
    **options: Any,
) -> pd.DataFrame:
    """:func:`osteobiome.association.pipeline.associate` (linear models with fixed effects, classical or HC3 variance, no
    compositional correction; TSS/CLR/NONE) with the feature axis in blocks.

    ``block_size``: retained features per block (default: as many as fit :data:`BLOCK_BUDGET`);
    ``scheduler``: None (this process), ``"threads"``, ``"processes"``, a dask scheduler address or a
    ``distributed.Client``. Results equal ``associate(...)``'s to rounding (about 1e-15 relative).
    """
    return run_blocked(
        features, metadata, fixed, reference, preset, block_size=block_size, scheduler=scheduler, **options
    ).results


def run_blocked(
    features: Cohort | pd.DataFrame | FeatureStore | str | Path,
    metadata: pd.DataFrame | None,
    fixed: Sequence[str],
    reference: Mapping[str, str] | None = None,
    preset: str = "default",
    *,
    block_size: int | None = None,
    scheduler: object = None,
    **options: Any,
) -> BlockedAssociation:
    """:func:`associate_blocked`'s table and the resolved options (what the CLI writes)."""
    if options.pop("random", ()):
        raise InputError("random effects are not available in the blocked path yet; drop --block-size/--scheduler to fit them.")
    opts = resolve_options(preset, options)
    unsupported = {k: opts[k] for k, v in BLOCKED_MODEL.items() if opts[k] != v}
    if unsupported:
        shown = ", ".join(f"{k}={v!r}" for k, v in unsupported.items())
        raise InputError(
            f"the blocked path (--block-size/--scheduler, feature stores) fits linear models without compositional "
            f"correction, not {shown}; use --preset maaslin2 (or model='lm', compositional='none'), or drop those options."
        )
    if opts["normalization"] not in BLOCKED_NORMALIZATIONS:
        raise InputError(
            f"normalization {opts['normalization']} needs the whole table at once; use one of "
            f"{', '.join(BLOCKED_NORMALIZATIONS)} with --block-size/--scheduler, or drop those options."
        )
    scheduler = parse_scheduler(scheduler)
    table, metadata = _aligned_table(features, metadata)
    n = len(table.samples)
    if block_size is None:
        block_size = auto_block_size(n)
    elif block_size < 1:
        raise InputError(f"--block-size {block_size}: give a positive number of features per block.")
    block_size = min(block_size, len(table.features))
    check_memory(
        dense_bytes(n, block_size, BLOCK_COPIES),
        f"a dense block of {n} samples × {block_size} features",
        f"a smaller --block-size (e.g. {auto_block_size(n)})",
    )

    stats = table.stats(opts["min_abundance"], block_size)
    if stats.minimum < 0 and opts["normalization"] == "TSS":
        raise InputError(f"{opts['normalization']} normalization needs non-negative abundances; the table has negative values.")
    if opts["normalization"] == "CLR" and stats.minimum <= -1:
        raise InputError("CLR needs values > -1 (it takes ln(x + 1)); pass raw counts or relative abundances.")
    check_samples(n)
    kept = np.flatnonzero(stats.kept(n, opts["min_prevalence"], opts["min_variance"]))
    if kept.size == 0:
        raise InputError(
            f"all {len(table.features)} features were filtered out (min_prevalence={opts['min_prevalence']}, "
            f"min_abundance={opts['min_abundance']}, min_variance={opts['min_variance']}); lower the thresholds."
        )
    design = model_design(metadata, fixed, reference, opts["standardize"], preset, ())
    scale = table.scales(kept, opts["normalization"], block_size)
    job = BlockJob(design.matrix, design.rows, opts["normalization"], opts["transform"], scale, opts["variance"])
    parts = run_blocks(fit_block, table.blocks(kept, block_size), job, scheduler)
    fit = concat_fits([p.fit for p in parts])
    nonzero = np.concatenate([p.nonzero for p in parts])
    return BlockedAssociation(results_table(table.features[kept], design, fit, n, nonzero, opts), opts)
