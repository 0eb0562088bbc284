"""The study's mediation step: per cohort with a ``mediators:`` table, :func:`osteobiome.mediation.run_mediation`
of every feature through every mediator to ``mediation.outcome`` (covariates and preset as the associations).

:func:`load_mediators` reads and checks the tables at validation (nothing runs on a bad file);
:func:`mediation_tables` runs the analyses; the tables go to ``DIR/mediation/<cohort>/mediation.tsv``.
"""

from __future__ import annotations

import pandas as pd

from osteobiome.errors import InputError, suggest
from osteobiome.io.mediators import read_mediators
from osteobiome.mediation.pipeline import run_mediation
from osteobiome.study.config import StudyConfig


def load_mediators(cfg: StudyConfig, metadata: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Cohort name → its mediator table (``cfg.mediation.log`` applied), for cohorts that have one; the outcome
    must be a numeric column of each such cohort's ``metadata``. Errors name the study file's key."""
    tables: dict[str, pd.DataFrame] = {}
    if cfg.mediation is None:
        return tables
    outcome = cfg.mediation.outcome
    for i, spec in enumerate(cfg.cohorts):
        if spec.mediators is None:
            continue
        meta = metadata[spec.name]
        if outcome not in meta.columns:
            raise InputError(
                f"{cfg.where('mediation', 'outcome')}: outcome {outcome!r} is not a column of cohort {spec.name}'s "
                f"metadata{suggest(outcome, meta.columns)}."
            )
        if not pd.api.types.is_numeric_dtype(meta[outcome]):
            raise InputError(f"{cfg.where('mediation', 'outcome')}: outcome {outcome!r} is not numeric in cohort {spec.name}.")
        try:
            tables[spec.name] = read_mediators(spec.mediators, log=cfg.mediation.log, sample_ids=meta.index)
        except InputError as exc:
            raise InputError(f"{cfg.where('cohorts', i, 'mediators')} ({spec.name}): {exc}") from None
    return tables


def mediation_tables(
    cfg: StudyConfig, cohorts: dict[str, object], covariates: dict[str, list[str]], mediators: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Cohort name → ``mediation.tsv`` table for each cohort with mediators (``cohorts``: name → Cohort,
    ``covariates``: name → the covariates its models use)."""
    from osteobiome.study._parts import reference_for  # parts imports validate, which imports this module

    spec = cfg.mediation
    if spec is None:
        return {}
    out = {}
    for name, table in mediators.items():
        used = covariates[name]
        out[name] = run_mediation(
            cohorts[name],
            None,
            table,
            spec.outcome,
            used,
            reference_for(cfg, used),
            cfg.association.preset,
            spec.test,
            n_boot=spec.n_boot,
            seed=spec.seed,
            **cfg.association.options(),
        ).results
    return out
