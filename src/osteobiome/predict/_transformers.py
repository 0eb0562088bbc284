"""scikit-learn transformers for microbiome features; everything they learn is learned in ``fit``.

They sit inside the prediction pipeline, so in nested cross-validation the prevalence filter and the
pseudo-count are learned from the training rows of each fold only:

- :class:`AbundanceFeatures`: relative abundances (each sample closed over all its features), features
  present (> 0) in at least ``min_prevalence`` of the training samples kept, zeros replaced by half the
  smallest non-zero training abundance, then ``clr`` (log minus the sample's mean log over the kept features)
  or ``log`` (natural log of the relative abundance);
- :class:`AlphaDiversity`: Shannon (nats) and observed richness per sample (no parameters to learn).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from osteobiome.diversity.alpha import alpha_diversity

TRANSFORMS = ("clr", "log")
ALPHA_INDICES = ("shannon", "observed")


def relative(X: np.ndarray) -> np.ndarray:
    """Rows closed to 1 (all-zero rows stay 0)."""
    totals = X.sum(axis=1, keepdims=True)
    return np.divide(X, totals, out=np.zeros_like(X), where=totals > 0)


class AbundanceFeatures(TransformerMixin, BaseEstimator):
    """Prevalence filter + log / CLR of relative abundances, fitted on the training samples only.

    Parameters
    ----------
    min_prevalence : fraction of training samples in which a feature must be non-zero to be kept (at least
        the most prevalent feature is always kept).
    method : ``"clr"`` or ``"log"``.
    """

    def __init__(self, min_prevalence: float = 0.1, method: str = "clr") -> None:
        self.min_prevalence = min_prevalence
        self.method = method

    def fit(self, X: object, y: object = None) -> AbundanceFeatures:
        values = np.asarray(X, dtype=float)
        self.feature_names_in_ = np.asarray(getattr(X, "columns", range(values.shape[1])), dtype=object)
        prevalence = (values > 0).mean(axis=0)
        keep = prevalence >= self.min_prevalence
        if not keep.any():
            keep[np.argmax(prevalence)] = True
        self.keep_ = keep
        rel = relative(values)[:, keep]
        positive = rel[rel > 0]
        self.pseudocount_ = float(positive.min() / 2) if positive.size else 1e-6
        return self

    def transform(self, X: object) -> np.ndarray:
        if self.method not in TRANSFORMS:
            raise ValueError(f"method must be one of {TRANSFORMS}, not {self.method!r}")
        rel = relative(np.asarray(X, dtype=float))[:, self.keep_]
        logs = np.log(np.where(rel > 0, rel, self.pseudocount_))
        if self.method == "clr":
            logs -= logs.mean(axis=1, keepdims=True)
        return logs

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_[self.keep_]


class AlphaDiversity(TransformerMixin, BaseEstimator):
    """Shannon diversity (nats) and observed richness of each sample's features (stateless)."""

    def fit(self, X: object, y: object = None) -> AlphaDiversity:
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: object) -> np.ndarray:
        values = np.asarray(X, dtype=float)
        out = np.zeros((values.shape[0], len(ALPHA_INDICES)))  # a sample without reads: 0 for both
        reads = values.sum(axis=1) > 0
        if reads.any():
            table = pd.DataFrame(values[reads], index=np.flatnonzero(reads).astype(str))
            out[reads] = alpha_diversity(table.rename(columns=str), ALPHA_INDICES).to_numpy()
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array(ALPHA_INDICES, dtype=object)
