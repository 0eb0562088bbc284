"""The power-curve figure: power and empirical FDR against sample size, one line per effect."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_power(summary: pd.DataFrame, q: float, stem: str | Path, title: str = "") -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` of :func:`power_figure`."""
    fig = power_figure(summary, q, title)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    stem = Path(stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return paths


def power_figure(summary: pd.DataFrame, q: float, title: str = ""):  # noqa: ANN201 (matplotlib Figure)
    """Power (left) and FDR (right) vs n, one line per effect, ±1 SD over replicates; the nominal q dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, (ax_p, ax_f) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, (effect, rows) in enumerate(summary.groupby("effect", sort=True)):
        rows = rows.sort_values("n")
        color = f"C{i}"
        for ax, col in ((ax_p, "power"), (ax_f, "fdr")):
            ax.plot(rows["n"], rows[col], "o-", color=color, label=f"|log2FC| = {effect:g} per SD")
            sd = rows[f"{col}_sd"].fillna(0)
            ax.fill_between(
                rows["n"], (rows[col] - sd).clip(0, 1), (rows[col] + sd).clip(0, 1), color=color, alpha=0.15
            )
    ax_f.axhline(q, color="k", ls="--", lw=1, label=f"nominal q = {q:g}")
    for ax, label in ((ax_p, "power (recall of planted)"), (ax_f, "empirical FDR")):
        ax.set_xscale("log")
        ns = sorted(summary["n"].unique())
        ax.set_xticks(ns, labels=[f"{n:,}" for n in ns])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("samples per cohort")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    ax_p.legend(fontsize=8, loc="upper left")
    ax_f.legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
