"""Distance-matrix plumbing shared by PERMANOVA, PERMDISP and PCoA: ids and values, metadata alignment,
Gower centring."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.align import rows_for

if TYPE_CHECKING:
    from skbio import DistanceMatrix


def distance_array(dm: DistanceMatrix | pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """``(D, ids)`` from a scikit-bio DistanceMatrix or a square DataFrame indexed by sample id (checked)."""
    if isinstance(dm, pd.DataFrame):
        D = dm.to_numpy(dtype=float)
        if D.shape[0] != D.shape[1] or not dm.index.astype(str).equals(dm.columns.astype(str)):
            raise InputError("distance matrix: rows and columns must be the same sample ids in the same order.")
        if not np.allclose(D, D.T, rtol=1e-10, atol=1e-12) or np.any(np.diag(D) != 0) or np.any(D < 0):
            raise InputError("distance matrix: must be symmetric, non-negative, with a zero diagonal.")
        return D, dm.index.astype(str)
    from skbio import DistanceMatrix  # here: scikit-bio is slow to import; a DataFrame does not need it

    if isinstance(dm, DistanceMatrix):
        return np.asarray(dm.data, dtype=float), pd.Index([str(i) for i in dm.ids])
    raise InputError(f"distance matrix: expected a skbio DistanceMatrix or a square DataFrame, got {type(dm).__name__}.")


def aligned_rows(
    ids: pd.Index, metadata: pd.DataFrame, columns: Sequence[str], what: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Metadata rows for ``ids`` and a mask of the ids kept: ids missing from ``metadata`` are an error; ids with a
    missing value in ``columns`` are dropped with a warning (as R's ``na.omit`` would drop them)."""
    rows = metadata_rows(ids, metadata, what)[list(columns)]
    keep = rows.notna().all(axis=1).to_numpy()
    if not keep.all():
        warnings.warn(
            f"{what}: {int((~keep).sum())} samples dropped for missing values in {', '.join(columns)} "
            f"({preview(ids[~keep])}).",
            stacklevel=3,
        )
    return keep, rows.loc[keep]


def metadata_rows(ids: pd.Index, metadata: pd.DataFrame, what: str) -> pd.DataFrame:
    """The metadata rows of the distance matrix's ``ids``, in their order and indexed by the ids as strings; an id
    without a row is an error."""
    return rows_for(
        ids,
        metadata,
        lambda absent: f"{what}: samples {absent} of the distance matrix have no metadata row; "
        "add them to the metadata or drop them from the table.",
    )


def gower_centred(D: np.ndarray) -> np.ndarray:
    """Gower's centred matrix ``G = -1/2 · J D² J`` with ``J = I - 11ᵀ/n`` (tr G = total sum of squares)."""
    G = np.square(D)  # the only n × n allocation: the same operations as A - colmeans - rowmeans + mean, in place
    G *= -0.5
    columns, rows, mean = G.mean(axis=0), G.mean(axis=1), G.mean()
    G -= columns
    G -= rows[:, None]
    G += mean
    return G
