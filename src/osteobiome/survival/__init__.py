"""Microbiome as exposure: Cox models of time to event (incident fracture) and logistic models of binary
outcomes, one per feature and community index, vectorized across features.

``osteobiome.survival`` is this subpackage and is also callable: ``osteobiome.survival(features, metadata,
event=…, time=…)`` runs :func:`~osteobiome.survival.analysis.survival` (a module whose class defines
``__call__``), so the function and the subpackage share one name whichever is imported first. Modules:
``analysis`` (the pipeline), ``exposures``, ``cox`` (vectorized Cox PH, Efron ties, delayed entry), ``zph``
(``cox.zph`` test), ``logistic`` (vectorized IRLS), ``km`` (Kaplan–Meier).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from osteobiome.survival.analysis import SurvivalAnalysis, run_survival, survival
from osteobiome.survival.cox import CoxFit, fit_cox
from osteobiome.survival.km import kaplan_meier
from osteobiome.survival.logistic import LogisticFit, fit_logistic
from osteobiome.survival.zph import cox_zph

__all__ = [
    "CoxFit", "LogisticFit", "SurvivalAnalysis", "cox_zph", "fit_cox", "fit_logistic", "kaplan_meier",
    "run_survival", "survival",
]


class _CallableModule(types.ModuleType):
    """``osteobiome.survival(...)`` is :func:`survival`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return survival(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
