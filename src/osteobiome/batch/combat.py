"""Zero-inflated empirical-Bayes batch adjustment of abundance tables (MMUPHin ``adjust_batch``, after sva's
ComBat; Johnson, Li & Rabinovic 2007; Ma et al. 2022), every feature at once.

For feature ``j``, only the samples where it is present are used (zeros stay zero):

1. ``y = log2`` relative abundance (TSS) of the present samples; design ``[batch indicators, covariates]``
   (covariates of interest protected: numeric as they are, categorical dummy-coded). A feature is adjusted in
   the batches where it is present if at least two batches have it, the design on its present samples has full
   rank and more rows than columns; a batch needs two adjustable features for its priors.
2. Standardize: OLS ``y = Bβ_batch + Cβ_cov + e``; ``m_j = mean_i (Bβ_batch)_i`` (grand mean over the present
   samples), ``σ²_j = var(e)`` (n-1), ``s = (y - m_j - Cβ_cov) / σ_j``.
3. Per batch ``b``: ``γ̂_jb = mean s``, ``δ̂²_jb = var s`` (n-1; 1 when undefined or 0) over the feature's present
   samples of the batch; priors across features ``γ_jb ~ N(γ̄_b, τ²_b)``, ``δ²_jb ~ InvGamma(a_b, b_b)`` by the
   method of moments (``a = (2v + m²)/v``, ``b = (m v + m³)/v`` of the δ̂² values' mean ``m`` and variance ``v``).
4. Shrink (ComBat's ``it.sol``): ``γ* = (n τ² γ̂ + δ*² γ̄) / (n τ² + δ*²)``, ``δ*² = (½ Σ (s - γ*)² + b) /
   (n/2 + a - 1)``, iterated from ``(γ̂, δ̂²)`` until the largest relative change is below ``conv`` (1e-4).
5. ``s* = (s - γ*) / δ*``, back to ``y* = σ_j s* + m_j + Cβ_cov``, ``2^y*`` on the present samples, each sample
   re-closed to its original total (counts: rounded, a non-zero count kept at least 1).

Where we differ from MMUPHin 1.x (``R/helpers_adjust_batch.R``): (a) MMUPHin's ``fit_EB`` averages the
batch-masked vector over *all* present samples of the feature (other batches' entries count as 0), which
scales γ̂ by the batch's share of samples, and takes the standard deviation as δ̂; we use ComBat's per-batch
mean and variance. (b) MMUPHin logs ``relative + pseudo count`` (half the smallest non-zero value); with zeros
excluded no pseudo count is needed, so we log the non-zero values themselves. (c) MMUPHin's rounding of counts
can turn a small count into 0; we keep every non-zero value non-zero, so the presence pattern is unchanged.
(d) ``sum2 = 0`` (one present sample in a batch) is NA in MMUPHin; here it gives ``δ*² = b / (n/2 + a - 1)``;
when every δ̂² of a batch is equal (no spread for the inverse-gamma prior), ``δ*² = δ̂²`` and only γ is shrunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.align import rows_for
from osteobiome.meta.regression import design_matrix

#: Convergence of the shrinkage iterations (largest relative change) and their maximum (MMUPHin's defaults).
CONV = 1e-4
MAXIT = 1000


@dataclass(frozen=True)
class BatchAdjustment:
    """The adjusted table (samples × features, same scale as the input), the per feature × batch location
    ``gamma_hat``/``gamma_star`` and scale ``delta_hat``/``delta_star`` (NaN where not adjusted), and
    ``adjusted`` (features × batches, bool)."""

    table: pd.DataFrame
    gamma_hat: pd.DataFrame
    gamma_star: pd.DataFrame
    delta_hat: pd.DataFrame
    delta_star: pd.DataFrame
    adjusted: pd.DataFrame


def covariate_matrix(metadata: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    """Covariate columns (numeric as they are, others dummy-coded against their first sorted level): the
    meta-regression's :func:`~osteobiome.meta.regression.design_matrix` without its intercept."""
    X, _ = design_matrix(metadata[covariates], len(metadata), intercept=True)
    return X[:, 1:]


