"""External validation across cohorts: leave one cohort out, train on the others, test on it.

With two cohorts this is "train on each cohort, test on the other". The training set (the other cohorts
pooled) goes through the same tuned pipelines as in cross-validation (inner folds within the training set);
the held-out cohort is predicted once, so its CIs (DeLong for AUC, paired bootstrap for R² / RMSE) treat the
fitted models as fixed. Taxa absent from a cohort count as zero there; pathways are used only when every
cohort has them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.predict._data import Design, build_design
from osteobiome.predict._runner import fit_and_score, run_tasks
from osteobiome.predict._tables import summarise
from osteobiome.predict.crossval import options_from, settings
from osteobiome.predict.result import PredictionResult


def aligned(designs: Sequence[Design]) -> list[Design]:
    """The designs with the same columns: union of the taxa (absent = 0), pathways only if all have them,
    covariates of the same type everywhere (else a one-line InputError)."""
    first = designs[0]
    for d in designs[1:]:
        if d.task != first.task:
            raise InputError(f"outcome {first.outcome!r} is {first.task} in {first.name} but {d.task} in {d.name}.")
        if set(d.numeric) != set(first.numeric):
            mixed = sorted(set(d.numeric) ^ set(first.numeric))
            raise InputError(f"covariate(s) {mixed} are numeric in one cohort and categorical in another; make them agree.")
    with_pathways = all(d.block("pathway") for d in designs)
    if any(d.block("pathway") for d in designs) and not with_pathways:
        warnings.warn("external validation: pathways left out (not every cohort has a pathway table).", stacklevel=3)
    taxa = list(dict.fromkeys(c for d in designs for c in d.block("taxon")))
    pathways = list(dict.fromkeys(c for d in designs for c in d.block("pathway"))) if with_pathways else []
    covariates = [*first.numeric, *first.categorical]
    columns = [*taxa, *pathways, *covariates]
    out = []
    for d in designs:
        X = d.X.reindex(columns=columns)
        X[taxa + pathways] = X[taxa + pathways].fillna(0.0)
        out.append(replace(d, X=X, numeric=first.numeric, categorical=first.categorical))
    return out


def _held_out_task(state: dict[str, Any], index: int) -> dict[str, Any]:
    designs = state["designs"]
    test = designs[index]
    others = [d for i, d in enumerate(designs) if i != index]
    train = replace(test, X=pd.concat([d.X for d in others]), y=np.concatenate([d.y for d in others]),
                    name="+".join(d.name for d in others))
    options = state["options"]
    return fit_and_score(train, test.X, test.y, options, index)


def external_validate(
    cohorts: Mapping[str, Cohort | tuple[pd.DataFrame, pd.DataFrame]],
    outcome: str,
    covariates: Sequence[str] = (),
    *,
    pathways: Mapping[str, Cohort | pd.DataFrame] | None = None,
    positive: str | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> PredictionResult:
    """Leave-one-cohort-out validation of the three models (see the module docstring).

    ``cohorts``: name → ``Cohort`` (with metadata) or ``(features, metadata)``; ``pathways``: name → pathway
    table (optional); other arguments as :func:`~osteobiome.predict.cross_validate` (``repeats`` does not
    apply; permutation importance is computed only in cross-validation). Rows carry ``validation =
    "external"`` and ``cohort`` = the held-out cohort.
    """
    if len(cohorts) < 2:
        raise InputError("external validation needs at least two cohorts.")
    opts = options_from({**options, "repeats": 1, "importance": False})
    designs = []
    for name, data in cohorts.items():
        features, metadata = (data, None) if isinstance(data, Cohort) else data
        extra = (pathways or {}).get(name)
        designs.append(build_design(features, metadata, outcome, covariates, extra, positive, name))
    designs = aligned(designs)
    parts = run_tasks(_held_out_task, {"designs": designs, "options": opts}, len(designs), workers, progress)
    results = []
    for d, part in zip(designs, parts, strict=True):
        scores = {key: values[None, :] for key, values in part["scores"].items()}
        tables = summarise(d.y, d.task, scores, d.samples, d.name, "external", opts.bootstrap, opts.seed)
        results.append(PredictionResult(**tables, importance=pd.DataFrame(), task=d.task, outcome=outcome,
                                        settings=settings(d, opts, covariates)))
    return PredictionResult.combine(results)
