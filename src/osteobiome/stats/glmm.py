"""Logistic mixed models with random intercepts by the Laplace approximation (lme4 ``glmer``, ``nAGQ = 1``).

Model per feature: ``logit P(y_i = 1) = x_i'β + Σ_k b_k[g_k(i)]``, ``b_k ~ N(0, θ_k² I)`` (one or more grouping
factors). With spherical effects ``u`` (``b = Λu``, Λ = diag(θ of each level's factor)), prior weight ``a`` and
response ``ỹ`` (see augmentation), the penalized objective in ``u`` is

    f(u; θ, β) = −Σ_i a [ỹ_i η_i − log(1 + e^{η_i})] + ½‖u‖²,   η = Xβ + ZΛu,

its minimizer ``û`` is found by penalized IRLS (Newton steps ``M⁻¹∇f`` with step halving), and the Laplace
deviance that is minimized over ``(θ ≥ 0, β)`` is

    D(θ, β) = 2 f(û) + log|M|,   M = I + ΛZᵀWZΛ,   W = diag(a μ(1 − μ)),

lme4's ``sum(dev.resid) + ‖û‖² + log|L|²`` up to a constant (0 for 0/1 data without augmentation).

Gradient (analytic, envelope theorem at ``û``): with ``g = a(ỹ − μ)``, ``s_i = [ZΛM⁻¹ΛZᵀ]_ii``,
``t = W(1 − 2μ) s`` and ``dû/dφ = −M⁻¹ ∂²f/∂u∂φ``,

    ∂D/∂β   = −2 Xᵀg + (X − ZΛM⁻¹ΛZᵀWX)ᵀ t,
    ∂D/∂θ_k = −2 Σ_{c∈k} u_c (Zᵀg)_c + 2 Σ_{c∈k} (M⁻¹ΛA)_cc + tᵀ(Z E_k u + ZΛM⁻¹(E_k Zᵀg − ΛA E_k u)),

with A = ZᵀWZ and E_k the indicator of factor k's levels. The optimum is found by L-BFGS-B on this gradient and
polished by Newton steps on the Hessian, the central difference of the analytic gradient (refreshed after any
step larger than 10⁻⁵). As
``vcov`` of ``glmer`` (``use.hessian = TRUE``), cov(β̂) is the β block of ``2 H⁻¹`` (H the Hessian of D in
(θ, β)); Wald z tests. With one grouping factor M is diagonal and everything is O(n) per evaluation.

Augmentation (``augment=True``, MaAsLin3's guard against separation): MaAsLin3 fits ``glmer`` on the data
three times, the response as observed, set to 1 and set to 0, the copies weighted ``k/(2n)`` (k = number of
non-intercept coefficients), each copy keeping its sample's groups. Those rows have the same log-likelihood,
conditional modes and curvature as the n original rows with weight ``a = 1 + k/n`` and fractional response
``ỹ = (y + k/(2n)) / a``, which is what is fitted here. lme4 itself evaluates the likelihood term of that
augmented fit through ``binomial()$aic``, which rounds the copies' prior weights to 0 trials: in ``glmer`` the
copies move the conditional modes and the curvature but not the likelihood term, so MaAsLin3's own estimates
differ from these (by 0.04 standard errors at the median on HMP2; benchmarks/RESULTS.md § two-part mixed model).

A fit is *singular* when some θ̂_k < 10⁻⁴ (lme4's ``isSingular`` tolerance; its standard errors are then the
β block's, conditional on θ), and *not converged* when the largest gradient component exceeds 10⁻³ after
polishing or the Hessian is not positive definite; both are reported, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special
from threadpoolctl import threadpool_limits

from osteobiome.stats.lm import t_test
from osteobiome.stats.twopart import fit_prevalence

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance on θ
GRADIENT_TOL = 1e-3  # largest |∂D| accepted as converged (deviance units)
CHUNK = 16  # features per job


@dataclass(frozen=True)
class GLMMResult:
    """Per coefficient × feature: ``coef``, ``stderr``, ``pval``, ``log_pval`` (natural log, finite where ``pval``
    underflows); per factor × feature ``theta`` (random-intercept sd); per feature ``deviance`` (Laplace),
    ``converged`` and ``singular`` (bool) and ``evaluations`` (deviance + gradient evaluations)."""

    coef: np.ndarray
    stderr: np.ndarray
    pval: np.ndarray
    log_pval: np.ndarray
    theta: np.ndarray
    deviance: np.ndarray
    converged: np.ndarray
    singular: np.ndarray
    evaluations: np.ndarray


class _Grouping:
    """Random-effect structure: ``cols`` (n × K) the global column of each sample's level in every factor."""

    def __init__(self, groups: Sequence[np.ndarray]) -> None:
        offsets, columns, factor = 0, [], []
        for k, codes in enumerate(groups):
            _, local = np.unique(np.asarray(codes), return_inverse=True)
            columns.append(local + offsets)
            factor.append(np.full(local.max() + 1, k))
            offsets += local.max() + 1
        self.cols = np.column_stack(columns)
        self.factor = np.concatenate(factor)
        self.q = offsets
        self.n_factors = len(groups)

    def times(self, v: np.ndarray) -> np.ndarray:
        """Z v (v: q or q × r)."""
        return v[self.cols].sum(axis=1)

    def transpose_times(self, r: np.ndarray) -> np.ndarray:
        """Zᵀ r (r: n or n × r)."""
        if r.ndim == 1:
            return sum(np.bincount(self.cols[:, k], r, minlength=self.q) for k in range(self.n_factors))
        return np.stack([self.transpose_times(r[:, j]) for j in range(r.shape[1])], axis=1)

    def gram(self, w: np.ndarray) -> np.ndarray:
        """A = ZᵀWZ: its diagonal (q) for one factor, else the dense q × q matrix."""
        if self.n_factors == 1:
            return np.bincount(self.cols[:, 0], w, minlength=self.q)
        pairs = (self.cols[:, :, None] * self.q + self.cols[:, None, :]).reshape(len(w), -1)
        flat = np.bincount(pairs.ravel(), np.repeat(w, self.n_factors**2), minlength=self.q * self.q)
        return flat.reshape(self.q, self.q)


