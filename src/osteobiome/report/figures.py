"""The report's figures (matplotlib, headless), drawn from tidy result tables.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save` writes it as SVG and PNG and gives
back an inline ``data:`` URI so the HTML report needs no other file. Significance marks: ``*`` q below the
threshold, ``·`` nominal p < 0.05.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from osteobiome.report.tables import format_number  # noqa: E402

COHORT_COLOURS = ("#1f6fb2", "#d1495b", "#2a9d8f", "#e9a23b", "#7b5ea7", "#6c757d")
POOLED_COLOUR = "#222222"
MAX_LOG_Q = 10.0  # heatmap colours saturate at q = 1e-10 (stronger cells share the end colour)
MAX_PNG_PIXELS = 2400  # longest side of a saved PNG (150 dpi unless the figure is larger)
RASTER_ABOVE = (
    1000  # scatter plots with more points are embedded as an image inside the SVG (keeps files small)
)
UP, DOWN, GREY = "#c0392b", "#2166ac", "#b8bec6"
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.linewidth": 0.8,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.frameon": False,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
    "svg.fonttype": "none",
    "svg.hashsalt": "osteobiome",
}


def colour_of(i: int) -> str:
    """The colour of the i-th cohort (cycled)."""
    return COHORT_COLOURS[i % len(COHORT_COLOURS)]


def save(fig: Figure, folder: Path, name: str) -> str:
    """Write ``folder/name.svg`` and ``.png`` (150 dpi, at most MAX_PNG_PIXELS on the longest side); return the
    SVG as a ``data:`` URI; close the figure."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, dpi=150)
        fig.savefig(folder / f"{name}.png", dpi=min(150, MAX_PNG_PIXELS / max(fig.get_size_inches())))
    svg = buffer.getvalue()
    (folder / f"{name}.svg").write_bytes(svg)
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def signed_log_q(coef: pd.Series, q: pd.Series) -> pd.Series:
    """sign(coef) · −log10(q), q floored at 1e-300."""
    return np.sign(coef) * -np.log10(q.clip(lower=1e-300))


# ---------------------------------------------------------------------- heatmap
def heatmap(
    panels: Mapping[str, pd.DataFrame],
    phenotypes: Sequence[str],
    thresholds: Mapping[str, float],
    top: int = 40,
) -> Figure:
    """Feature × phenotype heatmap of signed −log10(q), one panel per cohort (and the meta-analysis).

    ``panels``: label → table with ``feature``, phenotype column (``metadata`` or ``exposure``), ``coef``,
    ``qval`` (or ``qval.fdr``) and ``pval``. Rows: the ``top`` features with the smallest q anywhere,
    ordered by hierarchical clustering of their signed values.
    """
    grids = {label: _grid(t, phenotypes) for label, t in panels.items()}
    best = pd.concat([g["q"].min(axis=1) for g in grids.values()], axis=1).min(axis=1).sort_values()
    features = list(best.index[: max(1, top)])
    values = {label: g["value"].reindex(features) for label, g in grids.items()}
    order = _cluster_order(pd.concat(values.values(), axis=1).fillna(0).to_numpy())
    features = [features[i] for i in order]
    stacked = np.concatenate([v.reindex(features).to_numpy(float) for v in values.values()], axis=1)
    finite = np.abs(stacked[np.isfinite(stacked)])
    vmax = float(np.clip(np.quantile(finite, 0.98), 2.0, MAX_LOG_Q)) if finite.size else 2.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)

    n_rows, n_cols = len(features), len(phenotypes)
    cell = 0.3 if n_cols * len(panels) <= 24 else 0.22  # inches per cell; smaller for wide grids
    label_w = 0.075 * max(len(_short(f, 38)) for f in features)
    tick_h = 0.06 * max(len(_short(p, 22)) for p in phenotypes)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1,
            len(panels),
            figsize=(label_w + len(panels) * (n_cols * cell + 0.35) + 1.4, 0.9 + tick_h + n_rows * cell),
            squeeze=False,
            sharey=True,
        )
        image = None
        for ax, (label, grid) in zip(axes[0], grids.items(), strict=True):
            v = grid["value"].reindex(features).to_numpy(float)
            q = grid["q"].reindex(features).to_numpy(float)
            p = grid["p"].reindex(features).to_numpy(float)
            masked = np.ma.masked_invalid(v)
            image = ax.imshow(masked, cmap="RdBu_r", norm=norm, aspect="equal", interpolation="nearest")
            ax.set_facecolor("#eeeeee")
            _marks(ax, v, q < thresholds[label], (p < 0.05) & ~(q < thresholds[label]), 0.6 * vmax)
            ax.set_xticks(range(n_cols), [_short(p, 22) for p in phenotypes], **_column_labels(cell))
            ax.set_yticks(range(n_rows), [_short(f, 38) for f in features], fontstyle="italic")
            ax.tick_params(length=0)
            ax.set_title(label, pad=8)
            for side in ax.spines.values():
                side.set_visible(False)
            ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
            ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
            ax.grid(which="minor", color="white", linewidth=1.2)
            ax.tick_params(which="minor", length=0)
        bar = fig.colorbar(
            image,
            ax=list(axes[0]),
            shrink=min(1.0, 6 / max(n_rows, 1) + 0.3),
            pad=0.02,
            aspect=25,
            extend="both" if finite.size and finite.max() > vmax else "neither",
        )
        bar.set_label("sign(coef) × −log10(q)")
        bar.outline.set_visible(False)
        bar.ax.text(
            0.0,
            -0.1,
            "*  q < FDR threshold\n·  nominal p < 0.05\ngrey: not tested",
            fontsize=7.5,
            color="#444444",
            va="top",
            transform=bar.ax.transAxes,
        )
    return fig


