"""Alpha diversity per sample, vectorised over samples (matches scikit-bio's single-sample functions).

With ``p_i = x_i / Σx`` over the ``S`` observed features (``x_i > 0``) of a sample:

- ``observed``: ``S``;
- ``shannon``: ``H = -Σ p_i log_b p_i``. The log base ``b`` defaults to *e* (nats), as vegan's ``diversity()``
  and scikit-bio ≥ 0.6.1; scikit-bio before 0.6.1 and QIIME 2 used base 2 (bits): pass ``base=2`` to match them;
- ``simpson``: Gini–Simpson ``1 - Σ p_i²`` (vegan's ``diversity(index="simpson")``);
- ``chao1``: bias-corrected ``S + F1 (F1 - 1) / (2 (F2 + 1))`` with F1/F2 the singletons/doubletons; needs
  integer counts;
- ``pielou``: evenness ``H_e / ln S`` (1 when ``S = 1``; independent of the base);
- ``faith_pd``: total length of the branches above the observed features (needs a tree).

Relative abundances are fine for every index but Chao1. Rarefaction draws ``depth`` reads without replacement.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from osteobiome.diversity.tables import as_matrix, require_counts
from osteobiome.diversity.trees import branch_incidence, load_tree
from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort

if TYPE_CHECKING:
    from skbio import TreeNode

ALPHA_METRICS: tuple[str, ...] = ("observed", "shannon", "simpson", "chao1", "pielou", "faith_pd")
ALIASES = {"observed_features": "observed", "richness": "observed", "pielou_e": "pielou", "faith": "faith_pd"}


def alpha_diversity(
    table: Cohort | pd.DataFrame,
    metrics: Sequence[str] = ("observed", "shannon", "simpson", "pielou"),
    tree: TreeNode | str | Path | None = None,
    base: float = math.e,
    rarefy_to: int | None = None,
    seed: int | np.random.Generator = 1,
) -> pd.DataFrame:
    """Samples × metrics DataFrame of alpha diversity (see the module docstring for formulas).

    ``rarefy_to``: subsample every sample to this many reads first (``seed``); samples with fewer reads are
    dropped with a warning and listed in ``result.attrs["dropped"]``.
    """
    names = [alpha_metric(m) for m in metrics]
    if rarefy_to is not None:
        table, dropped = rarefy(table, rarefy_to, seed)
    else:
        dropped = pd.Index([])
    X, samples, features = as_matrix(table)
    if "chao1" in names:
        require_counts(X, samples, "alpha index chao1")
    if "faith_pd" in names and tree is None:
        raise InputError("alpha index faith_pd: needs a phylogenetic tree; pass a Newick file (--tree FILE).")
    present = X > 0
    S = present.sum(axis=1).astype(float)
    P = X / X.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.where(present, P * np.log(np.where(present, P, 1.0)), 0.0).sum(axis=1)
    out = {}
    for name in names:
        if name == "observed":
            out[name] = S
        elif name == "shannon":
            out[name] = H / math.log(base)
        elif name == "simpson":
            out[name] = 1.0 - (P**2).sum(axis=1)
        elif name == "chao1":
            f1, f2 = (X == 1).sum(axis=1), (X == 2).sum(axis=1)
            out[name] = S + f1 * (f1 - 1) / (2.0 * (f2 + 1))
        elif name == "pielou":
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(S > 1, H / np.log(S), 1.0)
        else:
            M, lengths = branch_incidence(load_tree(tree), features)
            out[name] = ((present.astype(float) @ M) > 0).astype(float) @ lengths
    result = pd.DataFrame(out, index=pd.Index(samples, name="sample"))
    result.attrs["dropped"] = list(dropped)
    result.attrs["shannon_base"] = base
    return result


def rarefy(
    table: Cohort | pd.DataFrame, depth: int, seed: int | np.random.Generator = 1
) -> tuple[pd.DataFrame, pd.Index]:
    """Subsample each sample to ``depth`` reads without replacement; returns ``(table, dropped samples)``.

    Samples with fewer than ``depth`` reads are dropped (warning naming a few). Needs integer counts.
    """
    X, samples, features = as_matrix(table)
    require_counts(X, samples, "rarefaction")
    if int(depth) != depth or depth < 1:
        raise InputError(f"rarefaction depth {depth!r}: must be a positive whole number of reads.")
    depth = int(depth)
    totals = X.sum(axis=1)
    keep = totals >= depth
    dropped = samples[~keep]
    if not keep.any():
        raise InputError(
            f"rarefaction depth {depth}: every sample has fewer reads (largest {int(totals.max())}); choose a lower depth."
        )
    if len(dropped):
        warnings.warn(
            f"rarefaction to {depth} reads dropped {len(dropped)} samples with fewer reads ({preview(dropped)}).",
            stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    counts = X[keep].astype(np.int64)
    drawn = np.vstack([rng.multivariate_hypergeometric(row, depth) for row in counts])
    return pd.DataFrame(drawn, index=samples[keep], columns=features), dropped


def alpha_metric(metric: str) -> str:
    """Canonical index name (aliases as :data:`ALIASES`) or InputError."""
    name = ALIASES.get(metric.strip().lower(), metric.strip().lower())
    if name not in ALPHA_METRICS:
        raise InputError(
            f"unknown alpha index '{metric}'{suggest(metric, ALPHA_METRICS)}; choose from {', '.join(ALPHA_METRICS)}."
        )
    return name
