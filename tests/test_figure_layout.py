"""The saved figures are laid out once and both files show that layout whole: nothing cut off, titles clear of
tick labels, axis labels and legends where the layout put them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from osteobiome.report import figures  # noqa: E402

LONG = "Lachnospiraceae NK4A136 group bacterium with a long name"


def associations(features, phenotypes, seed=3):
    rng = np.random.default_rng(seed)
    rows = [
        {"feature": f, "metadata": p, "coef": rng.normal(0, 0.5), "stderr": 0.1, "pval": 10 ** -rng.uniform(0, 6)}
        for p in phenotypes
        for f in features
    ]
    table = pd.DataFrame(rows)
    table["qval"] = (table["pval"] * 4).clip(upper=1)
    return table


def scatter_points(offset=0.0, n=200, seed=1):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"shannon": offset + rng.normal(0, 1e-3, n), "vbmd": rng.normal(size=n)})
    frame.loc[frame["vbmd"] > 0.5, "shannon"] += 2e-3  # points in the upper right: a legend goes elsewhere
    return frame


def cases():
    features = [f"genus_{i}" for i in range(12)] + [LONG]
    many = [f"phenotype_{i}" for i in range(9)]
    table = associations(features, many)
    return {
        "heatmap, one panel, long labels": lambda: figures.heatmap({"A": table}, many, {"A": 0.1}, top=13),
        "heatmap, one phenotype": lambda: figures.heatmap(
            {"A": associations(features, ["vbmd"]), "B": associations(features, ["vbmd"], seed=4)},
            ["vbmd"], {"A": 0.1, "B": 0.1},
        ),
        "volcano, two panels": lambda: figures.volcano({"A": table, "B": table}, {"A": 0.1, "B": 0.1}),
        "alpha effects": lambda: figures.alpha_effects(
            {"A": associations(["shannon", "observed"], many)}, many, 0.1
        ),
        "alpha scatter, values with a large offset": lambda: figures.alpha_scatter(
            {"A": scatter_points(1e6), "B": scatter_points(1e6, seed=2)}, ["shannon"], "vbmd"
        ),
    }


def save_and_measure(fig, tmp_path, name="figure"):
    """Save ``fig``; return the PNG's pixels, its dpi and a renderer of the saved layout at that dpi."""
    dpi = min(150, figures.MAX_PNG_PIXELS / max(fig.get_size_inches()))
    uri = figures.save(fig, tmp_path, name)
    assert uri.startswith("data:image/svg+xml;base64,") and (tmp_path / f"{name}.svg").exists()
    fig.dpi = dpi
    return mpimg.imread(tmp_path / f"{name}.png"), dpi, FigureCanvasAgg(fig).get_renderer()


