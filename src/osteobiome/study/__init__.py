"""A whole study from one YAML file: validation, per-cohort analyses, meta-analysis, results folder, report.

The names below load on first use (PEP 562), so that a light one (:func:`start_workers`, which commands call before
their own imports) does not import the analyses."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "CohortResults": "osteobiome.report.results",
    "StudyConfig": "osteobiome.study.config",
    "StudyPlan": "osteobiome.study.validate",
    "StudyResults": "osteobiome.report.results",
    "StudyRun": "osteobiome.study.run",
    "load_study": "osteobiome.study.config",
    "run_study": "osteobiome.study.run",
    "start_workers": "osteobiome.study._workers",
    "study_from_dict": "osteobiome.study.config",
    "validate_study": "osteobiome.study.validate",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'osteobiome.study' has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
