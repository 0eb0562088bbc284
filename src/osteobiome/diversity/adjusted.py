"""Many covariate-adjusted PERMANOVAs on one distance matrix: ``distance ~ covariates + test`` for each test term.

Each table equals :func:`osteobiome.diversity.permanova` with ``terms = [*covariates, test]`` and
``by="terms"`` on the samples complete for that model (same permutations from the same seed, same p-values),
but the work shared by the models is done once per set of complete samples: Gower's centred matrix ``G``, the
orthonormal basis ``Q_c`` of the covariates and, for every permutation, the products ``G Q_c[p⁻¹]``.

Sequential sums of squares only need the diagonal of ``Qᵀ G Q``: with ``Q = [Q_c, W_t]`` (``W_t`` the test
term's columns orthogonalised against the covariates, as Gram–Schmidt in formula order gives them), column
``j`` contributes ``q_jᵀ G q_j`` to its term's SS, and under a permutation ``p`` it contributes
``q_j[p⁻¹]ᵀ G q_j[p⁻¹]``. So one GEMM per batch of permutations, ``G @ [Q_c[p⁻¹] | W_1[p⁻¹] | … | W_T[p⁻¹]]``,
gives every model's statistics; per model the work is its own ``df_t`` columns instead of ``rank`` columns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from osteobiome.diversity.distances import distance_array, gower_centred, metadata_rows
from osteobiome.diversity.permanova import COLUMNS
from osteobiome.diversity.permutations import check_strata, permutation_batches, permutation_pvalue
from osteobiome.diversity.terms import orthonormal_basis, require_terms, term_blocks
from osteobiome.errors import InputError

if TYPE_CHECKING:
    from skbio import DistanceMatrix

MAX_BATCH_BYTES = 256 * 2**20
"""Largest permuted-basis array (and its product with ``G``) of one GEMM; more test terms go in several GEMMs."""


def permanova_each(
    dm: DistanceMatrix | pd.DataFrame,
    metadata: pd.DataFrame,
    covariates: Sequence[str],
    tests: Sequence[str],
    permutations: int = 999,
    seed: int = 1,
    strata: str | None = None,
    categorical: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """PERMANOVA of ``distance ~ covariates + test`` (sequential SS, so the test term is covariate-adjusted) for
    each of ``tests``: test term → vegan's table ``term Df SumOfSqs R2 F pval`` (rows: covariates, the test,
    Residual, Total), equal to :func:`~osteobiome.diversity.permanova` on the samples with no missing value in
    that model's terms (and stratum); those samples are left out silently, model by model.

    ``permutations``: a count (every model draws the same permutations from ``seed`` for its sample count, as
    separate ``permanova`` calls with that seed would); ``strata``: a metadata column within which samples are
    permuted; ``categorical``: numeric columns coded as factors.
    """
    covariates, tests = list(covariates), list(dict.fromkeys(tests))
    if int(permutations) < 0:
        raise InputError("permutations: must be 0 or more.")
    D, ids = distance_array(dm)
    require_terms(metadata, tests, "tests")
    if covariates:
        require_terms(metadata, covariates, "covariates")
    extra = [strata] if strata else []
    if strata:
        require_terms(metadata, extra, "strata")
    rows = metadata_rows(ids, metadata, "permanova")
    complete = {t: rows[[*covariates, t, *extra]].notna().all(axis=1).to_numpy() for t in tests}
    groups: dict[bytes, list[str]] = {}
    for t in tests:
        groups.setdefault(complete[t].tobytes(), []).append(t)
    out: dict[str, pd.DataFrame] = {}
    for members in groups.values():
        keep = complete[members[0]]
        sub = rows.loc[keep]
        out.update(
            _same_samples(D[np.ix_(keep, keep)], sub, covariates, members, int(permutations), seed, strata, categorical)
        )
    return {t: out[t] for t in tests}


def _same_samples(
    D: np.ndarray,
    rows: pd.DataFrame,
    covariates: list[str],
    tests: list[str],
    permutations: int,
    seed: int,
    strata: str | None,
    categorical: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """The tables of ``tests`` whose models use exactly the samples of ``D`` / ``rows``."""
    n = len(rows)
    cov_blocks = term_blocks(rows, covariates, categorical) if covariates else []
    Qc, owner_c = orthonormal_basis(cov_blocks) if covariates else (np.zeros((n, 0)), np.zeros(0, dtype=int))
    bases = {t: orthonormal_basis(term_blocks(rows, [t], categorical), start=Qc)[0] for t in tests}
    df_c = np.bincount(owner_c, minlength=len(covariates))
    codes = check_strata(rows[strata].to_numpy(), n, f"strata '{strata}'") if strata else None
    G = gower_centred(D)
    total = float(np.trace(G))

    # columns of every model side by side: the covariates' first, then each test's; ``term_of`` maps a column to
    # its covariate (0…C-1) or its test (C + index of the test)
    C = len(covariates)
    Q = np.hstack([Qc, *bases.values()])
    term_of = np.r_[owner_c, np.repeat(C + np.arange(len(tests)), [b.shape[1] for b in bases.values()])].astype(int)
    observed = _column_ss(G, Q[:, None, :])[0]
    null = np.zeros((0, Q.shape[1]))
    if permutations:
        chunks = [
            _column_ss(G, Q[np.argsort(batch, axis=1).T]) for batch in permutation_batches(n, permutations, seed, codes)
        ]
        null = np.vstack(chunks)

    out = {}
    for i, test in enumerate(tests):
        columns = np.flatnonzero((term_of < C) | (term_of == C + i))
        owner = np.where(term_of[columns] < C, term_of[columns], C)
        df = np.r_[df_c, bases[test].shape[1]]
        rank = int(df.sum())
        df_resid = n - rank - 1
        if df_resid < 1:
            raise InputError(f"permanova: {n} samples leave no residual degrees of freedom for {rank} model columns.")
        for term, d in zip([*covariates, test], df, strict=True):
            if d == 0:
                warnings.warn(f"permanova: term '{term}' is aliased with earlier terms (0 Df); no test.", stacklevel=3)
        ss, F = _statistics(observed[None, columns], owner, df, total, df_resid)
        _, null_F = _statistics(null[:, columns], owner, df, total, df_resid)
        pval = permutation_pvalue(null_F, F[0]) if permutations else np.full(len(df), np.nan)
        pval[df == 0] = np.nan
        ss, resid = ss[0], total - ss[0].sum()
        table = pd.DataFrame(
            {
                "term": [*covariates, test, "Residual", "Total"],
                "Df": np.r_[df, df_resid, n - 1].astype(int),
                "SumOfSqs": np.r_[ss, resid, total],
                "R2": np.r_[ss, resid, total] / total,
                "F": np.r_[F[0], np.nan, np.nan],
                "pval": np.r_[pval, np.nan, np.nan],
            },
            columns=COLUMNS,
        )
        table.attrs.update(by="terms", permutations=permutations, seed=seed, n=n)
        out[test] = table
    return out


def _column_ss(G: np.ndarray, Qs: np.ndarray) -> np.ndarray:
    """``q_jᵀ G q_j`` for every column ``j`` of every (permuted) basis in ``Qs`` (n × b × k) → (b × k), in GEMMs
    of at most :data:`MAX_BATCH_BYTES`."""
    n, b, k = Qs.shape
    step = max(1, MAX_BATCH_BYTES // (8 * n * b))
    out = np.empty((b, k))
    for j in range(0, k, step):
        part = np.ascontiguousarray(Qs[:, :, j : j + step])
        GQ = (G @ part.reshape(n, -1)).reshape(part.shape)
        out[:, j : j + step] = np.einsum("nbk,nbk->bk", part, GQ)
    return out


def _statistics(
    column_ss: np.ndarray, owner: np.ndarray, df: np.ndarray, total: float, df_resid: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-term SS and pseudo-F (rows: permutations) from the columns' SS (``owner``: each column's term)."""
    ss = np.zeros((column_ss.shape[0], len(df)))
    np.add.at(ss.T, owner, column_ss.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        F = (ss / df) / ((total - ss.sum(axis=1))[:, None] / df_resid)
    return ss, F
