"""Estimators of the between-cohort variance τ² (metafor ``rma.uni`` definitions), vectorized over features.

Every function takes :class:`Cohorts` restricted to features with ``k > p`` (``p`` = 1 without moderators)
and returns a :class:`Tau2Estimate` whose ``tau2`` is truncated at 0 and whose ``se_tau2`` is the standard
error metafor reports for that method. Notation: ``v`` sampling variances, ``w`` weights, ``P`` the projection
of :mod:`osteobiome.meta.weighted` (intercept only, or a meta-regression design), ``Q_w = yᵀPy`` under
weights ``w``; the formulas are metafor's with ``k - p`` residual degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osteobiome.meta._rootfind import brent_zeroin
from osteobiome.meta.weighted import DesignProjection, Projection

#: metafor's ``con$tol`` (``.Machine$double.eps^0.25``): uniroot tolerance and the ll(τ²=0) check margin.
METAFOR_TOL = float(np.finfo(float).eps ** 0.25)
#: Relative convergence of the default (fully converged) Fisher scoring: ``|Δτ²| <= RELATIVE · max(τ², mean v)``.
RELATIVE_THRESHOLD = 1e-10
#: Fisher-scoring steps before full-convergence mode switches a feature to Brent's method on the score.
FULL_CONVERGENCE_STEPS = 100


@dataclass(frozen=True)
class Cohorts:
    """Per-cohort estimates of ``n`` features: ``y0``/``v0`` hold 0 and ``vinf`` holds inf where absent;
    ``design`` (n × k × p) the meta-regression design of each feature, or None for the intercept-only model."""

    y0: np.ndarray
    v0: np.ndarray
    vinf: np.ndarray
    present: np.ndarray
    k: np.ndarray
    design: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, yi: np.ndarray, vi: np.ndarray, design: np.ndarray | None = None) -> Cohorts:
        """Cohorts with a finite estimate and a finite, positive sampling variance are present."""
        present = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
        return cls(
            y0=np.where(present, yi, 0.0),
            v0=np.where(present, vi, 0.0),
            vinf=np.where(present, vi, np.inf),
            present=present,
            k=present.sum(axis=1),
            design=design,
        )

    @property
    def df(self) -> np.ndarray:
        """Residual degrees of freedom ``k - p``."""
        return self.k - (1.0 if self.design is None else float(self.design.shape[2]))

    def take(self, rows: np.ndarray) -> Cohorts:
        """The features ``rows`` (integer or boolean index)."""
        parts = (getattr(self, f)[rows] for f in ("y0", "v0", "vinf", "present", "k"))
        return Cohorts(*parts, design=None if self.design is None else self.design[rows])

    def weights(self, tau2: np.ndarray) -> np.ndarray:
        """Random-effects weights ``1 / (v + τ²)`` (0 where absent)."""
        return 1.0 / (self.vinf + tau2[:, None])

    def project(self, w: np.ndarray) -> Projection | DesignProjection:
        """The weighted least-squares projection of the model under weights ``w`` (0 = absent)."""
        if self.design is None:
            return Projection.of(w, self.y0)
        return DesignProjection.of(w, self.y0, self.design)

    def projection(self, tau2: np.ndarray) -> Projection | DesignProjection:
        """The projection under weights ``1 / (v + τ²)``."""
        return self.project(self.weights(tau2))

    def fixed_projection(self) -> Projection | DesignProjection:
        """The projection under fixed-effect weights ``1 / v``."""
        return self.project(1.0 / self.vinf)

    def unweighted(self) -> Projection | DesignProjection:
        """The projection of ordinary least squares (weight 1 for each present cohort)."""
        return self.project(self.present.astype(float))

    def centred_ss(self) -> np.ndarray:
        """``Σ (y - ȳ)²`` over the present cohorts (unweighted, whatever the design)."""
        return Projection.of(self.present.astype(float), self.y0).ypy


@dataclass(frozen=True)
class Tau2Estimate:
    """τ² (≥ 0), its standard error, whether the estimator converged and its number of iterations."""

    tau2: np.ndarray
    se_tau2: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _done(tau2: np.ndarray, se: np.ndarray, converged=None, iterations=None) -> Tau2Estimate:
    n = tau2.shape[0]
    return Tau2Estimate(
        tau2=np.maximum(tau2, 0.0),
        se_tau2=se,
        converged=np.ones(n, bool) if converged is None else converged,
        iterations=np.zeros(n, int) if iterations is None else iterations,
    )


def _se_quadratic(
    scale: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, tau2: np.ndarray
) -> np.ndarray:
    """``scale · sqrt(2a + 4τ²b + 2τ⁴c)`` with τ² floored at 0 (the form of metafor's moment-estimator SEs)."""
    t = np.maximum(tau2, 0.0)
    return scale * np.sqrt(2 * a + 4 * t * b + 2 * t**2 * c)


def fixed_effect(d: Cohorts) -> Tau2Estimate:
    """Fixed (common) effect: τ² = 0, no standard error."""
    n = d.k.shape[0]
    return _done(np.zeros(n), np.full(n, np.nan))


def dersimonian_laird(d: Cohorts) -> Tau2Estimate:
    """DL: ``τ² = (Q - (k-1)) / tr P`` with fixed-effect weights ``1/v``;
    ``SE = sqrt(2(k-1) + 4τ² tr P + 2τ⁴ tr PP) / tr P``."""
    fe = d.fixed_projection()
    df, tr_p = d.df, fe.tr_p
    tau2 = np.maximum((fe.ypy - df) / tr_p, 0.0)
    return _done(tau2, _se_quadratic(1 / tr_p, df, tr_p, fe.tr_pp, tau2))


def hedges(d: Cohorts) -> Tau2Estimate:
    """HE: ``τ² = (yᵀPy - tr PV) / (k-p)`` with the OLS projection (intercept only: ``(Σ(y-ȳ)² - Σv (k-1)/k) / (k-1)``);
    ``SE = sqrt(2 tr PVPV + 4τ² tr PV + 2τ⁴ (k-p)) / (k-p)``."""
    ols = d.unweighted()
    df = d.df
    tr_pv = ols.tr_pv(d.v0)
    tau2 = np.maximum((ols.ypy - tr_pv) / df, 0.0)
    return _done(tau2, _se_quadratic(1 / df, ols.tr_pvpv(d.v0), tr_pv, df, tau2))


def sidik_jonkman(d: Cohorts) -> Tau2Estimate:
    """SJ: start ``τ₀² = Σ(y-ȳ)²/k`` (ignoring moderators, as metafor), then ``τ² = τ₀² · Q_w / (k-p)`` with
    ``w = 1/(v + τ₀²)``; ``SE = τ₀² sqrt(2 tr PVPV + 4τ² tr PPV + 2τ⁴ tr PP) / (k-p)`` with ``P`` at ``τ₀²``."""
    tau2_0 = d.centred_ss() / d.k
    proj = d.projection(tau2_0)
    df = d.df
    tau2 = np.maximum(tau2_0 * proj.ypy / df, 0.0)
    se = _se_quadratic(tau2_0 / df, proj.tr_pvpv(d.v0), proj.tr_ppv(d.v0), proj.tr_pp, tau2)
    return _done(tau2, se)


def _mad(y0: np.ndarray, present: np.ndarray) -> np.ndarray:
    """R's ``mad``: 1.4826 · median |y - median y| over the present cohorts."""
    y = np.where(present, y0, np.nan)
    return 1.4826 * np.nanmedian(np.abs(y - np.nanmedian(y, axis=1)[:, None]), axis=1)


def paule_mandel(d: Cohorts, maxiter: int = 100) -> Tau2Estimate:
    """PM: root of ``Q(τ²) - (k-p)`` with weights ``1/(v + τ²)``, found like metafor: 0 if ``Q(0) < k-p``,
    else R's ``uniroot`` on ``[0, max(100, 10·mad(y)²)]`` with ``tol = ε^¼`` (not converged if ``Q`` at the
    upper end is still above ``k-p``); ``SE = sqrt(2k²/(k-p)) / Σw``."""
    df = d.df

    def objective(tau2: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return d.take(rows).projection(tau2).ypy - df[rows]

    n = d.k.shape[0]
    all_rows = np.arange(n)
    upper = np.maximum(100.0, 10 * _mad(d.y0, d.present) ** 2)
    f_lower = objective(np.zeros(n), all_rows)
    f_upper = objective(upper, all_rows)
    tau2 = np.zeros(n)
    converged = f_upper <= 0
    search = np.flatnonzero((f_lower >= 0) & converged)
    if search.size:
        tau2[search], _ = brent_zeroin(
            objective, np.zeros(n), upper, f_lower, f_upper, tol=METAFOR_TOL, maxiter=maxiter, rows=search
        )
    converged |= f_lower < 0
    tau2 = np.where(converged, tau2, np.nan)
    se = np.sqrt(2 * d.k**2 / df) / d.projection(np.maximum(tau2, 0.0)).s1
    return _done(tau2, se, converged)


def _restricted_loglik_terms(d: Cohorts, tau2: np.ndarray, reml: bool) -> np.ndarray:
    """Log-likelihood of τ² up to a constant: ``-½ Σ log(v+τ²) - ½ Q_w [- ½ log det XᵀWX for REML]``."""
    proj = d.projection(tau2)
    ll = -0.5 * np.log(np.where(d.present, d.vinf + tau2[:, None], 1.0)).sum(axis=1) - 0.5 * proj.ypy
    return ll - 0.5 * proj.log_det if reml else ll


def _score(d: Cohorts, tau2: np.ndarray, reml: bool) -> np.ndarray:
    """Twice the derivative of the (restricted) log-likelihood: ``yᵀPPy - tr P`` (REML), ``yᵀPPy - Σw`` (ML)."""
    proj = d.projection(tau2)
    return proj.yppy - (proj.tr_p if reml else proj.s1)


def _fisher_steps(
    d: Cohorts, reml: bool, threshold: float | None, maxiter: int, tau2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """metafor's Fisher scoring from ``tau2``; returns (τ², converged, iterations)."""
    n = d.k.shape[0]
    tau2 = tau2.copy()
    mean_v = d.v0.sum(axis=1) / d.k
    iterations = np.zeros(n, int)
    converged = np.zeros(n, bool)
    active = np.arange(n)
    for step in range(1, maxiter + 2):
        if active.size == 0:
            break
        sub = d.take(active)
        old = tau2[active]
        proj = sub.projection(old)
        if reml:
            adj = (proj.yppy - proj.tr_p) / proj.tr_pp
        else:
            adj = (proj.yppy - proj.s1) / proj.s2
        adj = np.where(np.isnan(adj), 0.0, adj)
        adj = np.where((old == 0) & (adj < 0), 0.0, adj)  # halving to 0 leaves τ² at 0
        negative = old + adj < 0
        while negative.any():
            adj[negative] /= 2
            negative = old + adj < 0
        new = old + adj
        tau2[active] = new
        iterations[active] = step
        change = np.abs(new - old)
        limit = threshold if threshold is not None else RELATIVE_THRESHOLD * np.maximum(new, mean_v[active])
        finished = change <= limit
        if step > maxiter:
            break
        converged[active[finished]] = True
        active = active[~finished]
    return tau2, converged, iterations


def _score_root(d: Cohorts, reml: bool) -> tuple[np.ndarray, np.ndarray]:
    """τ² where the score is 0 (0 if the score at 0 is ≤ 0), by Brent's method to machine precision; the
    bracket's upper end doubles from ``max(1, 10 Σ(y-ȳ)²)`` until the score there is negative."""
    n = d.k.shape[0]
    at_zero = _score(d, np.zeros(n), reml)
    upper = np.maximum(1.0, 10 * d.unweighted().ypy)
    at_upper = _score(d, upper, reml)
    for _ in range(60):
        grow = at_upper > 0
        if not grow.any():
            break
        upper[grow] *= 2
        at_upper[grow] = _score(d.take(grow), upper[grow], reml)
    tau2 = np.zeros(n)
    search = np.flatnonzero((at_zero > 0) & (at_upper <= 0))

    def score(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return _score(d.take(rows), x, reml)

    tau2[search], ok = brent_zeroin(score, np.zeros(n), upper, at_zero, at_upper, tol=0.0, maxiter=200, rows=search)
    converged = at_upper <= 0
    converged[search] &= ok
    return tau2, converged


def fisher_scoring(
    d: Cohorts, reml: bool, threshold: float | None = None, maxiter: int = 1000
) -> Tau2Estimate:
    """ML or REML τ² by metafor's Fisher scoring, all features iterated together.

    Start at ``max(0, τ²_HE)``; step ``(yᵀPPy - tr P) / tr PP`` (REML) or ``(yᵀPPy - Σw) / Σw²`` (ML),
    halved while it would make τ² negative. With an absolute ``threshold`` (metafor's rule): stop when
    ``|Δτ²| <= threshold``, more than ``maxiter`` steps = not converged. With ``threshold=None`` (full
    convergence): stop when ``|Δτ²| <= 1e-10 · max(τ², mean v)``; features still running after
    ``min(maxiter, 100)`` steps (Fisher scoring can oscillate or crawl on flat likelihoods) get the root of the
    score by Brent's method instead. As metafor, τ² is set to 0 when the log-likelihood at 0 exceeds the one
    at τ² by more than ε^¼ (and τ² > threshold); in full-convergence mode, when it is at least as large.
    ``SE = sqrt(2 / tr PP)`` (REML) or ``sqrt(2 / Σw²)`` (ML) at the estimate.
    """
    n = d.k.shape[0]
    start = hedges(d).tau2
    steps = maxiter if threshold is not None else min(maxiter, FULL_CONVERGENCE_STEPS)
    tau2, converged, iterations = _fisher_steps(d, reml, threshold, steps, start)
    if threshold is None and not converged.all():
        stuck = np.flatnonzero(~converged)
        tau2[stuck], converged[stuck] = _score_root(d.take(stuck), reml)
    ll_gain_at_zero = _restricted_loglik_terms(d, np.zeros(n), reml) - _restricted_loglik_terms(d, tau2, reml)
    if threshold is None:  # full convergence: the boundary wins whenever it is at least as likely
        at_zero_better = ll_gain_at_zero >= 0
    else:
        at_zero_better = (ll_gain_at_zero > METAFOR_TOL) & (tau2 > threshold)
    tau2 = np.where(converged & at_zero_better, 0.0, tau2)
    tau2 = np.where(converged, np.maximum(tau2, 0.0), np.nan)
    proj = d.projection(np.nan_to_num(tau2))
    se = np.sqrt(2 / proj.tr_pp) if reml else np.sqrt(2 / proj.s2)
    return _done(tau2, np.where(converged, se, np.nan), converged, iterations)
