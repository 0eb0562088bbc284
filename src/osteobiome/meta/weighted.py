"""Row-wise weighted sums of the intercept-only meta-analysis model, for (features × cohorts) arrays.

With weights ``w`` (0 for an absent cohort), ``S_j = Σ w^j``, weighted mean ``μ = Σ w·y / S_1`` and the
projection ``P = W - w wᵀ / S_1`` of metafor's ``rma.uni`` (``X`` = a column of ones), every quantity the
estimators need has a closed form, so no k × k matrix is ever built:

- ``yᵀPy = Σ w (y - μ)²`` (Cochran's Q when ``w = 1/v``), ``yᵀPPy = Σ w² (y - μ)²``;
- ``tr P = S_1 - S_2/S_1``, ``tr PP = S_2 - 2 S_3/S_1 + S_2²/S_1²``;
- ``tr PPV = Σ v w² - 2 Σ v w³ / S_1 + S_2 Σ v w² / S_1²``;
- ``tr PVPV = Σ v² w² - 2 Σ v² w³ / S_1 + (Σ v w²)² / S_1²``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
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
    def ypy(self) -> np.ndarray:
        """``yᵀPy = Σ w (y - μ)²``."""
        return (self.w * self.resid**2).sum(axis=1)

    @property
    def yppy(self) -> np.ndarray:
        """``yᵀPPy = Σ w² (y - μ)²``."""
        return ((self.w * self.resid) ** 2).sum(axis=1)

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
