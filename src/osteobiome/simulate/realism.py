"""Realism statistics: how closely a simulated count table resembles a real one.

Per feature: prevalence, mean and variance of ``ln(count / depth)`` over non-zero samples. Per sample: the
fraction of zero features (sparsity) and the Shannon diversity (natural log) of relative abundances. Per
pair of samples: the Bray–Curtis dissimilarity of relative abundances. Each simulated distribution is compared
with the real one by the two-sample Kolmogorov–Smirnov statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist
from scipy.stats import ks_2samp

from osteobiome.simulate.fit import marginal_moments

STATISTICS = (
    "feature prevalence",
    "feature mean log abundance",
    "feature variance of log abundance",
    "sample sparsity",
    "sample Shannon diversity",
    "Bray-Curtis dissimilarity",
)


def realism_statistics(
    counts: np.ndarray, max_pairs_samples: int = 400, seed: int = 0
) -> dict[str, np.ndarray]:
    """The six distributions of the module docstring for a samples × features count array."""
    counts = np.asarray(counts, dtype=float)
    prevalence, mean, sd = marginal_moments(counts)
    rel = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shannon = -np.nansum(np.where(rel > 0, rel * np.log(rel), 0.0), axis=1)
    rows = rel
    if rel.shape[0] > max_pairs_samples:
        rows = rel[np.random.default_rng(seed).choice(rel.shape[0], max_pairs_samples, replace=False)]
    return {
        "feature prevalence": prevalence,
        "feature mean log abundance": mean[np.isfinite(mean)],
        "feature variance of log abundance": (sd**2)[np.isfinite(sd)],
        "sample sparsity": (counts == 0).mean(axis=1),
        "sample Shannon diversity": shannon,
        "Bray-Curtis dissimilarity": pdist(rows, metric="braycurtis"),
    }


def compare_tables(real: np.ndarray, simulated: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """One row per statistic: real and simulated medians and the two-sample KS statistic."""
    a, b = realism_statistics(real, seed=seed), realism_statistics(simulated, seed=seed)
    rows = []
    for name in STATISTICS:
        rows.append(
            {
                "statistic": name,
                "real_median": float(np.median(a[name])),
                "simulated_median": float(np.median(b[name])),
                "ks": float(ks_2samp(a[name], b[name]).statistic),
            }
        )
    return pd.DataFrame(rows)
