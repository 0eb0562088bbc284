"""Principal coordinates (PCoA) of a distance matrix, via scikit-bio (eigendecomposition of Gower's matrix)."""

from __future__ import annotations

import pandas as pd
from skbio import DistanceMatrix
from skbio.stats.ordination import pcoa as skbio_pcoa

from osteobiome.diversity.distances import distance_array
from osteobiome.errors import InputError


def pcoa(dm: DistanceMatrix | pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.Series]:
    """``(coords, proportion)``: the first ``n`` axes (``PC1``…) per sample, and each axis's proportion of the
    total variance (eigenvalue / sum of positive eigenvalues, scikit-bio's definition). ``n`` is capped at
    the number of samples − 1."""
    D, ids = distance_array(dm)
    if n < 1:
        raise InputError(f"pcoa: n={n}; ask for at least one axis.")
    if len(ids) < 3:
        raise InputError(f"pcoa: {len(ids)} samples; an ordination needs at least 3.")
    result = skbio_pcoa(DistanceMatrix(D, ids=list(ids)), dimensions=min(n, len(ids) - 1), warn_neg_eigval=False)
    coords = result.samples.copy()
    coords.index = pd.Index(ids, name="sample")
    axes = [f"PC{i + 1}" for i in range(coords.shape[1])]
    coords.columns = axes
    proportion = pd.Series(result.proportion_explained.to_numpy(), index=axes, name="proportion_explained")
    return coords, proportion
