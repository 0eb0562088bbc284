"""Diversity: alpha indices per sample, beta distances, PERMANOVA (vegan's adonis2), PERMDISP (betadisper), PCoA.

Math on numpy arrays; inputs are a :class:`~osteobiome.io.cohort.Cohort` or a samples × features DataFrame, and
distance matrices are scikit-bio ``DistanceMatrix`` objects computed once by :func:`beta_diversity` (or square
DataFrames by :func:`beta_distances`, which spares importing scikit-bio) and passed to :func:`permanova`,
:func:`permdisp` and :func:`pcoa`.
"""

from osteobiome.diversity.adjusted import permanova_each
from osteobiome.diversity.alpha import ALPHA_METRICS, alpha_diversity, rarefy
from osteobiome.diversity.associations import alpha_associations
from osteobiome.diversity.beta import BETA_METRICS, beta_distances, beta_diversity
from osteobiome.diversity.ordination import pcoa
from osteobiome.diversity.permanova import permanova
from osteobiome.diversity.permdisp import PermdispResult, permdisp

__all__ = [
    "ALPHA_METRICS",
    "BETA_METRICS",
    "PermdispResult",
    "alpha_associations",
    "alpha_diversity",
    "beta_distances",
    "beta_diversity",
    "pcoa",
    "permanova",
    "permanova_each",
    "permdisp",
    "rarefy",
]
