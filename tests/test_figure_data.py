"""Figures show the numbers they are given: the plotted data are checked, not the file sizes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from osteobiome.evaluate import calibration as cal  # noqa: E402
from osteobiome.evaluate.power_plot import plot_power, power_figure  # noqa: E402
from osteobiome.report import figures  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def associations(seed=3, features=12, phenotypes=("vbmd", "ct")):
    rng = np.random.default_rng(seed)
    rows = [
        {"feature": f"g{j}", "metadata": ph, "coef": rng.normal(0, 0.5), "pval": 10 ** -rng.uniform(0, 6)}
        for ph in phenotypes
        for j in range(features)
    ]
    table = pd.DataFrame(rows)
    table["qval"] = (table["pval"] * 4).clip(upper=1)
    return table


def test_volcano_plots_coef_against_minus_log10_p_and_colours_the_hits():
    table = associations()
    fig = figures.volcano({"A": table}, {"A": 0.05})
    points = fig.axes[0].collections[0]
    np.testing.assert_allclose(points.get_offsets(), np.c_[table["coef"], -np.log10(table["pval"])])
    hit = (table["qval"] < 0.05).to_numpy()
    assert 0 < hit.sum() < len(table)
    colours = points.get_facecolors()[:, :3]
    grey = np.array(matplotlib.colors.to_rgb(figures.GREY))
    assert np.allclose(colours[~hit], grey)
    up = np.array(matplotlib.colors.to_rgb(figures.UP))
    down = np.array(matplotlib.colors.to_rgb(figures.DOWN))
    np.testing.assert_allclose(colours[hit], np.where(table["coef"].to_numpy()[hit, None] > 0, up, down))
    assert f"({hit.sum()} at q < 0.05)" in fig.axes[0].get_title(loc="left")


def test_heatmap_cells_are_signed_minus_log10_q_of_each_feature():
    table = associations(features=8)
    fig = figures.heatmap({"A": table}, ["vbmd", "ct"], {"A": 0.1}, top=8)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(rows) == sorted(table["feature"].unique())
    expected = (
        table.assign(value=figures.signed_log_q(table["coef"], table["qval"]))
        .pivot(index="feature", columns="metadata", values="value")
        .loc[rows, ["vbmd", "ct"]]
    )
    np.testing.assert_allclose(np.ma.getdata(shown), expected.to_numpy())


def test_pcoa_panel_plots_the_first_two_axes_with_their_share():
    rng = np.random.default_rng(1)
    coords = pd.DataFrame(rng.normal(size=(20, 3)), index=[f"s{i}" for i in range(20)], columns=["PC1", "PC2", "PC3"])
    explained = pd.Series([0.31, 0.12, 0.05], index=coords.columns)
    values = pd.Series(rng.normal(size=20), index=coords.index)
    values.iloc[:3] = np.nan
    fig = figures.pcoa_panels({"A": (coords, explained, values)}, "vbmd", "braycurtis")
    ax = fig.axes[0]
    missing, present = ax.collections[0], ax.collections[1]
    np.testing.assert_allclose(missing.get_offsets(), coords.iloc[:3, :2].to_numpy())
    np.testing.assert_allclose(present.get_offsets(), coords.iloc[3:, :2].to_numpy())
    np.testing.assert_allclose(present.get_array(), values.iloc[3:].to_numpy())
    assert ax.get_xlabel().startswith("PCoA 1 (31.0%") and ax.get_ylabel().startswith("PCoA 2 (12.0%")


POWER = pd.DataFrame(
    {
        "n": [300, 100, 100, 300],
        "effect": [0.2, 0.2, 0.5, 0.5],
        "cohorts": 1,
        "replicates": 2,
        "power": [0.1, 0.0, 0.3, 0.8],
        "power_sd": [0.1, 0, 0.1, 0.1],
        "fdr": [0.05, 0, 0.1, 0.08],
        "fdr_sd": 0.05,
    }
)


def test_power_figure_lines_are_power_and_fdr_by_n():
    fig = power_figure(POWER, 0.1)
    power_ax, fdr_ax = fig.axes
    for ax, column in ((power_ax, "power"), (fdr_ax, "fdr")):
        lines = [line for line in ax.get_lines() if line.get_label().startswith("|log2FC|")]
        assert [line.get_label() for line in lines] == ["|log2FC| = 0.2 per SD", "|log2FC| = 0.5 per SD"]
        for line, (_, rows) in zip(lines, POWER.groupby("effect"), strict=True):
            rows = rows.sort_values("n")
            np.testing.assert_array_equal(line.get_xdata(), rows["n"])
            np.testing.assert_array_equal(line.get_ydata(), rows[column])
    nominal = [line for line in fdr_ax.get_lines() if line.get_label() == "nominal q = 0.1"]
    assert len(nominal) == 1 and set(nominal[0].get_ydata()) == {0.1}


def test_plot_power_writes_both_formats(tmp_path):
    paths = plot_power(POWER, 0.1, tmp_path / "curve")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]


def test_calibration_figure_lines_are_fdr_and_recall_by_effect():
    rows = [
        {"method": m, "n": n, "effect": e, "seed": s, "q": 0.1, "fdr": f, "recall": r, "auprc": 0.5,
         "false_discoveries": 0, "bias": 0.0}
        for m, base in (("default", 0.05), ("maaslin2", 0.2))
        for n in (100, 200)
        for e in (0.5, 1.0)
        for s, (f, r) in enumerate(((base, e / 2), (base + 0.02, e / 2 + 0.1)))
    ]
    summary = cal.summarize(pd.DataFrame(rows))
    fig = cal.figure(summary, 0.1)
    assert len(fig.axes) == 4  # FDR and recall rows × two sizes
    for ax, n, metric in ((fig.axes[0], 100, "fdr"), (fig.axes[1], 200, "fdr"), (fig.axes[2], 100, "recall")):
        lines = {bars.get_label(): bars.lines[0] for bars in ax.containers}  # errorbar: (data line, caps, bars)
        for method in ("default", "maaslin2"):
            cell = summary[(summary["method"] == method) & (summary["n"] == n)].sort_values("effect")
            np.testing.assert_allclose(np.asarray(lines[method].get_xdata(), float), cell["effect"].to_numpy(float))
            np.testing.assert_allclose(np.asarray(lines[method].get_ydata(), float), cell[f"{metric}_mean"].to_numpy(float))
