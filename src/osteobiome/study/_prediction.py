"""The study's ``prediction:`` step: per cohort nested cross-validation, then leave-one-cohort-out external
validation, combined into one :class:`~osteobiome.predict.PredictionResult` (``results/prediction/``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from osteobiome.errors import InputError, suggest
from osteobiome.study.config import PredictionSpec, StudyConfig

if TYPE_CHECKING:
    from osteobiome.predict import PredictionResult

OPTIONS = ("learners", "transform", "min_prevalence", "folds", "repeats", "inner_folds", "trees", "seed")


def prediction_covariates(cfg: StudyConfig) -> list[str]:
    """The covariates of the reference model: the section's, else the study's."""
    spec = cfg.prediction
    return list(spec.covariates if spec.covariates is not None else cfg.covariates)


def check_prediction(cfg: StudyConfig, metadata: dict[str, object]) -> None:
    """Outcome and covariates are columns of every cohort's metadata (``metadata``: cohort name → (path,
    DataFrame)); one-line InputError naming the study file's key otherwise."""
    spec = cfg.prediction
    if spec is None:
        return
    for name, (path, frame) in metadata.items():
        columns = [str(c) for c in frame.columns]
        for key, var in [("outcome", spec.outcome), *(("covariates", v) for v in prediction_covariates(cfg))]:
            if var not in columns:
                raise InputError(
                    f"{cfg.where('prediction', key)}: {var!r} is not a column of cohort {name}'s metadata "
                    f"({Path(path).name}){suggest(var, columns)}; fix the name in the study file or add the column."
                )


def run_prediction(
    plan: object, workers: int, progress: Callable[[str, int], Callable[[], None]]
) -> PredictionResult:
    """Cross-validation in each cohort (its usable covariates), then external validation across cohorts."""
    from osteobiome.predict import (  # scikit-learn: load late
        PredictionResult,
        cross_validate,
        external_validate,
    )

    cfg = plan.config
    spec: PredictionSpec = cfg.prediction
    options = {k: getattr(spec, k) for k in OPTIONS}
    covariates = prediction_covariates(cfg)
    results = []
    for cp in plan.cohorts:
        usable = [c for c in covariates if c not in cfg.covariates or c in cp.covariates]
        advance = _bar(progress, f"prediction {cp.name}")
        results.append(
            cross_validate(cp.cohort, None, spec.outcome, usable, name=cp.name, positive=spec.positive,
                           pathways=cp.pathways, workers=workers, progress=advance, **options)
        )
    if spec.external and len(plan.cohorts) > 1:
        advance = _bar(progress, "prediction external")
        results.append(
            external_validate({cp.name: cp.cohort for cp in plan.cohorts}, spec.outcome, covariates,
                              pathways={cp.name: cp.pathways for cp in plan.cohorts if cp.pathways is not None},
                              positive=spec.positive, workers=workers, progress=advance, **options)
        )
    combined = PredictionResult.combine(results)
    combined.settings = {**combined.settings, "external": bool(spec.external and len(plan.cohorts) > 1)}
    return combined


def _bar(progress: Callable[[str, int], Callable[[], None]], label: str) -> Callable[[int, int], None]:
    """Adapt the run's ``progress(label, total) -> advance()`` to ``(done, total)`` calls (bar made at 0)."""
    state: dict[str, Callable[[], None]] = {}

    def update(done: int, total: int) -> None:
        if "advance" not in state:
            state["advance"] = progress(label, total)
        if done:
            state["advance"]()

    return update
