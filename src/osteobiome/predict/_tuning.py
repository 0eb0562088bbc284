"""Tuned learners that keep the whole pipeline inside their ``fit`` (so nesting them in the outer folds
leaves every test sample unseen), and tune faster than ``GridSearchCV``:

- :class:`PenaltyPathCV`: the penalty α of the partly penalized model by ``cv`` folds; in each inner fold the
  feature step is fitted on the inner training rows, and the path of α (largest first) is fitted with warm
  starts; α with the smallest pooled validation loss (log loss, or squared error) wins, ties to the larger α;
  the pipeline is then refitted on all rows;
- :class:`ForestOOB`: the forest's ``min_samples_leaf`` by out-of-bag loss (each tree's left-out rows), so each
  candidate is fitted once; the feature step (which never sees the outcome) is fitted on all training rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from osteobiome.predict._glm import (
    PartlyPenalizedLinear,
    PartlyPenalizedLogistic,
    fit_linear,
    fit_logistic,
    penalty_weights,
)
from osteobiome.predict._metrics import EPS


def validation_loss(y: np.ndarray, predicted: np.ndarray, binary: bool) -> float:
    """Summed log loss (binary; probabilities clipped to [EPS, 1 − EPS]) or squared error."""
    if binary:
        p = np.clip(predicted, EPS, 1 - EPS)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum())
    return float(((y - predicted) ** 2).sum())


class _Tuned(BaseEstimator):
    """Prediction methods delegated to the fitted pipeline ``best_estimator_``."""

    def predict(self, X: object) -> np.ndarray:
        return self.best_estimator_.predict(X)

    def predict_proba(self, X: object) -> np.ndarray:
        return self.best_estimator_.predict_proba(X)


class PenaltyPathCV(_Tuned):
    """Partly penalized logistic (``binary``) or linear model with α tuned by inner cross-validation.

    Parameters
    ----------
    features : unfitted feature step (``ColumnTransformer`` with pandas output; covariate columns ``cov_…``).
    binary : logistic (True) or linear (False) model.
    alphas : candidate penalties.
    cv : splitter of the inner folds.
    unpenalized_prefix : names of the unpenalized columns start with it.
    """

    def __init__(self, features: object, binary: bool, alphas: tuple[float, ...], cv: object,
                 unpenalized_prefix: str = "cov_") -> None:
        self.features = features
        self.binary = binary
        self.alphas = alphas
        self.cv = cv
        self.unpenalized_prefix = unpenalized_prefix

    def fit(self, X: object, y: object) -> PenaltyPathCV:
        y = np.asarray(y, dtype=float)
        alphas = np.sort(np.asarray(self.alphas, dtype=float))[::-1]
        losses = np.zeros(len(alphas))
        for train, val in self.cv.split(np.zeros(len(y)), y):
            step = clone(self.features).fit(X.iloc[train], y[train])
            Z_train, Z_val = step.transform(X.iloc[train]), step.transform(X.iloc[val])
            weights = penalty_weights(list(Z_train.columns), self.unpenalized_prefix)
            Z_train, Z_val = Z_train.to_numpy(dtype=float), Z_val.to_numpy(dtype=float)
            start = None
            for k, alpha in enumerate(alphas):
                if self.binary:
                    b0, beta = fit_logistic(Z_train, y[train], alpha, weights, start)
                    start = np.concatenate(([b0], beta))
                    pred = 1 / (1 + np.exp(-(b0 + Z_val @ beta)))
                else:
                    b0, beta = fit_linear(Z_train, y[train], alpha, weights)
                    pred = b0 + Z_val @ beta
                losses[k] += validation_loss(y[val], pred, self.binary)
        best = float(alphas[int(np.argmin(losses))])
        model = PartlyPenalizedLogistic if self.binary else PartlyPenalizedLinear
        self.best_params_ = {"alpha": best}
        self.cv_loss_ = dict(zip(alphas.tolist(), losses.tolist(), strict=True))
        self.best_estimator_ = Pipeline(
            [("features", clone(self.features)), ("model", model(best, self.unpenalized_prefix))]
        ).fit(X, y)
        return self


class ForestOOB(_Tuned):
    """Random forest with ``min_samples_leaf`` tuned by out-of-bag loss.

    Parameters
    ----------
    features : unfitted feature step.
    forest : unfitted ``RandomForestClassifier`` / ``RandomForestRegressor`` (``oob_score`` is switched on).
    leaf_sizes : candidate ``min_samples_leaf`` values.
    """

    def __init__(self, features: object, forest: object, leaf_sizes: tuple[int, ...]) -> None:
        self.features = features
        self.forest = forest
        self.leaf_sizes = leaf_sizes

    def fit(self, X: object, y: object) -> ForestOOB:
        y = np.asarray(y)
        step = clone(self.features).fit(X, y)
        Z = step.transform(X)
        binary = hasattr(self.forest, "predict_proba")
        best, best_loss = None, np.inf
        self.oob_loss_ = {}
        for leaf in self.leaf_sizes:
            forest = clone(self.forest).set_params(min_samples_leaf=leaf, oob_score=True).fit(Z, y)
            oob = forest.oob_decision_function_[:, 1] if binary else forest.oob_prediction_
            seen = np.isfinite(oob)
            loss = validation_loss(y[seen].astype(float), oob[seen], binary) / max(1, seen.sum())
            self.oob_loss_[leaf] = loss
            if loss < best_loss:
                best, best_loss = forest, loss
        self.best_params_ = {"min_samples_leaf": best.min_samples_leaf}
        self.best_estimator_ = Pipeline([("features", step), ("model", best)])
        return self
