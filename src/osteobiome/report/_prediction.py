"""The Prediction section: ROC curves of the three models, calibration plot, decision curve and top features,
drawn from a :class:`~osteobiome.predict.PredictionResult`'s tables (one panel per cohort × validation ×
learner), plus the section's tables. Used by the study report and by ``osteobiome predict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from osteobiome.report.figures import STYLE, colour_of, draw
from osteobiome.report.tables import html_table

if TYPE_CHECKING:
    from osteobiome.predict import PredictionResult

TOP_FEATURES = 15
CALIBRATION_BINS = 10
PANEL_KEYS = ["cohort", "validation", "learner"]


def _model_colour(model: str) -> str:
    """The colour of one of :data:`osteobiome.predict.MODELS` (imported here: scikit-learn loads only when a
    study has a ``prediction:`` section)."""
    from osteobiome.predict import MODELS

    return colour_of(MODELS.index(model))


def _panels(frame: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    return [(key, part) for key, part in frame.groupby(PANEL_KEYS, sort=False)]


def _grid(n: int, width: float = 3.3, height: float = 3.0) -> tuple[Figure, np.ndarray]:
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols + 0.4, height * rows + 0.3), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def _title(key: tuple) -> str:
    cohort, validation, learner = key
    where = f"{cohort} (external)" if validation == "external" else cohort
    return f"{where} · {learner}"


def _roc(observed: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold (highest first)."""
    order = np.argsort(-score, kind="stable")
    y, s = observed[order] == 1, score[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp, fp = np.cumsum(y)[distinct], np.cumsum(~y)[distinct]
    return np.r_[0, fp / max(1, (~y).sum())], np.r_[0, tp / max(1, y.sum())]


def roc_curves(predictions: pd.DataFrame, performance: pd.DataFrame) -> Figure:
    """ROC curves of the three models per panel (out-of-fold predictions averaged over repeats); AUC (95% CI)
    in the legend."""
    panels = _panels(predictions)
    auc = performance[performance["metric"] == "AUC"].set_index([*PANEL_KEYS, "model"])
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(panels))
        for ax, (key, part) in zip(axes, panels, strict=False):
            for model, rows in part.groupby("model", sort=False):
                fpr, tpr = _roc(rows["observed"].to_numpy(), rows["predicted"].to_numpy())
                a = auc.loc[(*key, model)]
                label = f"{model}: {a['estimate']:.2f} ({a['ci.lower']:.2f}–{a['ci.upper']:.2f})"
                ax.plot(fpr, tpr, color=_model_colour(model), linewidth=1.4, label=label)
            ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle="--")
            ax.set(xlabel="1 − specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
            ax.set_title(_title(key), loc="left")
            ax.legend(loc="lower right", fontsize=7, title="AUC (95% CI)", title_fontsize=7)
    return fig


def calibration_plot(predictions: pd.DataFrame, binary: bool) -> Figure:
    """Binary: observed event rate against mean predicted probability in deciles of the prediction; continuous:
    observed against predicted values. The diagonal is perfect calibration."""
    panels = _panels(predictions)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(panels))
        for ax, (key, part) in zip(axes, panels, strict=False):
            for model, rows in part.groupby("model", sort=False):
                p, y = rows["predicted"].to_numpy(), rows["observed"].to_numpy()
                if binary:
                    bins = np.array_split(np.argsort(p, kind="stable"), CALIBRATION_BINS)
                    x = [p[b].mean() for b in bins if len(b)]
                    obs = [y[b].mean() for b in bins if len(b)]
                    ax.plot(x, obs, "o-", ms=3, color=_model_colour(model), linewidth=1.2, label=model)
                else:
                    ax.scatter(p, y, s=6, alpha=0.5, color=_model_colour(model), label=model, linewidths=0)
            lo, hi = (0, 1) if binary else (part[["observed", "predicted"]].min().min(), part[["observed", "predicted"]].max().max())
            ax.plot([lo, hi], [lo, hi], color="#999999", linewidth=0.8, linestyle="--")
            ax.set(xlabel="predicted probability" if binary else "predicted", ylabel="observed rate" if binary else "observed")
            ax.set_title(_title(key), loc="left")
            ax.legend(loc="upper left", fontsize=7)
    return fig


def decision_curve(decision: pd.DataFrame) -> Figure:
    """Net benefit against the threshold probability for the three models, treat-all and treat-none."""
    references = decision[decision["learner"] == ""]
    models = decision[decision["learner"] != ""]
    panels = _panels(models)
    with plt.rc_context(STYLE):
        fig, axes = _grid(len(panels))
        for ax, (key, part) in zip(axes, panels, strict=False):
            ref = references[(references["cohort"] == key[0]) & (references["validation"] == key[1])]
            top = max(0.05, float(ref["net_benefit"].max()), float(part["net_benefit"].max())) * 1.15
            xmax = min(0.99, max(0.3, 2 * _prevalence(ref)))
            for model, rows in part.groupby("model", sort=False):
                ax.plot(rows["threshold"], rows["net_benefit"], color=_model_colour(model), linewidth=1.3, label=model)
            for model, style in (("treat all", ":"), ("treat none", "--")):
                rows = ref[ref["model"] == model]
                ax.plot(rows["threshold"], rows["net_benefit"], color="#777777", linestyle=style, linewidth=1, label=model)
            ax.set(xlabel="threshold probability", ylabel="net benefit", xlim=(0, xmax), ylim=(-0.05 * top, top))
            ax.set_title(_title(key), loc="left")
            ax.legend(loc="upper right", fontsize=7)
    return fig


