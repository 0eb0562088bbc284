"""Table-level meta-analysis: per-cohort ``associate`` / MaAsLin2 result tables in, MMUPHin-style table out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.meta.blocks import pool_blocked
from osteobiome.meta.regression import moderator_columns
from osteobiome.meta.replication import Q_THRESHOLD, replication_summary
from osteobiome.meta.twopart import PREVALENCE, has_prevalence, presence_columns, prevalence_columns
from osteobiome.stats.multitest import adjust

#: Columns each per-cohort table must have (MaAsLin2's ``all_results.tsv`` layout).
REQUIRED = ("feature", "metadata", "value", "coef", "stderr", "pval", "qval")
#: Per-cohort columns pooled or carried per feature.
VALUES = ("coef", "stderr", "pval", "qval")


def exposure_names(table: pd.DataFrame) -> pd.Series:
    """``metadata`` for a continuous exposure (MaAsLin2 repeats it in ``value``), else ``metadata + value``
    (R's coefficient name, e.g. ``diagnosisCD``)."""
    metadata, value = table["metadata"].astype(str), table["value"].astype(str)
    return metadata.where(value == metadata, metadata + value)


def _long_table(tables: Mapping[str, pd.DataFrame], prevalence: bool = False) -> pd.DataFrame:
    if not tables:
        raise InputError("meta_analyze: no cohort tables given; pass at least one {name: results table}.")
    parts = []
    for name, table in tables.items():
        missing = [c for c in REQUIRED if c not in table.columns]
        if missing:
            raise InputError(
                f"{name}: result table lacks column(s) {', '.join(missing)}; give the all_results.tsv of "
                f"'osteobiome associate' or MaAsLin2 (columns {' '.join(REQUIRED)})."
            )
        part = table.loc[:, list(REQUIRED)].copy()
        if prevalence:
            pair = presence_columns(table)
            for column in PREVALENCE:
                part[column] = pd.to_numeric(table[column], errors="coerce")
            for column, source in zip(("present", "used"), pair or (None, None), strict=True):
                part[column] = np.nan if source is None else pd.to_numeric(table[source], errors="coerce")
        part["feature"] = part["feature"].astype(str)
        part["exposure"] = exposure_names(part)
        part["cohort"] = str(name)
        dup = part.duplicated(["feature", "exposure"])
        if dup.any():
            rows = part.loc[dup, "feature"] + " × " + part.loc[dup, "exposure"]
            raise InputError(
                f"{name}: feature × exposure rows repeated ({preview(rows)}); give one row each."
            )
        for column in VALUES:
            part[column] = pd.to_numeric(part[column], errors="coerce")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _select(long: pd.DataFrame, exposure: str | Iterable[str] | None) -> pd.DataFrame:
    if exposure is None:
        return long
    wanted = [exposure] if isinstance(exposure, str) else list(exposure)
    known = set(long["metadata"].astype(str)) | set(long["exposure"])
    for name in wanted:
        if name not in known:
            raise InputError(
                f"exposure {name!r} is not in the cohort results{suggest(name, known)}; "
                f"available: {preview(sorted(known))}."
            )
    return long[long["metadata"].astype(str).isin(wanted) | long["exposure"].isin(wanted)]


def meta_analyze(
    tables: Mapping[str, pd.DataFrame],
    exposure: str | Iterable[str] | None = None,
    method: str = "REML",
    test: str = "z",
    preset: str | None = None,
    q_threshold: float = Q_THRESHOLD,
    cohort_q: float | Mapping[str, float] | None = None,
    scheduler: object = None,
    *,
    joint: str = "cauchy",
    moderators: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pool each feature × exposure over the cohorts (``tables``: cohort name → results table).

    One row per feature × exposure, columns ``feature exposure coef stderr pval k tau2 stderr.tau2 pval.tau2
    I2 H2 weight_<cohort>… pval.bonf qval.fdr`` (MMUPHin ``lm_meta``; ``pval.tau2`` is Cochran's Q p-value,
    weights in %), then ``Q ci.lb ci.ub method converged single_cohort`` and the replication columns of
    :func:`~osteobiome.meta.replication.replication_summary`. Features seen in one cohort carry that cohort's
    coef, stderr and p-value (``single_cohort`` True); BH and Bonferroni run over features per exposure.
    ``q_threshold`` marks pooled significance, ``cohort_q`` each cohort's own (default ``q_threshold``).
    ``scheduler`` (threads, processes, a dask scheduler address) pools blocks of features through dask, the
    leave-one-out poolings included.

    Two-part tables (with ``coef.prevalence stderr.prevalence pval.prevalence``, the default preset's output):
    the prevalence part is pooled the same way and ``pval.joint`` combines both pooled parts by ``joint``
    (:mod:`osteobiome.meta.twopart`); ``coef``/``pval`` stay the abundance part's. ``moderators`` (cohort-level
    traits, one row per cohort name): a meta-regression of every feature's ``coef`` on them
    (:func:`osteobiome.meta.regression.moderator_columns`), its per-coefficient rows in
    ``result.attrs["meta_regression"]``.
    """
    two_part = has_prevalence(tables)
    long = _select(_long_table(tables, two_part), exposure)
    cohorts = [str(c) for c in tables]
    label = f"{method}, {test}" + (f", {preset}" if preset else "")
    frames, regressions = [], []
    for name, rows in long.groupby("exposure", sort=False):
        features = rows["feature"].unique()
        extra = [*PREVALENCE, "present", "used"] if two_part else []
        wide = rows.pivot(index="feature", columns="cohort", values=[*VALUES, *extra])
        yi, sei, pvals, qvals = (wide[c].reindex(index=features, columns=cohorts).to_numpy(float) for c in VALUES)
        res = pool_blocked(yi, sei, method, test, preset=preset, scheduler=scheduler)
        single = res.k == 1
        only = np.argmax(np.isfinite(yi) & np.isfinite(sei) & (sei > 0), axis=1)
        carried = pvals[np.arange(len(features)), only]
        pval = np.where(single & np.isfinite(carried), carried, res.pval)
        out = pd.DataFrame(
            {
                "feature": features,
                "exposure": name,
                "coef": res.coef,
                "stderr": res.stderr,
                "pval": pval,
                "k": res.k,
                "tau2": res.tau2,
                "stderr.tau2": res.se_tau2,
                "pval.tau2": res.Qp,
                "I2": res.I2,
                "H2": res.H2,
            }
        )
        for j, cohort in enumerate(cohorts):
            out[f"weight_{cohort}"] = res.weights[:, j]
        out["pval.bonf"], out["qval.fdr"] = adjust(pval, "bonferroni"), adjust(pval, "BH")
        out["Q"], out["ci.lb"], out["ci.ub"] = res.Q, res.ci_lb, res.ci_ub
        out["method"], out["converged"], out["single_cohort"] = label, res.converged, single
        replication = replication_summary(
            yi,
            sei,
            qvals,
            res,
            cohorts,
            q_threshold=q_threshold,
            cohort_q=cohort_q,
            pooled_pval=pval,
            scheduler=scheduler,
            preset=preset,
        )
        parts = [out, replication]
        if two_part:
            parts.append(prevalence_columns(wide, features, cohorts, pval, method, test, joint, preset, scheduler))
        if moderators is not None:
            columns, long_rows = moderator_columns(yi, sei, features, name, cohorts, moderators, method, test, preset)
            parts.append(columns)
            regressions.append(long_rows)
        frames.append(pd.concat(parts, axis=1))
    if not frames:
        raise InputError("meta_analyze: the cohort tables have no rows; check the associate outputs.")
    result = pd.concat(frames, ignore_index=True)
    if regressions:
        result.attrs["meta_regression"] = pd.concat(regressions, ignore_index=True)
    return result
