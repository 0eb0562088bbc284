"""Tidy result tables from out-of-fold (or external) predictions: performance, comparison, calibration,
decision curve and predictions.

``scores[(model, learner)]`` is a repeats × samples array (one row per repeat of the outer
cross-validation; one row for external validation). Estimates are means over repeats:

- AUC: per repeat the AUC of the pooled out-of-fold predictions and its DeLong variance; the estimate is the
  mean AUC, its variance the mean DeLong variance (conservative: repeats are positively correlated); 95% CI
  ``estimate ± 1.96 √var``. ΔAUC (microbiome + covariates − covariates) the same way from the DeLong
  covariance of the pair, with a two-sided z-test p-value;
- R² and RMSE (continuous outcome), and their differences: paired bootstrap over samples (the same resamples
  for every model and repeat), percentile 95% CI, bootstrap p-value;
- calibration slope / intercept / Brier score and net benefit: per repeat, then averaged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.predict._metrics import (
    bootstrap_p,
    calibration_binary,
    calibration_continuous,
    delong,
    net_benefit,
    paired_bootstrap,
    r_squared,
    rmse,
)
from osteobiome.stats.distributions import normal_ppf, normal_sf

Z95 = normal_ppf(0.975)
THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)
COMPARED = ("microbiome+covariates", "covariates")
COMPARISON_COLUMNS = [
    "cohort", "validation", "learner", "comparison", "metric", "estimate", "ci.lower", "ci.upper", "pval", "method",
]
DECISION_COLUMNS = ["cohort", "validation", "learner", "model", "threshold", "net_benefit"]


def _delong_mean(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean AUCs and mean DeLong covariance over repeats; ``scores``: one (repeats × n) array per model."""
    results = [delong(y, np.vstack([s[r] for s in scores])) for r in range(scores[0].shape[0])]
    return np.mean([a for a, _ in results], axis=0), np.mean([c for _, c in results], axis=0)


def summarise(
    y: np.ndarray,
    task: str,
    scores: dict[tuple[str, str], np.ndarray],
    samples: pd.Index,
    cohort: str,
    validation: str,
    n_boot: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The five tables (see the module docstring) for one cohort and validation."""
    keys = list(scores)
    learners = list(dict.fromkeys(learner for _, learner in keys))
    head = {"cohort": cohort, "validation": validation}
    performance, comparison, calibration, decision = [], [], [], []
    binary = task == "binary"
    if binary:
        for key in keys:
            est, cov = _delong_mean(y, [scores[key]])
            half = Z95 * np.sqrt(cov[0, 0])
            performance.append(
                _row(head, key, "AUC", est[0], max(0.0, est[0] - half), min(1.0, est[0] + half), len(y))
            )
        for learner in learners:
            pair = [(m, learner) for m in COMPARED]
            if all(k in scores for k in pair):
                est, cov = _delong_mean(y, [scores[k] for k in pair])
                delta = est[0] - est[1]
                se = np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0))
                pval = 2 * normal_sf(abs(delta) / se) if se > 0 else (1.0 if delta == 0 else 0.0)
                comparison.append(
                    {**head, "learner": learner, "comparison": " vs ".join(COMPARED), "metric": "AUC",
                     "estimate": delta, "ci.lower": delta - Z95 * se, "ci.upper": delta + Z95 * se,
                     "pval": pval, "method": "DeLong"}
                )
    else:
        rng = np.random.default_rng(seed)
        stacked = np.stack([scores[k] for k in keys])
        for metric, fn in (("R2", r_squared), ("RMSE", rmse)):
            draws = paired_bootstrap(y, stacked, fn, n_boot, rng, binary=False)
            estimates = fn(y, stacked).mean(axis=1)
            for i, key in enumerate(keys):
                lo, hi = np.percentile(draws[:, i], [2.5, 97.5])
                performance.append(_row(head, key, metric, estimates[i], lo, hi, len(y)))
            for learner in learners:
                pair = [keys.index((m, learner)) for m in COMPARED if (m, learner) in scores]
                if len(pair) == 2:
                    d = draws[:, pair[0]] - draws[:, pair[1]]
                    lo, hi = np.percentile(d, [2.5, 97.5])
                    comparison.append(
                        {**head, "learner": learner, "comparison": " vs ".join(COMPARED), "metric": metric,
                         "estimate": estimates[pair[0]] - estimates[pair[1]], "ci.lower": lo, "ci.upper": hi,
                         "pval": bootstrap_p(d), "method": f"paired bootstrap (B={n_boot})"}
                    )
    for key in keys:
        per_repeat = [
            calibration_binary(y, s) if binary else (*calibration_continuous(y, s), np.nan) for s in scores[key]
        ]
        slope, intercept, brier = np.mean(per_repeat, axis=0)
        calibration.append(
            {**head, "learner": key[1], "model": key[0], "slope": slope, "intercept": intercept, "brier": brier,
             "n": len(y)}
        )
        if binary:
            nb = np.mean([net_benefit(y, s, THRESHOLDS) for s in scores[key]], axis=0)
            decision.append(pd.DataFrame({**head, "learner": key[1], "model": key[0], "threshold": THRESHOLDS,
                                          "net_benefit": nb}))
    if binary:
        prevalence = float(np.mean(y))
        treat_all = prevalence - (1 - prevalence) * THRESHOLDS / (1 - THRESHOLDS)
        for model, nb in (("treat all", treat_all), ("treat none", np.zeros_like(THRESHOLDS))):
            decision.append(pd.DataFrame({**head, "learner": "", "model": model, "threshold": THRESHOLDS,
                                          "net_benefit": nb}))
    predictions = pd.concat(
        [
            pd.DataFrame({**head, "sample": samples.astype(str), "learner": key[1], "model": key[0],
                          "observed": y, "predicted": scores[key].mean(axis=0)})
            for key in keys
        ],
        ignore_index=True,
    )
    return {
        "performance": pd.DataFrame(performance),
        "comparison": pd.DataFrame(comparison, columns=COMPARISON_COLUMNS),
        "calibration": pd.DataFrame(calibration),
        "decision": pd.concat(decision, ignore_index=True) if decision else pd.DataFrame(columns=DECISION_COLUMNS),
        "predictions": predictions,
    }


def _row(
    head: dict, key: tuple[str, str], metric: str, estimate: float, lower: float, upper: float, n: int
) -> dict:
    return {**head, "learner": key[1], "model": key[0], "metric": metric, "estimate": float(estimate),
            "ci.lower": float(lower), "ci.upper": float(upper), "n": n}
