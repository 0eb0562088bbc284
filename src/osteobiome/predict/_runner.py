"""Fit every model × learner on one training set and score its held-out samples, here or in worker processes."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from osteobiome.predict._data import Design
from osteobiome.predict._importance import permutation_importance
from osteobiome.predict._pipelines import MODELS, PredictOptions, build_model, predicted

_STATE: dict[str, Any] = {}  # set once per worker process by _init_worker


def task_seed(seed: int, index: int) -> int:
    """A seed for task ``index`` derived from the run's ``seed`` (independent of the number of workers)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def fit_and_score(
    train: Design, test_X: pd.DataFrame, test_y: np.ndarray, options: PredictOptions, index: int
) -> dict[str, Any]:
    """``{"scores": {(model, learner): predictions of the test rows}, "importance": [frames]}``."""
    seed = task_seed(options.seed, index)
    rng = np.random.default_rng(seed)
    binary = train.task == "binary"
    scores, importance = {}, []
    with warnings.catch_warnings(), threadpool_limits(1):  # small matrices: BLAS threads only cost time
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
        for learner in options.learners:
            for model in MODELS:
                estimator = build_model(train, model, learner, options, seed)
                estimator.fit(train.X, train.y)
                scores[(model, learner)] = predicted(estimator, test_X, binary)
                if options.importance and model == MODELS[-1]:
                    table = permutation_importance(estimator, test_X, test_y, binary, rng)
                    importance.append(table.assign(learner=learner, model=model, split=index))
    return {"scores": scores, "importance": importance}


def _init_worker(state: dict[str, Any]) -> None:
    _STATE.update(state)


def _in_worker(index: int) -> dict[str, Any]:
    return _STATE["task"](_STATE, index)


def run_tasks(
    task: Callable[[dict[str, Any], int], dict[str, Any]],
    state: dict[str, Any],
    count: int,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[dict[str, Any]]:
    """``task(state, i)`` for i in ``range(count)``, in order; ``workers`` > 1: forkserver processes (each gets
    ``state`` once); ``progress(done, count)`` after each task."""
    results: list[dict[str, Any] | None] = [None] * count
    if progress:
        progress(0, count)
    if workers <= 1 or count <= 1:
        for i in range(count):
            results[i] = task(state, i)
            if progress:
                progress(i + 1, count)
        return results  # type: ignore[return-value]
    from concurrent.futures import as_completed

    from osteobiome.compute.processes import process_pool

    with process_pool(min(workers, count), _init_worker, ({**state, "task": task},), ("sklearn",)) as pool:
        futures = {pool.submit(_in_worker, i): i for i in range(count)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress:
                progress(done, count)
    return results  # type: ignore[return-value]


def importance_table(frames: Sequence[pd.DataFrame], splits: int, cohort: str) -> pd.DataFrame:
    """Per learner × feature over outer folds: mean and SD of the importance, share of folds that kept the
    feature (``selected``), mean coefficient and the sign of the mean direction."""
    columns = ["cohort", "learner", "model", "feature", "kind", "importance", "importance.sd", "selected", "folds",
               "coef", "direction"]
    if not frames:
        return pd.DataFrame(columns=columns)
    raw = pd.concat(frames, ignore_index=True)
    grouped = raw.groupby(["learner", "model", "feature"], sort=False)
    table = grouped.agg(
        importance=("importance", "mean"),
        sd=("importance", "std"),
        folds=("split", "nunique"),
        coef=("coef", "mean"),
        direction=("direction", "mean"),
    ).reset_index()
    table["selected"] = table["folds"] / splits
    table["direction"] = np.sign(table["direction"]).astype(int)
    parts = table["feature"].str.partition("__")
    table["kind"] = [_kind(b) for b in parts[0]]
    table["feature"] = [n.partition("|")[2] or n for n in parts[2]]
    table = table.rename(columns={"sd": "importance.sd"}).assign(cohort=cohort)
    order = {learner: i for i, learner in enumerate(dict.fromkeys(raw["learner"]))}  # the run's learner order
    table = table.sort_values(["learner", "importance"], ascending=[True, False], kind="stable",
                              key=lambda s: s.map(order) if s.name == "learner" else s)
    return table[columns].reset_index(drop=True)


def _kind(block: str) -> str:
    return {"taxon": "taxon", "alpha": "alpha diversity", "pathway": "pathway"}.get(block, "covariate")
