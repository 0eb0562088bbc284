"""Multiple-testing corrections, NaN-aware, identical to R's ``p.adjust``.

``adjust(p, method)`` adjusts the finite p-values of ``p`` together (``n`` = number of non-NaN values, as
``p.adjust`` does) and leaves NaN where ``p`` is NaN. ``adjust_grouped`` applies it within groups (the
``per-variable`` FDR scope) or over everything at once (scope ``all``, MaAsLin2's behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from osteobiome.errors import InputError, suggest

METHODS = ("BH", "BY", "bonferroni", "holm", "hochberg")
SCOPES = ("all", "per-variable")


def _canonical(method: str) -> str:
    lookup = {m.lower(): m for m in METHODS} | {"fdr": "BH"}
    key = str(method).lower()
    if key not in lookup:
        raise InputError(f"correction {method!r} is not known{suggest(method, METHODS)}; use one of {', '.join(METHODS)}.")
    return lookup[key]


def _adjust_finite(p: np.ndarray, method: str) -> np.ndarray:
    n = p.size
    if n == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    if method == "holm":  # step-down: max_{j<=i} (n-j+1) p_(j)
        order = np.argsort(p, kind="stable")
        ranks = np.arange(1, n + 1)
        adjusted = np.minimum(1.0, np.maximum.accumulate((n - ranks + 1) * p[order]))
    else:  # step-up methods: min_{j>=i} c_j p_(j), from the largest p downwards
        order = np.argsort(-p, kind="stable")
        i = np.arange(n, 0, -1)
        if method == "BH":
            factor = n / i
        elif method == "BY":
            factor = np.sum(1.0 / np.arange(1, n + 1)) * n / i
        else:  # hochberg
            factor = (n - i + 1).astype(float)
        adjusted = np.minimum(1.0, np.minimum.accumulate(factor * p[order]))
    out = np.empty(n)
    out[order] = adjusted
    return out


def adjust(p: Sequence[float] | np.ndarray, method: str = "BH") -> np.ndarray:
    """Adjusted p-values (q-values) of ``p`` by ``method`` (BH, BY, bonferroni, holm, hochberg); NaN stays NaN.

    BH: q_(i) = min_{j>=i} min(1, n p_(j) / j); BY multiplies BH by sum_{k<=n} 1/k; Holm:
    q_(i) = max_{j<=i} min(1, (n-j+1) p_(j)); Bonferroni: min(1, n p).
    """
    method = _canonical(method)
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise InputError("p-values must lie in [0, 1]; check the values passed to adjust().")
    out[finite] = _adjust_finite(p[finite], method)
    return out


def adjust_grouped(p: np.ndarray, groups: np.ndarray | None, method: str = "BH", scope: str = "all") -> np.ndarray:
    """Adjust ``p`` over everything (``scope='all'``) or separately within each label of ``groups``."""
    if scope not in SCOPES:
        raise InputError(f"FDR scope {scope!r} is not known{suggest(scope, SCOPES)}; use 'all' or 'per-variable'.")
    p = np.asarray(p, dtype=float)
    if scope == "all" or groups is None:
        return adjust(p, method)
    groups = np.asarray(groups)
    out = np.full(p.shape, np.nan)
    for label in dict.fromkeys(groups.tolist()):
        mask = groups == label
        out[mask] = adjust(p[mask], method)
    return out