class _Curvature:
    """M = I + ΛAΛ at the conditional modes: solves, log-determinant, and the diagonals the gradient needs."""

    def __init__(self, grouping: _Grouping, scale: np.ndarray, a: np.ndarray) -> None:
        self.diagonal = grouping.n_factors == 1
        self.scale, self.a = scale, a
        if self.diagonal:
            self.m = 1.0 + scale**2 * a
            self.logdet = float(np.sum(np.log(self.m)))
        else:
            self.chol = linalg.cho_factor(np.eye(scale.size) + scale[:, None] * a * scale[None, :], lower=True)
            self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.chol[0]))))

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        if self.diagonal:
            return rhs / (self.m if rhs.ndim == 1 else self.m[:, None])
        return linalg.cho_solve(self.chol, rhs)

    def inverse(self) -> np.ndarray:
        """M⁻¹ (diagonal vector for one factor)."""
        return 1.0 / self.m if self.diagonal else self.solve(np.eye(self.scale.size))

    def times_a(self, v: np.ndarray) -> np.ndarray:
        """A v."""
        if self.diagonal:
            return self.a * v if v.ndim == 1 else self.a[:, None] * v
        return self.a @ v


class _Feature:
    """Laplace deviance and gradient of one feature's GLMM, with the conditional modes kept as a warm start."""

    def __init__(self, y: np.ndarray, weight: float, X: np.ndarray, grouping: _Grouping) -> None:
        self.y, self.weight, self.X, self.grouping = y, weight, X, grouping
        self.k = grouping.n_factors
        self.u = np.zeros(grouping.q)
        self.evaluations = 0

    def _modes(self, theta: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Conditional modes û (penalized IRLS with step halving), η at û and f(û)."""
        grouping, scale = self.grouping, theta[self.grouping.factor]
        offset = self.X @ beta

        def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
            eta = offset + grouping.times(scale * u)
            value = -self.weight * np.sum(self.y * eta - np.logaddexp(0.0, eta)) + 0.5 * u @ u
            return value, eta

        u = self.u
        value, eta = objective(u)
        for _ in range(100):
            mu = special.expit(eta)
            curvature = _Curvature(grouping, scale, grouping.gram(self.weight * mu * (1.0 - mu)))
            step = curvature.solve(u - scale * grouping.transpose_times(self.weight * (self.y - mu)))
            length = 1.0
            while True:
                trial = u - length * step
                trial_value, trial_eta = objective(trial)
                if trial_value <= value + 1e-12 * abs(value) or length < 1e-10:
                    break
                length /= 2.0
            u, value, eta = trial, trial_value, trial_eta
            if np.max(np.abs(length * step), initial=0.0) < 1e-11:
                break
        if np.all(np.isfinite(u)):
            self.u = u
        return u, eta, value

    def deviance_and_gradient(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """D(θ, β) and its analytic gradient (module docstring)."""
        self.evaluations += 1
        theta, beta = params[: self.k], params[self.k :]
        grouping, X = self.grouping, self.X
        scale = theta[grouping.factor]
        u, eta, value = self._modes(theta, beta)
        mu = special.expit(eta)
        w = self.weight * mu * (1.0 - mu)
        g = self.weight * (self.y - mu)
        curvature = _Curvature(grouping, scale, grouping.gram(w))
        deviance = 2.0 * value + curvature.logdet

        m_inv = curvature.inverse()
        if curvature.diagonal:
            middle = scale**2 * m_inv  # diag of ΛM⁻¹Λ
            s = middle[grouping.cols[:, 0]]
            trace_terms = m_inv * scale * curvature.a  # diag of M⁻¹ΛA
        else:
            middle = scale[:, None] * m_inv * scale[None, :]
            s = sum(middle[grouping.cols[:, a], grouping.cols[:, b]] for a in range(self.k) for b in range(self.k))
            trace_terms = np.einsum("ij,ji->i", m_inv * scale[None, :], curvature.a)
        t = w * (1.0 - 2.0 * mu) * s

        ztwx = grouping.transpose_times(w[:, None] * X)
        deta_dbeta = X - grouping.times(scale[:, None] * curvature.solve(scale[:, None] * ztwx))
        gradient = np.empty(params.size)
        gradient[self.k :] = -2.0 * X.T @ g + deta_dbeta.T @ t
        ztg = grouping.transpose_times(g)
        for k in range(self.k):
            in_k = grouping.factor == k
            eku = np.where(in_k, u, 0.0)
            inner = np.where(in_k, ztg, 0.0) - scale * curvature.times_a(eku)
            deta = grouping.times(eku) + grouping.times(scale * curvature.solve(inner))
            gradient[k] = -2.0 * np.sum(u[in_k] * ztg[in_k]) + 2.0 * np.sum(trace_terms[in_k]) + t @ deta
        return deviance, gradient

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """Central differences of the analytic gradient (symmetrized)."""
        size = params.size
        hess = np.empty((size, size))
        for j in range(size):
            step = 1e-5 * max(1.0, abs(params[j]))
            up, down = params.copy(), params.copy()
            up[j] += step
            down[j] -= step
            hess[:, j] = (self.deviance_and_gradient(up)[1] - self.deviance_and_gradient(down)[1]) / (2.0 * step)
        return (hess + hess.T) / 2.0


def _fit_one(feature: _Feature, start: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None, bool]:
    """(θ̂, β̂), D at the optimum, cov(β̂) (None if not available) and whether the fit converged."""
    k = feature.k
    bounds = [(0.0, None)] * k + [(None, None)] * (start.size - k)
    fit = optimize.minimize(
        feature.deviance_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"ftol": 1e-12, "gtol": 1e-5, "maxiter": 500},
    )
    params = fit.x
    value, gradient = feature.deviance_and_gradient(params)
    hess = feature.hessian(params)
    free = np.ones(params.size, dtype=bool)
    free[:k] = params[:k] >= SINGULAR_TOL
    for _ in range(5):  # Newton polish on the free parameters (θ_k at the boundary stay there)
        if np.max(np.abs(gradient[free]), initial=0.0) < 1e-8:
            break
        try:
            step = linalg.solve(hess[np.ix_(free, free)], gradient[free], assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            break
        trial = params.copy()
        trial[free] -= step
        trial[:k] = np.maximum(trial[:k], 0.0)
        trial_value, trial_gradient = feature.deviance_and_gradient(trial)
        if not trial_value <= value + 1e-10:
            break
        params, value, gradient = trial, trial_value, trial_gradient
        if np.max(np.abs(step)) > 1e-5:  # the Hessian moves O(step): refresh it only after a real step
            hess = feature.hessian(params)
            free[:k] = params[:k] >= SINGULAR_TOL
    sub = hess[np.ix_(free, free)]
    cov = None
    if np.all(np.isfinite(sub)) and np.linalg.eigvalsh(sub).min() > 0:
        cov = 2.0 * np.linalg.inv(sub)[-(params.size - k) :, -(params.size - k) :]
    converged = bool(np.max(np.abs(gradient[free]), initial=0.0) < GRADIENT_TOL and cov is not None)
    return params, value, cov, converged


def _fit_chunk(
    present: np.ndarray, X: np.ndarray, groups: Sequence[np.ndarray], start: np.ndarray, augment: bool
) -> tuple[np.ndarray, ...]:
    """GLMM fits of the columns of ``present`` (one BLAS thread: many tiny factorizations)."""
    with threadpool_limits(1):
        n, p = X.shape
        grouping = _Grouping(groups)
        k_aug = p - 1 if augment else 0
        weight = 1.0 + k_aug / n
        m = present.shape[1]
        out = {
            "coef": np.full((p, m), np.nan), "stderr": np.full((p, m), np.nan),
            "theta": np.full((grouping.n_factors, m), np.nan), "deviance": np.full(m, np.nan),
            "converged": np.zeros(m, dtype=bool), "evaluations": np.zeros(m, dtype=int),
        }
        for j in range(m):
            y = present[:, j].astype(float)
            if np.all(y == y[0]):
                continue  # no prevalence model for a feature present everywhere or nowhere (as the fixed-effect part)
            feature = _Feature((y + k_aug / (2 * n)) / weight, weight, X, grouping)
            initial = np.concatenate([np.ones(grouping.n_factors), np.nan_to_num(start[:, j])])
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                params, value, cov, converged = _fit_one(feature, initial)
            k = grouping.n_factors
            out["coef"][:, j] = params[k:]
            if cov is not None:
                out["stderr"][:, j] = np.sqrt(np.diag(cov))
            out["theta"][:, j], out["deviance"][j] = params[:k], value
            out["converged"][j], out["evaluations"][j] = converged, feature.evaluations
        return tuple(out.values())


def fit_glmm(
    present: np.ndarray, X: np.ndarray, groups: Sequence[np.ndarray], augment: bool = True, workers: int = 1
) -> GLMMResult:
    """Laplace-approximation logistic GLMMs of every column of ``present`` (n × m, bool) on ``X`` (n × p,
    intercept in column 0) with random intercepts for each grouping factor in ``groups`` (codes, length n).

    ``augment=True``: MaAsLin3's augmentation (module docstring). Each fit starts from the fixed-effect
    logistic regression (same augmentation) and θ = 1 (lme4's start). Features present in every sample or in
    none are not fitted (NaN). Chunks of :data:`CHUNK` features run over ``workers`` processes; results do not
    depend on ``workers``."""
    present = np.asarray(present, dtype=bool)
    if present.ndim == 1:
        present = present[:, None]
    X = np.asarray(X, dtype=float)
    m = present.shape[1]
    start = fit_prevalence(present, X, augment=augment).coef
    chunks = np.array_split(np.arange(m), max(1, -(-m // CHUNK)))
    jobs = [(present[:, cols], X, list(groups), start[:, cols], augment) for cols in chunks]
    if workers <= 1 or len(jobs) <= 1:
        outs = [_fit_chunk(*job) for job in jobs]
    else:
        from osteobiome.compute.executors import process_pool

        with process_pool(min(workers, len(jobs))) as pool:
            outs = [future.result() for future in [pool.submit(_fit_chunk, *job) for job in jobs]]
    coef, stderr, theta, deviance, converged, evaluations = (
        np.concatenate([out[i] for out in outs], axis=-1) for i in range(6)
    )
    singular = np.any(theta < SINGULAR_TOL, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pval, log_pval = t_test(coef / stderr, np.inf)
    return GLMMResult(coef, stderr, pval, log_pval, theta, deviance, converged, singular, evaluations)
