"""Parity of osteobiome.meta with metafor 3.8-1 (BCG trials) and MMUPHin lm_meta (HMP2 sites)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.meta import pool

COLUMNS = {  # expected column -> MetaResult.to_frame column
    "coef": "coef",
    "stderr": "stderr",
    "pval": "pval",
    "ci.lb": "ci.lb",
    "ci.ub": "ci.ub",
    "tau2": "tau2",
    "stderr.tau2": "se.tau2",
    "QE": "QE",
    "QEp": "QEp",
    "I2": "I2",
    "H2": "H2",
}


GOLDEN = Path(__file__).parent / "golden" / "metafor"


def _bcg(shared):
    """BCG input and metafor's results: ../shared's 13 rows, plus FE with Knapp–Hartung (not in ../shared; made
    by tests/golden/metafor/make.R from the same input)."""
    base = shared / "reference" / "metafor"
    expected = pd.concat(
        [pd.read_csv(base / "bcg_expected.tsv", sep="\t"), pd.read_csv(GOLDEN / "bcg_fe_knha_expected.tsv", sep="\t")],
        ignore_index=True,
    )
    return pd.read_csv(base / "bcg_input.tsv", sep="\t"), expected


@pytest.mark.parametrize("method", ["FE", "DL", "REML", "PM", "ML", "HE", "SJ"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_bcg_every_method_and_test(shared, method, test):
    data, expected = _bcg(shared)
    row = expected[(expected.method == method) & (expected.test == test)]
    assert len(row) == 1, (method, test)
    row = row.iloc[0]
    got = pool(data.yi.to_numpy(), vi=data.vi.to_numpy(), method=method, test=test).to_frame().iloc[0]
    for column, ours in COLUMNS.items():
        if pd.isna(row[column]):
            assert np.isnan(got[ours]), column
        else:
            np.testing.assert_allclose(
                got[ours], row[column], rtol=1e-8, atol=0, err_msg=f"{method} {test} {column}"
            )


def test_bcg_file_has_all_rows(shared):
    assert len(_bcg(shared)[1]) == 14  # 7 methods x 2 tests


def _sites(shared):
    base = shared / "reference" / "mmuphin_hmp2_sites"
    coef = pd.read_csv(base / "per_site_coef.tsv", sep="\t", index_col=0)
    stderr = pd.read_csv(base / "per_site_stderr.tsv", sep="\t", index_col=0)
    return base, coef, stderr


def test_mmuphin_preset_matches_lm_meta(shared):
    base, coef, stderr = _sites(shared)
    expected = pd.read_csv(base / "expected_lm_meta_reml_1e-4.tsv", sep="\t", index_col=0)
    got = pool(coef.to_numpy(), stderr.to_numpy(), preset="mmuphin").to_frame(index=coef.index)
    assert (got["k"] == expected["k"]).all() and expected["k"].min() == 4
    for column in ("coef", "stderr", "pval", "tau2", "se.tau2", "QEp", "I2", "H2"):
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-8, atol=0, err_msg=column)


def test_tight_reml_dl_fe_match(shared):
    base, coef, stderr = _sites(shared)
    expected = pd.read_csv(base / "expected_reml_tight_dl_fe.tsv", sep="\t", index_col=0)
    y, s = coef.to_numpy(), stderr.to_numpy()
    reml, dl, fe = (pool(y, s, method=m) for m in ("REML", "DL", "FE"))
    # R stopped at |Δτ²| < 1e-10, so its τ² carries up to ~1e-10 absolute error (where τ² -> 0 on the boundary).
    np.testing.assert_allclose(reml.tau2, expected["tau2_reml_tight"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(reml.coef, expected["coef_reml_tight"], rtol=1e-6)
    # with R's own rule, the match is tight wherever τ² is away from 0
    same_rule = pool(y, s, method="REML", threshold=1e-10)
    away = expected["tau2_reml_tight"].to_numpy() > 1e-6
    np.testing.assert_allclose(same_rule.tau2[away], expected["tau2_reml_tight"][away], rtol=1e-8)
    np.testing.assert_allclose(same_rule.coef, expected["coef_reml_tight"], rtol=1e-8)
    np.testing.assert_allclose(dl.tau2, expected["tau2_dl"], rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(dl.coef, expected["coef_dl"], rtol=1e-8)
    np.testing.assert_allclose(fe.coef, expected["coef_fe"], rtol=1e-8)
    np.testing.assert_allclose(fe.stderr, expected["se_fe"], rtol=1e-8)