def texts(fig):
    """The figure's texts that are drawn: visible, not empty, and (tick labels) of a tick inside the axis' view."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = high - low
            for tick in axis.get_major_ticks():
                if not low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span:
                    hidden.update((id(tick.label1), id(tick.label2)))
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text() and id(t) not in hidden]


@pytest.mark.parametrize("case", list(cases()))
def test_saved_png_holds_the_whole_laid_out_figure(case, tmp_path):
    fig = cases()[case]()
    pixels, dpi, renderer = save_and_measure(fig, tmp_path)
    assert fig.get_layout_engine() is None  # laid out once, then fixed
    with plt.rc_context(figures.STYLE):
        tight = fig.get_tightbbox(renderer).padded(figures.STYLE["savefig.pad_inches"])
    # the PNG is the tight box of what the saved layout draws (a layout made at another dpi would not fit it)
    assert abs(pixels.shape[1] - tight.width * dpi) <= 1.5 and abs(pixels.shape[0] - tight.height * dpi) <= 1.5
    frame = [tight.x0 * dpi - 1, tight.y0 * dpi - 1, tight.x1 * dpi + 1, tight.y1 * dpi + 1]
    for text in texts(fig):
        box = text.get_window_extent(renderer)
        assert frame[0] <= box.x0 and box.x1 <= frame[2] and frame[1] <= box.y0 and box.y1 <= frame[3], text


@pytest.mark.parametrize("case", list(cases()))
def test_titles_clear_of_tick_labels_axis_labels_and_offsets(case, tmp_path):
    fig = cases()[case]()
    _, _, renderer = save_and_measure(fig, tmp_path)
    for ax in fig.axes:
        others = [
            *ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label, ax.yaxis.label,
            ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text(),
        ]
        titles = {ax.get_title(loc) for loc in ("left", "center", "right")} - {""}
        for title in [t for t in ax.get_children() if isinstance(t, Text) and t.get_text() in titles]:
            box = title.get_window_extent(renderer)
            assert ax.xaxis.get_ticks_position() != "top"
            for other in others:
                if other.get_visible() and other.get_text():
                    assert not box.overlaps(other.get_window_extent(renderer)), (title, other)


def test_no_offset_text_on_numeric_y_axes_with_a_fixed_title(tmp_path):
    fig = cases()["alpha scatter, values with a large offset"]()
    save_and_measure(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.yaxis.get_offset_text().get_text() == ""
    labels = [float(t.get_text().replace("−", "-")) for t in ax.get_yticklabels() if t.get_text()]
    assert labels and min(labels) > 999_000  # the values themselves, not offsets from 1e6


def test_best_legends_sit_where_matplotlibs_search_puts_them_in_the_saved_layout(tmp_path):
    fig = cases()["alpha scatter, values with a large offset"]()
    _, _, renderer = save_and_measure(fig, tmp_path)
    legend = fig.axes[0].get_legend()
    placed = legend.get_window_extent(renderer)
    corner = fig.axes[0].bbox
    assert placed.x1 < corner.x1 - 20 or placed.y1 < corner.y1 - 20  # not upper right, where the data are
    legend.set_loc("best")
    assert np.allclose(legend.get_window_extent(renderer).bounds, placed.bounds)


def test_axis_labels_and_best_legends_stay_where_the_layout_put_them(tmp_path):
    fig = cases()["alpha scatter, values with a large offset"]()
    _, _, renderer = save_and_measure(fig, tmp_path)
    ax = fig.axes[0]
    legend = ax.get_legend()
    placed, label = legend.get_window_extent(renderer), ax.yaxis.label.get_window_extent(renderer)
    # data under the legend would move a "best" legend; wider tick labels would move an automatic axis label
    (x0, y0), (x1, y1) = ax.transData.inverted().transform([placed.p0, placed.p1])
    ax.scatter(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    ax.set_yticks(ax.get_yticks(), [f"{t:,.4f} units" for t in ax.get_yticks()])
    ax.set_ylim(y0 - 1e-4, y1 + 1e-4)
    assert np.allclose(legend.get_window_extent(renderer).bounds, placed.bounds)
    assert np.allclose(ax.yaxis.label.get_window_extent(renderer).bounds, label.bounds)


@pytest.mark.parametrize("gap", [1.4, 2.0, 2.6])
def test_volcano_labels_never_overlap_even_when_drawn_towards_each_other(gap, tmp_path):
    """Labels of positive coefficients extend left, negative ones right: two hits either side of zero at the same
    height, further apart than a label's height or a third of the axis, still write over each other unless the
    labels' own boxes are compared."""
    rng = np.random.default_rng(0)
    hits = [("Flavonifractor", gap / 2, 1e-5), ("Barnesiella", -gap / 2, 1.1e-5), ("Blautia", 0.1, 1e-7)]
    rows = [
        {"feature": f, "metadata": "tibia_Tb_vBMD", "coef": c, "stderr": 0.1, "pval": p} for f, c, p in hits
    ] + [
        {"feature": f"other{i}", "metadata": "tibia_Tb_vBMD", "coef": c, "stderr": 0.1, "pval": 0.5}
        for i, c in enumerate(np.r_[-2.0, 2.0, rng.uniform(-2, 2, 40)])
    ]
    table = pd.DataFrame(rows).assign(qval=lambda t: (t["pval"] * 10).clip(upper=1))
    fig = figures.volcano({"MrOS": table}, {"MrOS": 0.1}, label_top=5)
    figures.save(fig, tmp_path, "volcano")  # lays the figure out as the report does
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts]
    assert len(boxes) >= 2
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
