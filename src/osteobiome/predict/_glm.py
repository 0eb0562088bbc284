"""Ridge-penalized logistic and linear models whose covariate columns are not penalized.

scikit-learn's ``LogisticRegression`` / ``Ridge`` penalize every coefficient alike, so adding many noise
features to age, sex and BMI would shrink the covariates too ("dilution"). Here the penalty has one weight
per column, 0 for the covariates (and the intercept), 1 for the microbiome features:

    logistic:  minimise  (1/n) Σ_i [log(1 + exp(η_i)) − y_i η_i] + (α/2) Σ_j w_j β_j²,  η = b + Xβ
    linear:    minimise  (1/(2n)) Σ_i (y_i − η_i)² + (α/2) Σ_j w_j β_j²

The logistic problem is smooth and convex and is solved exactly with L-BFGS (analytic gradient); the linear
one in closed form, ``(X_cᵀX_c/n + α W) β = X_cᵀy_c/n`` on centred columns. With no penalized column both are
the ordinary (maximum-likelihood / least-squares) fits. A ridge of ``1e-8`` on every coefficient keeps the
solution finite under complete separation or collinear covariates (a negligible change otherwise).
Columns are unpenalized when their name starts with ``unpenalized_prefix`` (the pipeline names the covariate
columns ``cov_…``), so the estimator needs pandas input (``ColumnTransformer.set_output(transform="pandas")``).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

FLOOR = 1e-8  # ridge on every coefficient: keeps the fit finite under separation / collinearity


def penalty_weights(columns: list[str], prefix: str) -> np.ndarray:
    """``w_j``: 0 for columns named ``prefix…`` (covariates), 1 otherwise."""
    return np.array([0.0 if str(c).startswith(prefix) else 1.0 for c in columns])


def _columns(X: object) -> list[str]:
    columns = getattr(X, "columns", None)
    if columns is None:
        raise TypeError("PartlyPenalized estimators need a DataFrame (named columns) to know the covariates")
    return [str(c) for c in columns]


def fit_logistic(
    X: np.ndarray, y: np.ndarray, alpha: float, weights: np.ndarray, start: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of the partly penalized logistic model (see the module docstring);
    ``start``: ``[intercept, *coef]`` to warm-start from (e.g. the fit at the previous penalty of a path)."""
    n, p = X.shape
    penalty = alpha * weights + FLOOR

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] + X @ theta[1:]
        loss = np.logaddexp(0.0, eta).sum() - y @ eta
        r = expit(eta) - y
        grad = np.concatenate(([r.sum()], X.T @ r)) / n
        grad[1:] += penalty * theta[1:]
        return loss / n + 0.5 * penalty @ theta[1:] ** 2, grad

    if start is None:
        start = np.zeros(p + 1)
        mean = np.clip(y.mean(), 1e-6, 1 - 1e-6)
        start[0] = np.log(mean / (1 - mean))
    res = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-6})
    return float(res.x[0]), res.x[1:]


def fit_linear(X: np.ndarray, y: np.ndarray, alpha: float, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Intercept and coefficients of the partly penalized linear model (closed form on centred columns)."""
    n = X.shape[0]
    mx, my = X.mean(axis=0), y.mean()
    Xc = X - mx
    A = Xc.T @ Xc / n + np.diag(alpha * weights + FLOOR)
    beta = np.linalg.solve(A, Xc.T @ (y - my) / n)
    return float(my - mx @ beta), beta


class _PartlyPenalized(BaseEstimator):
    def __init__(self, alpha: float = 1.0, unpenalized_prefix: str = "cov_") -> None:
        self.alpha = alpha
        self.unpenalized_prefix = unpenalized_prefix

    def _design(self, X: object) -> np.ndarray:
        return np.asarray(X, dtype=float)

    def decision_function(self, X: object) -> np.ndarray:
        """Linear predictor ``b + Xβ`` (log-odds for the logistic model)."""
        return self.intercept_ + self._design(X) @ self.coef_


class PartlyPenalizedLogistic(ClassifierMixin, _PartlyPenalized):
    """L2-penalized logistic regression with unpenalized covariate columns (binary 0/1 outcome).

    Parameters
    ----------
    alpha : penalty strength α on the (standardized) microbiome coefficients.
    unpenalized_prefix : columns whose names start with it get no penalty.
    """

    def fit(self, X: object, y: object) -> PartlyPenalizedLogistic:
        columns = _columns(X)
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.array(columns, dtype=object)
        self.penalty_weights_ = penalty_weights(columns, self.unpenalized_prefix)
        self.intercept_, self.coef_ = fit_logistic(self._design(X), y, float(self.alpha), self.penalty_weights_)
        return self

    def predict_proba(self, X: object) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: object) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


class PartlyPenalizedLinear(RegressorMixin, _PartlyPenalized):
    """Ridge regression with unpenalized covariate columns (continuous outcome); parameters as the logistic."""

    def fit(self, X: object, y: object) -> PartlyPenalizedLinear:
        columns = _columns(X)
        self.feature_names_in_ = np.array(columns, dtype=object)
        self.penalty_weights_ = penalty_weights(columns, self.unpenalized_prefix)
        self.intercept_, self.coef_ = fit_linear(
            self._design(X), np.asarray(y, dtype=float), float(self.alpha), self.penalty_weights_
        )
        return self

    def predict(self, X: object) -> np.ndarray:
        return self.decision_function(X)
