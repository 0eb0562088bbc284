"""Replication summary of each pooled feature: sign agreement, cohorts significant on their own, and
leave-one-out (LOO) pooling to see whether one cohort drives the result."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.meta.blocks import pool_blocked
from osteobiome.meta.pooling import MetaResult
from osteobiome.stats.multitest import adjust

#: MaAsLin2's default ``max_significance``: the q threshold of per-cohort and pooled significance.
Q_THRESHOLD = 0.25


def replication_summary(
    yi: np.ndarray,
    sei: np.ndarray,
    qvals: np.ndarray,
    pooled: MetaResult,
    cohorts: list[str],
    q_threshold: float = Q_THRESHOLD,
    cohort_q: float | Mapping[str, float] | None = None,
    pooled_pval: np.ndarray | None = None,
    scheduler: object = None,
    **pool_options,
) -> pd.DataFrame:
    """Per feature (rows of ``yi``, features × cohorts):

    - ``n_same_sign``: cohorts whose estimate has the sign of the pooled estimate; ``sign_agreement`` = that / k;
    - ``n_significant``: cohorts with their own ``qval`` at or below their own threshold (``cohort_q``: one
      value, or cohort name → value; default ``q_threshold``);
    - with ``k >= 3``, the pooled estimate is recomputed without each cohort in turn (same method/test):
      ``loo_max_rel_change = max |β₋c - β| / |β|``, ``loo_max_pval`` the largest LOO p-value, and
      ``loo_flips`` the cohorts whose removal moves the pooled BH q-value across ``q_threshold`` (BH over
      features within each LOO fit); ``loo_robust`` is True when none does (NA when ``k < 3``).

    ``pooled_pval`` replaces ``pooled.pval`` as the full-data p-values (e.g. with carried single-cohort ones).
    ``scheduler`` (threads, processes, a dask scheduler address) runs each LOO pooling in blocks of features
    through dask (:func:`~osteobiome.meta.blocks.pool_blocked`); the same numbers either way.
    """
    yi, sei = np.asarray(yi, float), np.asarray(sei, float)
    present = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
    k = present.sum(axis=1)
    sign = np.sign(pooled.coef)[:, None]
    n_same = (present & (np.sign(yi) == sign) & (sign != 0)).sum(axis=1)
    cohort_q = q_threshold if cohort_q is None else cohort_q
    if isinstance(cohort_q, Mapping):
        unknown = sorted(set(cohort_q) - set(cohorts))
        if unknown:
            raise InputError(f"cohort_q: unknown cohort(s) {preview(unknown)}{suggest(unknown[0], cohorts)}.")
        cohort_q = [cohort_q.get(name, q_threshold) for name in cohorts]
    thresholds = np.broadcast_to(np.asarray(cohort_q, float), (len(cohorts),))
    n_sig = (present & (np.nan_to_num(np.asarray(qvals, float), nan=np.inf) <= thresholds)).sum(axis=1)
    full_p = pooled.pval if pooled_pval is None else np.asarray(pooled_pval, float)
    significant = adjust(full_p) <= q_threshold

    eligible = k >= 3
    max_rel = np.where(eligible, 0.0, np.nan)
    max_p = np.where(eligible, 0.0, np.nan)
    flips = [[] for _ in range(yi.shape[0])]
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, name in enumerate(cohorts):
            rows = np.flatnonzero(eligible & present[:, c])
            if rows.size == 0:
                continue
            y_loo = yi[rows].copy()
            y_loo[:, c] = np.nan
            loo = pool_blocked(y_loo, sei[rows], pooled.method, pooled.test, scheduler=scheduler, **pool_options)
            max_rel[rows] = np.fmax(
                max_rel[rows], np.abs(loo.coef - pooled.coef[rows]) / np.abs(pooled.coef[rows])
            )
            max_p[rows] = np.fmax(max_p[rows], loo.pval)
            p_loo = full_p.copy()
            p_loo[rows] = loo.pval
            flipped = rows[(adjust(p_loo)[rows] <= q_threshold) != significant[rows]]
            for r in flipped:
                flips[r].append(name)
    return pd.DataFrame(
        {
            "n_same_sign": n_same,
            "sign_agreement": np.where(k > 0, n_same / np.maximum(k, 1), np.nan),
            "n_significant": n_sig,
            "loo_max_rel_change": max_rel,
            "loo_max_pval": max_p,
            "loo_robust": pd.array(
                [None if not e else not f for e, f in zip(eligible, flips, strict=True)], dtype="boolean"
            ),
            "loo_flips": [",".join(f) for f in flips],
        }
    )
