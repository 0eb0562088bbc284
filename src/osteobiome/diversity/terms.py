"""Model terms for distance-based models (PERMANOVA): metadata columns → centred design blocks.

Each term is one metadata column: numeric columns enter as one continuous column; text, boolean and
categorical columns (and any named in ``categorical``) as treatment contrasts against their first level
(sorted levels, or the order of a pandas Categorical), as R's ``model.matrix`` does. Blocks are centred, so
the intercept is implicit (adonis2 does the same).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io import check_columns

ALIAS_TOL = 1e-7
"""A column is aliased when its part orthogonal to the earlier columns has less than this fraction of its norm
(R's ``qr`` tolerance, as used by adonis2)."""


def term_blocks(metadata: pd.DataFrame, terms: Sequence[str], categorical: Sequence[str] = ()) -> list[np.ndarray]:
    """Centred design blocks (n × columns of the term) for ``terms`` (in formula order) from ``metadata`` rows
    (no missing values)."""
    require_terms(metadata, terms)
    return [_block(term, metadata[term], term in categorical) for term in terms]


def require_terms(metadata: pd.DataFrame, terms: Sequence[str], what: str = "terms") -> None:
    """InputError for no terms, or for a term that is not a metadata column (with a suggestion)."""
    if not terms:
        raise InputError(f"{what}: none given; name at least one metadata column (e.g. --terms bmd,age).")
    check_columns(metadata, terms, what)


def _block(term: str, values: pd.Series, force_categorical: bool) -> np.ndarray:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and not force_categorical:
        x = values.to_numpy(dtype=float)
        if np.ptp(x) == 0:
            raise InputError(f"term '{term}': the column is constant over the samples used; drop the term.")
        return (x - x.mean())[:, None]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [lv for lv in values.cat.categories if (values == lv).any()]
    else:
        levels = sorted(values.astype(str).unique())
        values = values.astype(str)
    if len(levels) < 2:
        raise InputError(f"term '{term}': only one level ({levels[0]!r}) among the samples used; drop the term.")
    dummies = np.column_stack([(values == lv).to_numpy(dtype=float) for lv in levels[1:]])
    return dummies - dummies.mean(axis=0)


def orthonormal_basis(
    blocks: Sequence[np.ndarray], start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gram–Schmidt (twice, for stability) of the blocks' columns in order, after the columns of ``start``.

    Returns ``(Q, owner)``: ``Q`` (n × rank) orthonormal new columns, ``owner[j]`` the index of the block that
    contributed column ``j``. Aliased columns (see :data:`ALIAS_TOL`) are skipped, so a block's degrees of
    freedom are the number of columns it owns.
    """
    n = blocks[0].shape[0]
    basis = [] if start is None else list(start.T)
    n_start = len(basis)
    owner = []
    for b, block in enumerate(blocks):
        for col in block.T:
            norm0 = np.linalg.norm(col)
            v = col.copy()
            for _ in range(2):
                if basis:
                    B = np.array(basis).T
                    v -= B @ (B.T @ v)
            norm = np.linalg.norm(v)
            if norm0 > 0 and norm > ALIAS_TOL * norm0:
                basis.append(v / norm)
                owner.append(b)
    Q = np.array(basis[n_start:]).T if len(basis) > n_start else np.zeros((n, 0))
    return Q, np.array(owner, dtype=int)
