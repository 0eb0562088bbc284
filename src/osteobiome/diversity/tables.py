"""Input coercion shared by the diversity functions: a :class:`~osteobiome.io.cohort.Cohort` or a samples × features
DataFrame becomes a dense float array with its sample and feature ids, checked once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.cohort import Cohort


def as_matrix(table: Cohort | pd.DataFrame, what: str = "feature table") -> tuple[np.ndarray, pd.Index, pd.Index]:
    """``(X, samples, features)`` with ``X`` dense float64 (samples × features): finite, non-negative, no empty row."""
    if isinstance(table, Cohort):
        X, samples, features = table.dense(), table.samples, table.features
    elif isinstance(table, pd.DataFrame):
        X, samples, features = table.to_numpy(dtype=float), table.index.astype(str), table.columns.astype(str)
    else:
        raise InputError(f"{what}: expected a Cohort or a samples × features DataFrame, got {type(table).__name__}.")
    X = np.asarray(X, dtype=float)
    if X.size == 0:
        raise InputError(f"{what}: the table is empty ({X.shape[0]} samples × {X.shape[1]} features).")
    bad = ~np.isfinite(X).all(axis=1) | (X < 0).any(axis=1)
    if bad.any():
        raise InputError(
            f"{what}: samples {preview(samples[bad])} hold missing, infinite or negative values; "
            "fix or drop them before computing diversity."
        )
    empty = X.sum(axis=1) == 0
    if empty.any():
        raise InputError(f"{what}: samples {preview(samples[empty])} have no reads at all; drop them first.")
    return X, samples, features


def require_counts(X: np.ndarray, samples: pd.Index, what: str) -> None:
    """Raise :class:`InputError` unless every value of ``X`` is a whole number (``what`` names the index)."""
    fractional = (X != np.round(X)).any(axis=1)
    if fractional.any():
        raise InputError(
            f"{what} needs integer counts, but samples {preview(samples[fractional])} hold non-integer values "
            "(relative abundances?); pass raw read counts or leave this index out."
        )
