""":func:`pool` with the feature axis in blocks run through :func:`osteobiome.compute.blocks.run_blocks` (dask)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from osteobiome.compute.blocks import parse_scheduler, run_blocks
from osteobiome.errors import InputError
from osteobiome.meta.pooling import MetaResult, pool

#: Features per block: a 100,000 × 5 block of REML pooling holds a few hundred MB.
BLOCK_SIZE = 100_000


def _pool_block(options: dict[str, Any], item: tuple[np.ndarray, np.ndarray]) -> MetaResult:
    return pool(item[0], item[1], **options)


def concat_results(parts: list[MetaResult]) -> MetaResult:
    """One :class:`MetaResult` from per-block results, features in block order."""
    first = parts[0]
    return MetaResult(
        **{
            f.name: getattr(first, f.name) if f.name in ("method", "test") else np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(MetaResult)
        }
    )


def pool_blocked(
    yi: np.ndarray, sei: np.ndarray, method: str = "REML", test: str = "z", *, scheduler: object = None, block_size: int = BLOCK_SIZE, **options: Any
) -> MetaResult:
    """``pool(yi, sei, method, test, **options)`` (features × cohorts), in this process when ``scheduler`` is
    None, else in blocks of ``block_size`` features through dask; the same numbers either way."""
    scheduler = parse_scheduler(scheduler)
    if scheduler is None:
        return pool(yi, sei, method, test, **options)
    if block_size < 1:
        raise InputError(f"--block-size {block_size}: give a positive number of features per block.")
    yi, sei = np.atleast_2d(np.asarray(yi, dtype=float)), np.atleast_2d(np.asarray(sei, dtype=float))
    items = [(yi[i : i + block_size], sei[i : i + block_size]) for i in range(0, yi.shape[0], block_size)]
    return concat_results(run_blocks(_pool_block, items, {"method": method, "test": test, **options}, scheduler))
