"""Exposures of the outcome models: the features after ``associate``'s preprocessing, and community indices.

Feature exposures run :mod:`osteobiome.stats.preprocess` with the preset's options (filter on raw values,
normalize over the kept features, transform) and are then standardized on the samples the model uses,
``(x − mean) / sd`` with the n − 1 sd (R's ``scale()``; :func:`osteobiome.stats.preprocess.standardize_columns`),
so a coefficient is per SD of the exposure.
Community exposures are the alpha indices of :func:`osteobiome.diversity.alpha_diversity` and the first ``k``
principal coordinates of the robust Aitchison distance (PCA of the robust CLR), standardized the same way.
"""

from __future__ import annotations

import pandas as pd

from osteobiome.diversity import alpha_diversity, beta_diversity, pcoa

#: Alpha indices used as community exposures (no tree needed; chao1 needs counts and is left out).
ALPHA_EXPOSURES = ("observed", "shannon", "simpson", "pielou")


def community_exposures(table: pd.DataFrame, n_pcs: int = 3) -> pd.DataFrame:
    """Samples × (``alpha:<index>`` for :data:`ALPHA_EXPOSURES`, ``aitchison:PC1`` … ``PC<n_pcs>``) of the raw
    ``table`` (every sample with a non-zero total)."""
    alpha = alpha_diversity(table, ALPHA_EXPOSURES).add_prefix("alpha:")
    parts = [alpha.set_axis(table.index, axis=0)]
    if n_pcs > 0:
        coords, _ = pcoa(beta_diversity(table, "aitchison"), n=n_pcs)
        parts.append(coords.add_prefix("aitchison:").set_axis(table.index, axis=0))
    return pd.concat(parts, axis=1)
