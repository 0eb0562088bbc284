"""Row-wise weighted sums of the intercept-only meta-analysis model, for (features × cohorts) arrays.

With weights ``w`` (0 for an absent cohort), ``S_j = Σ w^j``, weighted mean ``μ = Σ w·y / S_1`` and the
projection ``P = W - w wᵀ / S_1`` of metafor's ``rma.uni`` (``X`` = a column of ones), every quantity the
estimators need has a closed form, so no k × k matrix is ever built:

- ``yᵀPy = Σ w (y - μ)²`` (Cochran's Q when ``w = 1/v``), ``yᵀPPy = Σ w² (y - μ)²``;
- ``tr P = S_1 - S_2/S_1``, ``tr PP = S_2 - 2 S_3/S_1 + S_2²/S_1²``;
- ``tr PPV = Σ v w² - 2 Σ v w³ / S_1 + S_2 Σ v w² / S_1²``;
- ``tr PVPV = Σ v² w² - 2 Σ v² w³ / S_1 + (Σ v w²)² / S_1²``.

With moderators (meta-regression, a design ``X`` of ``p`` columns per feature), :class:`DesignProjection`
builds ``P = W - W X (XᵀWX)⁻¹ XᵀW`` explicitly (features × k × k; k is the number of cohorts, small) and
offers the same sums, so the τ² estimators of :mod:`osteobiome.meta.estimators` serve both models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class _WeightedResiduals:
    """``yᵀPy`` and ``yᵀPPy`` from the weights ``w`` and residuals ``y − Xβ`` of a projection (``Py = W (y − Xβ)``),
    shared by the intercept-only and the meta-regression projections."""

    w: np.ndarray
    resid: np.ndarray

    @property
    def ypy(self) -> np.ndarray:
        """``yᵀPy = Σ w (y - Xβ)²``."""
        return (self.w * self.resid**2).sum(axis=1)

    @property
    def yppy(self) -> np.ndarray:
        """``yᵀPPy = Σ (w (y - Xβ))²``."""
        return ((self.w * self.resid) ** 2).sum(axis=1)


@dataclass(frozen=True)
class Projection(_WeightedResiduals):
    """Sums of one weighting (rows = features) and the residuals ``y - μ`` (0 where a cohort is absent)."""

    w: np.ndarray
    mu: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    resid: np.ndarray

    @classmethod
    def of(cls, w: np.ndarray, y0: np.ndarray) -> Projection:
        """Weights ``w`` (n × K, 0 = absent) and estimates ``y0`` (n × K, 0 where absent)."""
        s1 = w.sum(axis=1)
        mu = (w * y0).sum(axis=1) / s1
        resid = np.where(w > 0, y0 - mu[:, None], 0.0)
        return cls(w=w, mu=mu, s1=s1, s2=(w * w).sum(axis=1), resid=resid)

    @property
    def log_det(self) -> np.ndarray:
        """``log det XᵀWX = log S_1`` (the REML term)."""
        return np.log(self.s1)

    def tr_pv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PV = Σ v (w - w²/S_1)``."""
        return (v0 * (self.w - self.w**2 / self.s1[:, None])).sum(axis=1)

    @property
    def tr_p(self) -> np.ndarray:
        """``tr P = S_1 - S_2 / S_1``."""
        return self.s1 - self.s2 / self.s1

    @property
    def tr_pp(self) -> np.ndarray:
        """``tr PP = S_2 - 2 S_3 / S_1 + S_2² / S_1²``."""
        s3 = (self.w**3).sum(axis=1)
        return self.s2 - 2 * s3 / self.s1 + (self.s2 / self.s1) ** 2

    def tr_ppv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PPV`` (= ``sum(PV * P)`` in metafor) for sampling variances ``v0`` (0 where absent)."""
        w2 = self.w**2
        svw2 = (v0 * w2).sum(axis=1)
        return svw2 - 2 * (v0 * w2 * self.w).sum(axis=1) / self.s1 + self.s2 * svw2 / self.s1**2

    def tr_pvpv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PVPV`` (= ``sum(PV * t(PV))`` in metafor) for sampling variances ``v0`` (0 where absent)."""
        w2, v2 = self.w**2, v0**2
        svw2 = (v0 * w2).sum(axis=1)
        return (v2 * w2).sum(axis=1) - 2 * (v2 * w2 * self.w).sum(axis=1) / self.s1 + (svw2 / self.s1) ** 2


def batched_inverse(a: np.ndarray) -> np.ndarray:
    """Inverses of a stack of symmetric p × p matrices; singular or ill-conditioned ones (condition number
    above 1e12) give NaN."""
    good = np.linalg.cond(a) < 1e12
    safe = np.where(good[:, None, None], a, np.eye(a.shape[-1]))
    inv = np.linalg.inv(safe)
    inv[~good] = np.nan
    return inv


@dataclass(frozen=True)
class DesignProjection(_WeightedResiduals):
    """Weighted least squares of ``y`` on a design per feature: ``X`` (n × k × p), weights ``w`` (n × k, 0 =
    absent). ``beta`` (n × p), ``cov = (XᵀWX)⁻¹`` (n × p × p), ``P = W - W X cov XᵀW`` (n × k × k)."""

    w: np.ndarray
    beta: np.ndarray
    cov: np.ndarray
    P: np.ndarray
    resid: np.ndarray

    @classmethod
    def of(cls, w: np.ndarray, y0: np.ndarray, X: np.ndarray) -> DesignProjection:
        """Weights ``w`` (n × k), estimates ``y0`` (n × k, 0 where absent), designs ``X`` (n × k × p)."""
        wx = w[:, :, None] * X
        cov = batched_inverse(np.einsum("nkp,nkq->npq", X, wx))
        beta = np.einsum("npq,nkq,nk->np", cov, wx, y0)
        resid = np.where(w > 0, y0 - np.einsum("nkp,np->nk", X, beta), 0.0)
        hat = np.einsum("nkp,npq,njq->nkj", wx, cov, wx)
        P = -hat
        idx = np.arange(w.shape[1])
        P[:, idx, idx] += w
        return cls(w=w, beta=beta, cov=cov, P=P, resid=resid)

    @property
    def s1(self) -> np.ndarray:
        """``Σ w``."""
        return self.w.sum(axis=1)

    @property
    def s2(self) -> np.ndarray:
        """``Σ w²``."""
        return (self.w**2).sum(axis=1)

    @property
    def log_det(self) -> np.ndarray:
        """``log det XᵀWX`` (the REML term)."""
        return -np.linalg.slogdet(self.cov)[1]

    @property
    def tr_p(self) -> np.ndarray:
        """``tr P``."""
        return np.einsum("nkk->n", self.P)

    @property
    def tr_pp(self) -> np.ndarray:
        """``tr PP = Σ P²`` (P symmetric)."""
        return (self.P**2).sum(axis=(1, 2))

    def tr_pv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PV = Σ diag(P) v``."""
        return (np.einsum("nkk->nk", self.P) * v0).sum(axis=1)

    def tr_ppv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PPV = Σ_ij P_ij² v_j`` (metafor's ``sum(PV * P)``)."""
        return (self.P**2 * v0[:, None, :]).sum(axis=(1, 2))

    def tr_pvpv(self, v0: np.ndarray) -> np.ndarray:
        """``tr PVPV = Σ_ij P_ij² v_i v_j`` (metafor's ``sum(PV * t(PV))``)."""
        return (self.P**2 * v0[:, :, None] * v0[:, None, :]).sum(axis=(1, 2))
