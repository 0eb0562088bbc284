"""Outcome ~ exposure + covariates for every feature: Cox models of time to event, or logistic models.

Pipeline: align samples → outcome columns checked (event 0/1; time > entry) → covariate design
(:func:`~osteobiome.stats.design.build_design`, complete cases) → feature exposures with the preset's
preprocessing and community exposures (:mod:`osteobiome.survival.exposures`), standardized on the samples
used → one Cox model per exposure (:func:`~osteobiome.survival.cox.fit_cox`, Efron ties, delayed entry) with
the proportional-hazards test (:func:`~osteobiome.survival.zph.cox_zph`), or one logistic model
(:func:`~osteobiome.survival.logistic.fit_logistic`) → BH per kind of exposure (features; community).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from osteobiome._signatures import parameters_of
from osteobiome.association.options import AssociationOptions
from osteobiome.association.pipeline import aligned_table
from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort
from osteobiome.stats.design import build_design
from osteobiome.stats.distributions import normal_ppf
from osteobiome.stats.multitest import adjust_grouped
from osteobiome.stats.preprocess import preprocessed_table, standardize_columns
from osteobiome.survival.cox import fit_cox
from osteobiome.survival.exposures import community_exposures
from osteobiome.survival.logistic import fit_logistic
from osteobiome.survival.zph import TRANSFORMS, cox_zph

OUTCOME_TYPES = ("survival", "binary")
#: Options of the association presets that apply to exposures and q-values (the rest are models of features).
OPTIONS = ("normalization", "transform", "min_abundance", "min_prevalence", "min_variance", "correction")
#: ``ph.flag`` marks a proportional-hazards test p-value below this.
PH_ALPHA = 0.05
#: Default q-value cut for "significant" exposures.
MAX_SIGNIFICANCE = 0.1
_Z975 = normal_ppf(0.975)


@dataclass(frozen=True)
class SurvivalAnalysis:
    """One outcome analysis: ``results`` (the table), ``exposures`` (standardized, samples used × exposures),
    ``outcome`` (samples used × ``time event entry``; time and entry NaN for binary outcomes), ``options``,
    ``covariates`` (samples used × the covariates' design columns, no intercept)."""

    results: pd.DataFrame
    exposures: pd.DataFrame
    outcome: pd.DataFrame
    options: dict[str, Any]
    covariates: pd.DataFrame

    def significant(self, q: float = MAX_SIGNIFICANCE) -> pd.DataFrame:
        """Rows with ``qval <= q``."""
        return self.results[self.results["qval"] <= q].reset_index(drop=True)


def _column(metadata: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in metadata.columns:
        raise InputError(f"{role} column {name!r} is not in the metadata{suggest(name, metadata.columns)}; available: {preview(metadata.columns, 8)}.")
    return metadata[name]


def _numeric(column: pd.Series, role: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & values.isna()
    if bad.any():
        raise InputError(f"{role} column {column.name!r}: samples {preview(column.index[bad])} have non-numeric values; give numbers or leave them empty.")
    return values.astype(float)


def _event(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    values = _numeric(column, "event")
    bad = values.notna() & ~values.isin([0.0, 1.0])
    if bad.any():
        raise InputError(f"event column {column.name!r}: samples {preview(column.index[bad])} are not 0/1; code the event as 1 and censoring (or no) as 0.")
    return values


def outcome_frame(
    metadata: pd.DataFrame, event: str, time: str | None, entry: str | None, outcome_type: str
) -> pd.DataFrame:
    """``time event entry`` per sample (NaN where missing); bad codes and ``time <= entry`` raise InputError."""
    if outcome_type not in OUTCOME_TYPES:
        raise InputError(f"outcome type {outcome_type!r} is not known{suggest(outcome_type, OUTCOME_TYPES)}; use survival or binary.")
    out = pd.DataFrame({"time": np.nan, "event": _event(_column(metadata, event, "event")), "entry": np.nan}, index=metadata.index)
    if outcome_type == "binary":
        if time is not None or entry is not None:
            raise InputError("--time/--entry apply to survival outcomes; drop them with --outcome-type binary.")
        return out
    if time is None:
        raise InputError("a survival outcome needs a time column (--time, or survival: {time: …} in the study file).")
    out["time"] = _numeric(_column(metadata, time, "time"), "time")
    if entry is not None:
        out["entry"] = _numeric(_column(metadata, entry, "entry"), "entry")
        bad = out["entry"] >= out["time"]
        if bad.any():
            raise InputError(f"samples {preview(out.index[bad])} have {entry!r} >= {time!r}; entry must come before the event or censoring time.")
    elif (out["time"] < 0).any():
        raise InputError(f"time column {time!r}: samples {preview(out.index[out['time'] < 0])} have negative times; use follow-up time from baseline.")
    return out


def _results(
    names: pd.Index, kinds: np.ndarray, coef: np.ndarray, stderr: np.ndarray, pval: np.ndarray, fitted: np.ndarray,
    notes: pd.Series, n: int, n_events: int, n_not0: np.ndarray, ratio: str, correction: str,
) -> pd.DataFrame:
    pval = np.where(fitted, pval, np.nan)
    coef, stderr = np.where(fitted, coef, np.nan), np.where(fitted, stderr, np.nan)
    return pd.DataFrame(
        {
            "feature": names.to_numpy(),
            "coef": coef,
            "stderr": stderr,
            ratio: np.exp(coef),
            f"{ratio}.lower": np.exp(coef - _Z975 * stderr),
            f"{ratio}.upper": np.exp(coef + _Z975 * stderr),
            "pval": pval,
            "qval": adjust_grouped(pval, kinds, correction, "per-variable"),
            "N": n,
            "N.events": n_events,
            "note": notes.reindex(names).fillna("").to_numpy(),
            "kind": kinds,
            "N.not.0": n_not0,
        }
    )


def run_survival(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None = None,
    *,
    event: str,
    time: str | None = None,
    covariates: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    entry: str | None = None,
    preset: str = "default",
    outcome_type: str = "survival",
    community_pcs: int = 3,
    ph_transform: str = "km",
    **options: Any,
) -> SurvivalAnalysis:
    """Run the analysis and keep the exposures and outcome (the report draws Kaplan–Meier curves from them).

    Parameters
    ----------
    features : Cohort or DataFrame
        A :class:`~osteobiome.io.cohort.Cohort` (its metadata used when ``metadata`` is None) or a samples ×
        features DataFrame.
    metadata : DataFrame or None
        Indexed by sample id; holds the outcome columns and ``covariates``.
    event : str
        Metadata column, 1 = event (fracture) / case, 0 = censored / not.
    time : str, optional
        Follow-up time, or age at event or censoring when ``entry`` is given.
    covariates : sequence of str, optional
        Adjustment variables.
    reference : mapping, optional
        Reference level of categorical covariates, ``{"sex": "F"}``.
    entry : str, optional
        Age at baseline: delayed entry, at risk on ``(entry, time]``.
    preset : str
        The preprocessing of ``associate``'s preset (``default`` / ``maaslin2``: features non-zero in > 10% of
        samples, TSS, log2 with half-minimum zeros).
    outcome_type : {'survival', 'binary'}
        ``survival`` (Cox proportional hazards, Efron ties; ``coef`` = log hazard ratio per SD of the exposure)
        or ``binary`` (logistic; log odds ratio per SD).
    community_pcs : int
        Robust Aitchison principal coordinates added as exposures with the alpha indices.
    ph_transform : {'km', 'identity', 'log'}
        Time scale of the proportional-hazards test (``km`` as ``cox.zph``).
    **options
        Override the preset's normalization, transform, min_abundance, min_prevalence, min_variance, correction.

    Returns
    -------
    SurvivalAnalysis
        ``results`` (the table :func:`survival` returns), the standardized exposures, the outcome, the options
        used and the covariates' design columns, on the samples used.
    """
    unknown = [name for name in options if name not in OPTIONS]
    if unknown:
        raise InputError(f"option {unknown[0]!r} does not apply to outcome models{suggest(unknown[0], OPTIONS)}; options: {', '.join(OPTIONS)}.")
    if ph_transform not in TRANSFORMS:  # checked before any fit (cox_zph, which would refuse it, runs last)
        raise InputError(
            f"ph_transform (--ph-transform) {ph_transform!r} is not known{suggest(ph_transform, TRANSFORMS)}; "
            f"use one of {', '.join(TRANSFORMS)}."
        )
    opts = AssociationOptions.resolve(preset, options)
    table, metadata = aligned_table(features, metadata)
    outcome = outcome_frame(metadata, event, time, entry, outcome_type)
    needed = ["event"] if outcome_type == "binary" else ["event", "time"] + (["entry"] if entry else [])
    complete = outcome[needed].notna().all(axis=1).to_numpy()
    if covariates:
        design = build_design(metadata.loc[complete], covariates, reference, opts.standardize, opts.require_reference)
        rows = np.flatnonzero(complete)[design.rows]
        Z, covariate_names = design.matrix[:, 1:], design.columns[1:]
    else:
        rows, Z, covariate_names = np.flatnonzero(complete), None, []
    if rows.size < complete.size:
        warnings.warn(f"{complete.size - rows.size} samples with missing outcome or covariates are left out.", stacklevel=2)
    outcome = outcome.iloc[rows]
    n_events = int(outcome["event"].sum())
    if n_events < 2 or n_events == len(outcome):
        raise InputError(f"event column {event!r}: {n_events} events among {len(outcome)} samples; the models need events and non-events.")

    transformed = preprocessed_table(table, opts).iloc[rows]
    used = table.iloc[rows]
    community = community_exposures(used, community_pcs)
    values = pd.concat([transformed, community], axis=1)
    z, constant = standardize_columns(values.to_numpy())
    missing = np.isnan(values.to_numpy()).any(axis=0)
    usable = ~constant & ~missing
    kinds = np.array(["feature"] * transformed.shape[1] + ["community"] * community.shape[1])
    notes = pd.Series("", index=values.columns)
    notes[constant] = "constant on the samples used"
    notes[missing] = "missing values"
    coef = np.full(values.shape[1], np.nan)
    stderr, pval, fitted = coef.copy(), coef.copy(), np.zeros(values.shape[1], bool)
    ph = None
    if outcome_type == "binary":
        fit = fit_logistic(outcome["event"].to_numpy(), z[:, usable], Z)
    else:
        time_, event_ = outcome["time"].to_numpy(), outcome["event"].to_numpy()
        entry_ = outcome["entry"].to_numpy() if entry else None
        fit = fit_cox(time_, event_, z[:, usable], Z, entry_)
        ph = cox_zph(fit, time_, event_, entry_, ph_transform)
    coef[usable], stderr[usable], pval[usable], fitted[usable] = fit.coef[:, 0], fit.stderr[:, 0], fit.pval, fit.converged
    notes[usable & ~fitted] = "did not converge (separation, or an infinite estimate)"
    n_not0 = np.concatenate([(used[transformed.columns].to_numpy() > 0).sum(axis=0), np.full(community.shape[1], len(rows))])
    results = _results(
        values.columns, kinds, coef, stderr, pval, fitted, notes, len(rows), n_events, n_not0,
        "OR" if outcome_type == "binary" else "HR", opts["correction"],
    )
    if ph is not None:
        chisq, ph_p = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
        chisq[usable], ph_p[usable] = ph
        results["ph.chisq"], results["ph.pval"] = chisq, ph_p
        results["ph.flag"] = ph_p < PH_ALPHA
    failed = results.loc[results["note"] != "", "feature"]
    if len(failed):
        warnings.warn(f"{len(failed)} exposures could not be fitted (see the note column): {preview(failed)}.", stacklevel=2)
    order = np.lexsort((results["qval"].fillna(np.inf).to_numpy(), results["kind"] != "feature"))
    results = results.iloc[order].reset_index(drop=True)
    exposures = pd.DataFrame(z, index=outcome.index, columns=values.columns)
    options_used = {**opts.as_dict(), "outcome_type": outcome_type, "community_pcs": community_pcs, "ph_transform": ph_transform}
    covariate_table = pd.DataFrame(np.zeros((len(rows), 0)) if Z is None else Z, index=outcome.index, columns=covariate_names)
    return SurvivalAnalysis(results, exposures, outcome, options_used, covariate_table)


@parameters_of(run_survival)
def survival(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Outcome ~ exposure + covariates for every feature and community index; one row per exposure.

    Returns
    -------
    DataFrame
        Columns: ``feature coef stderr HR HR.lower HR.upper pval qval N N.events note kind N.not.0`` (``OR…`` for
        binary outcomes; 95% Wald intervals), then ``ph.chisq ph.pval ph.flag`` for survival outcomes
        (``ph.flag``: PH test p < 0.05). q-values: BH (or ``correction``) within features and within community
        exposures; rows sorted by q, feature rows first; exposures that could not be fitted keep a ``note``.
    """
    return run_survival(*args, **kwargs).results
