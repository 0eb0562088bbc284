"""Early diagnosis: does the microbiome predict an outcome (low bone density, osteoporosis, BMD) beyond the
covariates (age, sex, BMI …)?

Three models on the same folds — covariates only; microbiome only (CLR or log relative abundances of the taxa,
pathways when given, alpha diversity); microbiome + covariates — each with a penalized logistic / linear model
whose covariates are not penalized and with a random forest. Every learned step (prevalence filter,
pseudo-count, scaling, tuning) is fitted inside the folds (nested cross-validation).

- :func:`cross_validate`: nested, repeated, stratified cross-validation in one cohort;
- :func:`external_validate`: leave-one-cohort-out (train on the other cohorts, test on the held-out one);
- :class:`PredictionResult`: ``performance``, ``comparison``, ``calibration``, ``importance``,
  ``predictions`` and ``decision`` tables (``.write(folder)``).
"""

from __future__ import annotations

from osteobiome.predict._pipelines import LEARNERS, MODELS, PredictOptions
from osteobiome.predict.crossval import cross_validate
from osteobiome.predict.external import external_validate
from osteobiome.predict.result import PredictionResult

__all__ = ["LEARNERS", "MODELS", "PredictOptions", "PredictionResult", "cross_validate", "external_validate"]
