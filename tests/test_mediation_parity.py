"""Parity of ``mediate(..., preset="maaslin2")`` with R ``lm`` on scale()d variables (tests/golden/mediation/make.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome import mediate
from osteobiome.io import read_metadata
from osteobiome.io.mediators import read_mediators

GOLDEN = Path(__file__).parent / "golden" / "mediation"
COLUMNS = ["alpha", "alpha.se", "pval.alpha", "beta", "beta.se", "pval.beta", "indirect", "direct", "total"]


@pytest.fixture(scope="module")
def ours_and_expected():
    counts = pd.read_csv(GOLDEN / "counts.tsv", sep="\t", index_col=0)
    metadata = read_metadata(GOLDEN / "metadata.tsv")
    mediators = read_mediators(GOLDEN / "mediators.tsv")
    with pytest.warns(UserWarning, match="HDMT"):
        ours = mediate(counts, metadata, mediators, "bmd", ["age", "sex", "site"], reference={"site": "A"}, preset="maaslin2", ci="delta")
    expected = pd.read_csv(GOLDEN / "expected.tsv", sep="\t")
    return ours, expected


def test_same_pairs_as_r(ours_and_expected):
    ours, expected = ours_and_expected
    assert sorted(zip(ours["feature"], ours["mediator"], strict=True)) == sorted(zip(expected["feature"], expected["mediator"], strict=True))
    assert "Rare_genus" not in set(ours["feature"])  # filtered by the 10% prevalence rule, as in R


@pytest.mark.parametrize("column", COLUMNS)
def test_equals_r_lm(ours_and_expected, column):
    ours, expected = ours_and_expected
    merged = expected.merge(ours, on=["feature", "mediator"], suffixes=("", "_ours"), validate="one_to_one")
    np.testing.assert_allclose(merged[f"{column}_ours"], merged[column], rtol=1e-8, atol=1e-12, err_msg=column)


def test_rows_used_per_mediator(ours_and_expected):
    ours, expected = ours_and_expected
    merged = expected.merge(ours, on=["feature", "mediator"], suffixes=("", "_ours"))
    assert (merged["N_ours"] == merged["N"]).all()
    assert set(merged.loc[merged["mediator"] == "deoxycholic_acid", "N"]) == {76}
