"""The report's figures (matplotlib, headless), drawn from tidy result tables.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save` writes it as SVG and PNG and gives
back an inline ``data:`` URI so the HTML report needs no other file. Significance marks: ``*`` q below the
threshold, ``·`` nominal p < 0.05.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from osteobiome.report.tables import format_number  # noqa: E402
from osteobiome.stats.distributions import normal_ppf  # noqa: E402

COHORT_COLOURS = ("#1f6fb2", "#d1495b", "#2a9d8f", "#e9a23b", "#7b5ea7", "#6c757d")
POOLED_COLOUR = "#222222"
Z95 = float(normal_ppf(0.975))  # normal quantile of the 95% confidence intervals drawn (coef ± Z95 · se)
MAX_LOG_Q = 10.0  # heatmap colours saturate at q = 1e-10 (stronger cells share the end colour)
MAX_PNG_PIXELS = 2400  # longest side of a saved PNG (150 dpi unless the figure is larger)
PNG_COMPRESSION = 3  # zlib level of the PNGs: a third less CPU than the default 6, files ~6% larger
SVG_RASTER_DPI = 100  # resolution of the rasterized scatter layers inside SVGs
RASTER_ABOVE = (
    1000  # scatter plots with more points are embedded as an image inside the SVG (keeps files small)
)
DEFERRED: list = []
"""The active figure pool of :mod:`osteobiome.report._parallel` (at most one), which :func:`draw` hands figures to."""
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


def draw(folder: Path, name: str, make: Callable[..., Figure], *args: Any, **kwargs: Any) -> str:
    """``save(make(*args, **kwargs), folder, name)``: build a figure and write ``folder/name.svg|png``; return the
    SVG's data URI. While a figure pool is active (:mod:`osteobiome.report._parallel`) a worker process builds and
    saves it (``make``, a module-level function, and its arguments are pickled) and a placeholder is returned
    instead of the URI: building a figure costs as much as a third of saving it."""
    if DEFERRED:
        return DEFERRED[-1].submit(folder, name, make, args, kwargs)
    return save(make(*args, **kwargs), folder, name)


def save(fig: Figure, folder: Path, name: str) -> str:
    """Write ``folder/name.svg`` and ``.png`` (150 dpi, at most MAX_PNG_PIXELS on the longest side); return the
    SVG as a ``data:`` URI; close the figure. Dense scatter layers inside the SVG are rasterized at
    SVG_RASTER_DPI, which keeps the self-contained report small (text and axes stay vector)."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    png_dpi = min(150, MAX_PNG_PIXELS / max(fig.get_size_inches()))
    with plt.rc_context(STYLE):
        bbox = _fixed_layout(fig, png_dpi)
    # Without constrained layout in the rc: savefig puts back the figure's layout engine (none) when it is done,
    # which this rc would turn into a new constrained layout that the next savefig would run again.
    with plt.rc_context({**STYLE, "figure.constrained_layout.use": False}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, dpi=SVG_RASTER_DPI, bbox_inches=bbox)
        png = {"compress_level": PNG_COMPRESSION}
        fig.savefig(folder / f"{name}.png", dpi=png_dpi, bbox_inches=bbox, pil_kwargs=png)
    svg = buffer.getvalue()
    (folder / f"{name}.svg").write_bytes(svg)
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _fixed_layout(fig: Figure, dpi: float) -> Bbox:
    """Lay the figure out once at ``dpi`` (constrained layout, measuring the text as the PNG will draw it), fix
    that layout and return its tight bounding box (inches, padded by ``savefig.pad_inches``), so that both saved
    formats reuse one layout instead of laying the figure out, drawing it unrendered and measuring it again for
    each. Axis labels and ``loc="best"`` legends stay where this layout put them (:func:`_pin`). The figure keeps
    its own dpi."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)  # e.g. Figure()
    own_dpi = fig.dpi
    fig.dpi = dpi
    try:
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
        renderer = canvas.get_renderer()
        bbox = fig.get_tightbbox(renderer).padded(plt.rcParams["savefig.pad_inches"])
        _pin(fig, renderer)
    finally:
        fig.dpi = own_dpi
    # No layout engine left (not even set_layout_engine("none")'s placeholder): savefig then skips its own
    # layout pass, which costs as much as drawing the figure (matplotlib pinned in constraints.txt).
    fig._layout_engine = None
    return bbox


LEGEND_CORNERS = {1: "NE", 2: "NW", 3: "SW", 4: "SE", 7: "E", 6: "W", 8: "S", 9: "N", 10: "C"}
"""Legend location codes and the corner of the axes (``Bbox.anchored``) each puts the legend in."""


def _pin(fig: Figure, renderer: object) -> None:
    """Fix, as the layout just placed them, what matplotlib would otherwise work out again at each draw: each
    axis label's position (found from the extents of the axis' tick labels; kept in axes coordinates, so it
    scales with the figure) and the corner of each legend placed by ``loc="best"`` (found by trying nine
    corners for the one covering the fewest data)."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            at = axis.label.get_transform().transform(axis.label.get_position())
            axis.set_label_coords(*ax.transAxes.inverted().transform(at))
        legend = ax.get_legend()
        if legend is None or legend.get_bbox_to_anchor() is not ax.bbox:
            continue
        box = legend.get_window_extent(renderer)
        pad = legend.borderaxespad * renderer.points_to_pixels(legend.prop.get_size_in_points())
        inside = ax.bbox.padded(-pad)
        for code, corner in LEGEND_CORNERS.items():
            if np.allclose(box.anchored(corner, container=inside).p0, box.p0, atol=1e-6):
                legend.set_loc(code)
                break


