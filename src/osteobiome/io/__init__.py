"""Readers for every input a user brings: feature tables in many formats, taxonomy and sample metadata.

- :func:`read_features` (format detected; see :func:`detect_format`) → :class:`FeatureData`
- :func:`read_metadata` → DataFrame indexed by sample id
- :func:`read_taxonomy` → features × ranks
- :func:`read_mediators` → samples × mediators (metabolites, SCFA panels, serum markers)
- :func:`load_cohort` → a checked :class:`~osteobiome.io.cohort.Cohort`
"""

from __future__ import annotations

from osteobiome.io.base import FeatureData
from osteobiome.io.formats import FORMATS, detect_format, read_features
from osteobiome.io.lineages import read_taxonomy
from osteobiome.io.load import load_cohort
from osteobiome.io.mediators import read_mediators
from osteobiome.io.metadata import check_columns, read_metadata

__all__ = [
    "FORMATS",
    "FeatureData",
    "check_columns",
    "detect_format",
    "load_cohort",
    "read_features",
    "read_mediators",
    "read_metadata",
    "read_taxonomy",
]