def _prevalence(references: pd.DataFrame) -> float:
    """The event rate, from the treat-all net benefit ``π − (1 − π) w`` at the first threshold (w = t / (1 − t))."""
    first = references[references["model"] == "treat all"].iloc[0]
    w = first["threshold"] / (1 - first["threshold"])
    return float((first["net_benefit"] + w) / (1 + w))


def top_features(importance: pd.DataFrame, top: int = TOP_FEATURES) -> Figure:
    """Permutation importance (mean ± SD over outer folds) of the top features of the microbiome + covariates
    model; red: higher values raise the prediction, blue: lower it."""
    panels = [(key, part) for key, part in importance.groupby(["cohort", "learner"], sort=False)]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1, len(panels), figsize=(3.9 * len(panels) + 0.6, 0.6 + 0.24 * top), squeeze=False
        )
        for ax, ((cohort, learner), part) in zip(axes[0], panels, strict=True):
            rows = part.nlargest(top, "importance").iloc[::-1]
            colours = np.where(rows["direction"] > 0, "#c0392b", "#2166ac")
            ax.barh(range(len(rows)), rows["importance"], xerr=rows["importance.sd"].fillna(0), color=colours,
                    error_kw={"elinewidth": 0.8, "ecolor": "#555555"})
            labels = [f"{f} ({k})" if k != "taxon" else f for f, k in zip(rows["feature"], rows["kind"], strict=True)]
            ax.set_yticks(range(len(rows)), [t if len(t) <= 34 else t[:33] + "…" for t in labels])
            ax.axvline(0, color="#999999", linewidth=0.8)
            ax.set_xlabel("drop in performance when permuted")
            ax.set_title(f"{cohort} · {learner}", loc="left")
    return fig


def prediction_figures(result: PredictionResult, folder: Path) -> dict[str, str | None]:
    """Draw and save (SVG + PNG) the section's figures; data URIs by name (``None`` when not applicable)."""
    binary = result.task == "binary"
    out: dict[str, str | None] = dict.fromkeys(("roc", "calibration", "decision", "importance"))
    if binary:
        out["roc"] = draw(folder, "prediction_roc", roc_curves, result.predictions, result.performance)
        if len(result.decision):
            out["decision"] = draw(folder, "prediction_decision_curve", decision_curve, result.decision)
    out["calibration"] = draw(folder, "prediction_calibration", calibration_plot, result.predictions, binary)
    if len(result.importance):
        out["importance"] = draw(folder, "prediction_top_features", top_features, result.importance)
    return out


def prediction_section(result: PredictionResult, folder: Path) -> dict[str, object]:
    """The report section's figures and sortable tables."""
    importance = result.importance.groupby(["cohort", "learner"], sort=False).head(TOP_FEATURES)
    return {
        "figures": prediction_figures(result, folder),
        "comparison": html_table(result.comparison, "prediction-comparison"),
        "performance": html_table(result.performance, "prediction-performance"),
        "calibration": html_table(result.calibration, "prediction-calibration"),
        "importance": html_table(importance, "prediction-importance") if len(importance) else None,
        "settings": result.settings,
        "binary": result.task == "binary",
        "methods": methods_text(result.settings),
    }


def methods_text(settings: dict) -> str:
    """A Methods paragraph for what the prediction step did."""
    s = settings
    learners = {"penalized": "ridge-penalized logistic/linear regression with unpenalized covariates (penalty "
                "tuned by inner cross-validation on the log loss / squared error)",
                "forest": f"a random forest ({s.get('trees')} trees, minimum leaf size tuned by out-of-bag loss)"}
    used = " and ".join(learners[x] for x in s.get("learners", []) if x in learners)
    metric = ("AUC with DeLong 95% confidence intervals; ΔAUC tested by DeLong's test for paired ROC curves"
              if s.get("task") == "binary" else "R² and RMSE with paired-bootstrap 95% confidence intervals")
    external = (" Each cohort was also predicted by models trained on the other cohorts (leave-one-cohort-out)."
                if s.get("external") else "")
    return (
        f"We predicted {s.get('outcome')} with three models fitted on the same folds — covariates only "
        f"({', '.join(s.get('covariates', [])) or 'none'}), microbiome only, and microbiome + covariates — using "
        f"{used}. Microbiome features were {str(s.get('transform', '')).upper()}-transformed relative abundances of "
        f"taxa present in at least {s.get('min_prevalence', 0):.0%} of training samples"
        f"{', pathway abundances' if s.get('pathways') else ''} and alpha diversity (Shannon, observed). Every "
        f"step (prevalence filter, transform, scaling, tuning) was fitted inside the folds of a nested "
        f"cross-validation ({s.get('folds')} stratified outer folds × {s.get('repeats')} repeats, "
        f"{s.get('inner_folds')} inner folds; seed {s.get('seed')}). Performance: {metric}, averaged over "
        f"repeats; calibration slope and intercept, Brier score, decision curves and permutation importance."
        f"{external}"
    )