def _title(ax: plt.Axes, text: str, numeric_y: bool = False, **kwargs: object) -> None:
    """``ax.set_title`` at a fixed height (``y = 1``, the axes' top, plus ``pad``) instead of matplotlib's automatic
    one, which measures every y tick label at each draw and layout pass to find text above the axes. No figure
    here has x tick labels or an x label on top; the only other text matplotlib would lift the title over is a
    y offset text (``1e6``, ``+1000``), which ``numeric_y`` axes do without (plain tick labels)."""
    if numeric_y:
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_title(text, y=1.0, **kwargs)


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
            # row names left of the first panel only (every panel has the same rows and limits, from imshow)
            if ax is axes[0][0]:
                ax.set_yticks(range(n_rows), [_short(f, 38) for f in features], fontstyle="italic")
            else:
                ax.set_yticks([])
            ax.tick_params(length=0)
            _title(ax, label, pad=8)
            for side in ax.spines.values():
                side.set_visible(False)
            # cell borders: two line collections (a grid of minor ticks would be ~2 artists per line)
            ax.vlines(np.arange(-0.5, n_cols), -0.5, n_rows - 0.5, color="white", linewidth=1.2)
            ax.hlines(np.arange(-0.5, n_rows), -0.5, n_cols - 0.5, color="white", linewidth=1.2)
        width, height = fig.get_size_inches()
        tall = height > 1.6 * width  # few phenotypes: the colour bar goes under the grid, not floating beside it
        bar = fig.colorbar(
            image,
            ax=list(axes[0]),
            location="bottom" if tall else "right",
            shrink=0.9 if tall else min(1.0, 6 / max(n_rows, 1) + 0.3),
            pad=0.02 if not tall else 0.4 / height,
            aspect=25,
            extend="both" if finite.size and finite.max() > vmax else "neither",
        )
        bar.set_label("sign(coef) × −log10(q)")
        bar.outline.set_visible(False)
        legend = "*  q < FDR threshold   ·  nominal p < 0.05   grey: not tested"
        if tall:
            fig.text(0.5, 0.0, legend, fontsize=7.5, color="#444444", ha="center", va="top")
        else:
            bar.ax.text(
                0.0, -0.1, legend.replace("   ", "\n"), fontsize=7.5, color="#444444", va="top",
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
                lo, hi = coef - Z95 * se, coef + Z95 * se
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
            _title(ax, f"{_short(feature, 34)}\n{_short(phenotype, 34)}", fontsize=9, loc="left")
            q = format_number(float(pooled["qval.fdr"]))
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
    panels: Mapping[str, pd.DataFrame],
    thresholds: Mapping[str, float],
    label_top: int = 5,
    xlabel: str = "coefficient",
) -> Figure:
    """coef vs −log10(p) per panel; significant rows coloured by direction, the strongest labelled.

    ``xlabel`` names the coefficient's unit (e.g. ``log2 fold change per SD of the phenotype``)."""
    n = len(panels)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=(4.8 * n, 4.2), squeeze=False)
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
            _title(ax, f"{label}  ({int(hit.sum())} at q < {thresholds[label]:g})", loc="left", numeric_y=True)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("−log10(p)")
    return fig


