"""Meta-analysis of per-cohort association results (metafor/MMUPHin compatible, vectorized over features).

- :func:`pool`: features × cohorts arrays → :class:`MetaResult` (FE, REML, ML, DL, PM, HE, SJ; z or knha).
- :func:`meta_analyze`: per-cohort result tables → one MMUPHin-style table with replication columns, both
  parts of two-part tables (:mod:`osteobiome.meta.twopart`) and, with ``moderators``, meta-regressions.
- :func:`meta_regression`: one effect on cohort-level moderators (metafor ``rma(mods=)``, ``permutest``).
"""

from __future__ import annotations

from osteobiome.meta.pooling import METHODS, PRESETS, TESTS, MetaResult, pool
from osteobiome.meta.regression import meta_regression
from osteobiome.meta.replication import replication_summary
from osteobiome.meta.tables import meta_analyze

__all__ = ["METHODS", "PRESETS", "TESTS", "MetaResult", "meta_analyze", "meta_regression", "pool", "replication_summary"]
