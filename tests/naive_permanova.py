"""A deliberately plain PERMANOVA that refits every model for every permutation (no shared algebra with
``osteobiome.diversity.permanova``): the reference for the tests and the baseline of the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd


def design(metadata: pd.DataFrame, terms: list[str]) -> list[np.ndarray]:
    """Design block per term: numeric columns as is, others as treatment dummies (first sorted level dropped)."""
    blocks = []
    for term in terms:
        col = metadata[term]
        if pd.api.types.is_numeric_dtype(col):
            blocks.append(col.to_numpy(float)[:, None])
        else:
            blocks.append(pd.get_dummies(col.astype(str), drop_first=True).to_numpy(float))
    return blocks


def fitted_ss(G: np.ndarray, blocks: list[np.ndarray]) -> tuple[float, int]:
    """``tr(H G)`` and rank for the model with an intercept and ``blocks``."""
    X = np.hstack([np.ones((G.shape[0], 1))] + blocks)
    Q, R = np.linalg.qr(X)
    Q = Q[:, np.abs(np.diag(R)) > 1e-7 * np.abs(np.diag(R)).max()]
    return float(np.sum(Q * (G @ Q))), Q.shape[1] - 1  # tr(Qᵀ G Q)


def gower(D: np.ndarray) -> np.ndarray:
    n = D.shape[0]
    J = np.eye(n) - 1.0 / n
    return -0.5 * J @ (D**2) @ J


def statistics(G: np.ndarray, blocks: list[np.ndarray], by: str) -> tuple[np.ndarray, np.ndarray, float, int]:
    """``(SS, Df, SS_resid, Df_resid)`` per term, refitting every model on Gower's matrix ``G``."""
    n = G.shape[0]
    full, rank = fitted_ss(G, blocks)
    ss, df = [], []
    for t in range(len(blocks)):
        if by == "terms":
            hi, r_hi = fitted_ss(G, blocks[: t + 1])
            lo, r_lo = fitted_ss(G, blocks[:t]) if t else (0.0, 0)
        else:
            hi, r_hi = full, rank
            lo, r_lo = fitted_ss(G, blocks[:t] + blocks[t + 1 :])
        ss.append(hi - lo)
        df.append(r_hi - r_lo)
    return np.array(ss), np.array(df), float(np.trace(G)) - full, n - rank - 1


def F_values(G: np.ndarray, blocks: list[np.ndarray], by: str) -> np.ndarray:
    ss, df, resid, df_resid = statistics(G, blocks, by)
    return (ss / df) / (resid / df_resid)


def permuted_F(G: np.ndarray, blocks: list[np.ndarray], by: str, perms: np.ndarray) -> np.ndarray:
    """Pseudo-F per term (columns) for each permutation (rows): permute the samples of ``G``, refit everything."""
    return np.vstack([F_values(G[np.ix_(p, p)], blocks, by) for p in perms])
