"""Meta-regression (issue 21) against metafor rma(mods=) and permutest golden files (tests/golden/metareg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.meta import pool
from osteobiome.meta.regression import design_matrix, fit_regressions, meta_regression

GOLDEN = Path(__file__).parent / "golden" / "metareg"
FIT_COLUMNS = ("tau2", "se.tau2", "QM", "QMp", "QE", "QEp", "I2", "H2", "R2")
TERM_COLUMNS = ("estimate", "se", "zval", "pval", "ci.lb", "ci.ub")


def bcg(shared: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """dat.bcg with escalc(measure="RR"): log risk ratio and its sampling variance."""
    dat = pd.read_csv(shared / "reference" / "peer" / "dat.bcg.csv")
    a, b, c, d = (dat[x].to_numpy(float) for x in ("tpos", "tneg", "cpos", "cneg"))
    yi = np.log((a / (a + b)) / (c / (c + d)))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return dat, yi, vi


def close(ours: float, theirs: float, rtol: float = 1e-6) -> bool:
    if pd.isna(theirs):
        return bool(pd.isna(ours))
    return abs(ours - theirs) <= rtol * max(abs(theirs), 1e-300) or abs(ours - theirs) < 1e-300


RUNS = [
    (m, t)
    for m in ("FE", "DL", "HE", "SJ", "PM", "ML", "REML", "ML.default", "REML.default")
    for t in ("z", "knha")
]


@pytest.mark.parametrize(("label", "test"), RUNS)
def test_bcg_matches_metafor(shared: Path, label: str, test: str) -> None:
    dat, yi, vi = bcg(shared)
    method, _, control = label.partition(".")
    options = {"threshold": 1e-5, "maxiter": 100} if control == "default" else {}
    table = meta_regression(yi, mods=dat[["ablat", "year"]], vi=vi, method=method, test=test, **options)
    coefs = pd.read_csv(GOLDEN / "bcg_coefficients.tsv", sep="\t")
    coefs = coefs[(coefs["method"] == label) & (coefs["test"] == test)]
    fit = pd.read_csv(GOLDEN / "bcg_fit.tsv", sep="\t")
    fit = fit[(fit["method"] == label) & (fit["test"] == test)].iloc[0]
    assert list(table["term"]) == ["intrcpt", "ablat", "year"] == list(coefs["term"])
    for column in TERM_COLUMNS:
        for ours, theirs in zip(table[column], coefs[column], strict=True):
            assert close(ours, theirs), (column, ours, theirs)
    for name in FIT_COLUMNS:
        assert close(table.attrs[name], fit[name]), (name, table.attrs[name], fit[name])
    assert table.attrs["k"] == 13 and table.attrs["p"] == 3
    assert table.attrs["QMdf"][0] == 2
    assert (table.attrs["QMdf"][1] == 10) if test == "knha" else np.isnan(table.attrs["QMdf"][1])


@pytest.mark.parametrize("test", ["z", "knha"])
def test_exact_permutation_test_matches_permutest(shared: Path, test: str) -> None:
    dat, yi, vi = bcg(shared)
    golden = pd.read_csv(GOLDEN / "bcg_permutest.tsv", sep="\t")
    golden = golden[golden["test"] == test]
    table = meta_regression(
        yi[:6],
        mods=dat[["ablat"]].iloc[:6],
        vi=vi[:6],
        test=test,
        threshold=1e-5,
        maxiter=100,
        permutations=1000,
    )
    assert table.attrs["exact"]
    np.testing.assert_allclose(table["pval.perm"], golden["pval"], rtol=1e-12)
    np.testing.assert_allclose(table.attrs["QMp.perm"], golden["QMp"].iloc[0], rtol=1e-12)
    np.testing.assert_allclose(table["zval"], golden["zval"], rtol=1e-6)
    np.testing.assert_allclose(table.attrs["QM"], golden["QM"].iloc[0], rtol=1e-6)


def test_random_permutations_are_seeded_and_include_the_observed_order(shared: Path) -> None:
    dat, yi, vi = bcg(shared)
    args = (yi, None, dat[["ablat"]])
    one = meta_regression(*args, vi=vi, method="DL", permutations=50, seed=3)
    two = meta_regression(*args, vi=vi, method="DL", permutations=50, seed=3)
    other = meta_regression(*args, vi=vi, method="DL", permutations=50, seed=4)
    assert not one.attrs["exact"] and one.attrs["permutations"] == 50
    pd.testing.assert_frame_equal(one, two)
    assert one.attrs["QMp.perm"] >= 1 / 50
    assert not np.array_equal(one["pval.perm"], other["pval.perm"])


@pytest.mark.parametrize("method", ["FE", "DL", "HE", "SJ", "PM", "ML", "REML"])
def test_intercept_only_equals_pool(method: str) -> None:
    rng = np.random.default_rng(1)
    yi, sei = rng.normal(0.2, 0.3, 8), rng.uniform(0.1, 0.4, 8)
    table = meta_regression(yi, sei, method=method, test="knha")
    pooled = pool(yi, sei, method=method, test="knha")
    np.testing.assert_allclose(table["estimate"], pooled.coef, rtol=1e-9)
    np.testing.assert_allclose(table["se"], pooled.stderr, rtol=1e-9)
    np.testing.assert_allclose(table.attrs["tau2"], pooled.tau2[0], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(table.attrs["QE"], pooled.Q[0], rtol=1e-9)
    np.testing.assert_allclose(table.attrs["I2"], pooled.I2[0], rtol=1e-8, atol=1e-12)


def test_vectorized_fits_equal_one_at_a_time_with_absent_cohorts() -> None:
    rng = np.random.default_rng(2)
    n, k = 30, 9
    mods = pd.DataFrame({"age": rng.normal(60, 8, k), "region": list("ABCABCABC")})
    X, terms = design_matrix(mods, k)
    assert terms == ["intrcpt", "age", "regionB", "regionC"]
    yi = rng.normal(0, 0.3, (n, k)) + 0.02 * (mods["age"].to_numpy() - 60)
    sei = rng.uniform(0.05, 0.3, (n, k))
    yi[rng.random((n, k)) < 0.15] = np.nan
    fit = fit_regressions(yi, sei**2, X, method="REML", test="knha")
    for i in range(n):
        keep = np.isfinite(yi[i])
        if keep.sum() <= X.shape[1]:
            assert np.isnan(fit.beta[i]).all()
            continue
        one = meta_regression(yi[i, keep], sei[i, keep], mods.loc[keep].reset_index(drop=True), test="knha")
        np.testing.assert_allclose(fit.beta[i], one["estimate"], rtol=1e-7)
        np.testing.assert_allclose(fit.pval[i], one["pval"], rtol=1e-6)
        np.testing.assert_allclose(fit.QM[i], one.attrs["QM"], rtol=1e-6)
        np.testing.assert_allclose(fit.tau2[i], one.attrs["tau2"], rtol=1e-6, atol=1e-12)


def test_too_few_cohorts_and_bad_moderators() -> None:
    with pytest.warns(UserWarning, match="no more cohorts than coefficients"):
        table = meta_regression(
            [0.1, 0.2, 0.3], [0.1, 0.1, 0.1], np.column_stack([[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]])
        )
    assert table["estimate"].isna().all()
    with pytest.raises(InputError, match="one row per cohort"):
        meta_regression([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], [1.0, 2.0])
    with pytest.raises(InputError, match="method"):
        meta_regression([0.1, 0.2, 0.3, 0.1], [0.1, 0.1, 0.1, 0.2], [1.0, 2.0, 3.0, 5.0], method="XX")


@pytest.mark.parametrize("method", ["REML", "DL", "FE"])
def test_egger_test_matches_regtest(shared: Path, method: str) -> None:
    from osteobiome.meta.bias import egger_test

    _, yi, vi = bcg(shared)
    golden = pd.read_csv(GOLDEN / "bcg_regtest.tsv", sep="\t").set_index("method").loc[method]
    result = egger_test(yi, np.sqrt(vi), method=method)
    for name in ("zval", "pval", "limit"):
        assert close(result[name], golden[name]), (name, result[name], golden[name])
    assert result["k"] == 13


def test_exact_permutations_with_tied_moderators_are_enumerated_directly() -> None:
    from osteobiome.meta.regression import _permutation_orders

    rows = np.repeat([[0.0], [1.0]], 6, axis=0)  # 12 cohorts, a binary moderator: 924 distinct orders of 12!
    orders, exact = _permutation_orders(12, rows, 1000, seed=0)
    assert exact and len(orders) == 924
    assert len({tuple(rows[o, 0]) for o in orders}) == 924
