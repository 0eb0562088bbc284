"""The report's Mediation section: per cohort, the top genus → mediator → outcome pairs as a path diagram and a
table with the knowledge table's mechanism of each mediator.

:func:`mediation_section` picks the pairs (q below the cohort threshold, at most :data:`TOP_PAIRS`; without any,
the :data:`TOP_PAIRS` smallest p-values with a note), draws :func:`path_diagram` and formats the table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from osteobiome.report import figures
from osteobiome.report.figures import DOWN, UP
from osteobiome.report.results import StudyResults
from osteobiome.report.tables import html_table

TOP_PAIRS = 10
TABLE_COLUMNS = [
    "feature", "mediator", "mechanism", "knowledge", "alpha", "beta", "indirect", "indirect.lower",
    "indirect.upper", "prop.mediated", "pval", "qval",
]


def top_pairs(table: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, bool]:
    """The pairs to show (sorted by p) and whether they are significant (q < ``threshold``)."""
    ranked = table.dropna(subset=["pval"]).sort_values("pval", kind="stable")
    significant = ranked[ranked["qval"] < threshold].head(TOP_PAIRS)
    return (significant, True) if len(significant) else (ranked.head(min(5, TOP_PAIRS)), False)


def path_diagram(pairs: pd.DataFrame, outcome: str, title: str) -> Figure:
    """Genera (left) → mediators (middle, with their mechanism) → ``outcome`` (right); arrows labelled α and β (β of
    a mediator: the mean over its shown pairs, which adjust for different genera),
    width ∝ |α·β|, colour by the sign of the indirect effect (red positive, blue negative)."""
    genera = list(dict.fromkeys(pairs["feature"]))
    mediators = list(dict.fromkeys(pairs["mediator"]))
    height = max(2.4, 0.45 * max(len(genera), len(mediators)) + 1.0)
    fig = Figure(figsize=(8.6, height))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.6, max(len(genera), len(mediators)) - 0.4)
    ax.set_title(title, loc="left")

    def ys(n: int) -> np.ndarray:
        top = max(len(genera), len(mediators)) - 1
        return np.linspace(top, 0, n) if n > 1 else np.array([top / 2])

    g_y = dict(zip(genera, ys(len(genera)), strict=True))
    m_y = dict(zip(mediators, ys(len(mediators)), strict=True))
    o_y = float(np.mean(list(m_y.values())))
    x_g, x_m, x_o = 0.16, 0.55, 0.93
    box = {"boxstyle": "round,pad=0.3", "fc": "#f4f6f8", "ec": "#8a96a3", "lw": 0.8}
    for name, y in g_y.items():
        ax.text(x_g, y, name, ha="right", va="center", fontsize=8, fontstyle="italic", bbox=box)
    mechanism = pairs.drop_duplicates("mediator").set_index("mediator")["mechanism"].fillna("")
    for name, y in m_y.items():
        label = f"{name}\n({mechanism[name]})" if mechanism[name] else name
        ax.text(x_m, y, label, ha="center", va="center", fontsize=8, bbox=box)
    ax.text(x_o, o_y, outcome, ha="left", va="center", fontsize=9, fontweight="bold", bbox=box)
    scale = float(pairs["indirect"].abs().max()) or 1.0
    for row in pairs.itertuples(index=False):
        colour = UP if row.indirect > 0 else DOWN
        width = 0.8 + 2.6 * abs(row.indirect) / scale
        start, end = (x_g + 0.01, g_y[row.feature]), (x_m - 0.09, m_y[row.mediator])
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=width, color=colour, alpha=0.75))
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, f"α {row.alpha:.2f}", fontsize=7, ha="center", color="#333333")
    for mediator, rows in pairs.groupby("mediator", sort=False):
        beta = float(rows["beta"].iloc[0]) if rows["beta"].nunique() == 1 else float(rows["beta"].mean())
        start, end = (x_m + 0.09, m_y[mediator]), (x_o - 0.01, o_y)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, lw=1.2, color="#555555", alpha=0.7))
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, f"β {beta:.2f}", fontsize=7, ha="center", color="#333333")
    return fig


def mediation_section(results: StudyResults, figdir: Path) -> list[dict[str, object]]:
    """Per cohort with mediation results: ``name``, ``figure`` (data URI or None), ``note``, ``table``."""
    outcome = (results.settings.get("mediation") or {}).get("outcome", "outcome")
    out = []
    for i, (name, table) in enumerate(results.mediation.items()):
        pairs, significant = top_pairs(table, results.fdr_cohort)
        figure = None
        if len(pairs):
            title = f"{name}: top genus → mediator → {outcome} pairs"
            figure = figures.draw(figdir, f"mediation_{i}", path_diagram, pairs, outcome, title)
        note = (
            f"{int((table['qval'] < results.fdr_cohort).sum())} pair(s) at q < {results.fdr_cohort:g}; the top "
            f"{len(pairs)} shown."
            if significant
            else f"No pair reached q < {results.fdr_cohort:g}; the {len(pairs)} with the smallest p-values are shown."
        )
        columns = [c for c in TABLE_COLUMNS if c in table.columns]
        out.append({"name": name, "figure": figure, "note": note, "table": html_table(table[columns], f"mediation-{i}", 1000)})
    return out