def _column_labels(cell: float) -> dict[str, object]:
    """Slanted column labels for roomy cells, vertical ones for narrow cells (no overlap)."""
    return {"rotation": 55, "ha": "right"} if cell >= 0.3 else {"rotation": 90, "ha": "center"}


def _marks(ax: plt.Axes, values: np.ndarray, star: np.ndarray, dot: np.ndarray, dark_above: float) -> None:
    """Significance marks as two marker collections (``*`` and ``·``), white on dark cells."""
    dark = np.abs(np.nan_to_num(values)) > dark_above
    for mask, marker, size in ((star, (5, 2, 0), 34), (dot, "o", 5)):
        rows, cols = np.nonzero(mask)
        colours = np.where(dark[rows, cols], "white", "#111111")
        ax.scatter(cols, rows, marker=marker, s=size, c=colours, linewidths=0.9 if marker != "o" else 0)


def _grid(table: pd.DataFrame, phenotypes: Sequence[str]) -> dict[str, pd.DataFrame]:
    exposure = "exposure" if "exposure" in table.columns else "metadata"
    qcol = "qval.fdr" if "qval.fdr" in table.columns else "qval"
    t = table[table[exposure].isin(phenotypes)]
    t = t.drop_duplicates(["feature", exposure])
    value = signed_log_q(t["coef"], t[qcol])
    frame = t.assign(value=value)
    pivot = {
        key: frame.pivot(index="feature", columns=exposure, values=col).reindex(columns=list(phenotypes))
        for key, col in (("value", "value"), ("q", qcol), ("p", "pval"))
    }
    return pivot


def _cluster_order(matrix: np.ndarray) -> list[int]:
    """Leaf order of an average-linkage clustering of the rows (the identity for fewer than 3 rows)."""
    if matrix.shape[0] < 3:
        return list(range(matrix.shape[0]))
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    distances = pdist(matrix, metric="euclidean")
    tree = linkage(distances, method="average")
    return list(leaves_list(optimal_leaf_ordering(tree, distances)))


