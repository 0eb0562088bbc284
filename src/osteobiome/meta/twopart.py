"""Meta-analysis of both parts of the two-part model (MMUPHin ``maaslin_meta`` pools both MaAsLin3 parts).

The per-cohort tables of ``osteobiome associate`` with ``model="twopart"`` (the default preset) carry the
abundance part as ``coef``/``stderr`` and ``pval.abundance``, the prevalence part as ``coef.prevalence``/
``stderr.prevalence``/``pval.prevalence``, and ``N.present`` (samples where the feature is present) next to
``N.used`` (samples in the model). :func:`prevalence_columns` pools the prevalence coefficients with the same
estimator and test as the abundance ones and combines the two pooled p-values into ``pval.joint`` by the rule
of the per-cohort joint p-value (:func:`osteobiome.stats.twopart.joint_pvalue`): ``"cauchy"`` (the default
preset's presence-weighted Cauchy combination, with the pooled presence fraction
``π = Σ_c N.present / Σ_c N.used`` over the cohorts that have the feature; MaAsLin2-style ``N.not.0 / N``
when those are absent; equal weights when neither is there) or ``"beta"`` (MaAsLin3's
``1 - (1 - min p)²``). Where one pooled part is missing, ``pval.joint`` is the other part's p-value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.meta.blocks import pool_blocked
from osteobiome.stats.multitest import adjust
from osteobiome.stats.twopart import joint_pvalue

#: Per-cohort columns of the prevalence part (pooled when all are present in every cohort table).
PREVALENCE = ("coef.prevalence", "stderr.prevalence", "pval.prevalence")
#: Per-cohort sample counts of the presence weight: present / used (MaAsLin2 tables: N.not.0 / N).
PRESENCE = (("N.present", "N.used"), ("N.not.0", "N"))
#: Rules of the joint p-value (as the association option ``joint``).
JOINT_RULES = ("cauchy", "beta")


def has_prevalence(tables: dict[str, pd.DataFrame]) -> bool:
    """True when every cohort table has the prevalence part's columns."""
    return all(all(c in t.columns for c in PREVALENCE) for t in tables.values())


def presence_columns(table: pd.DataFrame) -> tuple[str, str] | None:
    """The (present, used) sample-count columns of one cohort table, or None."""
    for pair in PRESENCE:
        if all(c in table.columns for c in pair):
            return pair
    return None


def prevalence_columns(
    wide: pd.DataFrame,
    features: np.ndarray,
    cohorts: list[str],
    pooled_pval: np.ndarray,
    method: str,
    test: str,
    joint: str,
    preset: str | None,
    scheduler: object,
) -> pd.DataFrame:
    """Pooled prevalence part and joint p-value of one exposure (``wide``: features × (column, cohort), with
    the :data:`PREVALENCE` columns and ``present``/``used`` counts; ``pooled_pval``: the pooled abundance p).

    Columns ``coef.prevalence stderr.prevalence pval.prevalence qval.prevalence k.prevalence tau2.prevalence
    I2.prevalence pval.tau2.prevalence pval.joint qval.joint`` (BH over the exposure's features)."""
    if joint not in JOINT_RULES:
        raise InputError(
            f"joint={joint!r}: use one of {', '.join(JOINT_RULES)} (the associate option 'joint')."
        )

    def block(column: str) -> np.ndarray:
        return wide[column].reindex(index=features, columns=cohorts).to_numpy(float)

    yi, sei = block("coef.prevalence"), block("stderr.prevalence")
    res = pool_blocked(yi, sei, method, test, preset=preset, scheduler=scheduler)
    pval = res.pval.copy()
    single = res.k == 1
    if single.any():  # one cohort: its own (Wald) p-value, as for the abundance part
        only = np.argmax(np.isfinite(yi) & np.isfinite(sei) & (sei > 0), axis=1)
        carried = block("pval.prevalence")[np.arange(len(features)), only]
        pval = np.where(single & np.isfinite(carried), carried, pval)
    present, used = block("present"), block("used")
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.nansum(present, axis=1) / np.nansum(used, axis=1)
    fraction = np.where(np.isfinite(fraction), fraction, 0.0)  # no counts: equal weights (π = 0 → w = 1/2)
    joint_p = joint_pvalue(pooled_pval, pval, joint, fraction)
    return pd.DataFrame(
        {
            "coef.prevalence": res.coef,
            "stderr.prevalence": res.stderr,
            "pval.prevalence": pval,
            "qval.prevalence": adjust(pval, "BH"),
            "k.prevalence": res.k,
            "tau2.prevalence": res.tau2,
            "I2.prevalence": res.I2,
            "pval.tau2.prevalence": res.Qp,
            "pval.joint": joint_p,
            "qval.joint": adjust(joint_p, "BH"),
        }
    )
