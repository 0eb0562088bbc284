"""Jin & Cai (2007, JASA 102:495) estimators from the empirical characteristic function of z-scores.

- :func:`nonnull_proportion`: ε̂ = max over t ∈ [0, sqrt(log N)] (step 0.1) of
  1 − Σ_ξ w(ξ) e^{t²ξ²/2} mean_i cos(t ξ z_i) / Σ_ξ w(ξ), ξ ∈ {0, 0.01, …, 1}, w(ξ) = 1 − ξ — the share of
  z-scores that do not follow N(0, 1); 1 − ε̂ is the null proportion.
- :func:`empirical_null`: mean μ̂ and SD σ̂ of the null component from φ(t) = mean_i e^{i t z_i} at the
  smallest t on the grid {1/200, …, 5} with |φ(t)| ≤ N^{−γ} (γ = 0.1):
  σ̂² = −(Re φ · Re φ' + Im φ · Im φ') / (t |φ|²), μ̂ = (Im φ' · Re φ − Re φ' · Im φ) / |φ|² (φ' = dφ/dt); for
  z ~ N(μ, σ²) these return μ and σ exactly.
"""

from __future__ import annotations

import numpy as np

_XI = np.arange(101) / 100.0
_WEIGHT = 1.0 - _XI


def nonnull_proportion(z: np.ndarray) -> float:
    """Jin–Cai estimate of the proportion of non-null z-scores (theoretical null N(0, 1)), in [0, 1]."""
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    best = 0.0
    for t in np.arange(0.0, np.sqrt(np.log(max(z.size, 2))) + 1e-12, 0.1):
        mean_cos = _mean_cos(t * _XI, z)
        estimate = 1.0 - np.sum(_WEIGHT * np.exp((t * _XI) ** 2 / 2.0) * mean_cos) / np.sum(_WEIGHT)
        best = max(best, float(estimate))
    return min(max(best, 0.0), 1.0)


def _mean_cos(frequencies: np.ndarray, z: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """mean_i cos(f z_i) for every frequency f, summed over chunks of z (bounded memory)."""
    total = np.zeros(frequencies.size)
    for start in range(0, z.size, chunk):
        total += np.cos(np.outer(frequencies, z[start : start + chunk])).sum(axis=1)
    return total / z.size


def empirical_null(z: np.ndarray, gamma: float = 0.1) -> tuple[float, float]:
    """Jin–Cai (μ̂, σ̂) of the null component of ``z`` (see the module text)."""
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    threshold = z.size ** (-gamma)
    grid = np.arange(1, 1001) / 200.0
    for start in range(0, grid.size, 50):
        t = grid[start : start + 50]
        tz = np.outer(t, z)
        cos, sin = np.cos(tz), np.sin(tz)
        re, im = cos.mean(axis=1), sin.mean(axis=1)
        modulus = np.sqrt(re**2 + im**2)
        below = np.flatnonzero(modulus <= threshold)
        if below.size or start + 50 >= grid.size:
            k = below[0] if below.size else t.size - 1
            d_re = -(z * sin[k]).mean()  # d/dt Re φ
            d_im = (z * cos[k]).mean()  # d/dt Im φ
            c2 = modulus[k] ** 2
            sigma2 = -(re[k] * d_re + im[k] * d_im) / (t[k] * c2)
            mu = -(d_re * im[k] - d_im * re[k]) / c2
            return float(mu), float(np.sqrt(max(sigma2, 0.0)))
    raise AssertionError("unreachable")
