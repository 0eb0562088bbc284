"""Batch correction of pooled raw tables (before association): MMUPHin-style zero-inflated empirical-Bayes
location/scale adjustment of log relative abundances with covariates of interest protected, and its
diagnostics (PERMANOVA R² of the batch, PCoA before/after).

A package of its own rather than part of :mod:`osteobiome.meta`: it works on abundance tables upstream of
:mod:`osteobiome.association` (pool the raw tables, adjust, then associate once), whereas ``meta`` combines
per-cohort estimates downstream; keeping it beside ``io`` → ``association`` keeps the data flow one-way.
"""

from osteobiome.batch.combat import BatchAdjustment, adjust_batch
from osteobiome.batch.diagnostics import BatchDiagnostics, batch_diagnostics

__all__ = ["BatchAdjustment", "BatchDiagnostics", "adjust_batch", "batch_diagnostics"]
