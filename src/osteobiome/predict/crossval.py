"""Nested cross-validation of the three models (covariates; microbiome; microbiome + covariates) in one cohort.

Outer loop: ``repeats`` × ``folds`` stratified folds (a continuous outcome is stratified on its quintiles);
the same splits serve every model and learner, so their predictions are paired. Inside each outer training
set the whole pipeline (filter, transform, scaling) is tuned by ``inner_folds``-fold cross-validation and
refitted; the outer test fold is predicted once. See :mod:`osteobiome.predict._tables` for the estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.predict._data import Design, build_design
from osteobiome.predict._pipelines import PredictOptions
from osteobiome.predict._runner import fit_and_score, importance_table, run_tasks
from osteobiome.predict._tables import summarise
from osteobiome.predict.result import PredictionResult


def options_from(overrides: dict[str, Any]) -> PredictOptions:
    """:class:`PredictOptions` from keyword overrides; an unknown keyword is a one-line InputError."""
    known = set(PredictOptions.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"prediction option(s) {unknown} unknown; known: {', '.join(sorted(known))}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return PredictOptions(**values).check()


def outer_splits(design: Design, options: PredictOptions) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(repeat, train rows, test rows)`` of the repeated stratified outer folds."""
    y = design.y
    if design.task == "binary":
        strata = y.astype(int)
        minority = int(min(strata.sum(), len(strata) - strata.sum()))
        if minority < options.folds or minority - int(np.ceil(minority / options.folds)) < options.inner_folds:
            raise InputError(
                f"outcome {design.outcome!r}: only {minority} sample(s) in the smaller class (cohort {design.name}); "
                f"{options.folds} outer × {options.inner_folds} inner folds need more (lower --folds or add samples)."
            )
    else:
        if len(y) < 2 * options.folds * options.inner_folds:
            raise InputError(
                f"{design.name}: {len(y)} samples are too few for {options.folds} outer × {options.inner_folds} inner folds."
            )
        strata = np.searchsorted(np.quantile(y, [0.2, 0.4, 0.6, 0.8]), y, side="right")
    splitter = RepeatedStratifiedKFold(n_splits=options.folds, n_repeats=options.repeats, random_state=options.seed)
    return [(i // options.folds, train, test) for i, (train, test) in enumerate(splitter.split(np.zeros(len(y)), strata))]


def _split_task(state: dict[str, Any], index: int) -> dict[str, Any]:
    design, options = state["design"], state["options"]
    _, train, test = state["splits"][index]
    part = replace(design, X=design.X.iloc[train], y=design.y[train])
    return fit_and_score(part, design.X.iloc[test], design.y[test], options, index)


def cross_validate(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None,
    outcome: str,
    covariates: Sequence[str] = (),
    *,
    pathways: Cohort | pd.DataFrame | None = None,
    positive: str | None = None,
    name: str | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> PredictionResult:
    """Does the microbiome predict ``outcome`` beyond the covariates? Nested CV of three models in one cohort.

    Parameters
    ----------
    features : samples × taxa counts or relative abundances (``Cohort`` or DataFrame).
    metadata : samples × columns with ``outcome`` and ``covariates`` (``None``: the Cohort's metadata).
    outcome : binary (two levels; ``positive`` is coded 1) or numeric (continuous) column.
    covariates : columns of the covariates-only model (numeric z-scored; others one-hot coded); never penalized.
    pathways : optional samples × pathways table, used like the taxa.
    workers : processes over the outer folds (call from a ``__main__``-guarded script when > 1).
    progress : ``progress(done, total)`` after each outer fold.
    **options : fields of :class:`~osteobiome.predict._pipelines.PredictOptions` (``learners``, ``transform``,
        ``min_prevalence``, ``folds``, ``repeats``, ``inner_folds``, ``alphas``, ``trees``, ``seed`` …).

    Returns
    -------
    PredictionResult with ``validation = "cross-validation"``. Metrics: AUC (DeLong 95% CI) for a binary
    outcome; R² = 1 − SSE/SST and RMSE (outcome units; paired bootstrap 95% CI) for a continuous one.
    """
    opts = options_from(options)
    design = build_design(features, metadata, outcome, covariates, pathways, positive, name)
    splits = outer_splits(design, opts)
    state = {"design": design, "options": opts, "splits": splits}
    parts = run_tasks(_split_task, state, len(splits), workers, progress)
    n = len(design.y)
    scores = {key: np.full((opts.repeats, n), np.nan) for key in parts[0]["scores"]}
    for (repeat, _, test), part in zip(splits, parts, strict=True):
        for key, values in part["scores"].items():
            scores[key][repeat, test] = values
    tables = summarise(design.y, design.task, scores, design.samples, design.name, "cross-validation",
                       opts.bootstrap, opts.seed)
    importance = importance_table([f for p in parts for f in p["importance"]], len(splits), design.name)
    return PredictionResult(**tables, importance=importance, task=design.task, outcome=outcome,
                            settings=settings(design, opts, covariates))


def settings(design: Design, options: PredictOptions, covariates: Sequence[str]) -> dict[str, Any]:
    """What was run (for run.json, the report and the Methods text)."""
    return {
        "outcome": design.outcome,
        "task": design.task,
        "positive": design.positive,
        "covariates": list(covariates),
        "pathways": bool(design.block("pathway")),
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
    }