POINT_LABEL_SIZE = 8.0
"""Font size (points) of the volcano's point labels."""
POINT_LABEL_OFFSET = (4.0, 3.0)
"""Points from a labelled point to its label's near end (horizontally, away from zero) and baseline (up)."""
CHARACTER_WIDTH = 0.55
"""Mean width of a label character, in em (font size): the estimate of a label's length before drawing."""


def _label_points(ax: plt.Axes, rows: pd.DataFrame, exposure: str, limit: int) -> None:
    """Label up to ``limit`` points (strongest first), skipping any whose label would overlap an earlier one.

    Labels of positive coefficients extend to the left of their point, the others to the right; each label's box
    is estimated in points from its length (:data:`CHARACTER_WIDTH` em per character, one line of
    1.25 · :data:`POINT_LABEL_SIZE` high), so labels drawn towards each other from either side of zero are caught
    too."""
    fig, frame = ax.get_figure(), ax.get_position()
    width, height = frame.width * fig.get_figwidth() * 72, frame.height * fig.get_figheight() * 72  # points
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    dx, dy = POINT_LABEL_OFFSET
    placed: list[tuple[float, float, float, float]] = []
    for _, row in rows.iterrows():
        text = f"{_short(row['feature'], 22)} · {_short(row[exposure], 16)}"
        right = row["coef"] > 0
        x = (float(row["coef"]) - x0) / ((x1 - x0) or 1.0) * width
        y = (float(row["_y"]) - y0) / ((y1 - y0) or 1.0) * height + dy
        extent = CHARACTER_WIDTH * POINT_LABEL_SIZE * len(text)
        left = x - dx - extent if right else x + dx
        box = (left, left + extent, y, y + 1.25 * POINT_LABEL_SIZE)
        if any(box[0] < b[1] and b[0] < box[1] and box[2] < b[3] and b[2] < box[3] for b in placed):
            continue
        placed.append(box)
        ax.annotate(
            text,
            (row["coef"], row["_y"]),
            xytext=(-dx if right else dx, dy),
            textcoords="offset points",
            fontsize=POINT_LABEL_SIZE,
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
    """PCoA axes 1–2 per cohort, samples coloured by ``phenotype`` on ONE colour scale shared by every panel
    (one colour bar). ``panels``: cohort → (coords, explained, values)."""
    n = len(panels)
    values = pd.concat([v for _, _, v in panels.values()])
    numeric = pd.api.types.is_numeric_dtype(values)
    vmin, vmax = (float(values.quantile(0.01)), float(values.quantile(0.99))) if numeric else (None, None)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 0.8, 4.0), squeeze=False)
        points = None
        for ax, (label, (coords, explained, v)) in zip(axes[0], panels.items(), strict=True):
            points = _ordination_points(ax, coords, v.reindex(coords.index), vmin, vmax)
            _ordination_axes(ax, explained, f"{label} · {metric}", (notes or {}).get(label))
        if numeric and points is not None:
            bar = fig.colorbar(points, ax=list(axes[0]), pad=0.02, aspect=30, extend="both")
            bar.set_label(phenotype)
            bar.outline.set_visible(False)
    return fig


def pcoa_joint(coords: pd.DataFrame, explained: pd.Series, phenotype: str, metric: str) -> Figure:
    """One PCoA of every cohort's samples: left coloured by cohort, right by ``phenotype`` (one scale).

    ``coords``: ``PC1 PC2 cohort <phenotype>`` per sample (see ``study._report_inputs.joint_ordination``)."""
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.2))
        for i, cohort in enumerate(pd.unique(coords["cohort"])):
            sel = (coords["cohort"] == cohort).to_numpy()
            left.scatter(
                coords["PC1"][sel], coords["PC2"][sel], s=9, color=colour_of(i), linewidth=0, alpha=0.7,
                label=str(cohort), rasterized=len(coords) > RASTER_ABOVE,
            )
        left.legend(fontsize=8, markerscale=1.8, title="cohort", title_fontsize=8)
        _ordination_axes(left, explained, f"All cohorts · {metric} · by cohort", None)
        v = coords[phenotype]
        points = _ordination_points(
            right, coords, v, float(v.quantile(0.01)), float(v.quantile(0.99))
        ) if pd.api.types.is_numeric_dtype(v) else _ordination_points(right, coords, v, None, None)
        _ordination_axes(right, explained, f"All cohorts · {metric} · by {_short(phenotype, 24)}", None)
        if pd.api.types.is_numeric_dtype(v):
            bar = fig.colorbar(points, ax=right, pad=0.02, aspect=30, extend="both")
            bar.set_label(phenotype)
            bar.outline.set_visible(False)
    return fig


