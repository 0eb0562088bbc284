"""PERMDISP as vegan's ``betadisper`` + ``permutest.betadisper``: is the spread (dispersion) of groups different?

Principal coordinates from Gower's matrix ``G`` keep every non-zero eigenvalue (``|λ/λ1| > 1e-7``), axes scaled by
``√|λ|``. For each sample, ``z = √|Σ_pos (x - c)² - Σ_neg (x - c)²|`` with ``c`` its group's centre computed
separately on the positive and negative axes: the spatial median (``type="median"``, vegan's default; here by
Weiszfeld iterations to 1e-10 rather than vegan's BFGS, so centres agree to optimiser tolerance) or the mean
(``type="centroid"``). Then one-way ANOVA of ``z`` on the groups; the permutation test permutes the ANOVA
residuals (vegan's scheme) and p = ``(#{F_perm ≥ F} + 1) / (permutations + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from osteobiome.diversity.distances import aligned_rows, distance_array, gower_centred
from osteobiome.diversity.permutations import permutation_batches, permutation_pvalue
from osteobiome.diversity.terms import require_terms
from osteobiome.errors import InputError

if TYPE_CHECKING:
    from skbio import DistanceMatrix

EIGEN_TOL = 1e-7


@dataclass(frozen=True)
class PermdispResult:
    """``table``: rows ``<group column>`` and ``Residual`` with ``Df SumOfSqs MeanSqs F pval``;
    ``distances``: each sample's distance to its group centre; ``groups``: each sample's group."""

    table: pd.DataFrame
    distances: pd.Series
    groups: pd.Series


def permdisp(
    dm: DistanceMatrix | pd.DataFrame,
    metadata: pd.DataFrame,
    group: str,
    type: Literal["median", "centroid"] = "median",
    permutations: int = 999,
    seed: int | np.random.Generator = 1,
) -> PermdispResult:
    """Test homogeneity of multivariate dispersion of the groups in metadata column ``group``."""
    if type not in ("median", "centroid"):
        raise InputError(f"permdisp type '{type}': choose 'median' or 'centroid'.")
    require_terms(metadata, [group], "permdisp group")
    D, ids = distance_array(dm)
    keep, rows = aligned_rows(ids, metadata, [group], "permdisp")
    labels = rows[group].astype(str)
    codes, levels = pd.factorize(labels, sort=True)
    if len(levels) < 2:
        raise InputError(f"permdisp group '{group}': needs at least two groups, found {len(levels)}.")
    z = _distances_to_centres(gower_centred(D[np.ix_(keep, keep)]), codes, len(levels), type)
    F, ss_between, ss_within = _oneway_F(z[:, None], codes, len(levels))
    n, g = len(z), len(levels)
    fitted = np.bincount(codes, z, g)[codes] / np.bincount(codes, minlength=g)[codes]
    resid = z - fitted
    null = np.concatenate(
        [_oneway_F(resid[batch].T, codes, g)[0] for batch in permutation_batches(n, permutations, seed)]
    ) if permutations else np.zeros(0)
    pval = float(permutation_pvalue(null, F[0])) if permutations else np.nan
    table = pd.DataFrame(
        {
            "term": [group, "Residual"],
            "Df": [g - 1, n - g],
            "SumOfSqs": [ss_between[0], ss_within[0]],
            "MeanSqs": [ss_between[0] / (g - 1), ss_within[0] / (n - g)],
            "F": [F[0], np.nan],
            "pval": [pval, np.nan],
        }
    )
    table.attrs.update(type=type, permutations=int(permutations))
    return PermdispResult(table, pd.Series(z, index=rows.index, name="distance"), labels)


def _oneway_F(Y: np.ndarray, codes: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-way ANOVA F (and between/within SS) of each column of ``Y`` (n × k) on group ``codes``."""
    n = Y.shape[0]
    onehot = np.eye(g)[codes]
    means = (onehot.T @ Y) / onehot.sum(axis=0)[:, None]
    fitted = onehot @ means
    between = ((fitted - Y.mean(axis=0)) ** 2).sum(axis=0)
    within = ((Y - fitted) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (between / (g - 1)) / (within / (n - g)), between, within


def _distances_to_centres(G: np.ndarray, codes: np.ndarray, g: int, type: str) -> np.ndarray:
    eig, vectors = np.linalg.eigh(G)
    order = np.argsort(eig)[::-1]
    eig, vectors = eig[order], vectors[:, order]
    want = np.abs(eig / eig[0]) > EIGEN_TOL
    eig, vectors = eig[want], vectors[:, want] * np.sqrt(np.abs(eig[want]))
    squared = np.zeros(len(codes))
    for sign, axes in ((1.0, eig > 0), (-1.0, eig < 0)):
        if not axes.any():
            continue
        X = vectors[:, axes]
        centres = np.vstack([_centre(X[codes == k], type) for k in range(g)])
        squared += sign * ((X - centres[codes]) ** 2).sum(axis=1)
    return np.sqrt(np.abs(squared))


def _centre(X: np.ndarray, type: str, tol: float = 1e-10, max_iter: int = 5000) -> np.ndarray:
    """Group centre: mean, or spatial (geometric) median by Weiszfeld iterations from the coordinate-wise median."""
    if type == "centroid" or len(X) <= 2:
        return X.mean(axis=0)
    y = np.median(X, axis=0)
    for _ in range(max_iter):
        d = np.maximum(np.linalg.norm(X - y, axis=1), 1e-300)
        y_new = (X / d[:, None]).sum(axis=0) / (1.0 / d).sum()
        if np.linalg.norm(y_new - y) <= tol * max(1.0, np.linalg.norm(y)):
            return y_new
        y = y_new
    return y
