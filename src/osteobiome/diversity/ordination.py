"""Principal coordinates (PCoA) of a distance matrix: eigendecomposition of Gower's centred matrix.

One Householder reduction to tridiagonal form (LAPACK ``dsytrd``) serves both the whole spectrum (for the
proportions' denominator) and the top ``n`` eigenvectors (of the tridiagonal matrix, mapped back by the reflectors),
instead of two dense eigendecompositions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.linalg import eigh_tridiagonal, eigvalsh_tridiagonal, lapack

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
    tridiagonal = _tridiagonal(G)
    eigenvalues = eigvalsh_tridiagonal(*tridiagonal[:2])[::-1]
    positive = eigenvalues > 1e-10 * max(abs(eigenvalues[0]), np.finfo(float).tiny)
    if not positive.any():
        raise InputError("pcoa: all distances are zero; there is nothing to ordinate.")
    k = min(n, int(positive.sum()))
    values, vectors = _top_eigenpairs(*tridiagonal, k)
    axes = [f"PC{i + 1}" for i in range(k)]
    coords = pd.DataFrame(vectors * np.sqrt(values), index=pd.Index(ids, name="sample"), columns=axes)
    proportion = pd.Series(values / eigenvalues[positive].sum(), index=axes, name="proportion_explained")
    return coords, proportion


def _tridiagonal(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(d, e, reflectors, tau)``: ``G = Q T Qᵀ`` with ``T`` tridiagonal (diagonal ``d``, off-diagonal ``e``) and
    ``Q`` the product of the Householder reflectors (LAPACK ``dsytrd``, lower). Reducing ``G`` once is most of
    an eigendecomposition's work; every eigenvalue and the top eigenvectors both come from ``T``."""
    lwork = int(lapack.dsytrd_lwork(G.shape[0], lower=1)[0])
    reflectors, d, e, tau, info = lapack.dsytrd(G, lower=1, lwork=lwork)
    if info != 0:  # only an illegal argument makes dsytrd fail
        raise RuntimeError(f"LAPACK dsytrd failed (info={info})")
    return d, e, reflectors, tau


def _top_eigenpairs(
    d: np.ndarray, e: np.ndarray, reflectors: np.ndarray, tau: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenvalues (descending) of ``Q T Qᵀ`` and their eigenvectors ``Q z`` (columns), where
    ``z`` are ``T``'s: ``Q z = H₀ H₁ … H_{n-2} z`` with ``Hⱼ = I − τⱼ vⱼ vⱼᵀ``, ``vⱼ`` zero above row ``j+1``, one
    at ``j+1`` and ``reflectors[j+2:, j]`` below (``dsytrd``'s lower storage)."""
    n = len(d)
    values, vectors = eigh_tridiagonal(d, e, select="i", select_range=(n - k, n - 1))
    for j in range(n - 2, -1, -1):
        v = reflectors[j + 1 :, j].copy()
        v[0] = 1.0
        below = vectors[j + 1 :]
        below -= np.outer(v, tau[j] * (v @ below))
    return values[::-1], vectors[:, ::-1]