def _check(table: pd.DataFrame, metadata: pd.DataFrame, batch: str, covariates: list[str]) -> pd.DataFrame:
    for name in [batch, *covariates]:
        if name not in metadata.columns:
            raise InputError(
                f"metadata: column {name!r} not found; name the batch and covariate columns of the metadata."
            )
    meta = rows_for(
        table.index, metadata, lambda absent: f"metadata: no row for sample(s) {absent}; give metadata for every sample."
    )[[batch, *covariates]]
    empty = meta.columns[meta.isna().any()].tolist()
    if empty:
        raise InputError(
            f"metadata: column(s) {', '.join(empty)} have missing values; fill them or drop those samples."
        )
    if meta[batch].nunique() < 2:
        raise InputError(
            f"metadata: batch column {batch!r} has one level; batch correction needs at least two batches."
        )
    values = table.to_numpy(float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError("feature table: negative or missing abundances; give counts or relative abundances.")
    return meta


def _shrink(s, present, member, g_hat, d_hat, g_bar, t2, a, b, conv, maxit):  # noqa: ANN001, ANN202
    """ComBat's iterative posterior of one batch, all features at once (rows: features)."""
    mask = present & member[:, None]
    n = mask.sum(axis=0).astype(float)
    g_old, d_old = g_hat.copy(), d_hat.copy()
    for _ in range(maxit):
        g_new = (t2 * n * g_hat + d_old * g_bar) / (t2 * n + d_old)
        sum2 = (np.where(mask, s - g_new[None, :], 0.0) ** 2).sum(axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2 + a - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.nanmax(
                np.concatenate([np.abs(g_new - g_old) / np.abs(g_old), np.abs(d_new - d_old) / np.abs(d_old)])
            )
        g_old, d_old = g_new, d_new
        if not change > conv:
            return g_new, d_new
    raise InputError(f"batch correction: the shrinkage did not converge in {maxit} iterations; raise maxit.")


def adjust_batch(
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    batch: str,
    covariates: list[str] | tuple[str, ...] = (),
    *,
    conv: float = CONV,
    maxit: int = MAXIT,
) -> BatchAdjustment:
    """Zero-inflated empirical-Bayes batch adjustment (module docstring) of ``table`` (samples × features,
    counts or relative abundances) with batches in ``metadata[batch]`` and ``covariates`` protected.

    Returns :class:`BatchAdjustment`; its ``table`` has the input's per-sample totals and zeros, and features or
    batches that cannot be adjusted unchanged (up to the re-closure)."""
    covariates = list(covariates)
    meta = _check(table, metadata, batch, covariates)
    X = table.to_numpy(float)
    totals = X.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(totals[:, None] > 0, X / totals[:, None], 0.0)
    present = rel > 0
    y = np.log2(np.where(present, rel, 1.0))
    batches = sorted(meta[batch].astype(str).unique())
    labels = meta[batch].astype(str).to_numpy()
    B = np.column_stack([labels == b for b in batches]).astype(float)
    C = covariate_matrix(meta, covariates)
    design = np.column_stack([B, C])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise InputError(
            f"batch correction: covariates {', '.join(covariates) or '(none)'} are confounded with {batch!r} (or each other); "
            "drop covariates that are constant within batches."
        )
    n, m = X.shape
    nb, nc = B.shape[1], C.shape[1]
    # which batches can be adjusted for each feature
    counts = present.T.astype(float) @ B  # m × nb present samples per batch
    has = counts > 0
    eligible = np.zeros((m, nb), bool)
    stand_mean = np.zeros((n, m))
    sigma = np.ones(m)
    s = np.zeros((n, m))
    for j in np.flatnonzero(has.sum(axis=1) > 1):
        rows = present[:, j]
        cols = np.concatenate([has[j], np.ones(nc, bool)])
        D = design[rows][:, cols]
        if D.shape[0] <= D.shape[1] or np.linalg.matrix_rank(D) < D.shape[1]:
            continue
        beta, *_ = np.linalg.lstsq(D, y[rows, j], rcond=None)
        k = int(has[j].sum())
        grand = (D[:, :k] @ beta[:k]).mean()
        resid = y[rows, j] - D @ beta
        var = resid.var(ddof=1)
        if not var > 0:
            continue
        eligible[j] = has[j]
        stand_mean[rows, j] = grand + D[:, k:] @ beta[k:]
        sigma[j] = np.sqrt(var)
        s[rows, j] = (y[rows, j] - stand_mean[rows, j]) / sigma[j]
    eligible[:, eligible.sum(axis=0) < 2] = False
    g_hat = np.full((m, nb), np.nan)
    d_hat = np.full((m, nb), np.nan)
    g_star = np.full((m, nb), np.nan)
    d_star = np.full((m, nb), np.nan)
    adjusted_s = s.copy()
    for bi in range(nb):
        feats = np.flatnonzero(eligible[:, bi])
        if feats.size == 0:
            continue
        member = B[:, bi] > 0
        mask = present[:, feats] & member[:, None]
        cnt = mask.sum(axis=0)
        sb = np.where(mask, s[:, feats], 0.0)
        g = sb.sum(axis=0) / cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (np.where(mask, s[:, feats] - g, 0.0) ** 2).sum(axis=0) / (cnt - 1)
        d = np.where(np.isfinite(d) & (d > 0), d, 1.0)
        g_bar, t2 = g.mean(), g.var(ddof=1)
        mean_d, var_d = d.mean(), d.var(ddof=1)
        if var_d > 0:
            a = (2 * var_d + mean_d**2) / var_d
            b = (mean_d * var_d + mean_d**3) / var_d
            gs, ds = _shrink(s[:, feats], present[:, feats], member, g, d, g_bar, t2, a, b, conv, maxit)
        else:  # every δ̂² equal (e.g. one sample per feature): the prior is a point mass, δ*² = δ̂²
            ds = d.copy()
            gs = (t2 * cnt * g + ds * g_bar) / (t2 * cnt + ds)
        g_hat[feats, bi], d_hat[feats, bi], g_star[feats, bi], d_star[feats, bi] = g, d, gs, ds
        adjusted_s[:, feats] = np.where(mask, (s[:, feats] - gs) / np.sqrt(ds), adjusted_s[:, feats])
    done = eligible.any(axis=1)
    y_adj = np.where(present & done[None, :], adjusted_s * sigma + stand_mean, y)
    out = np.where(present, np.exp2(y_adj), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(totals[:, None] > 0, out / out.sum(axis=1, keepdims=True) * totals[:, None], 0.0)
    if np.all(X == np.round(X)):
        out = np.where(present, np.maximum(1.0, np.round(out)), 0.0)
    frame = pd.DataFrame(out, index=table.index, columns=table.columns)

    def per_feature(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=table.columns, columns=batches)

    return BatchAdjustment(
        frame,
        per_feature(g_hat),
        per_feature(g_star),
        per_feature(d_hat),
        per_feature(d_star),
        per_feature(eligible),
    )
