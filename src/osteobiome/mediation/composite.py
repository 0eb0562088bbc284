"""Tests of the composite mediation null H0: α = 0 or β = 0, from the two path p-values of each pair.

- ``maxp``: p = max(p_α, p_β) — valid but conservative where both paths are null.
- ``dact``: the divide-aggregate composite-null test (Liu, Shen, Barfield, Schwartz, Baccarelli & Lin 2022,
  JASA 117:67, doi:10.1080/01621459.2021.1914634). The null splits into H01 (α = 0, β ≠ 0), H10 (α ≠ 0, β = 0)
  and H00; under each, one of p_α, p_β, max(p_α, p_β)² is uniform. With π0α, π0β the null proportions of the
  two paths (1 − Jin–Cai non-null proportion of z = Φ⁻¹(1 − p)), weights w01 ∝ π0α(1 − π0β), w10 ∝ (1 − π0α)π0β,
  w00 ∝ π0α π0β (normalized to sum 1) give p_DACT = w01 p_α + w10 p_β + w00 max(p_α, p_β)². That is only
  approximately uniform, so it is calibrated against the empirical null of z = Φ⁻¹(1 − p_DACT) estimated by
  Jin & Cai (μ̂, σ̂; the paper's "JC" correction): p = 1 − Φ((z − μ̂) / σ̂).
- ``hdmt``: the mixture null of max(p_α, p_β) (Dai, Stanford & LeBlanc 2022, JASA 117:198,
  doi:10.1080/01621459.2020.1765785). Null proportions from the joint tails (Storey's λ = 0.5, no independence
  assumption between the paths): π0α = #{p_α ≥ λ} / (N(1 − λ)), π0β likewise, π00 = #{p_α ≥ λ, p_β ≥ λ} /
  (N(1 − λ)²), π01 = π0α − π00 (α = 0, β ≠ 0), π10 = π0β − π00 (clipped at 0; a path whose p-values pass a
  Kolmogorov–Smirnov test of uniformity at 5% is all-null, as in the paper). With F̂ the empirical CDFs, the
  non-null CDFs G_α(t) = (F̂α(t) − π0α t) / (1 − π0α) (clipped to [0, 1], made non-decreasing: a monotone
  stand-in for the paper's Grenander estimate), the null CDF of max p at t is π00 t² + π01 t G_β(t) + π10 t G_α(t),
  and p = that CDF at the pair's max p over (π00 + π01 + π10) — BH on it is HDMT's FDR estimate.
"""

from __future__ import annotations

import warnings

import numpy as np

from osteobiome.errors import InputError, suggest
from osteobiome.mediation._nulls import empirical_null, nonnull_proportion
from osteobiome.stats.distributions import normal_isf, normal_sf

TESTS = ("dact", "hdmt", "maxp")
#: Fewer pairs than this and the null proportions / empirical null are poorly estimated (a warning).
MIN_PAIRS = 200


def null_proportions(p_alpha: np.ndarray, p_beta: np.ndarray) -> tuple[float, float]:
    """(π0α, π0β): 1 − the Jin–Cai non-null proportion of z = Φ⁻¹(1 − p) for each path."""
    return tuple(1.0 - nonnull_proportion(normal_isf(np.clip(p, 1e-300, 1.0))) for p in (p_alpha, p_beta))  # type: ignore[return-value]


def dact(p_alpha: np.ndarray, p_beta: np.ndarray) -> np.ndarray:
    """DACT p-values with the Jin–Cai empirical-null correction (see the module text); NaN in, NaN out."""
    p_alpha, p_beta = np.asarray(p_alpha, float), np.asarray(p_beta, float)
    ok = np.isfinite(p_alpha) & np.isfinite(p_beta)
    out = np.full(p_alpha.shape, np.nan)
    pa, pb = p_alpha[ok], p_beta[ok]
    pi0a, pi0b = null_proportions(pa, pb)
    weights = np.array([pi0a * (1 - pi0b), (1 - pi0a) * pi0b, pi0a * pi0b])
    if weights.sum() <= 0:  # both paths estimated entirely non-null: the composite null is H01/H10-free
        weights = np.array([0.0, 0.0, 1.0])
    weights = weights / weights.sum()
    raw = weights[0] * pa + weights[1] * pb + weights[2] * np.maximum(pa, pb) ** 2
    z = normal_isf(np.clip(raw, 1e-300, 1.0))
    mu, sigma = empirical_null(z)
    out[ok] = normal_sf((z - mu) / sigma) if sigma > 0 else raw
    return out


