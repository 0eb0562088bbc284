from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from osteobiome.errors import InputError
from osteobiome.stats.multitest import adjust, adjust_grouped

SM = {"BH": "fdr_bh", "BY": "fdr_by", "bonferroni": "bonferroni", "holm": "holm", "hochberg": "simes-hochberg"}


@pytest.mark.parametrize("method", SM)
def test_matches_statsmodels_and_ignores_nan(method):
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=40) ** 3, [0.01, 0.01, 1.0]])
    expected = multipletests(p, method=SM[method])[1]
    np.testing.assert_allclose(adjust(p, method), expected, rtol=1e-12)
    with_nan = np.insert(p, [3, 10], np.nan)
    out = adjust(with_nan, method)
    assert np.isnan(out[[3, 11]]).all()
    np.testing.assert_allclose(out[~np.isnan(with_nan)], expected, rtol=1e-12)


@pytest.mark.parametrize("method", ["BH", "BY", "holm", "hochberg", "bonferroni"])
def test_known_values_from_r_p_adjust(method):
    """R's p.adjust (tests/golden/multitest/make.R) on p-values where BH's running minimum changes 6 of 11."""
    expected = pd.read_csv(Path(__file__).parent / "golden" / "multitest" / "p_adjust_expected.tsv", sep="\t")
    p = expected["p"].to_numpy()
    np.testing.assert_allclose(adjust(p, method), expected[method].to_numpy(), rtol=1e-14)
    if method == "BH":  # the input is one where the step-up minimum matters
        ranks = pd.Series(p).rank(method="first").to_numpy()
        raw = p * np.sum(~np.isnan(p)) / ranks
        assert np.sum(raw[~np.isnan(p)] > expected["BH"].to_numpy()[~np.isnan(p)] + 1e-12) >= 5


def test_grouped_scope():
    p = np.array([0.01, 0.04, 0.01, 0.04])
    groups = np.array(["a", "a", "b", "b"])
    np.testing.assert_allclose(adjust_grouped(p, groups, "BH", "per-variable"), [0.02, 0.04, 0.02, 0.04])
    np.testing.assert_allclose(adjust_grouped(p, groups, "BH", "all"), adjust(p))


def test_bad_method_and_scope():
    with pytest.raises(InputError, match="did you mean 'holm'"):
        adjust([0.1], "holmes")
    with pytest.raises(InputError, match="scope"):
        adjust_grouped(np.array([0.1]), None, "BH", "everything")
    with pytest.raises(InputError, match="0, 1"):
        adjust([1.5])