def _ordination_points(
    ax: plt.Axes, coords: pd.DataFrame, v: pd.Series, vmin: float | None, vmax: float | None
) -> object:
    """Samples on axes 1–2, coloured by ``v`` (numeric: viridis between vmin and vmax; else one colour per
    level); missing values grey."""
    x, y = coords["PC1"], coords["PC2"]
    missing = v.isna().to_numpy()
    ax.scatter(x[missing], y[missing], s=9, color="#cccccc", linewidth=0, label="missing")
    if pd.api.types.is_numeric_dtype(v):
        return ax.scatter(
            x[~missing], y[~missing], s=11, c=v[~missing], cmap="viridis", vmin=vmin, vmax=vmax, linewidth=0,
            alpha=0.9, rasterized=len(x) > RASTER_ABOVE,
        )
    for i, level in enumerate(pd.unique(v[~missing])):
        sel = (v == level).to_numpy()
        ax.scatter(
            x[sel], y[sel], s=11, color=colour_of(i), linewidth=0, alpha=0.9, label=str(level),
            rasterized=len(x) > RASTER_ABOVE,
        )
    ax.legend(fontsize=7, markerscale=1.5)
    return None


def _ordination_axes(ax: plt.Axes, explained: pd.Series, title: str, note: str | None) -> None:
    ax.set_xlabel(f"PCoA 1 ({100 * float(explained.iloc[0]):.1f}% of variance)")
    ax.set_ylabel(f"PCoA 2 ({100 * float(explained.iloc[1]):.1f}% of variance)")
    if note:
        ax.text(0.0, 1.0, note, transform=ax.transAxes, fontsize=7.5, va="bottom", color="#444444")
    _title(ax, title, loc="left", pad=14 if note else 6, numeric_y=True)


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
                    xerr=Z95 * se,
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
            _title(ax, index, loc="left")
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
def set_size(pval: pd.Series | np.ndarray) -> np.ndarray:
    """Dot area (points²) of a set test: 14 at p = 1, growing with −log10(p) up to 170 at p ≤ 1e-4, so that
    sets differ visibly even when every q is large."""
    return 14 + 39 * np.minimum(-np.log10(np.clip(np.asarray(pval, float), 1e-300, 1.0)), 4.0)


def set_dotplot(table: pd.DataFrame, threshold: float, phenotypes: Sequence[str] | None = None) -> Figure:
    """Set (trait / mechanism group) × phenotype dots: colour = mean effect per SD of the phenotype, size =
    −log10(p) (:func:`set_size`, with a size legend); ringed when q < threshold.

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
        size = set_size(table["pval"])
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
        bar.set_label("set effect (mean coefficient per SD of phenotype)")
        bar.outline.set_visible(False)
        for p in (0.5, 0.05, 0.001):
            ax.scatter([], [], s=set_size([p])[0], color="#888888", label=f"p = {p:g}")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.28), ncol=3, fontsize=7.5, frameon=False,
                  title="dot size", title_fontsize=7.5)
        ax.grid(color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig


# ---------------------------------------------------------------------- scatter plots of the data
def alpha_scatter(
    points: Mapping[str, pd.DataFrame], indices: Sequence[str], phenotype: str
) -> Figure:
    """Each alpha index against ``phenotype``, samples coloured by cohort, with each cohort's least-squares
    line. ``points``: cohort → samples × (indices…, phenotype)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(indices), figsize=(4.2 * len(indices), 3.8), squeeze=False)
        for ax, index in zip(axes[0], indices, strict=True):
            for i, (name, frame) in enumerate(points.items()):
                d = frame[[index, phenotype]].dropna()
                if len(d) < 3:
                    continue
                x, y = d[phenotype].to_numpy(float), d[index].to_numpy(float)
                ax.scatter(x, y, s=7, color=colour_of(i), alpha=0.35, linewidth=0, label=name,
                           rasterized=True)
                slope, intercept = np.polyfit(x, y, 1)
                grid = np.linspace(np.nanquantile(x, 0.01), np.nanquantile(x, 0.99), 20)
                ax.plot(grid, intercept + slope * grid, color=colour_of(i), linewidth=2)
            ax.set_xlabel(phenotype)
            ax.set_ylabel(f"{index} (per sample)")
            _title(ax, f"{index} vs {_short(phenotype, 26)}", loc="left", numeric_y=True)
        axes[0][-1].legend(fontsize=8, markerscale=2, title="cohort (line: least squares)", title_fontsize=7.5)
    return fig


