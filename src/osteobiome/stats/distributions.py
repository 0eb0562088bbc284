"""The few distribution functions the analyses need (normal, Student t, χ², F), from :mod:`scipy.special`.

Each returns exactly what the ``scipy.stats`` method named in its docstring returns (the same special
function, with the same values outside the parameter space and at the ends of the support; bit-identical,
shown by ``tests/test_distributions.py``), without importing ``scipy.stats``, which costs more than half a
second of every process that imports the analyses. Inputs are array-likes (broadcast); a scalar in gives a
NumPy scalar out, as in ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

ArrayLike = np.ndarray | float


def normal_cdf(x: ArrayLike) -> ArrayLike:
    """Φ(x), the standard normal distribution function (``scipy.stats.norm.cdf(x)``)."""
    return special.ndtr(np.asarray(x, dtype=float))[()]


def normal_sf(x: ArrayLike) -> ArrayLike:
    """1 − Φ(x) = Φ(−x), the standard normal upper tail (``scipy.stats.norm.sf(x)``); a two-sided z-test's
    p-value is ``2 * normal_sf(abs(z))``."""
    return special.ndtr(-np.asarray(x, dtype=float))[()]


def normal_logsf(x: ArrayLike) -> ArrayLike:
    """log(1 − Φ(x)), accurate where 1 − Φ(x) underflows (``scipy.stats.norm.logsf(x)``)."""
    x = np.asarray(x, dtype=float)
    return np.where(x == -np.inf, 0.0, special.log_ndtr(-x))[()]


def normal_ppf(q: ArrayLike) -> ArrayLike:
    """Φ⁻¹(q), the standard normal quantile (``scipy.stats.norm.ppf(q)``; NaN outside [0, 1])."""
    return special.ndtri(np.asarray(q, dtype=float))[()]


def normal_isf(q: ArrayLike) -> ArrayLike:
    """z with 1 − Φ(z) = q, i.e. −Φ⁻¹(q) (``scipy.stats.norm.isf(q)``); the two-sided critical value at level
    ``1 − α`` is ``normal_isf(α / 2)``."""
    return (0.0 - special.ndtri(np.asarray(q, dtype=float)))[()]  # 0.0 − …: 0.0 at q = 0.5 as in scipy.stats


def t_sf(x: ArrayLike, df: ArrayLike) -> ArrayLike:
    """P(T_ν > x) for Student's t with ν = ``df`` > 0 degrees of freedom (ν = ∞: normal), NaN for ν ≤ 0
    (``scipy.stats.t.sf(x, df)``)."""
    return special.stdtr(np.asarray(df, dtype=float), -np.asarray(x, dtype=float))[()]


def t_isf(q: ArrayLike, df: ArrayLike) -> ArrayLike:
    """t with P(T_ν > t) = q, ν = ``df`` > 0 (``scipy.stats.t.isf(q, df)``): +∞ at q = 0, −∞ at q = 1, NaN
    outside [0, 1] or for ν ≤ 0."""
    q, df = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(df, dtype=float))
    valid = df > 0
    inner = 0.0 - special.stdtrit(df, np.where((q > 0) & (q < 1), q, 0.5))
    out = np.select([valid & (q == 0), valid & (q == 1), valid & (q > 0) & (q < 1)], [np.inf, -np.inf, inner], np.nan)
    return out[()]


def chi2_sf(x: ArrayLike, df: ArrayLike) -> ArrayLike:
    """P(χ²_k > x) for k = ``df`` > 0 degrees of freedom (``scipy.stats.chi2.sf(x, df)``)."""
    x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
    return _positive_support(special.chdtrc(df, x), x, df > 0)


def f_sf(x: ArrayLike, dfn: ArrayLike, dfd: ArrayLike) -> ArrayLike:
    """P(F_{d₁,d₂} > x) for d₁ = ``dfn`` > 0 and d₂ = ``dfd`` > 0 (``scipy.stats.f.sf(x, dfn, dfd)``)."""
    x, dfn, dfd = (np.asarray(v, dtype=float) for v in (x, dfn, dfd))
    return _positive_support(special.fdtrc(dfn, dfd, x), x, (dfn > 0) & (dfd > 0))


def _positive_support(sf: np.ndarray, x: np.ndarray, valid: np.ndarray) -> ArrayLike:
    """``sf`` with scipy.stats' values off a [0, ∞) support: 1 at x ≤ 0, 0 at x = ∞, NaN where x is NaN or the
    degrees of freedom are invalid."""
    out = np.where(x <= 0, 1.0, np.where(x == np.inf, 0.0, sf))
    return np.where(valid & ~np.isnan(x), out, np.nan)[()]
