"""Meta-analysis of per-cohort association results (metafor/MMUPHin compatible, vectorized over features)."""

from __future__ import annotations

from osteobiome.meta.pooling import METHODS, PRESETS, TESTS, MetaResult, pool

__all__ = ["METHODS", "PRESETS", "TESTS", "MetaResult", "pool"]
