"""One block of features through the per-feature stage of the pipeline: normalize with the global per-sample
scales, transform, fit (linear, linear mixed or two-part), keep the covariance pieces of the global stage.

:func:`fit_block` is a module-level function of (:class:`BlockJob`, block) so that dask can ship it to worker
processes or a cluster (:func:`osteobiome.compute.executors.run_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from osteobiome.association._source import Matrix, StoreBlock, load
from osteobiome.association.options import AssociationOptions
from osteobiome.association.variants import BlockFit, linear_block, two_part_block
from osteobiome.errors import InputError
from osteobiome.stats.lm import fit_lm
from osteobiome.stats.preprocess import normalize, transform


@dataclass(frozen=True)
class BlockJob:
    """What every block needs besides its values.

    ``design``: the fixed-effects matrix on the used ``rows`` (boolean over the source's samples); ``scale``:
    per-sample TSS totals or CLR log-means over all retained features (None for NONE, or when ``whole``);
    ``whole``: the block is the whole retained table, normalized as such (CSS and TMM need that); ``depth``:
    reads per used sample for the two-part depth covariate (or None); ``groups``: random-intercept codes per
    used row; ``keep``: return the block's filtered, normalized and transformed values too; ``private``: the
    in-memory blocks are copies made for this run (column subsets), which the fit may overwrite."""

    design: np.ndarray
    rows: np.ndarray
    options: AssociationOptions
    scale: np.ndarray | None = None
    whole: bool = False
    depth: np.ndarray | None = None
    groups: tuple[np.ndarray, ...] = ()
    workers: int = 1
    keep: bool = False
    private: bool = False


@dataclass(frozen=True)
class BlockOutput:
    """A block's fit (with ``nonzero``) and, when asked, its (filtered, normalized, transformed) values."""

    fit: BlockFit
    tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


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


def _normalized(raw: np.ndarray, job: BlockJob, overwrite: bool) -> np.ndarray:
    """The block normalized with the global per-sample scales (or as the whole table); in ``raw`` itself when
    ``overwrite``."""
    method = job.options.normalization
    if job.whole:
        return normalize(raw, method, overwrite=overwrite)
    out = raw if overwrite else None
    if method == "TSS":
        return np.divide(raw, job.scale[:, None], out=out)
    if method == "CLR":
        return np.subtract(np.log1p(raw, out=out), job.scale[:, None], out=out)
    return raw if overwrite else raw.copy()


def _rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]`` (boolean ``rows``), without a copy when every row is used."""
    return values if rows.all() else values[rows]


def fit_block(job: BlockJob, item: StoreBlock | Matrix) -> BlockOutput:
    """Normalize, transform and fit one block of retained features (samples × block)."""
    opts = job.options
    block = load(item)
    two_part = opts.model == "twopart"
    tables = None
    if sp.issparse(block) and not (two_part or job.keep or job.whole) and opts.transform == "LOG" and opts.normalization in ("TSS", "NONE"):
        transformed, nonzero = sparse_log(block, job.scale)
    else:
        raw = block.toarray() if sp.issparse(block) else np.array(block, dtype=float, copy=job.keep)
        nonzero = np.sum(raw > 0, axis=0)
        normalized = _normalized(raw, job, overwrite=not job.keep and (job.private or sp.issparse(block)))
        transformed = transform(normalized, opts.transform, overwrite=not job.keep) if (job.keep or not two_part) else None
        if job.keep:
            tables = (raw, normalized, transformed)
    if two_part:
        fit = two_part_block(
            _rows(normalized, job.rows),
            job.design,
            opts.compositional,
            compositional_prevalence=opts.compositional_prevalence,
            depth=job.depth,
            depth_covariate=opts.depth_covariate,
            variance=opts.variance,
            groups=list(job.groups),
            augment=opts.augment,
            workers=job.workers,
        )
    else:
        Y = _rows(transformed, job.rows)
        if job.groups:
            from osteobiome.stats.lmm import fit_lmm

            base = fit_lmm(Y, job.design, list(job.groups), workers=job.workers)
        else:
            base = fit_lm(Y, job.design)
        fit = linear_block(base, Y, job.design, opts.variance, opts.compositional, mixed=bool(job.groups))
    return BlockOutput(replace(fit, nonzero=nonzero), tables)
