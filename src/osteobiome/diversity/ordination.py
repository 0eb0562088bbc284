"""Principal coordinates (PCoA) of a distance matrix: eigendecomposition of Gower's centred matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.linalg import eigh, eigvalsh

from osteobiome.diversity.distances import distance_array, gower_centred
from osteobiome.errors import InputError

if TYPE_CHECKING:
    from skbio import DistanceMatrix


def pcoa(dm: DistanceMatrix | pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.Series]:
    """``(coords, proportion)``: the first ``n`` principal coordinates (``PC1``…) per sample and each axis's
    share of the variance.

    With ``G = -1/2 · J D² J`` (Gower) and its eigenvalues ``λ₁ ≥ λ₂ ≥ …``, axis ``k`` is the ``k``-th
    eigenvector scaled to length ``√λₖ`` and its proportion is ``λₖ / Σ_{λ>0} λ``: the sum of the positive
    eigenvalues, whatever ``n`` is, as vegan's PCoA ``capscale(d ~ 1)`` reports it (``summary(eigenvals())``).
    Non-Euclidean distances (Bray–Curtis) have negative eigenvalues; they are not axes and not in the
    denominator (dividing by the trace ``Σλ`` instead, as ``wcmdscale``/``dbrda`` do, inflates the proportions).
    ``n`` is capped at the number of positive eigenvalues (at most samples − 1).
    """
    D, ids = distance_array(dm)
    if n < 1:
        raise InputError(f"pcoa: n={n}; ask for at least one axis.")
    if len(ids) < 3:
        raise InputError(f"pcoa: {len(ids)} samples; an ordination needs at least 3.")
    G = gower_centred(D)
    eigenvalues = eigvalsh(G)[::-1]
    positive = eigenvalues > 1e-10 * max(abs(eigenvalues[0]), np.finfo(float).tiny)
    if not positive.any():
        raise InputError("pcoa: all distances are zero; there is nothing to ordinate.")
    k = min(n, int(positive.sum()))
    size = len(ids)
    values, vectors = eigh(G, subset_by_index=[size - k, size - 1])
    values, vectors = values[::-1], vectors[:, ::-1]
    axes = [f"PC{i + 1}" for i in range(k)]
    coords = pd.DataFrame(vectors * np.sqrt(values), index=pd.Index(ids, name="sample"), columns=axes)
    proportion = pd.Series(values / eigenvalues[positive].sum(), index=axes, name="proportion_explained")
    return coords, proportion