def _short(text: str, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------- forest plots
def forest(
    meta: pd.DataFrame,
    cohorts: Mapping[str, pd.DataFrame],
    hits: Sequence[tuple[str, str]],
    columns: int = 3,
) -> Figure:
    """Per-cohort estimates with 95% CIs and the pooled estimate (diamond) for each (feature, phenotype)."""
    names = list(cohorts)
    n = len(hits)
    columns = max(1, min(columns, n))
    rows = int(np.ceil(n / columns))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            rows,
            columns,
            figsize=(3.6 * columns, 0.55 + (len(names) + 1.6) * 0.34 * rows + 0.45 * rows),
            squeeze=False,
        )
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        indexed = {name: t.set_index(["feature", "metadata"]) for name, t in cohorts.items()}
        pooled_rows = meta.set_index(["feature", "exposure"])
        for ax, (feature, phenotype) in zip(axes.ravel(), hits, strict=False):
            pooled = pooled_rows.loc[(feature, phenotype)]
            y = len(names) + 0.6
            lows, highs = [0.0, float(pooled["ci.lb"])], [0.0, float(pooled["ci.ub"])]
            for i, name in enumerate(names):
                y -= 1
                key = (feature, phenotype)
                if key not in indexed[name].index:
                    ax.text(0, y, "not tested", fontsize=7, color="#888888", va="center")
                    continue
                row = indexed[name].loc[key]
                coef, se = float(row["coef"]), float(row["stderr"])
                lo, hi = coef - 1.959964 * se, coef + 1.959964 * se
                lows.append(lo)
                highs.append(hi)
                weight = pooled.get(f"weight_{name}", np.nan)
                size = 30 + 1.2 * float(weight) if np.isfinite(weight) else 40
                ax.plot([lo, hi], [y, y], color=colour_of(i), linewidth=1.6, solid_capstyle="round")
                ax.scatter(
                    [coef],
                    [y],
                    s=size,
                    marker="s",
                    color=colour_of(i),
                    zorder=3,
                    edgecolor="white",
                    linewidth=0.5,
                )
            y_pool = y - 1.1
            c, lo, hi = float(pooled["coef"]), float(pooled["ci.lb"]), float(pooled["ci.ub"])
            ax.fill(
                [lo, c, hi, c], [y_pool, y_pool + 0.32, y_pool, y_pool - 0.32], color=POOLED_COLOUR, zorder=3
            )
            ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--", zorder=1)
            ax.set_yticks([len(names) - 0.4 - i for i in range(len(names))] + [y_pool], [*names, "Pooled"])
            ax.set_ylim(y_pool - 0.8, len(names) + 0.2)
            span = max(highs) - min(lows)
            ax.set_xlim(min(lows) - 0.08 * span, max(highs) + 0.08 * span)
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="y", length=0)
            ax.set_title(f"{_short(feature, 34)}\n{_short(phenotype, 34)}", fontsize=9, loc="left")
            q = format_number(float(pooled["qval.fdr"]), p_value=True)
            stats = f"q = {q}   I² = {float(pooled.get('I2', np.nan)):.0f}%"
            ax.text(
                1.0,
                1.02,
                stats,
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7.5,
                color="#444444",
            )
            ax.set_xlabel("coefficient (95% CI)")
    return fig


# ---------------------------------------------------------------------- volcano plots
def volcano(
    panels: Mapping[str, pd.DataFrame], thresholds: Mapping[str, float], label_top: int = 6
) -> Figure:
    """coef vs −log10(p) per panel; significant rows coloured by direction, the strongest labelled."""
    n = len(panels)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=(4.0 * n, 3.6), squeeze=False)
        for ax, (label, table) in zip(axes[0], panels.items(), strict=True):
            exposure = "exposure" if "exposure" in table.columns else "metadata"
            qcol = "qval.fdr" if "qval.fdr" in table.columns else "qval"
            t = table.dropna(subset=["coef", "pval"])
            y = -np.log10(t["pval"].clip(lower=1e-300))
            hit = (t[qcol] < thresholds[label]).to_numpy()
            colours = np.where(~hit, GREY, np.where(t["coef"] > 0, UP, DOWN))
            ax.scatter(
                t["coef"],
                y,
                s=np.where(hit, 16, 8),
                c=colours,
                alpha=0.8,
                linewidth=0,
                rasterized=len(t) > RASTER_ABOVE,
            )
            ax.axvline(0, color="#999999", linewidth=0.7, linestyle="--")
            top = t.assign(_y=y)[hit].nsmallest(label_top * 3, "pval")
            _label_points(ax, top, exposure, label_top)
            ax.set_title(f"{label}  ({int(hit.sum())} at q < {thresholds[label]:g})", loc="left")
            ax.set_xlabel("coefficient")
            ax.set_ylabel("−log10(p)")
    return fig


