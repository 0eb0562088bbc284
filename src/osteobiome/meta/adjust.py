"""Multiple-testing adjustment of pooled p-values over features (R ``p.adjust`` "BH"/"fdr" and "bonferroni").

Private to :mod:`osteobiome.meta` until ``osteobiome.multitest.adjust`` lands on main. NaN p-values are left
out (and stay NaN); ``m`` is the number of non-NaN p-values, as in R.
"""

from __future__ import annotations

import numpy as np


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg: ``q_(i) = min_{j >= i} min(1, m p_(j) / j)``."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size:
        order = np.argsort(p[ok])[::-1]
        ranked = p[ok][order] * ok.size / np.arange(ok.size, 0, -1)
        q[ok[order]] = np.minimum(1.0, np.minimum.accumulate(ranked))
    return q


def bonferroni(p: np.ndarray) -> np.ndarray:
    """Bonferroni: ``min(1, m p)``."""
    p = np.asarray(p, dtype=float)
    return np.minimum(1.0, p * np.count_nonzero(~np.isnan(p)))
