"""The feature table of an association run, aligned to the metadata, read in blocks of features.

A :class:`Source` is the samples with metadata × all features, held as a dense array, a CSC matrix (sparse
tables are never densified whole) or a feature store on disk (:mod:`osteobiome.io.store`, read block by block,
in the workers when blocks run on dask). Whole-table quantities come from one pass over the non-zeros:

- :func:`column_stats` — prevalence, variance (``var = (Σ_nz (x − x̄)² + (n − nnz) x̄²) / (n − 1)``) and the
  smallest value of every feature, giving MaAsLin2's filter;
- :meth:`Source.scales` — per-sample TSS totals over the retained features (``max(ε, Σ_j x_j)``) or the CLR
  mean of ``ln(1 + x_j)``;
- :meth:`Source.depth` — reads per sample over all features when the table holds counts (two-part depth).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview
from osteobiome.io.align import align_samples, text_ids
from osteobiome.io.cohort import Cohort
from osteobiome.io.store import FeatureStore

Matrix = sp.spmatrix | np.ndarray


@dataclass(frozen=True)
class ColumnStats:
    """Per feature: ``above`` = #samples with x > min_abundance and ``variance`` (ddof 1, NaN ignored) of x
    divided by ``scale`` (1, or max |x| where the plain variance could have underflowed, e.g. values near
    1e-300; the raw variance is ``variance · scale²``); ``minimum`` = min(0, smallest value of the table), to check signs; ``integer``: every value
    is a whole number."""

    above: np.ndarray
    variance: np.ndarray
    scale: np.ndarray
    minimum: float
    integer: bool = True

    @classmethod
    def concat(cls, parts: Sequence[ColumnStats]) -> ColumnStats:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("above", "variance", "scale")),
            minimum=min(p.minimum for p in parts),
            integer=all(p.integer for p in parts),
        )

    def kept(self, n_samples: int, min_prevalence: float, min_variance: float) -> np.ndarray:
        """MaAsLin2's filter (strict inequalities): above > n·min_prevalence and variance > min_variance."""
        variance = np.nan_to_num(self.variance, nan=-np.inf)
        with np.errstate(over="ignore"):
            varies = variance > 0 if min_variance == 0 else variance * self.scale**2 > min_variance
        return (self.above > n_samples * min_prevalence) & varies


#: Variances at or below this may have underflowed (values near 1e-150 and smaller square to nothing).
_UNDERFLOW = 1e-250


def _integer(values: np.ndarray) -> bool:
    return bool(np.array_equal(values, np.round(values)))


