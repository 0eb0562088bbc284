"""The report's "Incident fracture" section: a forest plot of hazard (odds) ratios of the top genera per
cohort and pooled, Kaplan–Meier curves by tertile of the top genus, and the table of the top exposures.
Drawn from :class:`osteobiome.study._survival.SurvivalResults`; template ``_survival.html.j2``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from osteobiome.report import figures
from osteobiome.report.results import StudyResults
from osteobiome.report.tables import html_table

TOP_GENERA = 10


def _ratio(outcome_type: str) -> str:
    return "OR" if outcome_type == "binary" else "HR"


def _minor_label(value: float, _: object) -> str:
    """Label the minor ticks of a log axis whose leading digit is 2, 4 or 6 (0.2, 0.4, 2, 4 …)."""
    digit = round(value / 10 ** np.floor(np.log10(value)))
    return f"{value:.2g}" if digit in (2, 4, 6) else ""


def survival_forest(cohorts: dict[str, pd.DataFrame], meta: pd.DataFrame | None, genera: list[str], ratio: str) -> Figure:
    """One row per genus: each cohort's ratio per SD with its 95% CI (coloured), and the pooled one (diamond)."""
    plt = figures.plt
    names = list(cohorts)
    step = len(names) + (1 if meta is not None else 0) + 0.6
    with plt.rc_context(figures.STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.2 * step * len(genera)))
        ticks, labels, lows, highs = [], [], [], []
        pooled = None if meta is None else meta.set_index("feature")
        for g, genus in enumerate(genera):
            y0 = -g * step
            ticks.append(y0 - (step - 1.6) / 2)
            labels.append(figures._short(genus, 40))
            for i, name in enumerate(names):
                rows = cohorts[name].set_index("feature")
                if genus not in rows.index or not np.isfinite(rows.at[genus, "stderr"]):
                    continue
                coef, se = float(rows.at[genus, "coef"]), float(rows.at[genus, "stderr"])
                lo, hi = np.exp(coef - figures.Z95 * se), np.exp(coef + figures.Z95 * se)
                lows.append(lo)
                highs.append(hi)
                y = y0 - i
                ax.plot([lo, hi], [y, y], color=figures.colour_of(i), linewidth=1.4)
                ax.scatter([np.exp(coef)], [y], s=22, marker="s", color=figures.colour_of(i), zorder=3,
                           label=name if g == 0 else None)
            if pooled is not None and genus in pooled.index:
                c, lo, hi = (float(pooled.at[genus, k]) for k in ("coef", "ci.lb", "ci.ub"))
                y = y0 - len(names)
                ax.fill(np.exp([lo, c, hi, c]), [y, y + 0.3, y, y - 0.3], color=figures.POOLED_COLOUR, zorder=3,
                        label="pooled" if g == 0 else None)
                lows.append(np.exp(lo))
                highs.append(np.exp(hi))
        ax.axvline(1.0, color="#999999", linewidth=0.8, linestyle="--", zorder=1)
        ax.set_xscale("log")
        if lows:
            ax.set_xlim(min(lows) / 1.08, max(highs) * 1.08)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set_yticks(ticks, labels)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(f"{ratio} per SD of the genus (95% CI, log scale)")
        ax.legend(loc="upper right", fontsize=7, bbox_to_anchor=(1.0, 1.0 + 0.6 / max(step * len(genera), 1)))
    return fig


def km_tertiles(curves: pd.DataFrame, genus: str, time: str) -> Figure:
    """Kaplan–Meier curves (steps) by tertile of ``genus``, one panel per cohort."""
    plt = figures.plt
    cohorts = list(dict.fromkeys(curves["cohort"]))
    with plt.rc_context(figures.STYLE):
        fig, axes = plt.subplots(1, len(cohorts), figsize=(3.6 * len(cohorts), 3.0), squeeze=False)
        for ax, cohort in zip(axes.ravel(), cohorts, strict=True):
            for i, (group, rows) in enumerate(curves[curves["cohort"] == cohort].groupby("group", sort=False)):
                ax.step(rows["time"], rows["surv"], where="post", color=figures.colour_of(i), linewidth=1.4, label=group)
            ax.set_title(cohort, fontsize=9, loc="left")
            ax.set_xlabel(time)
            ax.set_ylabel("fracture-free (Kaplan–Meier)")
            ax.legend(fontsize=7, title=figures._short(genus, 30), title_fontsize=7)
    return fig


def survival_context(results: StudyResults, figdir: Path) -> dict[str, Any] | None:
    """Figures (data URIs), table and labels of the section, or ``None`` without a ``survival:`` section."""
    s = results.survival
    if s is None:
        return None
    ratio = _ratio(s.outcome_type)
    ranked = s.ranked()
    genera = ranked["feature"].head(TOP_GENERA).tolist()
    model = (
        "logistic regression" if s.outcome_type == "binary"
        else "Cox proportional-hazards models (Efron ties; proportional-hazards test of cox.zph in the ph columns)"
    )
    context: dict[str, Any] = {"outcome": s.outcome, "ratio": ratio, "top": s.top, "forest": None, "km": None,
                               "pooled": s.meta is not None, "model": model}
    if genera:
        features = {name: t[t["kind"] == "feature"] for name, t in s.cohorts.items()}
        context["forest"] = figures.draw(figdir, "survival_forest", survival_forest, features, s.meta, genera, ratio)
    if len(s.curves):
        context["km"] = figures.draw(figdir, "survival_km_top_genus", km_tertiles, s.curves, s.top, s.time or "time")
    view = ranked.head(50).assign(**{ratio: lambda t: np.exp(t["coef"])})
    keep = ["feature", ratio, "coef", "stderr", "pval", "qval", "k", "I2"]
    context["table"] = html_table(view[[k for k in keep if k in view]], "survival-table")
    community = pd.concat(
        [t[t["kind"] == "community"].assign(cohort=name) for name, t in s.cohorts.items()], ignore_index=True
    )
    shown = ["cohort", "feature", ratio, f"{ratio}.lower", f"{ratio}.upper", "pval", "qval"]
    context["community"] = html_table(community[shown], "survival-community") if len(community) else None
    return context
