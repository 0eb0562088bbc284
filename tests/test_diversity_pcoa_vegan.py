"""PCoA proportions explained match vegan's PCoA (capscale) on a Bray–Curtis distance (non-Euclidean).

Golden files: tests/golden/pcoa/make.R (vegan 2.6-4) and its outputs.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.diversity import beta_diversity, pcoa

GOLDEN = Path(__file__).parent / "golden" / "pcoa"


@pytest.fixture(scope="module")
def bray():
    counts = pd.read_csv(GOLDEN / "counts.tsv", sep="\t", index_col=0)
    return beta_diversity(counts, "braycurtis", closure=False)  # vegdist(counts, "bray") on the raw counts


@pytest.fixture(scope="module")
def vegan():
    return pd.read_csv(GOLDEN / "capscale_proportion_explained.tsv", sep="\t", index_col="axis")


@pytest.mark.parametrize("n", [3, 10, 19])
def test_proportion_explained_matches_vegan_whatever_the_number_of_axes(bray, vegan, n):
    coords, proportion = pcoa(bray, n=n)
    expected = vegan["proportion_explained"].iloc[:n]  # 13 positive eigenvalues: n=19 gives 13 axes, as capscale
    assert list(proportion.index) == list(expected.index) == list(coords.columns)
    np.testing.assert_allclose(proportion.to_numpy(), expected.to_numpy(), rtol=1e-9)
    # the axes carry their eigenvalue: the sum of squares of PCk is λk
    np.testing.assert_allclose((coords**2).sum().to_numpy(), vegan["eigenvalue"].iloc[:n].to_numpy(), rtol=1e-9)


def test_the_distance_is_non_euclidean_so_the_trace_would_differ():
    eigenvalues = pd.read_csv(GOLDEN / "eigenvalues.tsv", sep="\t")["eigenvalue"].to_numpy()
    assert eigenvalues.min() < -0.05 * eigenvalues.max()
    by_trace, by_positive = eigenvalues[0] / eigenvalues.sum(), eigenvalues[0] / eigenvalues[eigenvalues > 0].sum()
    assert by_trace > 1.05 * by_positive
