"""PERMANOVA p-values equal vegan's adonis2 exactly given the same permutations (tests/golden/permanova/make.R):
p = (#{F_perm >= F_obs} + 1) / (permutations + 1), never #{…} / permutations."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.diversity import beta_diversity, permanova
from osteobiome.diversity.permutations import permutation_pvalue

GOLDEN = Path(__file__).parent / "golden" / "permanova"


@pytest.mark.parametrize("by", ["terms", "margin"])
def test_adonis2_pvalues_exactly_with_the_same_permutations(by):
    counts = pd.read_csv(GOLDEN / "counts.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(GOLDEN / "metadata.tsv", sep="\t", index_col=0)
    perms = np.loadtxt(GOLDEN / "permutations.tsv", dtype=int) - 1  # R is 1-based
    expected = pd.read_csv(GOLDEN / "adonis2_expected.tsv", sep="\t")
    expected = expected[expected["by"] == by].drop(columns="by").reset_index(drop=True)
    res = permanova(beta_diversity(counts, "braycurtis", closure=False), meta, ["group", "x"], by=by, permutations=perms)
    assert list(res["term"]) == list(expected["term"])
    for column in ("SumOfSqs", "R2", "F"):
        np.testing.assert_allclose(res[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-9)
    np.testing.assert_array_equal(res["pval"].to_numpy(float)[:2], expected["pval"].to_numpy(float)[:2])
    assert expected["pval"].iloc[0] == 0.03  # 2 of 99 permutations reach F: (2 + 1) / (99 + 1)


def test_permutation_pvalue_counts_the_observed_statistic():
    null = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert permutation_pvalue(null, np.array([2.5]))[0] == pytest.approx(3 / 5)  # (2 + 1) / (4 + 1)
    assert permutation_pvalue(null, np.array([9.0]))[0] == pytest.approx(1 / 5)  # never 0
    assert permutation_pvalue(null, np.array([3.0]))[0] == pytest.approx(3 / 5)  # ties count (vegan's eps)
