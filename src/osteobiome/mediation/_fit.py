"""Every (exposure, mediator) pair's two linear models from shared cross-products (Frisch–Waugh–Lovell).

For exposures ``X`` (n × p), mediators ``M`` (n × K), outcome ``y`` (n) and covariates ``C`` (n × q, with the
intercept), after standardizing x, m and y (mean 0, SD 1 with n − 1) and residualizing them on ``C`` (one QR of
``C``; tilde = residual):

- mediator model ``m_k ~ x_j + C``: α_jk = x̃ᵀm̃ / x̃ᵀx̃, RSS = m̃ᵀm̃ − α x̃ᵀm̃, se(α) = sqrt(RSS / (n − q − 1) / x̃ᵀx̃);
- outcome model ``y ~ m_k + x_j + C``: with D = m̃ᵀm̃ · x̃ᵀx̃ − (x̃ᵀm̃)², β_jk = (x̃ᵀx̃ · m̃ᵀỹ − x̃ᵀm̃ · x̃ᵀỹ) / D
  (mediator), γ_jk = (m̃ᵀm̃ · x̃ᵀỹ − x̃ᵀm̃ · m̃ᵀỹ) / D (direct effect of the exposure), RSS = ỹᵀỹ − β m̃ᵀỹ − γ x̃ᵀỹ,
  se(β) = sqrt(RSS / (n − q − 2) · x̃ᵀx̃ / D);
- total effect ``y ~ x_j + C``: c_j = x̃ᵀỹ / x̃ᵀx̃ (= γ + αβ for OLS on the same rows).

These are exactly the coefficients and standard errors of the full regressions (FWL theorem); one product
X̃ᵀM̃ covers every pair, so p × K pairs cost about as much as p + K regressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osteobiome.stats.lm import t_test
from osteobiome.stats.preprocess import standardize_columns


@dataclass(frozen=True)
class PairFit:
    """Per-pair arrays (exposures × mediators) on standardized variables; ``total`` per exposure; ``df_alpha`` and
    ``df_beta`` the residual degrees of freedom of the two models; ``n`` the rows used."""

    alpha: np.ndarray
    alpha_se: np.ndarray
    beta: np.ndarray
    beta_se: np.ndarray
    direct: np.ndarray
    total: np.ndarray
    df_alpha: int
    df_beta: int
    n: int

    @property
    def indirect(self) -> np.ndarray:
        return self.alpha * self.beta

    def pvals(self) -> tuple[np.ndarray, np.ndarray]:
        """Two-sided t-test p-values of α and β (R's ``summary.lm``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            p_alpha = t_test(self.alpha / self.alpha_se, np.float64(self.df_alpha))[0]
            p_beta = t_test(self.beta / self.beta_se, np.float64(self.df_beta))[0]
        return p_alpha, p_beta


def fit_pairs(X: np.ndarray, M: np.ndarray, y: np.ndarray, C: np.ndarray) -> PairFit:
    """α, β, direct and total effects of every exposure × mediator pair (complete data; see the module text).

    ``X`` n × p exposures, ``M`` n × K mediators, ``y`` n outcome, ``C`` n × q covariate design with intercept
    (full column rank). Exposures, mediators and the outcome are standardized here; a constant column (also one
    constant up to rounding, see :func:`~osteobiome.stats.preprocess.standardize_columns`) gives NaN for its pairs."""
    n, q = C.shape
    Z, _ = standardize_columns(np.column_stack([X, M, y]))
    Q, _ = np.linalg.qr(C)
    Z = Z - Q @ (Q.T @ np.nan_to_num(Z))
    p = X.shape[1]
    Xr, Mr, yr = Z[:, :p], Z[:, p:-1], Z[:, -1]
    xx = np.einsum("ij,ij->j", Xr, Xr)[:, None]
    mm = np.einsum("ij,ij->j", Mr, Mr)[None, :]
    xm = Xr.T @ Mr
    xy = (Xr.T @ yr)[:, None]
    my = (Mr.T @ yr)[None, :]
    yy = float(yr @ yr)
    df_alpha, df_beta = n - q - 1, n - q - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = xm / xx
        rss_alpha = np.maximum(mm - alpha * xm, 0.0)
        alpha_se = np.sqrt(rss_alpha / df_alpha / xx)
        det = mm * xx - xm**2
        beta = (xx * my - xm * xy) / det
        direct = (mm * xy - xm * my) / det
        rss_beta = np.maximum(yy - beta * my - direct * xy, 0.0)
        beta_se = np.sqrt(rss_beta / df_beta * xx / det)
        total = (xy / xx).ravel()
    return PairFit(alpha, alpha_se, beta, beta_se, direct, total, df_alpha, df_beta, n)
