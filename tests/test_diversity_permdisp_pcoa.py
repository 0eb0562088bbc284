"""PERMDISP (betadisper) distances, ANOVA and permutation test; PCoA output shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.spatial.distance import pdist, squareform
from scipy.stats import f_oneway
from skbio import DistanceMatrix

from osteobiome.diversity import pcoa, permdisp
from osteobiome.errors import InputError


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(5)
    groups = np.repeat(["a", "b", "c"], [15, 20, 25])
    X = rng.normal(size=(60, 4)) * np.where(groups == "c", 2.0, 1.0)[:, None]
    ids = [f"s{i}" for i in range(60)]
    return X, pd.DataFrame({"g": groups, "x": rng.normal(size=60)}, index=ids), ids


def test_centroid_distances_euclidean(points):
    X, meta, ids = points
    res = permdisp(DistanceMatrix(squareform(pdist(X)), ids=ids), meta, "g", type="centroid", permutations=99)
    expected = np.hstack([np.linalg.norm(X[meta.g == k] - X[meta.g == k].mean(axis=0), axis=1) for k in "abc"])
    order = np.argsort(meta.g.to_numpy(), kind="stable")
    np.testing.assert_allclose(res.distances.to_numpy()[order], expected, rtol=1e-8)
    F = f_oneway(*[res.distances[meta.g == k] for k in "abc"]).statistic
    assert res.table.F.iloc[0] == pytest.approx(F, rel=1e-10)
    assert list(res.table.Df) == [2, 57]


def test_spatial_median_euclidean(points):
    X, meta, ids = points
    res = permdisp(DistanceMatrix(squareform(pdist(X)), ids=ids), meta, "g", permutations=0)
    for k in "abc":
        Xk = X[meta.g == k]
        med = minimize(lambda y, Xk=Xk: np.linalg.norm(Xk - y, axis=1).sum(), Xk.mean(axis=0), tol=1e-12).x
        np.testing.assert_allclose(res.distances[meta.g == k], np.linalg.norm(Xk - med, axis=1), atol=1e-5)


def test_negative_eigenvalues_centroid_formula(points):
    """Non-Euclidean (Bray–Curtis): d²(i, centroid) = mean_j d²_ij - Σ_jk d²_jk / (2 n²) over the group."""
    X, meta, ids = points
    D = squareform(pdist(np.exp(X), "braycurtis"))
    res = permdisp(DistanceMatrix(D, ids=ids), meta, "g", type="centroid", permutations=0)
    for k in "abc":
        Dk = D[np.ix_(meta.g == k, meta.g == k)] ** 2
        expected = np.sqrt(np.abs(Dk.mean(axis=1) - Dk.sum() / (2 * len(Dk) ** 2)))
        np.testing.assert_allclose(res.distances[meta.g == k], expected, rtol=1e-7)


def test_permutation_p_detects_dispersion(points):
    X, meta, ids = points
    dm = DistanceMatrix(squareform(pdist(X)), ids=ids)
    a = permdisp(dm, meta, "g", permutations=199, seed=3)
    b = permdisp(dm, meta, "g", permutations=199, seed=3)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.table.pval.iloc[0] < 0.05  # group c has twice the spread
    assert 1 / 200 <= a.table.pval.iloc[0] <= 1


def test_permdisp_errors(points):
    X, meta, ids = points
    dm = DistanceMatrix(squareform(pdist(X)), ids=ids)
    with pytest.raises(InputError, match="at least two groups"):
        permdisp(dm, meta.assign(g="a"), "g")
    with pytest.raises(InputError, match="'gx' not found \\(did you mean"):
        permdisp(dm, meta.assign(gg=1), "gx")


def test_pcoa(points):
    X, _, ids = points
    coords, proportion = pcoa(DistanceMatrix(squareform(pdist(X)), ids=ids), n=3)
    assert list(coords.columns) == ["PC1", "PC2", "PC3"] and list(coords.index) == ids
    assert proportion.is_monotonic_decreasing and 0 < proportion.sum() <= 1
    # Euclidean input: the first axes reproduce the centred data's principal components' variance.
    eig = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    np.testing.assert_allclose(proportion.to_numpy(), eig[:3] / eig.sum(), rtol=1e-8)


def test_pcoa_axes_are_the_eigenvectors_of_gowers_matrix_up_to_sign():
    """One Householder reduction serves the spectrum and the axes: the coordinates equal a full ``eigh`` of
    Gower's centred matrix (up to each axis's sign) on a non-Euclidean distance with negative eigenvalues."""
    from scipy.linalg import eigh

    from osteobiome.diversity.distances import gower_centred

    rng = np.random.default_rng(11)
    counts = rng.poisson(rng.gamma(0.5, 20.0, size=(1, 40)), size=(70, 40)) + rng.integers(0, 2, size=(70, 40))
    D = squareform(pdist(counts, "braycurtis"))
    coords, proportion = pcoa(DistanceMatrix(D, ids=[f"s{i}" for i in range(70)]), n=12)
    values, vectors = eigh(gower_centred(D))
    values, vectors = values[::-1], vectors[:, ::-1]
    assert values.min() < -1e-3 * values.max()  # non-Euclidean: the denominator is the positive part only
    expected = vectors[:, :12] * np.sqrt(values[:12])
    signs = np.sign((coords.to_numpy() * expected).sum(axis=0))
    np.testing.assert_allclose(coords.to_numpy() * signs, expected, atol=1e-10)
    np.testing.assert_allclose(proportion.to_numpy(), values[:12] / values[values > 0].sum(), rtol=1e-10)


@pytest.mark.parametrize("size", [3, 4, 40])
def test_pcoa_of_equidistant_samples_gives_orthogonal_axes_of_one_eigenvalue(size):
    """Every eigenvalue of a regular simplex is the same (1/2): a cluster in which the tridiagonal eigenvectors
    come from inverse iteration. The axes stay orthogonal and together rebuild Gower's matrix exactly."""
    from osteobiome.diversity.distances import gower_centred

    ids = [f"s{i}" for i in range(size)]
    D = 1.0 - np.eye(size)
    coords, proportion = pcoa(pd.DataFrame(D, index=ids, columns=ids), n=size)
    C = coords.to_numpy()
    assert C.shape == (size, size - 1)  # n capped at the positive eigenvalues
    np.testing.assert_allclose(C.T @ C, 0.5 * np.eye(size - 1), atol=1e-12)
    np.testing.assert_allclose(C @ C.T, gower_centred(D), atol=1e-12)
    np.testing.assert_allclose(proportion.to_numpy(), np.full(size - 1, 1 / (size - 1)), rtol=1e-12)
