"""The report's stratified-analysis panel (``strata:`` in the study file).

Per cohort with stratified results: a forest plot of the stratum coefficients (95% CIs, one colour per stratum)
beside the whole-cohort coefficient (diamond), for the genera with the smallest heterogeneity p-value (Cochran's
Q of the stratum estimates) and for the cohort's top main associations, each panel giving the Q and interaction
p-values; the plotted numbers in ``figures/strata_<cohort>.tsv``; and the heterogeneity table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from osteobiome.report import figures
from osteobiome.report.results import CohortResults, StudyResults
from osteobiome.report.tables import HtmlTable, format_number, html_table

TOP_HETEROGENEITY = 6
TOP_MAIN = 3
MAX_TABLE_ROWS = 1000
ALL = "all samples"
HETEROGENEITY_VIEW = [
    "feature",
    "phenotype",
    "stratified_by",
    "strata",
    "k.strata",
    "Q",
    "pval.Q",
    "qval.Q",
    "interaction",
    "coef.interaction",
    "pval.interaction",
    "qval.interaction",
    "interaction_test",
]


def strata_section(results: StudyResults, figdir: Path) -> list[dict[str, Any]]:
    """One entry per cohort with stratified results: ``name``, ``figure`` (data URI or None), ``data`` (the
    plotted rows), ``table`` (heterogeneity, :class:`HtmlTable` or None) and ``note``."""
    out = []
    for i, cohort in enumerate(results.cohorts):
        if cohort.strata is None or not len(cohort.strata):
            continue
        data = figure_data(cohort)
        figure = None
        if len(data):
            figdir.mkdir(parents=True, exist_ok=True)
            data.to_csv(
                figdir / f"strata_{_slug(cohort.name)}.tsv", sep="\t", index=False, float_format="%.10g"
            )
            figure = figures.draw(figdir, f"strata_{_slug(cohort.name)}", stratum_forest, data)
        het = cohort.heterogeneity
        table: HtmlTable | None = None
        if het is not None and len(het):
            view = het.sort_values("pval.Q", na_position="last")[HETEROGENEITY_VIEW]
            table = html_table(view, f"heterogeneity-{i}", MAX_TABLE_ROWS)
        selected = (
            data.drop_duplicates("panel")["chosen_by"].value_counts() if len(data) else pd.Series(dtype=int)
        )
        note = (
            f"{int(selected.get('heterogeneity', 0))} panel(s) with the smallest heterogeneity p (Cochran's Q) and "
            f"{int(selected.get('main association', 0))} with the cohort's smallest main-association p."
        )
        out.append({"name": cohort.name, "figure": figure, "data": data, "table": table, "note": note})
    return out


def figure_data(cohort: CohortResults) -> pd.DataFrame:
    """The plotted rows: per panel (feature × phenotype × stratum variable) the coefficient, standard error and
    95% CI of every stratum and of the whole cohort (``stratum`` = ``all samples``; left out when the cohort's
    model has the phenotype × stratum interaction), with the panel's Q and
    interaction p-values and why it was chosen (``chosen_by``)."""
    strata, het = cohort.strata, cohort.heterogeneity
    keys = ["feature", "phenotype", "stratified_by"]
    chosen: dict[tuple[str, str, str], str] = {}
    if het is not None and len(het):
        for key in (
            het.dropna(subset=["pval.Q"])
            .sort_values("pval.Q")[keys]
            .drop_duplicates()
            .head(TOP_HETEROGENEITY)
            .itertuples(index=False, name=None)
        ):
            chosen.setdefault(key, "heterogeneity")
    main = cohort.associations[cohort.associations["metadata"].isin(strata["phenotype"].unique())]
    for var in strata["stratified_by"].unique():
        for feature, phenotype in (
            main.sort_values("pval")[["feature", "metadata"]]
            .head(TOP_MAIN)
            .itertuples(index=False, name=None)
        ):
            chosen.setdefault((feature, phenotype, var), "main association")
    rows = []
    tests = het.set_index(keys) if het is not None and len(het) else None
    whole = main.drop_duplicates(["feature", "metadata"]).set_index(["feature", "metadata"])
    for panel, (key, why) in enumerate(chosen.items()):
        feature, phenotype, var = key
        p_q = p_int = np.nan
        if tests is not None and key in tests.index:
            test = tests.loc[[key]].iloc[0]
            p_q, p_int = float(test["pval.Q"]), float(test["pval.interaction"])
        part = strata[
            (strata["feature"] == feature)
            & (strata["phenotype"] == phenotype)
            & (strata["stratified_by"] == var)
        ]
        entries = [
            (str(s), float(c), float(e))
            for s, c, e in zip(part["stratum"], part["coef"], part["stderr"], strict=True)
        ]
        if (feature, phenotype) in whole.index and not _modified(cohort.associations, phenotype, var):
            row = whole.loc[(feature, phenotype)]
            entries.append((ALL, float(row["coef"]), float(row["stderr"])))
        for stratum, coef, se in entries:
            rows.append(
                {
                    "panel": panel,
                    "feature": feature,
                    "phenotype": phenotype,
                    "stratified_by": var,
                    "stratum": stratum,
                    "coef": coef,
                    "stderr": se,
                    "ci.lb": coef - figures.Z95 * se,
                    "ci.ub": coef + figures.Z95 * se,
                    "pval.Q": p_q,
                    "pval.interaction": p_int,
                    "chosen_by": why,
                }
            )
    return pd.DataFrame(rows)


def stratum_forest(data: pd.DataFrame, columns: int = 3) -> Figure:
    """Forest plot of :func:`figure_data`: one panel per feature × phenotype, strata as coloured squares with
    95% CIs, the whole cohort as a diamond; the heterogeneity p-values above each panel."""
    panels = list(dict.fromkeys(data["panel"]))
    n = len(panels)
    columns = max(1, min(columns, n))
    n_rows = int(np.ceil(n / columns))
    height = data.groupby("panel").size().max()
    levels = list(dict.fromkeys(s for s in data["stratum"] if s != ALL))
    with plt.rc_context(figures.STYLE):
        fig, axes = plt.subplots(
            n_rows,
            columns,
            figsize=(3.6 * columns, 0.6 + (height + 1.4) * 0.36 * n_rows + 0.5 * n_rows),
            squeeze=False,
        )
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        for ax, panel in zip(axes.ravel(), panels, strict=False):
            rows = data[data["panel"] == panel]
            first = rows.iloc[0]
            labels = []
            for y, (_, row) in enumerate(rows.iterrows()):
                pos = len(rows) - 1 - y
                c, lo, hi = row["coef"], row["ci.lb"], row["ci.ub"]
                if row["stratum"] == ALL:
                    ax.fill(
                        [lo, c, hi, c],
                        [pos, pos + 0.3, pos, pos - 0.3],
                        color=figures.POOLED_COLOUR,
                        zorder=3,
                    )
                    labels.append((pos, ALL))
                    continue
                colour = figures.colour_of(levels.index(row["stratum"]))
                ax.plot([lo, hi], [pos, pos], color=colour, linewidth=1.6)
                ax.scatter(
                    [c], [pos], s=40, marker="s", color=colour, zorder=3, edgecolor="white", linewidth=0.5
                )
                labels.append((pos, f"{row['stratified_by']} = {row['stratum']}"))
            ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--", zorder=1)
            ax.set_yticks([p for p, _ in labels], [t for _, t in labels])
            ax.set_ylim(-0.8, len(rows) - 0.2)
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="y", length=0)
            ax.set_title(
                f"{figures._short(first['feature'], 34)}\n{figures._short(first['phenotype'], 34)}",
                fontsize=9,
                loc="left",
            )
            ax.text(
                1.0,
                1.02,
                _p_text(first),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
                color="#555555",
            )
        fig.supxlabel("coefficient (95% CI)", fontsize=9)
    return fig


def strata_sentence(settings: Mapping[str, Any]) -> str:
    """The Methods sentence of the stratified analyses ("" when none ran)."""
    spec = settings.get("strata")
    if not spec:
        return ""
    variables = ", ".join(spec["variables"])
    return (
        f"Stratified analyses repeated each cohort's models within each level of {variables} (levels with fewer "
        f"than {spec['min_stratum_size']} samples skipped; numeric variables standardized over the whole cohort); "
        "heterogeneity between strata was tested by Cochran's Q of the stratum coefficients (fixed-effect weights) "
        "and by the phenotype × stratum interaction in the whole-cohort model (an F test of all interaction columns "
        "for more than two levels with the linear model, else the Bonferroni-adjusted smallest p), with "
        "Benjamini–Hochberg q-values across features per phenotype."
    )


def _modified(associations: pd.DataFrame, phenotype: str, var: str) -> bool:
    """Whether the cohort's model has the phenotype × ``var`` interaction (its main effect is then the effect in
    the reference level, not in all samples, and is not drawn)."""
    return associations["metadata"].isin([f"{phenotype}:{var}", f"{var}:{phenotype}"]).any()


def _p_text(row: pd.Series) -> str:
    parts = []
    for label, column in (("Q p", "pval.Q"), ("interaction p", "pval.interaction")):
        value = float(row[column])
        if np.isfinite(value):
            parts.append(f"{label} = {format_number(value)}")
    return "   ".join(parts) or "one stratum: no heterogeneity test"


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
