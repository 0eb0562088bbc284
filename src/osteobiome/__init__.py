"""osteobiome: gut microbiome vs bone density, microarchitecture, strength and fractures across cohorts.

Entry points are loaded on first use, so ``import osteobiome`` (and the command line) starts fast:

- :func:`load_cohort`, :func:`read_features`, :func:`read_metadata` and :class:`Cohort` (:mod:`osteobiome.io`);
- :func:`associate` (:mod:`osteobiome.association`) and :func:`meta_analyze` (:mod:`osteobiome.meta`);
- :func:`mediate` (:mod:`osteobiome.mediation`): feature → mediator → outcome, every pair at once;
- the subpackages ``association``, ``compute``, ``diversity``, ``evaluate``, ``io``, ``mechanisms``, ``mediation``, ``meta``,
  ``predict``, ``report``, ``simulate``, ``stats``, ``study`` and ``survival`` as attributes (``osteobiome.diversity.permanova``);
  ``osteobiome.survival`` is callable too (the Cox / logistic outcome analysis).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_FUNCTIONS = {
    "Cohort": "osteobiome.io.cohort",
    "InputError": "osteobiome.errors",
    "associate": "osteobiome.association",
    "load_cohort": "osteobiome.io",
    "mediate": "osteobiome.mediation",
    "meta_analyze": "osteobiome.meta",
    "read_features": "osteobiome.io",
    "read_metadata": "osteobiome.io",
}
# ``survival`` is both a subpackage and, being callable, the function: ``osteobiome.survival(...)`` runs
# ``osteobiome.survival.survival`` (see that subpackage's docstring).
_SUBPACKAGES = (
    "association", "batch", "cli", "compute", "diversity", "evaluate", "io", "mechanisms", "mediation", "meta",
    "predict", "report", "simulate", "stats", "study", "survival",
)

__all__ = ["__version__", *sorted(_FUNCTIONS), *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    """Import an entry point or subpackage on first access (PEP 562)."""
    if name in _FUNCTIONS:
        value = getattr(importlib.import_module(_FUNCTIONS[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"osteobiome.{name}")
    else:
        raise AttributeError(f"module 'osteobiome' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
