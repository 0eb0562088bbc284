"""PERMANOVA as vegan's ``adonis2`` (vegan 2.6-4), with all permutations evaluated in batched matrix products.

Model: Gower's centred matrix ``G`` of the squared distances; a term's sum of squares is ``tr(H G)`` for the hat
matrix ``H`` of its (orthogonalised) design columns; ``SS_total = tr(G)``.

- ``by="terms"``: sequential SS, each term after the terms before it (formula order).
- ``by="margin"``: each term after all the others, i.e. ``SS(full) - SS(full without the term)``, compared
  with the residual of the full model (anovaCCAbymargin in vegan 2.6-4).

``F = (SS_term / Df_term) / (SS_resid / Df_resid)`` with ``Df_resid = n - rank - 1``. Permutations permute
the samples of ``G`` (rows and columns together, within strata if given). For a permutation ``p`` and an
orthonormal basis ``C`` of a hat matrix, ``tr(C Cᵀ G[p, p]) = Σ_j c_jᵀ[p⁻¹] G c_j[p⁻¹]``; the permuted bases
of a batch are stacked side by side and multiplied with ``G`` at once (one GEMM per batch).
p-value: vegan's ``(#{F_perm ≥ F - √ε} + 1) / (permutations + 1)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from osteobiome.diversity.distances import aligned_rows, distance_array, gower_centred
from osteobiome.diversity.permutations import BATCH, check_strata, permutation_batches, permutation_pvalue
from osteobiome.diversity.terms import orthonormal_basis, require_terms, term_blocks
from osteobiome.errors import InputError, suggest

if TYPE_CHECKING:
    from skbio import DistanceMatrix

COLUMNS = ["term", "Df", "SumOfSqs", "R2", "F", "pval"]


@dataclass(frozen=True)
class _TestBasis:
    """Everything the F statistics need from the design.

    ``Q`` (n × k): orthonormal basis of the full model in term order. Every SS is a quadratic form in
    ``M = Qᵀ G Q`` (k × k): column ``c`` of ``B`` (k × m) gives ``B[:, c]ᵀ M B[:, c]``, and ``sums``
    (m × (terms + 1)) adds these up to each term's SS and, in the last column, the full model's SS.
    """

    Q: np.ndarray
    B: np.ndarray
    sums: np.ndarray
    df: np.ndarray


def permanova(
    dm: DistanceMatrix | pd.DataFrame,
    metadata: pd.DataFrame,
    terms: Sequence[str],
    by: Literal["terms", "margin"] = "terms",
    permutations: int | np.ndarray = 999,
    strata: str | Sequence | None = None,
    seed: int | np.random.Generator = 1,
    categorical: Sequence[str] = (),
) -> pd.DataFrame:
    """PERMANOVA table with vegan's columns ``term Df SumOfSqs R2 F pval`` (rows: terms, Residual, Total).

    ``terms`` are metadata columns in formula order (see :mod:`osteobiome.diversity.terms` for coding);
    ``strata`` is a metadata column (or one value per sample) within which samples are permuted;
    ``permutations`` is a count or an explicit (permutations × n) index matrix. Samples with missing term or
    stratum values are dropped with a warning.
    """
    if by not in ("terms", "margin"):
        raise InputError(f"by: '{by}' is not one of 'terms', 'margin'{suggest(str(by), ['terms', 'margin'])}.")
    terms = list(terms)
    D, ids = distance_array(dm)
    require_terms(metadata, terms)
    strata_col = [strata] if isinstance(strata, str) else []
    if strata_col:
        require_terms(metadata, strata_col, "strata")
    keep, rows = aligned_rows(ids, metadata, terms + strata_col, "permanova")
    D = D[np.ix_(keep, keep)]
    n = len(rows)
    blocks = term_blocks(rows, terms, categorical)
    basis = _test_basis(blocks, by)
    rank = basis.Q.shape[1]
    df_resid = n - rank - 1
    if df_resid < 1:
        raise InputError(f"permanova: {n} samples leave no residual degrees of freedom for {rank} model columns.")
    codes = check_strata(
        rows[strata].to_numpy() if strata_col else _per_sample(strata, keep),
        n,
        f"strata '{strata}'" if strata_col else "strata",
    )

    G = gower_centred(D)
    total = float(np.trace(G))
    ss, fitted = _sums_of_squares(G, basis.Q[:, None, :], basis)
    ss, fitted = ss[0], fitted[0]
    resid = total - fitted
    with np.errstate(divide="ignore", invalid="ignore"):
        F = (ss / basis.df) / (resid / df_resid)
        null = _null_F(G, basis, total, df_resid, permutations, seed, codes)
    pval = permutation_pvalue(null, F) if null.shape[0] else np.full(len(F), np.nan)
    pval[basis.df == 0] = np.nan
    for term, d in zip(terms, basis.df, strict=True):
        if d == 0:
            warnings.warn(f"permanova: term '{term}' is aliased with {'earlier' if by == 'terms' else 'other'} terms (0 Df); no test.", stacklevel=2)
    table = pd.DataFrame(
        {
            "term": terms + ["Residual", "Total"],
            "Df": np.r_[basis.df, df_resid, n - 1].astype(int),
            "SumOfSqs": np.r_[ss, resid, total],
            "R2": np.r_[ss, resid, total] / total,
            "F": np.r_[F, np.nan, np.nan],
            "pval": np.r_[pval, np.nan, np.nan],
        },
        columns=COLUMNS,
    )
    table.attrs.update(by=by, permutations=int(null.shape[0]), seed=seed if isinstance(seed, int) else None, n=n)
    return table


def _per_sample(strata: Sequence | None, keep: np.ndarray) -> np.ndarray | None:
    if strata is None:
        return None
    values = np.asarray(strata, dtype=object)
    if len(values) != len(keep):
        raise InputError(f"strata: {len(values)} values for {len(keep)} samples; give one stratum per sample.")
    return values[keep]


def _test_basis(blocks: list[np.ndarray], by: str) -> _TestBasis:
    """Full-model basis in term order; ``by="margin"`` adds each term's part orthogonal to all other terms,
    expressed in the coordinates of that basis (it lies in its span)."""
    Q, owner = orthonormal_basis(blocks)
    k, T = Q.shape[1], len(blocks)
    full = np.zeros((k, T + 1))
    full[:, T] = 1
    if by == "terms":
        full[np.arange(k), owner] = 1
        return _TestBasis(Q, np.eye(k), full, np.bincount(owner, minlength=T))
    coords, sums, df = [np.eye(k)], [full], np.zeros(T, dtype=int)
    for t in range(T):
        others, _ = orthonormal_basis([b for i, b in enumerate(blocks) if i != t])
        W, _ = orthonormal_basis([blocks[t]], start=others)
        df[t] = W.shape[1]
        coords.append(Q.T @ W)
        rows = np.zeros((W.shape[1], T + 1))
        rows[:, t] = 1
        sums.append(rows)
    return _TestBasis(Q, np.hstack(coords), np.vstack(sums), df)


def _sums_of_squares(G: np.ndarray, Qs: np.ndarray, basis: _TestBasis) -> tuple[np.ndarray, np.ndarray]:
    """For a stack of (permuted) bases ``Qs`` (n × b × k): per-term SS (b × terms) and full-model SS (b,).

    One GEMM ``G @ [Q_1 … Q_b]`` (n × bk), then ``M_i = Q_iᵀ G Q_i`` (k × k each) and the quadratic forms."""
    n, b, k = Qs.shape
    GQ = (G @ Qs.reshape(n, b * k)).reshape(n, b, k)
    M = np.einsum("nbi,nbj->bij", Qs, GQ, optimize=True)
    quad = np.einsum("bij,ic,jc->bc", M, basis.B, basis.B)
    out = quad @ basis.sums
    return out[:, :-1], out[:, -1]


def _null_F(
    G: np.ndarray,
    basis: _TestBasis,
    total: float,
    df_resid: int,
    permutations: int | np.ndarray,
    seed: int | np.random.Generator,
    strata: np.ndarray | None,
) -> np.ndarray:
    """Pseudo-F of every term under each permutation (permutations × terms)."""
    n = G.shape[0]
    if isinstance(permutations, np.ndarray):
        if permutations.ndim != 2 or permutations.shape[1] != n:
            raise InputError(f"permutations: an index matrix must have {n} columns (one per sample).")
        if not (np.sort(permutations, axis=1) == np.arange(n)).all():
            raise InputError(f"permutations: every row of the index matrix must be a permutation of 0…{n - 1}.")
        batches = [permutations[i : i + BATCH] for i in range(0, len(permutations), BATCH)]
    else:
        if int(permutations) < 0:
            raise InputError("permutations: must be 0 or more.")
        batches = permutation_batches(n, int(permutations), seed, strata)
    out = []
    for batch in batches:
        inverse = np.argsort(batch, axis=1)
        ss, fitted = _sums_of_squares(G, basis.Q[inverse.T], basis)
        out.append((ss / basis.df) / ((total - fitted)[:, None] / df_resid))
    return np.vstack(out) if out else np.zeros((0, len(basis.df)))