def _label_points(ax: plt.Axes, rows: pd.DataFrame, exposure: str, limit: int) -> None:
    """Label up to ``limit`` points (strongest first), skipping any that would sit on an earlier label."""
    x_span = np.ptp(ax.get_xlim()) or 1.0
    y_span = np.ptp(ax.get_ylim()) or 1.0
    placed: list[tuple[float, float]] = []
    for _, row in rows.iterrows():
        x, y = float(row["coef"]) / x_span, float(row["_y"]) / y_span
        if any(abs(x - px) < 0.25 and abs(y - py) < 0.09 for px, py in placed):
            continue
        placed.append((x, y))
        right = row["coef"] > 0
        ax.annotate(
            f"{_short(row['feature'], 24)} · {_short(row[exposure], 18)}",
            (row["coef"], row["_y"]),
            xytext=(-4 if right else 4, 3),
            textcoords="offset points",
            fontsize=6.5,
            color="#333333",
            ha="right" if right else "left",
        )
        if len(placed) >= limit:
            return


# ---------------------------------------------------------------------- ordination
def pcoa_panels(
    panels: Mapping[str, tuple[pd.DataFrame, pd.Series, pd.Series]],
    phenotype: str,
    metric: str,
    notes: Mapping[str, str] | None = None,
) -> Figure:
    """PCoA axes 1–2 per cohort, samples coloured by ``phenotype``. ``panels``: cohort → (coords, explained, values)."""
    n = len(panels)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
        for ax, (label, (coords, explained, values)) in zip(axes[0], panels.items(), strict=True):
            x, y = coords.iloc[:, 0], coords.iloc[:, 1]
            v = values.reindex(coords.index)
            numeric = pd.api.types.is_numeric_dtype(v)
            missing = v.isna().to_numpy()
            ax.scatter(x[missing], y[missing], s=9, color="#cccccc", linewidth=0, label="missing")
            if numeric:
                points = ax.scatter(
                    x[~missing],
                    y[~missing],
                    s=11,
                    c=v[~missing],
                    cmap="viridis",
                    linewidth=0,
                    alpha=0.9,
                    rasterized=len(x) > RASTER_ABOVE,
                )
                bar = fig.colorbar(points, ax=ax, pad=0.02, aspect=30)
                bar.set_label(phenotype)
                bar.outline.set_visible(False)
            else:
                for i, level in enumerate(pd.unique(v[~missing])):
                    sel = (v == level).to_numpy()
                    ax.scatter(
                        x[sel],
                        y[sel],
                        s=11,
                        color=colour_of(i),
                        linewidth=0,
                        alpha=0.9,
                        label=str(level),
                        rasterized=len(x) > RASTER_ABOVE,
                    )
                ax.legend(fontsize=7, markerscale=1.5)
            ax.set_xlabel(f"PCoA 1 ({100 * float(explained.iloc[0]):.1f}%)")
            ax.set_ylabel(f"PCoA 2 ({100 * float(explained.iloc[1]):.1f}%)")
            ax.set_title(f"{label} · {metric}", loc="left")
            if notes and notes.get(label):
                ax.text(
                    0.0, 1.0, notes[label], transform=ax.transAxes, fontsize=7.5, va="bottom", color="#444444"
                )
                ax.set_title(f"{label} · {metric}", loc="left", pad=14)
    return fig


