"""Figures of consortium-scale meta-analyses and pooled analyses (issue 21), drawn from tidy tables:

- :func:`batch_pcoa`: PCoA before/after batch correction, coloured by batch and by the phenotype;
- :func:`heterogeneity`: the distribution of I² over the pooled features and, with moderators, the moderators
  that explain most of it (features with a moderator p < 0.05, and the median R²);
- :func:`funnel`: funnel plots with Egger's test for pooled hits with at least ten cohorts.

:func:`consortium_figures` draws those a study's results allow (used by :func:`osteobiome.report.render`;
the template partial ``_consortium.html.j2`` shows them). The forest plot of :mod:`osteobiome.report.figures`
serves up to 20 cohorts (colours cycle, the height grows with the cohorts).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from osteobiome.meta.bias import MIN_COHORTS, egger_test
from osteobiome.report.figures import GREY, POOLED_COLOUR, RASTER_ABOVE, STYLE, Z95, colour_of, draw
from osteobiome.report.tables import format_number

#: Funnel plots drawn at most (the pooled hits with the smallest p-values among those with k >= 10).
TOP_FUNNELS = 3
#: Moderator terms shown in the heterogeneity panel at most.
TOP_MODERATORS = 8


def _scatter_by(ax: plt.Axes, coords: pd.DataFrame, values: pd.Series, label: str, fig: Figure) -> None:
    x, y = coords["PC1"], coords["PC2"]
    v = values.reindex(coords.index)
    raster = len(x) > RASTER_ABOVE
    if pd.api.types.is_numeric_dtype(v) and v.nunique() > 6:
        ok = v.notna().to_numpy()
        points = ax.scatter(x[ok], y[ok], s=9, c=v[ok], cmap="viridis", linewidth=0, rasterized=raster)
        bar = fig.colorbar(points, ax=ax, pad=0.02, aspect=30)
        bar.set_label(label)
        bar.outline.set_visible(False)
        return
    for i, level in enumerate(pd.unique(v.dropna())):
        sel = (v == level).to_numpy()
        ax.scatter(
            x[sel],
            y[sel],
            s=9,
            color=colour_of(i),
            linewidth=0,
            alpha=0.85,
            label=str(level),
            rasterized=raster,
        )
    ax.legend(fontsize=7, markerscale=1.5, title=label, title_fontsize=7)


def batch_pcoa(
    coords: pd.DataFrame,
    proportion: pd.DataFrame,
    metadata: pd.DataFrame,
    batch: str,
    phenotype: str | None,
    r2: pd.DataFrame,
) -> Figure:
    """Bray–Curtis PCoA before and after batch correction (columns), samples coloured by ``batch`` (top row)
    and by ``phenotype`` (bottom row, if given); titles carry the PERMANOVA R² of the batch."""
    colourings = [batch] + ([phenotype] if phenotype else [])
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(colourings), 2, figsize=(8.6, 3.6 * len(colourings)), squeeze=False)
        for col, label in enumerate(("before", "after")):
            xy = coords[coords["table"] == label]
            share = proportion.loc[label]
            for row, variable in enumerate(colourings):
                ax = axes[row, col]
                _scatter_by(ax, xy, metadata[variable], variable, fig)
                ax.set_xlabel(f"PCoA 1 ({100 * float(share['PC1']):.1f}%)")
                ax.set_ylabel(f"PCoA 2 ({100 * float(share['PC2']):.1f}%)")
                stats = r2.loc[label]
                ax.set_title(
                    f"{label} correction · batch R² = {100 * float(stats['R2']):.2f}% "
                    f"(p = {format_number(float(stats['pval']))})",
                    loc="left",
                    fontsize=9,
                )
    return fig


def heterogeneity(meta: pd.DataFrame) -> Figure:
    """I² of every pooled feature with k >= 2 (one histogram per exposure, stacked) and, when ``meta`` has
    meta-regression columns (``mods.<term>.pval``), the moderators ranked by the share of features where they
    are significant (p < 0.05), with the median R² of the moderator model in the title."""
    pooled = meta[meta["k"] > 1]
    terms = [
        c[len("mods.") : -len(".pval")] for c in meta.columns if c.startswith("mods.") and c.endswith(".pval")
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2 if terms else 1, figsize=(9.0 if terms else 4.8, 3.4), squeeze=False)
        ax = axes[0, 0]
        bins = np.linspace(0, 100, 21)
        groups = list(pooled.groupby("exposure", sort=False)["I2"])
        ax.hist(
            [g.dropna() for _, g in groups],
            bins=bins,
            stacked=True,
            label=[str(e) for e, _ in groups],
            color=[colour_of(i) for i in range(len(groups))],
        )
        ax.set_xlabel("I² (%)")
        ax.set_ylabel("features")
        median = float(np.nanmedian(pooled["I2"])) if len(pooled) else np.nan
        ax.set_title(f"Heterogeneity · median I² = {median:.0f}%", loc="left")
        if len(groups) > 1:
            ax.legend(fontsize=7)
        if terms:
            ax = axes[0, 1]
            share = pd.Series({t: float((pooled[f"mods.{t}.pval"] < 0.05).mean()) for t in terms})
            share = share.sort_values(ascending=True).tail(TOP_MODERATORS)
            ax.barh(range(len(share)), 100 * share.to_numpy(), color=POOLED_COLOUR)
            ax.set_yticks(range(len(share)), share.index)
            ax.axvline(5, color=GREY, linestyle="--", linewidth=0.8)
            ax.set_xlabel("features with moderator p < 0.05 (%)")
            r2 = float(np.nanmedian(pooled["mods.R2"])) if "mods.R2" in pooled else np.nan
            ax.set_title(f"Moderators · median R² = {r2:.0f}%", loc="left")
    return fig


def funnel(rows: Mapping[str, tuple[np.ndarray, np.ndarray, float, dict[str, float]]]) -> Figure:
    """Funnel plots: per pooled hit (title → (yi, sei, pooled coef, Egger result)), each cohort's estimate
    against its standard error (inverted axis) with the pooled estimate and its 95% pseudo-confidence region."""
    n = len(rows)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.5), squeeze=False)
        for ax, (title, (yi, sei, coef, egger)) in zip(axes[0], rows.items(), strict=True):
            top = float(np.nanmax(sei)) * 1.08
            se = np.linspace(0, top, 50)
            ax.fill_betweenx(se, coef - Z95 * se, coef + Z95 * se, color="#eef1f4", zorder=0)
            ax.plot(coef - Z95 * se, se, color=GREY, linewidth=0.8)
            ax.plot(coef + Z95 * se, se, color=GREY, linewidth=0.8)
            ax.axvline(coef, color=POOLED_COLOUR, linewidth=1.0)
            ax.scatter(yi, sei, s=22, color=colour_of(0), edgecolor="white", linewidth=0.5, zorder=3)
            ax.set_ylim(top, 0)
            ax.set_xlabel("coefficient")
            ax.set_ylabel("standard error")
            egger_text = f"Egger z = {egger['zval']:.2f}, p = {format_number(egger['pval'])} (k = {egger['k']})"
            ax.set_title(f"{title}\n{egger_text}", loc="left", fontsize=9)
    return fig


def funnel_rows(
    meta: pd.DataFrame, cohorts: Mapping[str, pd.DataFrame], method: str = "REML", top: int = TOP_FUNNELS
) -> dict[str, tuple[np.ndarray, np.ndarray, float, dict[str, float]]]:
    """Inputs of :func:`funnel` for the ``top`` pooled rows with the smallest p-values among those with at
    least :data:`~osteobiome.meta.bias.MIN_COHORTS` cohorts (none when no row has that many)."""
    ranked = meta[meta["k"] >= MIN_COHORTS].dropna(subset=["pval"]).sort_values("pval").head(top)
    indexed = {name: t.set_index(["feature", "metadata"]) for name, t in cohorts.items()}
    out = {}
    for _, row in ranked.iterrows():
        key = (row["feature"], row["exposure"])
        yi = np.array(
            [indexed[c].loc[key, "coef"] if key in indexed[c].index else np.nan for c in cohorts], float
        )
        sei = np.array(
            [indexed[c].loc[key, "stderr"] if key in indexed[c].index else np.nan for c in cohorts], float
        )
        ok = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
        egger = egger_test(yi[ok], sei[ok], method=method)
        out[f"{row['feature']} · {row['exposure']}"] = (yi[ok], sei[ok], float(row["coef"]), egger)
    return out


def consortium_figures(results, figdir: Path) -> dict[str, object]:  # noqa: ANN001
    """The figures :mod:`osteobiome.report` shows in its Consortium section (None where not applicable):
    ``heterogeneity`` (meta-analysis with ≥ 3 cohorts), ``funnel`` + ``funnel_note`` (hits with k ≥ 10),
    ``batch`` + ``batch_note`` (pooled analysis with batch correction)."""
    out: dict[str, object] = dict.fromkeys(("heterogeneity", "funnel", "funnel_note", "batch", "batch_note"))
    meta = results.meta
    if meta is not None and len(meta) and int(meta["k"].max()) >= 3:
        out["heterogeneity"] = draw(figdir, "heterogeneity", heterogeneity, meta)
        method = (results.settings.get("meta") or {}).get("method", "REML")
        rows = funnel_rows(meta, {c.name: c.associations for c in results.cohorts}, method)
        if rows:
            out["funnel"] = draw(figdir, "funnel", funnel, rows)
            out["funnel_note"] = (
                f"Funnel plots of the {len(rows)} pooled association(s) with the smallest p-values among those seen "
                f"in at least {MIN_COHORTS} cohorts; Egger's regression test (metafor regtest: meta-regression on "
                "the standard error) in each title."
            )
    pooled = getattr(results, "pooled", None)
    if pooled is not None:
        out["batch"] = draw(
            figdir,
            "batch_pcoa",
            batch_pcoa,
            pooled.coords,
            pooled.proportion,
            pooled.metadata,
            pooled.batch,
            pooled.phenotype,
            pooled.r2,
        )
        before, after = (100 * float(pooled.r2.loc[t, "R2"]) for t in ("before", "after"))
        out["batch_note"] = (
            f"Batch correction of the pooled table (zero-inflated empirical Bayes, covariates protected: "
            f"{', '.join(pooled.protected) or 'none'}): PERMANOVA R² of {pooled.batch} {before:.2f}% before, "
            f"{after:.2f}% after."
        )
    return out