def added_variable(frames: Mapping[str, pd.DataFrame], ylabel: str, ncols: int = 3) -> Figure:
    """Per-association plots adjusted for the covariates: one panel per (feature, phenotype), partial
    residuals of abundance against phenotype, coloured by cohort, each cohort's slope (``Σxy/Σx²``, the
    model's coefficient) drawn through the origin. ``frames``: cohort → ``feature phenotype sample x y``."""
    pairs = list(dict.fromkeys(
        (f, p) for frame in frames.values() for f, p in zip(frame["feature"], frame["phenotype"], strict=True)
    ))
    nrows = int(np.ceil(len(pairs) / ncols))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.4 * nrows), squeeze=False)
        for ax, (feature, phenotype) in zip(axes.flat, pairs, strict=False):
            for i, (name, frame) in enumerate(frames.items()):
                d = frame[(frame["feature"] == feature) & (frame["phenotype"] == phenotype)]
                if not len(d):
                    continue
                x, y = d["x"].to_numpy(float), d["y"].to_numpy(float)
                ax.scatter(x, y, s=7, color=colour_of(i), alpha=0.35, linewidth=0, label=name,
                           rasterized=True)
                slope = float(x @ y / (x @ x))
                grid = np.array([np.quantile(x, 0.01), np.quantile(x, 0.99)])
                ax.plot(grid, slope * grid, color=colour_of(i), linewidth=2, label=f"{name}: {slope:+.2f}")
            ax.axhline(0, color="#999999", linewidth=0.6, linestyle="--")
            title = f"{_short(feature, 28)}\n{_short(phenotype, 30)}"
            _title(ax, title, loc="left", fontstyle="italic", numeric_y=True)
            ax.set_xlabel(f"{_short(phenotype, 24)} (SD, adjusted)")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7, markerscale=2)
        for ax in list(axes.flat)[len(pairs):]:
            ax.set_visible(False)
    return fig


def power_curves(frame: pd.DataFrame) -> Figure:
    """Power against sample size per cohort, one line per effect size, the cohort's n marked.

    ``frame``: ``cohort effect_label effect n power study_n alpha`` (``study._report_inputs.power_curves``)."""
    cohorts = list(dict.fromkeys(frame["cohort"]))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(cohorts), figsize=(4.6 * len(cohorts) + 1.6, 3.6), squeeze=False,
                                 sharey=True)
        for ax, cohort in zip(axes[0], cohorts, strict=True):
            part = frame[frame["cohort"] == cohort]
            for i, (label, line) in enumerate(part.groupby("effect_label", sort=False)):
                ax.plot(line["n"], line["power"], color=colour_of(i + 2), linewidth=1.8,
                        label=f"{_short(label, 40)} ({line['effect'].iloc[0]:.2f})")
            study_n = int(part["study_n"].iloc[0])
            ax.axvline(study_n, color="#333333", linewidth=0.9, linestyle=":")
            ax.text(study_n, 1.02, f" n = {study_n:,}", fontsize=7.5, va="bottom")
            ax.axhline(0.8, color="#bbbbbb", linewidth=0.7, linestyle="--")
            ax.set_ylim(0, 1.0)
            ax.set_xlabel("samples")
            _title(ax, f"{cohort} (α = {format_number(float(part['alpha'].iloc[0]))})", loc="left", pad=14)
        axes[0][0].set_ylabel("power per feature")
        axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7.5,
                           title="|effect| (log2FC per SD)", title_fontsize=7.5)
    return fig