def _column_slices(m: int, n: int, cells: int = 32768) -> list[slice]:
    """Consecutive column ranges ``0 … m`` of about ``cells`` values each (n rows)."""
    step = max(1, cells // max(n, 1))
    return [slice(a, min(a + step, m)) for a in range(0, m, step)]


def column_stats(X: Matrix, min_abundance: float = 0.0, check_integer: bool = False) -> ColumnStats:
    """:class:`ColumnStats` of a samples × features matrix; sparse input is scanned once through its non-zeros.
    ``integer`` is only checked when ``check_integer`` (else True)."""
    n, m = X.shape
    if not sp.issparse(X):
        X = np.asarray(X, dtype=float)
        lowest = X.min() if X.size else 0.0
        complete = not np.isnan(lowest)  # min propagates NaN
        finite = X if complete else X[np.isfinite(X)]
        scale = np.ones(m)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if n <= 1:
                variance = np.zeros(m)
            else:
                if complete:  # by blocks of columns: the same numbers, without a table-sized temporary
                    variance = np.concatenate([X[:, cols].var(axis=0, ddof=1) for cols in _column_slices(m, n)])
                else:
                    variance = np.nanvar(X, axis=0, ddof=1)
                # only where the variance may have underflowed: recompute it on x / max|x| (rare, off the hot path)
                tiny = np.flatnonzero(~(variance > _UNDERFLOW))
                if tiny.size:
                    top = np.nanmax(np.abs(X[:, tiny]), axis=0, initial=0.0)
                    scale[tiny] = np.where(top > 0, top, 1.0)
                    part = X[:, tiny] / scale[tiny]
                    variance[tiny] = part.var(axis=0, ddof=1) if complete else np.nanvar(part, axis=0, ddof=1)
        return ColumnStats(
            np.count_nonzero(X > min_abundance, axis=0),
            variance,
            scale,
            min(0.0, float(lowest if complete else finite.min(initial=0.0))),
            _integer(finite) if check_integer else True,
        )
    coo = X.tocoo()
    data, cols = coo.data, coo.col
    stored = np.bincount(cols, minlength=m)
    above = np.bincount(cols, weights=data > min_abundance, minlength=m).astype(int)
    if min_abundance < 0:  # implicit zeros are above a negative threshold
        above += n - stored
    scale = np.zeros(m)
    np.maximum.at(scale, cols, np.abs(data))
    scale = np.where(scale > 0, scale, 1.0)
    scaled = data / scale[cols]
    mean = np.bincount(cols, weights=scaled, minlength=m) / n
    squares = np.bincount(cols, weights=(scaled - mean[cols]) ** 2, minlength=m) + (n - stored) * mean**2
    variance = squares / (n - 1) if n > 1 else np.zeros(m)
    return ColumnStats(above, variance, scale, float(data.min(initial=0.0)), _integer(data) if check_integer else True)


def sample_sums(X: Matrix, normalization: str) -> np.ndarray:
    """Per-sample sums over the features of ``X``: ``Σ_j x_ij`` (TSS, NaN ignored) or ``Σ_j ln(1 + x_ij)`` (CLR)."""
    if normalization == "CLR":
        X = X.log1p() if sp.issparse(X) else np.log1p(X)
    if sp.issparse(X):
        return np.asarray(X.sum(axis=1)).ravel()
    return np.nansum(X, axis=1)


@dataclass(frozen=True)
class StoreBlock:
    """A block to read inside a task: store features ``cols`` (sorted) on sample ``rows`` (None = all)."""

    store: FeatureStore
    cols: np.ndarray
    rows: np.ndarray | None = None

    def load(self) -> sp.csc_matrix:
        block = self.store.columns(int(self.cols[0]), int(self.cols[-1]) + 1)[:, self.cols - self.cols[0]]
        return block if self.rows is None else block[self.rows]


def load(item: StoreBlock | Matrix) -> Matrix:
    """A block's values (read from the store inside the task, or already in memory)."""
    return item.load() if isinstance(item, StoreBlock) else item


def chunks(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """``indices`` in consecutive pieces of ``size``."""
    return (indices[i : i + size] for i in range(0, len(indices), size))


@dataclass(frozen=True)
class Source:
    """Samples × features input restricted to the metadata's samples: in memory (CSC / dense) or a store."""

    samples: pd.Index
    features: pd.Index
    matrix: Matrix | None = None
    store: FeatureStore | None = None
    rows: np.ndarray | None = None  # store rows used (None = all)
    private: bool = False  # ``matrix`` (dense) is a copy made for this run: blocks(consume=True) may reorder it

    @property
    def in_memory(self) -> bool:
        return self.store is None

    def columns(self, cols: np.ndarray) -> Matrix:
        """Samples × ``cols`` (sorted feature indices), from memory or read from the store."""
        if self.store is not None:
            return StoreBlock(self.store, cols, self.rows).load()
        return self.matrix if len(cols) == self.matrix.shape[1] else self.matrix[:, cols]  # all features: no copy

    def _front(self, kept: np.ndarray) -> np.ndarray:
        """Samples × ``kept`` (sorted) as a view of the (column-major) private matrix, the columns moved to its
        front in place by pieces (a later piece reads only columns at or after its own positions), so no second
        table-sized array is made. The matrix is changed: the source is used up."""
        if len(kept) == self.matrix.shape[1]:
            return self.matrix
        columns = self.matrix.T  # features × samples, rows contiguous
        for piece in _column_slices(len(kept), columns.shape[1]):
            columns[piece] = columns[kept[piece]]
        return columns[: len(kept)].T

    def stats(self, min_abundance: float, block_size: int, check_integer: bool = False) -> ColumnStats:
        """Filter statistics: one pass over the non-zeros (block by block from a store)."""
        if self.store is None:
            return column_stats(self.matrix, min_abundance, check_integer)
        every = np.arange(len(self.features))
        return ColumnStats.concat(
            [column_stats(self.columns(cols), min_abundance, check_integer) for cols in chunks(every, block_size)]
        )

    def scales(self, kept: np.ndarray, normalization: str, block_size: int) -> np.ndarray | None:
        """Per-sample scale over the retained features, one pass: TSS totals ``max(ε, Σ_j x_j)`` (as
        :func:`~osteobiome.stats.preprocess.normalize`), CLR ``mean_j ln(1 + x_j)``; None for NONE."""
        if normalization == "NONE":
            return None
        sums = sum(sample_sums(self.columns(cols), normalization) for cols in chunks(kept, block_size))
        return np.maximum(np.finfo(float).eps, sums) if normalization == "TSS" else sums / len(kept)

    def depth(self, block_size: int) -> np.ndarray:
        """Reads per sample over every feature."""
        every = np.arange(len(self.features))
        return sum(sample_sums(self.columns(cols), "TSS") for cols in chunks(every, block_size))

    def private_blocks(self, kept: np.ndarray, block_size: int) -> bool:
        """Whether the dense in-memory blocks of :meth:`blocks` are this run's own, which the fit may overwrite:
        a private matrix, or column subsets (copies) of the caller's."""
        return (
            self.in_memory
            and not sp.issparse(self.matrix)
            and (self.private or block_size < len(kept) or len(kept) < len(self.features))
        )

    def blocks(self, kept: np.ndarray, block_size: int, consume: bool = False) -> Iterator[StoreBlock | Matrix]:
        """Task inputs: store blocks are read inside the task; in-memory blocks are column slices. ``consume``:
        the source is not read again, so a private dense matrix may give its one block in place
        (:meth:`_front`)."""
        if consume and self.private and block_size >= len(kept) and self.matrix.flags.f_contiguous:
            yield self._front(kept)
            return
        for cols in chunks(kept, block_size):
            yield StoreBlock(self.store, cols, self.rows) if self.store is not None else self.columns(cols)


def _dataframe_matrix(table: pd.DataFrame) -> tuple[np.ndarray, bool]:
    """The table's values as floats, and whether they are a copy (not a view of the table's own memory)."""
    values = table.to_numpy()  # the columns' common dtype: numeric only when every column is
    if values.dtype.kind in "iuf":
        return values.astype(float), True
    bad = [dtype for dtype in set(table.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    if bad:
        raise InputError(
            f"feature table has non-numeric columns {preview(table.columns[table.dtypes.isin(bad)])}; features must be numbers."
        )
    return table.to_numpy(dtype=float), False


def _features_as_rows(table: pd.DataFrame, metadata: pd.DataFrame) -> bool:
    """A DataFrame holds features as rows when the metadata ids are among its columns, not its index."""
    if table.index.equals(metadata.index):
        return False
    ids = metadata.index.astype(str)
    return not table.index.astype(str).isin(ids).any() and table.columns.astype(str).isin(ids).any()


def aligned_source(features: Any, metadata: pd.DataFrame | None) -> tuple[Source, pd.DataFrame]:
    """:class:`Source` of ``features`` (Cohort, samples × features DataFrame, feature store or its path) on the
    samples that have ``metadata`` (a Cohort's own metadata when None), and the metadata in the table's order."""
    store = None
    if isinstance(features, str | Path):
        store = FeatureStore.open(features)
    elif isinstance(features, FeatureStore):
        store = features
    private = False  # the dense matrix is a copy made here (True) or the caller's array (False)
    if store is not None:
        samples, names, matrix = store.samples, store.features, None
    elif isinstance(features, Cohort):
        samples, names, matrix = features.samples, features.features, features.X
        metadata = features.metadata if metadata is None else metadata
    elif isinstance(features, pd.DataFrame):
        if metadata is not None and _features_as_rows(features, metadata):
            features = features.T
        samples, names, (matrix, private) = features.index, features.columns, _dataframe_matrix(features)
    else:
        from osteobiome.io.load import load_cohort
        from osteobiome.io.objects import is_table_object

        if not is_table_object(features):
            raise InputError(
                f"features must be a Cohort, a DataFrame, a biom.Table, an AnnData object or a feature store path, "
                f"not {type(features).__name__}."
            )
        cohort = load_cohort(features, metadata)
        samples, names, matrix = cohort.samples, cohort.features, cohort.X
        metadata = cohort.metadata if metadata is None else metadata
    if metadata is None:
        raise InputError("no metadata given; pass a DataFrame indexed by sample id (or a Cohort that has it).")
    used, metadata = align_samples(pd.Index(samples), metadata)
    samples = text_ids(pd.Index(samples))
    names = text_ids(pd.Index(names))
    rows = np.flatnonzero(used)
    if store is not None:
        return Source(samples[rows], names, store=store, rows=None if used.all() else rows), metadata
    if not used.all():
        matrix, private = matrix[rows], True
    if sp.issparse(matrix):
        return Source(samples[rows], names, matrix=matrix.tocsc()), metadata
    dense = np.asarray(matrix, dtype=float)
    return Source(samples[rows], names, matrix=dense, private=private or dense is not matrix), metadata
