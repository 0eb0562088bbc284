"""osteobiome.stats.distributions returns bit for bit what scipy.stats returns, on grids through the tails, the ends of
the support, NaN, ±inf and invalid or extreme degrees of freedom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from osteobiome.stats import distributions

X = np.array(
    [-np.inf, -1e300, -1e3, -40.0, -38.5, -8.3, -1.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 1.0, 1.96, 8.3, 37.5,
     38.5, 40.0, 1e3, 1e300, np.inf, np.nan]
)
Q = np.array([np.nan, -np.inf, -0.1, 0.0, 5e-324, 1e-300, 1e-20, 0.025, 0.5, 0.975, 1 - 1e-16, 1.0, 1.1, np.inf])
DF = np.array([np.nan, -np.inf, -1.0, 0.0, 1e-300, 0.1, 0.5, 1.0, 2.0, 2.5, 30.0, 1e3, 1e10, 1e300, np.inf])


def assert_identical(ours: object, theirs: object) -> None:
    """Same type (NumPy scalar or array), shape and bits (any NaN equal to any NaN)."""
    assert type(ours) is type(theirs)
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.dtype == b.dtype == np.float64 and a.shape == b.shape
    same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
    bad = np.flatnonzero(~same.ravel())
    assert bad.size == 0, f"{bad.size} differ, first: ours {a.ravel()[bad[0]]!r} scipy {b.ravel()[bad[0]]!r}"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (distributions.normal_cdf, stats.norm.cdf),
        (distributions.normal_sf, stats.norm.sf),
        (distributions.normal_logsf, stats.norm.logsf),
    ],
    ids=["normal_cdf", "normal_sf", "normal_logsf"],
)
def test_normal_functions_of_x(ours, theirs) -> None:
    with np.errstate(all="ignore"):
        assert_identical(ours(X), theirs(X))
        for x in X:
            assert_identical(ours(float(x)), theirs(float(x)))
        grid = np.linspace(-40.0, 40.0, 20001)
        assert_identical(ours(grid), theirs(grid))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(distributions.normal_ppf, stats.norm.ppf), (distributions.normal_isf, stats.norm.isf)],
    ids=["ppf", "isf"],
)
def test_normal_quantiles(ours, theirs) -> None:
    grid = np.concatenate([Q, np.logspace(-320, 0, 4001), np.linspace(0.0, 1.0, 10001)])
    with np.errstate(all="ignore"):
        assert_identical(ours(grid), theirs(grid))
        for q in Q:
            assert_identical(ours(float(q)), theirs(float(q)))


def test_t_sf_and_isf() -> None:
    x, df = np.meshgrid(np.concatenate([X, np.linspace(-50, 50, 401)]), DF)
    q, dq = np.meshgrid(np.concatenate([Q, np.logspace(-300, 0, 301)]), DF)
    with np.errstate(all="ignore"):
        assert_identical(distributions.t_sf(x, df), stats.t.sf(x, df))
        assert_identical(distributions.t_isf(q, dq), stats.t.isf(q, dq))
        assert_identical(distributions.t_sf(2.5, 7), stats.t.sf(2.5, 7))
        assert_identical(distributions.t_isf(0.025, 7.0), stats.t.isf(0.025, 7.0))
        assert_identical(distributions.t_isf(0.0, 3), stats.t.isf(0.0, 3))
        assert_identical(distributions.t_isf(np.array([0.05, 0.5, 1.0]), 4), stats.t.isf(np.array([0.05, 0.5, 1.0]), 4))


def test_chi2_and_f_sf() -> None:
    x = np.concatenate([X, np.linspace(0, 200, 801)])
    xc, dc = np.meshgrid(x, DF)
    xf, d1, d2 = np.meshgrid(x, DF, DF)
    with np.errstate(all="ignore"):
        assert_identical(distributions.chi2_sf(xc, dc), stats.chi2.sf(xc, dc))
        assert_identical(distributions.f_sf(xf, d1, d2), stats.f.sf(xf, d1, d2))
        assert_identical(distributions.chi2_sf(3.2, 2), stats.chi2.sf(3.2, 2))
        assert_identical(distributions.f_sf(3.2, 2, 40), stats.f.sf(3.2, 2, 40))
        assert_identical(distributions.chi2_sf(np.array([1.0, 4.0]), 1), stats.chi2.sf(np.array([1.0, 4.0]), 1))


def test_inputs_of_other_types() -> None:
    """Integers, lists and pandas Series go in as scipy.stats takes them (arrays out, float64)."""
    pd = pytest.importorskip("pandas")
    series = pd.Series([0.5, 2.0, -1.0], index=[3, 1, 2])
    assert_identical(distributions.normal_sf(series), stats.norm.sf(series))
    assert_identical(distributions.t_sf([1, 2, 3], 5), stats.t.sf([1, 2, 3], 5))
    assert_identical(distributions.chi2_sf(series, 3), stats.chi2.sf(series, 3))
    assert_identical(distributions.normal_isf(series / 10), stats.norm.isf(series / 10))
