"""A whole study from one YAML file: validation, per-cohort analyses, meta-analysis, results folder, report."""

from __future__ import annotations

from osteobiome.report.results import CohortResults, StudyResults
from osteobiome.study.config import StudyConfig, load_study, study_from_dict
from osteobiome.study.run import StudyRun, run_study
from osteobiome.study.validate import StudyPlan, validate_study

__all__ = [
    "CohortResults",
    "StudyConfig",
    "StudyPlan",
    "StudyResults",
    "StudyRun",
    "load_study",
    "run_study",
    "study_from_dict",
    "validate_study",
]