def _nonnull_cdf(p: np.ndarray, pi0: float, at: np.ndarray) -> np.ndarray:
    """(F̂(t) − π0 t) / (1 − π0) at ``at``, clipped to [0, 1] and made non-decreasing in t."""
    if pi0 >= 1.0:
        return np.ones_like(at)
    order = np.argsort(at)
    empirical = np.searchsorted(np.sort(p), at[order], side="right") / p.size
    g = np.clip((empirical - pi0 * at[order]) / (1.0 - pi0), 0.0, 1.0)
    out = np.empty_like(at)
    out[order] = np.maximum.accumulate(g)
    return out


def joint_null_proportions(p_alpha: np.ndarray, p_beta: np.ndarray, lam: float = 0.5) -> tuple[float, float, float, float, float]:
    """(π0α, π0β, π00, π01, π10) from the joint tails above ``lam`` (see the module text)."""
    from scipy.stats import kstest  # here: scipy.stats is slow to import and only this estimate needs it

    tail = 1.0 - lam
    pi0a = min(float(np.mean(p_alpha >= lam)) / tail, 1.0)
    pi0b = min(float(np.mean(p_beta >= lam)) / tail, 1.0)
    if kstest(p_alpha, "uniform").pvalue > 0.05:
        pi0a = 1.0
    if kstest(p_beta, "uniform").pvalue > 0.05:
        pi0b = 1.0
    pi00 = min(float(np.mean((p_alpha >= lam) & (p_beta >= lam))) / tail**2, pi0a, pi0b)
    return pi0a, pi0b, pi00, max(pi0a - pi00, 0.0), max(pi0b - pi00, 0.0)


def hdmt(p_alpha: np.ndarray, p_beta: np.ndarray) -> np.ndarray:
    """HDMT's mixture-null p-values of max(p_α, p_β) (see the module text); NaN in, NaN out."""
    p_alpha, p_beta = np.asarray(p_alpha, float), np.asarray(p_beta, float)
    ok = np.isfinite(p_alpha) & np.isfinite(p_beta)
    out = np.full(p_alpha.shape, np.nan)
    pa, pb = p_alpha[ok], p_beta[ok]
    pi0a, pi0b, pi00, pi01, pi10 = joint_null_proportions(pa, pb)
    t = np.maximum(pa, pb)
    null_cdf = pi00 * t**2 + pi01 * t * _nonnull_cdf(pb, pi0b, t) + pi10 * t * _nonnull_cdf(pa, pi0a, t)
    total = pi00 + pi01 + pi10
    out[ok] = np.minimum(null_cdf / total, 1.0) if total > 0 else t
    return out


def composite_pvalues(p_alpha: np.ndarray, p_beta: np.ndarray, test: str = "hdmt") -> np.ndarray:
    """p-values of H0: α = 0 or β = 0 by ``test`` (``hdmt`` | ``dact`` | ``maxp``), arrays of any shape.

    HDMT is the default: on the Twins mediation benchmark (benchmarks/RESULTS.md § mediation) and on mixtures of
    H00/H01/H10 pairs DACT's JC-corrected p-values are anti-conservative (the empirical null fitted to the centre
    of its z-scores has SD < 1 when many pairs have one non-null path), HDMT's are not."""
    if test not in TESTS:
        raise InputError(f"mediation test {test!r} is not known{suggest(test, TESTS)}; use one of {', '.join(TESTS)}.")
    p_alpha, p_beta = np.asarray(p_alpha, float), np.asarray(p_beta, float)
    if test == "maxp":
        return np.maximum(p_alpha, p_beta)
    n_pairs = int(np.sum(np.isfinite(p_alpha) & np.isfinite(p_beta)))
    if n_pairs < MIN_PAIRS:
        warnings.warn(
            f"{test.upper()} estimates null proportions from the pairs themselves; with {n_pairs} pairs (< {MIN_PAIRS}) "
            "they are rough; consider --test maxp.",
            stacklevel=3,
        )
    func = dact if test == "dact" else hdmt
    return func(p_alpha.ravel(), p_beta.ravel()).reshape(p_alpha.shape)
