"""Realism statistics: how closely a simulated count table resembles a real one.

Per feature: prevalence, mean and variance of ``ln(count / depth)`` over non-zero samples. Per sample: the
fraction of zero features (sparsity) and the Shannon diversity (natural log). Per pair of samples: the
Bray–Curtis dissimilarity of relative abundances (both from :mod:`osteobiome.diversity`). Each simulated distribution is compared
with the real one by the two-sample Kolmogorov–Smirnov statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from osteobiome.diversity import alpha_diversity, beta_diversity
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
    table = pd.DataFrame(counts, index=[f"s{i}" for i in range(len(counts))])
    table.columns = table.columns.astype(str)
    shannon = alpha_diversity(table, metrics=("shannon",))["shannon"].to_numpy()
    if len(table) > max_pairs_samples:
        table = table.iloc[
            np.sort(np.random.default_rng(seed).choice(len(table), max_pairs_samples, replace=False))
        ]
    bray_curtis = beta_diversity(table, "braycurtis").condensed_form()
    return {
        "feature prevalence": prevalence,
        "feature mean log abundance": mean[np.isfinite(mean)],
        "feature variance of log abundance": (sd**2)[np.isfinite(sd)],
        "sample sparsity": (counts == 0).mean(axis=1),
        "sample Shannon diversity": shannon,
        "Bray-Curtis dissimilarity": bray_curtis,
    }


def compare_tables(real: np.ndarray, simulated: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """One row per statistic: real and simulated medians and the two-sample KS statistic."""
    return compare_statistics(realism_statistics(real, seed=seed), realism_statistics(simulated, seed=seed))


def compare_statistics(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> pd.DataFrame:
    """:func:`compare_tables` on statistics already computed by :func:`realism_statistics` (real ``a``,
    simulated ``b``)."""
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
