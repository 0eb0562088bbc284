"""Per-sample products of one feature's design row with itself, for all features at once.

Each feature ``j`` has the design row ``x_ij = (f_ij, z_i1 … z_ip)`` (its own exposure first, then the shared
covariates). The models need sums over samples of ``w_ij``, ``w_ij x_ij`` and ``w_ij x_ij x_ijᵀ`` with
per-feature weights ``w``; :func:`weighted_products` stacks these ``T = 1 + q + q(q+1)/2`` products (q = p + 1)
as an (n, T, m) array so one sparse product over samples (Cox risk sets) or one column sum (logistic) gives
them all, and :func:`unpack` turns the stacked (…, T, m) sums back into ``(S0, S1, S2)``.
"""

from __future__ import annotations

import numpy as np


def n_products(q: int) -> int:
    """T, the number of stacked products for q coefficients."""
    return 1 + q + q * (q + 1) // 2


def weighted_products(W: np.ndarray, F: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """(n, T, m) array of ``w``, ``w x_d`` and ``w x_d x_e`` (d <= e) per sample and feature.

    ``W``, ``F``: (n, m) weights and exposures; ``Z``: (n, p) shared covariates."""
    n, m = F.shape
    q = Z.shape[1] + 1
    out = np.empty((n, n_products(q), m))
    out[:, 0] = W
    np.multiply(W, F, out=out[:, 1])
    for c in range(q - 1):
        np.multiply(W, Z[:, c : c + 1], out=out[:, 2 + c])
    t = 1 + q
    for d, e in zip(*np.triu_indices(q), strict=True):
        np.multiply(out[:, 1 + d], F if e == 0 else Z[:, e - 1 : e], out=out[:, t])
        t += 1
    return out


def unpack(S: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(S0, S1, S2)`` of shapes ``(..., m)``, ``(..., m, q)``, ``(..., m, q, q)`` from stacked (..., T, m) sums."""
    rows, cols = np.triu_indices(q)
    S = np.moveaxis(S, -2, -1)  # (..., m, T)
    S2 = np.empty(S.shape[:-1] + (q, q))
    S2[..., rows, cols] = S[..., 1 + q :]
    S2[..., cols, rows] = S[..., 1 + q :]
    return S[..., 0], S[..., 1 : 1 + q], S2
