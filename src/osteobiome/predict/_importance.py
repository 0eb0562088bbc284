"""Permutation importance of a fitted pipeline's model features on held-out samples.

The held-out rows are transformed once by the fitted feature step; each model feature (a genus' CLR value,
an alpha index, a z-scored covariate …) is then permuted in turn and the drop in AUC (binary) or R²
(continuous) recorded. All permuted copies are scored in batches of whole blocks. The direction is the sign of
the correlation between the feature and the model's prediction on the held-out rows; the penalized learner
also gives its coefficient on the standardized feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.predict._metrics import auc, r_squared
from osteobiome.predict._pipelines import fitted_pipeline

MAX_CELLS = 4_000_000  # permuted rows × columns scored at once


def _score(y: np.ndarray, predicted: np.ndarray, binary: bool) -> np.ndarray:
    return auc(y, predicted) if binary else r_squared(y, predicted)


def _predict(model: object, Z: pd.DataFrame, binary: bool) -> np.ndarray:
    return model.predict_proba(Z)[:, 1] if binary else model.predict(Z)


def permutation_importance(
    estimator: object, X: pd.DataFrame, y: np.ndarray, binary: bool, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per model feature: ``feature`` (transformed column name), ``importance`` (score drop when
    permuted), ``direction`` (±1, 0 when constant) and ``coef`` (penalized learner, else NaN)."""
    pipeline = fitted_pipeline(estimator)
    Z = pipeline[:-1].transform(X)
    model = pipeline[-1]
    base_pred = _predict(model, Z, binary)
    base = float(_score(y, base_pred, binary))
    n, p = Z.shape
    values = Z.to_numpy(dtype=float)
    drops = np.empty(p)
    per_batch = max(1, MAX_CELLS // max(1, n * p))
    for start in range(0, p, per_batch):
        cols = range(start, min(p, start + per_batch))
        stacked = np.tile(values, (len(cols), 1))
        for k, j in enumerate(cols):
            stacked[k * n : (k + 1) * n, j] = values[rng.permutation(n), j]
        pred = _predict(model, pd.DataFrame(stacked, columns=Z.columns), binary).reshape(len(cols), n)
        drops[start : start + len(cols)] = base - _score(y, pred, binary)
    centred = values - values.mean(axis=0)
    direction = np.sign(centred.T @ (base_pred - base_pred.mean()))
    coef = getattr(model, "coef_", None)
    coef = np.asarray(coef, dtype=float).ravel() if coef is not None else np.full(p, np.nan)
    return pd.DataFrame({"feature": list(Z.columns), "importance": drops, "direction": direction, "coef": coef})
