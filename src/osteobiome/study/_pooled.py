"""The pooled analysis of a study with ``batch_correction:``: every cohort's table (at the study's rank) pooled
into one, batch-corrected by :func:`osteobiome.batch.adjust_batch` with the phenotypes and covariates protected,
checked by PERMANOVA/PCoA before and after, then associated once per phenotype like a cohort."""

from __future__ import annotations

import warnings

import pandas as pd

from osteobiome.batch import adjust_batch, batch_diagnostics
from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.report.results import PooledResults
from osteobiome.study._parts import run_part
from osteobiome.study.validate import StudyPlan

#: Name of the pooled "cohort" in tables, file paths and warnings.
POOLED = "pooled"


def _pooled_frames(plan: StudyPlan, batch: str, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohorts' tables stacked (features absent from a cohort are 0 there; all closed to proportions when some
    cohorts have counts and others relative abundances) and their metadata (the ``columns`` plus the batch);
    sample ids prefixed by the cohort name when they repeat across cohorts."""
    ids = [s for cp in plan.cohorts for s in cp.cohort.samples]
    prefix = len(set(ids)) < len(ids)
    mixed = len({cp.cohort.value_type for cp in plan.cohorts}) > 1  # counts and proportions: pool proportions
    tables, metas = [], []
    for cp in plan.cohorts:
        table = cp.cohort.table
        if mixed:
            table = table.div(table.sum(axis=1).replace(0, 1), axis=0)
        meta = cp.cohort.metadata.copy()
        if batch == "cohort":
            meta["cohort"] = cp.name
        missing = [c for c in [batch, *columns] if c not in meta.columns]
        if missing:
            raise InputError(
                f"batch_correction: cohort {cp.name} has no column(s) {', '.join(missing)}; the pooled analysis "
                "needs the batch, phenotypes and protected covariates in every cohort."
            )
        if prefix:
            table.index = meta.index = [f"{cp.name}:{s}" for s in table.index]
        tables.append(table)
        metas.append(meta[[batch, *columns]])
    return pd.concat(tables).fillna(0.0), pd.concat(metas)


def pooled_analysis(plan: StudyPlan) -> PooledResults:
    """Pool, correct, diagnose and associate (see the module docstring)."""
    cfg = plan.config
    spec = cfg.batch_correction
    protected = list(spec.covariates) if spec.covariates is not None else [*cfg.phenotypes, *cfg.covariates]
    table, metadata = _pooled_frames(plan, spec.batch, list(dict.fromkeys([*protected, *cfg.phenotypes])))
    complete = metadata.notna().all(axis=1) & (table.sum(axis=1) > 0)
    if not complete.all():
        warnings.warn(
            f"pooled analysis: {int((~complete).sum())} sample(s) with missing phenotype/covariate values or no "
            "reads left out of the batch correction.",
            stacklevel=2,
        )
    table, metadata = table.loc[complete], metadata.loc[complete]
    adjusted = adjust_batch(table, metadata, spec.batch, protected).table
    diagnostics = batch_diagnostics(table, adjusted, metadata, spec.batch, spec.permutations, spec.seed)
    cohort = Cohort.from_frames(adjusted, metadata, name=POOLED)
    covariates = [c for c in protected if c not in cfg.phenotypes]
    part = run_part(cfg, POOLED, "associations", cohort, covariates, tuple(cfg.phenotypes))
    for message in part.warnings:
        warnings.warn(message, stacklevel=2)
    return PooledResults(
        associations=part.value[0],
        batch=spec.batch,
        protected=protected,
        phenotype=cfg.phenotypes[0],
        metadata=metadata,
        r2=diagnostics.r2,
        coords=diagnostics.coords,
        proportion=diagnostics.proportion,
        adjusted=adjusted,
    )