# ---------------------------------------------------------------------- alpha diversity
def alpha_effects(tables: Mapping[str, pd.DataFrame], phenotypes: Sequence[str], threshold: float) -> Figure:
    """Coefficient (95% CI) of each alpha index on each phenotype, one colour per cohort; filled when q < threshold."""
    indices = list(dict.fromkeys(i for t in tables.values() for i in t["feature"]))
    n = len(indices)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1,
            n,
            figsize=(3.4 * n + 0.6, 0.7 + 0.32 * len(phenotypes) * max(1, len(tables)) ** 0.5),
            squeeze=False,
            sharey=True,
        )
        offsets = np.linspace(-0.18, 0.18, len(tables)) if len(tables) > 1 else np.zeros(1)
        for ax, index in zip(axes[0], indices, strict=True):
            for i, (name, table) in enumerate(tables.items()):
                t = table[table["feature"] == index].set_index("metadata").reindex(phenotypes)
                ys = np.arange(len(phenotypes)) + offsets[i]
                coef, se = t["coef"].to_numpy(float), t["stderr"].to_numpy(float)
                ax.errorbar(
                    coef,
                    ys,
                    xerr=1.959964 * se,
                    fmt="o",
                    ms=4,
                    color=colour_of(i),
                    elinewidth=1.3,
                    capsize=0,
                    mfc="white",
                    mew=1.2,
                    label=name,
                )
                hit = t["qval"].to_numpy(float) < threshold
                ax.scatter(coef[hit], ys[hit], s=22, color=colour_of(i), zorder=3)
            ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
            ax.set_yticks(range(len(phenotypes)), [_short(p, 26) for p in phenotypes])
            ax.set_title(index, loc="left")
            ax.set_xlabel("coefficient (95% CI)")
        axes[0][0].invert_yaxis()
        axes[0][-1].legend(
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            title=f"filled: q < {threshold:g}",
            title_fontsize=7.5,
        )
    return fig


# ---------------------------------------------------------------------- set-level results
def set_dotplot(table: pd.DataFrame, threshold: float, phenotypes: Sequence[str] | None = None) -> Figure:
    """Set (trait / mechanism group) × phenotype dots: colour = mean effect, size = −log10(q); ringed when q < threshold.

    Sets are ordered by their smallest p-value; phenotypes as given (default: order of appearance)."""
    sets = list(dict.fromkeys(table.sort_values("pval", kind="stable")["set"]))
    phenotypes = [
        p for p in (phenotypes or dict.fromkeys(table["phenotype"])) if p in set(table["phenotype"])
    ]
    table = table[table["phenotype"].isin(phenotypes)]
    effect_max = float(np.nanmax(np.abs(table["effect"]))) or 1.0
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(
            figsize=(
                3.4 + 0.1 * max(len(str(s)) for s in sets) + 0.42 * len(phenotypes),
                2.2 + 0.3 * len(sets),
            )
        )
        x = table["phenotype"].map({p: i for i, p in enumerate(phenotypes)})
        y = table["set"].map({s: i for i, s in enumerate(sets)})
        size = 12 + 40 * np.minimum(-np.log10(table["qval"].clip(lower=1e-10)), 6)
        hit = table["qval"] < threshold
        dots = ax.scatter(
            x,
            y,
            s=size,
            c=table["effect"],
            cmap="RdBu_r",
            vmin=-effect_max,
            vmax=effect_max,
            edgecolor=np.where(hit, "#111111", "none"),
            linewidth=1.0,
        )
        ax.set_xticks(range(len(phenotypes)), [_short(p, 22) for p in phenotypes], rotation=55, ha="right")
        ax.set_yticks(range(len(sets)), [_short(s, 40) for s in sets])
        ax.set_xlim(-0.6, len(phenotypes) - 0.4)
        ax.set_ylim(len(sets) - 0.4, -0.6)
        bar = fig.colorbar(dots, ax=ax, pad=0.02, aspect=25)
        bar.set_label("mean coefficient of the set")
        bar.outline.set_visible(False)
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig
