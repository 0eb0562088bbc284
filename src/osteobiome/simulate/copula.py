"""Drawing abundances and counts from :class:`~osteobiome.simulate.params.SimParams` (vectorized)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from osteobiome.simulate.params import SimParams

LN2 = np.log(2.0)


def latent_abundances(
    params: SimParams,
    n: int,
    rng: np.random.Generator,
    log2_shift: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` × features absolute latent abundances (zeros = structurally absent).

    ``log2_shift`` (n × features, optional) multiplies present abundances by ``2**shift``: this is how covariate
    effects and planted associations act (before closure and sequencing). Every sample keeps at least one
    present feature (the most prevalent one is switched on where all are absent).
    """
    p = params.n_features
    k = params.loadings.shape[1]
    z = rng.standard_normal((n, k)) @ params.loadings.T + rng.standard_normal((n, p)) * np.sqrt(
        params.uniqueness
    )
    u = ndtr(z)
    absent_below = 1.0 - params.prevalence
    present = u > absent_below
    v = np.clip((u - absent_below) / params.prevalence, 1e-12, 1 - 1e-12)
    log_a = params.meanlog + params.sdlog * ndtri(v)
    if log2_shift is not None:
        log_a = log_a + LN2 * log2_shift
    empty = ~present.any(axis=1)
    if empty.any():
        top = int(np.argmax(params.prevalence))
        present[empty, top] = True
    log_a -= log_a.max(axis=1, keepdims=True)  # scale-free: avoids overflow, closure removes it
    return np.where(present, np.exp(log_a), 0.0)


def sample_depths(params: SimParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """Read depths ``round(exp(N(meanlog, sdlog²)))``, at least 1."""
    depth = np.rint(np.exp(rng.normal(params.depth_meanlog, params.depth_sdlog, size=n)))
    return np.maximum(depth, 1).astype(np.int64)


def sequence(abundances: np.ndarray, depths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multinomial counts: row ``i`` draws ``depths[i]`` reads from ``abundances[i] / Σ abundances[i]``."""
    total = abundances.sum(axis=1, keepdims=True)
    probs = abundances / total
    return rng.multinomial(np.asarray(depths, dtype=np.int64), probs)


def simulate_counts(
    params: SimParams,
    n: int,
    rng: np.random.Generator,
    log2_shift: np.ndarray | None = None,
    depths: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` × features integer count table (depths drawn from the fitted log-normal unless given)."""
    if depths is None:
        depths = sample_depths(params, n, rng)
    return sequence(latent_abundances(params, n, rng, log2_shift), depths, rng)
