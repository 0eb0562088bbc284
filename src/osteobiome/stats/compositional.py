"""Compositional correction of the abundance test: compare each feature's exposure coefficient with the
bulk of the features instead of with zero. Deterministic (no Monte Carlo), vectorized over features.

Why. Relative abundances are closed: if the exposure changes the total microbial load (or a few abundant
taxa), every log relative abundance moves by a common amount ``gamma``, so ``beta_j = b_j + gamma`` and a
test of ``beta_j = 0`` flags null features. Assuming most features are null, ``gamma`` is the centre of the
coefficient distribution; test ``beta_j - centre = 0`` instead.

Median comparison (MaAsLin3's idea, analytic covariance). MaAsLin3 (Nickols et al. 2024) tests
``beta_j - median_l(beta_l)`` with ``var = s_j^2 + var(median) - 2 cov(beta_j, median)``, the covariance
taken from 10,000 Monte Carlo draws of *independent* coefficients, so the p-values depend on the seed and
ignore that all coefficients come from the same samples. Here:

1. All features share the samples, so their coefficients are correlated: with ``beta_j = c'y_j`` and
   ``c' = [(X'X)^-1 X']_e`` (row of the exposure e), ``cov(beta_j, beta_l) = c' Cov(eps_j, eps_l) c``; under a
   common residual covariance ``Sigma`` across features, ``= (X'X)^-1_ee * Sigma_jl``. Writing ``U`` (n × m)
   for per-sample contributions with ``U'U`` an estimate of this matrix (:func:`residual_influence`:
   ``U_ij = se_j r_ij / ||r_j||``; HC3: ``U_ij = c_i r_ij / (1 - h_i)``), the variance of any linear
   contrast ``sum_l w_l beta_l`` is ``||U w||^2``.
2. The median is not linear, but near the centre it moves with the features that sit there: solving
   ``sum_l F_l(med) = m / 2`` for a perturbation gives ``d med = sum_l f_l(med) d beta_l / sum_l f_l(med)``,
   a weighted mean of the coefficients whose sampling density is high at the median. We take those weights
   as uniform over a *reference set* S, the central ``fraction`` of the coefficients (default 50%, between
   the quartiles), so ``median ~ mean_{l in S} beta_l``: the exposure coefficient of a reference feature,
   the mean of the log-abundances in S. Then ``beta_j - median`` is (to first order) the exposure
   coefficient of ``y_j - mean_S y_l``, and its variance is ``||U_j - U w||^2`` with ``w = 1_S / |S|``,
   computed as ``||U_j||^2 - 2 U_j'(U w) + ||U w||^2`` for all j at once. A common shift of all features
   (``Y + gamma x_e 1'``, or a shared residual component) cancels exactly in ``U_j - U w``.
3. For independent coefficients this gives ``var(median) ~ s^2 / |S| = 2 s^2 / m`` against the asymptotic
   ``pi s^2 / (2 m)`` of the sample median: slightly conservative, by a term of order 1/m.

``t_j = (beta_j - median) / se_j`` is referred to Student's t with the model's residual df.

LinDA bias correction (Zhou et al. 2022, Genome Biology): the centre is the *mode* of the coefficients
(Gaussian-kernel mean shift), the corrected coefficient ``beta_j - mode`` keeps the uncorrected standard error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from osteobiome.stats.fittable import check_median
from osteobiome.stats.lm import t_test


@dataclass(frozen=True)
class CorrectedTest:
    """Centred coefficients of one exposure (m features): ``coef = beta - shift``, its ``stderr``, ``pval`` and
    ``log_pval`` (natural log, finite where ``pval`` underflows)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray
    log_pval: np.ndarray
    shift: float


@dataclass(frozen=True)
class Influence:
    """Per-sample contributions of one coefficient for a set of features, kept factored:
    ``U = diag(rows) · matrix · diag(cols)`` (n × m; ``matrix`` dense or sparse, ``rows``/``cols`` None = ones).

    The factors let one residual matrix serve every coefficient (classical: ``cols`` = that coefficient's
    standard errors; HC3: ``rows`` = that coefficient's row of ``(X'X)^-1 X'``) and a two-part model's masked
    residuals stay sparse, so a gene-family table's covariance pieces fit in memory block by block.
    """

    matrix: np.ndarray | sp.spmatrix
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    squares: np.ndarray | None = None
    """Column sums of ``matrix²`` when already known (:meth:`with_squares`; pieces sharing one matrix)."""

    def with_squares(self) -> Influence:
        """This piece with ``squares`` computed once, for pieces that share its ``matrix`` (``replace(…, cols=…)``)."""
        squared = self.matrix.multiply(self.matrix) if sp.issparse(self.matrix) else self.matrix**2
        return replace(self, squares=np.asarray(squared.T @ np.ones(self.matrix.shape[0])).ravel())

    def times(self, w: np.ndarray) -> np.ndarray:
        """``U w`` (n,)."""
        v = w if self.cols is None else self.cols * w
        out = np.asarray(self.matrix @ np.nan_to_num(v)).ravel()
        return out if self.rows is None else self.rows * out

    def cross(self, v: np.ndarray) -> np.ndarray:
        """``U' v`` (m,)."""
        v = v if self.rows is None else self.rows * v
        out = np.asarray(self.matrix.T @ v).ravel()
        return out if self.cols is None else self.cols * out

    def sumsq(self) -> np.ndarray:
        """Column sums of ``U²`` (m,)."""
        if self.squares is not None and self.rows is None:
            out = self.squares
        else:
            squared = self.matrix.multiply(self.matrix) if sp.issparse(self.matrix) else self.matrix**2
            weights = np.ones(self.matrix.shape[0]) if self.rows is None else self.rows**2
            out = np.asarray(squared.T @ weights).ravel()
        return out if self.cols is None else self.cols**2 * out

    def dense(self) -> np.ndarray:
        """``U`` as an n × m array."""
        U = self.matrix.toarray() if sp.issparse(self.matrix) else np.array(self.matrix, dtype=float)
        if self.rows is not None:
            U = U * self.rows[:, None]
        return U if self.cols is None else U * self.cols


def residual_factors(stderr: np.ndarray, resid: np.ndarray, sparse: bool = False) -> Influence:
    """:func:`residual_influence` factored: ``matrix = r_j / ||r_j||`` (0 where ``r_j = 0``), ``cols = se_j``
    (pass one coefficient's standard errors; ``dataclasses.replace(..., cols=…)`` serves the others).
    ``sparse``: keep ``matrix`` as CSC (masked two-part residuals are 0 where a feature is absent)."""
    matrix = np.nan_to_num(np.array(resid, dtype=float, order="K"), copy=False)
    norm = np.sqrt(np.einsum("ij,ij->j", matrix, matrix))
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix *= np.where(norm > 0, 1.0 / norm, 0.0)
    return Influence(sp.csc_matrix(matrix) if sparse else matrix, cols=np.nan_to_num(np.asarray(stderr, dtype=float)))


def residual_influence(stderr: np.ndarray, resid: np.ndarray) -> np.ndarray:
    """``U_ij = se_j r_ij / ||r_j||`` (n × m): ``||U_j|| = se_j`` and ``U_j'U_l = se_j se_l corr(r_j, r_l)``.

    For OLS with one design (df = n - p) this is exactly the classical covariance
    ``(X'X)^-1_cc Sigma_jl`` (``se_j = sqrt((X'X)^-1_cc ||r_j||^2 / df)``); for other fits (mixed models:
    marginal residuals ``y - X beta``) it keeps each feature's own variance and borrows the correlation
    between features from the residuals.
    """
    return residual_factors(stderr, resid).dense()


def reference_weights(coef: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Weights ``1/|S|`` on the central ``fraction`` of the finite coefficients (0 elsewhere and on NaN)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    coef = np.asarray(coef, dtype=float)
    ok = np.isfinite(coef)
    lo, hi = np.quantile(coef[ok], [0.5 - fraction / 2, 0.5 + fraction / 2])
    inside = ok & (coef >= lo) & (coef <= hi)
    return inside / inside.sum()


def _t_pvalues(coef: np.ndarray, stderr: np.ndarray, df: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return t_test(coef / stderr, df)


def median_contrast(
    coef: np.ndarray,
    influence: np.ndarray | Influence | Sequence[Influence],
    df: np.ndarray | float,
    fraction: float = 0.5,
) -> CorrectedTest:
    """Test ``beta_j - median(beta)`` with the analytic variance ``||U_j - U w||^2`` (module docstring).

    ``coef``: (m,) exposure coefficients (NaN = not fitted); ``influence``: (n × m) per-sample contributions
    with ``U'U`` estimating their covariance (:func:`residual_influence`, HC3 from
    :func:`osteobiome.stats.robust.hc3_influence`, or masked fits), or :class:`Influence` pieces of consecutive
    blocks of features (their widths add up to m; the association pipeline's blocks); ``df``: residual df,
    scalar or (m,).
    """
    coef = np.asarray(coef, dtype=float)
    ok = np.isfinite(coef)
    check_median(int(ok.sum()))
    if isinstance(influence, np.ndarray):
        influence = [Influence(np.nan_to_num(np.asarray(influence, dtype=float)))]
    elif isinstance(influence, Influence):
        influence = [influence]
    bounds = np.cumsum([0] + [piece.matrix.shape[1] for piece in influence])
    if bounds[-1] != coef.size:
        raise ValueError(f"influence pieces cover {bounds[-1]} features, not {coef.size}")
    w = reference_weights(coef, fraction)
    ref = sum(piece.times(w[a:b]) for piece, a, b in zip(influence, bounds[:-1], bounds[1:], strict=True))
    var = np.concatenate([piece.sumsq() - 2.0 * piece.cross(ref) for piece in influence]) + ref @ ref
    stderr = np.sqrt(np.clip(var, 0.0, None))
    shift = float(np.median(coef[ok]))
    centred = coef - shift
    return CorrectedTest(centred, stderr, *_t_pvalues(centred, stderr, df), shift)


def kernel_mode(values: np.ndarray, tol: float = 1e-10, max_iter: int = 500) -> float:
    """Mode of ``values`` by Gaussian-kernel mean shift from the median (Silverman's bandwidth)."""
    from scipy.stats import iqr  # here: scipy.stats is slow to import and only this mode needs it

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    spread = min(np.std(x, ddof=1), iqr(x) / 1.349)
    if not spread > 0:
        return float(np.median(x))
    bandwidth = 0.9 * spread * x.size ** (-0.2)
    mode = float(np.median(x))
    for _ in range(max_iter):
        k = np.exp(-0.5 * ((x - mode) / bandwidth) ** 2)
        new = float(k @ x / k.sum())
        if abs(new - mode) < tol * bandwidth:
            return new
        mode = new
    return mode


def linda_correct(coef: np.ndarray, stderr: np.ndarray, df: np.ndarray | float) -> CorrectedTest:
    """LinDA: subtract the kernel mode of the coefficients, keep the standard errors, t-test with ``df``."""
    coef = np.asarray(coef, dtype=float)
    stderr = np.asarray(stderr, dtype=float)
    shift = kernel_mode(coef)
    centred = coef - shift
    return CorrectedTest(centred, stderr, *_t_pvalues(centred, stderr, df), shift)
