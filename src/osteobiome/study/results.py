"""What a study run produces, as tidy DataFrames: the input of the report and of the results folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class CohortResults:
    """One cohort's results.

    ``summary``: overview numbers (``n``, ``age``, ``sex``, ``depth``, ``features`` …, already formatted or
    numeric); ``metadata``: the samples analysed (colours the ordinations); ``associations``: ``associate``'s
    columns, one row per feature × phenotype (``metadata`` = phenotype); ``alpha``: samples × indices;
    ``alpha_associations``: index × phenotype rows in ``associate``'s columns; ``permanova``: distance →
    vegan ``adonis2`` table; ``pcoa``: distance → (coordinates, proportion explained);
    ``pathway_associations``: as ``associations`` for pathway tables; ``all_associations``: every row of every
    model (covariates too; ``model`` = the model's phenotype), MaAsLin2's ``all_results``;
    ``added_variable``: partial-residual points of the top pairs (``feature phenotype sample x y``).
    """

    name: str
    summary: dict[str, Any]
    associations: pd.DataFrame
    metadata: pd.DataFrame | None = None
    covariates: list[str] = field(default_factory=list)
    alpha: pd.DataFrame | None = None
    alpha_associations: pd.DataFrame | None = None
    permanova: dict[str, pd.DataFrame] = field(default_factory=dict)
    pcoa: dict[str, tuple[pd.DataFrame, pd.Series]] = field(default_factory=dict)
    pathway_associations: pd.DataFrame | None = None
    all_associations: pd.DataFrame | None = None
    added_variable: pd.DataFrame | None = None


@dataclass
class PooledResults:
    """The pooled, batch-corrected analysis (``batch_correction:``): ``associations`` in a cohort's columns;
    the ``batch`` column and ``protected`` covariates; ``metadata`` of the pooled samples; ``r2``: PERMANOVA of
    the batch before/after (rows, columns ``R2 F pval``); ``coords``/``proportion``: PCoA before/after;
    ``adjusted``: the corrected table (samples × features); ``phenotype``: the one the report colours by."""

    associations: pd.DataFrame
    batch: str
    protected: list[str]
    phenotype: str
    metadata: pd.DataFrame
    r2: pd.DataFrame
    coords: pd.DataFrame
    proportion: pd.DataFrame
    adjusted: pd.DataFrame


@dataclass
class StudyResults:
    """Everything the report shows.

    ``meta`` / ``pathway_meta``: ``meta_analyze``'s columns with ``exposure`` = phenotype (``None`` with one
    cohort); ``mechanisms``: set-level and annotation tables from the knowledge module (section shown only
    when given); ``mediation``: cohort name → ``mediate``'s table (section shown only when given); ``settings``:
    what was run (preset, filters, normalization, transform, model, FDR rule, meta estimator …) for the Methods
    paragraph; ``warnings``: the run's warnings, one line each; ``prediction``: the ``prediction:`` step's tables
    (:class:`osteobiome.predict.PredictionResult`), when asked for; ``pooled``: the batch-corrected pooled analysis
    (``batch_correction:`` in the study file); ``ordination``: distance → (joint PCoA of all cohorts' samples
    with ``cohort`` and first-phenotype columns, proportion explained); ``power``:
    :func:`~osteobiome.study._report_inputs.power_curves`; ``planted`` / ``planted_summary``: planted vs found
    for simulated cohorts; ``fdr_scope``: ``phenotype`` or ``study``; ``survival``: the incident-outcome results
    (:class:`osteobiome.study._survival.SurvivalResults`) when the study has a ``survival:`` section.
    """

    title: str
    phenotypes: list[str]
    covariates: list[str]
    cohorts: list[CohortResults]
    meta: pd.DataFrame | None = None
    pathway_meta: pd.DataFrame | None = None
    mechanisms: dict[str, pd.DataFrame] = field(default_factory=dict)
    mediation: dict[str, pd.DataFrame] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    fdr_cohort: float = 0.1
    fdr_meta: float = 0.25
    warnings: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    prediction: Any = None
    pooled: PooledResults | None = None
    ordination: dict[str, tuple[pd.DataFrame, pd.Series]] = field(default_factory=dict)
    power: pd.DataFrame | None = None
    planted: pd.DataFrame | None = None
    planted_summary: pd.DataFrame | None = None
    fdr_scope: str = "phenotype"
    survival: Any = None

    def cohort_hits(self) -> dict[str, int]:
        """Feature × phenotype rows at q below the cohort threshold, per cohort."""
        return {c.name: int((c.associations["qval"] < self.fdr_cohort).sum()) for c in self.cohorts}

    def meta_hits(self) -> int:
        """Pooled feature × phenotype rows at q below the meta threshold (0 without a meta-analysis)."""
        return 0 if self.meta is None else int((self.meta["qval.fdr"] < self.fdr_meta).sum())
