"""Beta diversity: sample × sample distance matrices (a scikit-bio DistanceMatrix by :func:`beta_diversity`, a
square DataFrame by :func:`beta_distances`), each computed once.

- ``braycurtis``: ``Σ|x_i - y_i| / Σ(x_i + y_i)`` on relative abundances (rows closed to 1 first, as
  ``vegdist(decostand(x, "total"))``; ``closure=False`` uses the values as given);
- ``jaccard``: binary (presence/absence) Jaccard, ``1 - |A ∩ B| / |A ∪ B|`` (vegan's ``binary=TRUE``);
- ``aitchison``: robust Aitchison, Euclidean distance between robust CLR vectors (log of each non-zero part
  over the geometric mean of the sample's non-zero parts; zeros stay 0), vegan's ``"robust.aitchison"``;
- ``weighted_unifrac``: ``Σ_b l_b |p_Ab - p_Bb|`` over branches ``b`` with length ``l_b`` and the proportion of
  each sample below ``b`` (scikit-bio's unnormalised weighted UniFrac);
- ``unweighted_unifrac``: ``Σ_b l_b [exactly one sample below b] / Σ_b l_b [any sample below b]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from osteobiome.diversity.tables import as_matrix
from osteobiome.diversity.trees import branch_incidence, load_tree
from osteobiome.errors import InputError, suggest
from osteobiome.io.cohort import Cohort

if TYPE_CHECKING:
    from skbio import DistanceMatrix, TreeNode

BETA_METRICS: tuple[str, ...] = ("braycurtis", "jaccard", "aitchison", "weighted_unifrac", "unweighted_unifrac")
ALIASES = {"bray": "braycurtis", "robust_aitchison": "aitchison", "wunifrac": "weighted_unifrac",
           "uunifrac": "unweighted_unifrac"}


def beta_metric(metric: str) -> str:
    """Canonical metric name (aliases ``bray``, ``robust_aitchison``, ``wunifrac``, ``uunifrac``) or InputError."""
    name = ALIASES.get(metric.strip().lower(), metric.strip().lower())
    if name not in BETA_METRICS:
        raise InputError(
            f"metric '{metric}': unknown{suggest(metric, BETA_METRICS)}; choose from {', '.join(BETA_METRICS)}."
        )
    return name


def beta_diversity(
    table: Cohort | pd.DataFrame,
    metric: str = "braycurtis",
    tree: TreeNode | str | Path | None = None,
    closure: bool = True,
) -> DistanceMatrix:
    """Distance matrix of ``metric`` between the samples of ``table`` (formulas in the module docstring)."""
    from skbio import DistanceMatrix  # here: scikit-bio is slow to import (scipy.stats, biom)

    distances = beta_distances(table, metric, tree, closure)
    return DistanceMatrix(distances.to_numpy(), ids=list(distances.index))


def beta_distances(
    table: Cohort | pd.DataFrame,
    metric: str = "braycurtis",
    tree: TreeNode | str | Path | None = None,
    closure: bool = True,
) -> pd.DataFrame:
    """:func:`beta_diversity` as a square samples × samples DataFrame (without scikit-bio), which
    :func:`~osteobiome.diversity.pcoa`, :func:`~osteobiome.diversity.permanova` and
    :func:`~osteobiome.diversity.permdisp` take as well."""
    name = beta_metric(metric)
    X, samples, features = as_matrix(table)
    proportions = X / X.sum(axis=1, keepdims=True)
    if name == "braycurtis":
        condensed = pdist(proportions if closure else X, "braycurtis")
    elif name == "jaccard":
        condensed = pdist(X > 0, "jaccard")
    elif name == "aitchison":
        condensed = pdist(robust_clr(X), "euclidean")
    else:
        if tree is None:
            raise InputError(f"metric '{name}': needs a phylogenetic tree; pass a Newick file (--tree FILE).")
        M, lengths = branch_incidence(load_tree(tree), features)
        below = np.asarray((M.T @ proportions.T).T)
        if name == "weighted_unifrac":
            condensed = pdist(below * lengths, "cityblock")
        else:
            condensed = pdist(below > 0, "jaccard", w=lengths)
    # copy=False: the frame's values stay this C-ordered array, so that PCoA and PERMANOVA give the same bits
    # as on the DistanceMatrix of beta_diversity
    return pd.DataFrame(squareform(condensed, checks=False), index=samples, columns=samples, copy=False)


def robust_clr(X: np.ndarray) -> np.ndarray:
    """Robust CLR: ``log x - mean(log x over the non-zero parts)`` for ``x > 0``, 0 where ``x = 0``."""
    present = X > 0
    logs = np.log(np.where(present, X, 1.0))
    centre = logs.sum(axis=1, keepdims=True) / present.sum(axis=1, keepdims=True)
    return np.where(present, logs - centre, 0.0)
