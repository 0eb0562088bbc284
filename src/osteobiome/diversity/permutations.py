"""Permutation index matrices, free or restricted within strata (vegan's ``how(blocks=strata)``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview

BATCH = 128
"""Permutations drawn (and evaluated) per batch; fixed so that a seed gives the same permutations at any n."""


def check_strata(strata: pd.Series | np.ndarray | None, n: int, name: str = "strata") -> np.ndarray | None:
    """Integer stratum codes (length ``n``), or None. Missing values or a stratum of one sample are errors."""
    if strata is None:
        return None
    values = pd.Series(np.asarray(strata, dtype=object))
    if len(values) != n:
        raise InputError(f"{name}: {len(values)} values for {n} samples; give one stratum per sample.")
    if values.isna().any():
        raise InputError(f"{name}: {int(values.isna().sum())} samples have no stratum; fill or drop them.")
    sizes = values.value_counts()
    single = sizes.index[sizes == 1]
    if len(single):
        raise InputError(
            f"{name}: strata {preview(single)} hold one sample each, which cannot be permuted within its stratum; "
            "merge or drop those samples, or run without strata."
        )
    return pd.factorize(values)[0]


def permutation_batches(
    n: int, permutations: int, seed: int | np.random.Generator = 1, strata: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """Yield ``(b, n)`` integer arrays, each row a random permutation of ``range(n)`` (within strata if given).

    Row ``p`` means: sample ``i`` takes the values of sample ``p[i]`` (as ``G[p][:, p]`` in vegan).
    """
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    done = 0
    while done < permutations:
        b = min(BATCH, permutations - done)
        batch = np.empty((b, n), dtype=np.intp)
        for idx in groups:
            batch[:, idx] = idx[rng.permuted(np.tile(np.arange(len(idx)), (b, 1)), axis=1)]
        done += b
        yield batch


def permutation_pvalue(null: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """vegan's ``(#{F_perm >= F_obs - sqrt(eps)} + 1) / (permutations + 1)`` along axis 0 of ``null``."""
    eps = np.sqrt(np.finfo(float).eps)
    null = np.asarray(null, dtype=float)
    return (np.sum(null >= np.asarray(observed) - eps, axis=0) + 1) / (null.shape[0] + 1)
