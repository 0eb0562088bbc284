"""Mediation: does a genus act on bone through a metabolite? Every (feature, mediator) pair at once.

- :func:`mediate` / :func:`run_mediation` (:mod:`~osteobiome.mediation.pipeline`): α, β, indirect, direct and
  total effects on standardized variables, a composite-null p-value and a CI per pair;
- :mod:`~osteobiome.mediation.composite`: DACT, HDMT (approximate) and MaxP tests of H0: α = 0 or β = 0;
- :mod:`~osteobiome.mediation.annotate`: mediators matched to the knowledge table's mechanism groups.
"""

from osteobiome.mediation.composite import composite_pvalues
from osteobiome.mediation.pipeline import COLUMNS, Mediation, mediate, run_mediation

__all__ = ["COLUMNS", "Mediation", "composite_pvalues", "mediate", "run_mediation"]
