"""Per-sample products of one feature's design row with itself, for all features at once.

Each feature ``j`` has the design row ``x_ij = (f_ij, z_i1 … z_ip)`` (its own exposure first, then the shared
covariates). The models need sums over samples of ``w_ij``, ``w_ij x_ij`` and ``w_ij x_ij x_ijᵀ`` with
per-feature weights ``w``; :func:`weighted_products` stacks these ``1 + q + q(q+1)/2`` products (q = p + 1)
on a last axis so one cumulative sum (Cox risk sets) or one column sum (logistic) gives them all, and
:func:`unpack` turns the stacked sums back into ``(S0, S1, S2)``.
"""

from __future__ import annotations

import numpy as np


def _pairs(q: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(q)


def weighted_products(W: np.ndarray, F: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """(n, m, 1 + q + q(q+1)/2) array of ``w``, ``w x_d`` and ``w x_d x_e`` (d <= e) per sample and feature.

    ``W``, ``F``: (n, m) weights and exposures; ``Z``: (n, p) shared covariates."""
    n, m = F.shape
    q = Z.shape[1] + 1
    rows, cols = _pairs(q)
    out = np.empty((n, m, 1 + q + rows.size))
    out[:, :, 0] = W
    WF = W * F
    out[:, :, 1] = WF
    out[:, :, 2 : 1 + q] = W[:, :, None] * Z[:, None, :]
    for t, (d, e) in enumerate(zip(rows, cols, strict=True)):
        left = out[:, :, 1 + d]  # w x_d
        out[:, :, 1 + q + t] = left * (F if e == 0 else Z[:, e - 1][:, None])
    return out


def unpack(S: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(S0, S1, S2)`` of shapes ``(..., m)``, ``(..., m, q)``, ``(..., m, q, q)`` from stacked sums."""
    rows, cols = _pairs(q)
    S0 = S[..., 0]
    S1 = S[..., 1 : 1 + q]
    S2 = np.empty(S.shape[:-1] + (q, q))
    S2[..., rows, cols] = S[..., 1 + q :]
    S2[..., cols, rows] = S[..., 1 + q :]
    return S0, S1, S2


def design_rows(F: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """(n, m, q) array of ``x_ij = (f_ij, z_i)``."""
    n, m = F.shape
    X = np.empty((n, m, Z.shape[1] + 1))
    X[:, :, 0] = F
    X[:, :, 1:] = Z[:, None, :]
    return X
