"""Consortium figures (issue 21): forest plots with 20 cohorts, heterogeneity panel, funnel + Egger, methods text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.report import figures
from osteobiome.report.consortium import funnel, funnel_rows, heterogeneity
from osteobiome.report.methods import _consortium_sentences

K = 20


def _tables(k: int = K, n: int = 6, seed: int = 0) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    rng = np.random.default_rng(seed)
    cohorts = {}
    for i in range(k):
        cohorts[f"cohort{i:02d}"] = pd.DataFrame(
            {
                "feature": [f"g{j}" for j in range(n)],
                "metadata": "bmd",
                "value": "bmd",
                "coef": rng.normal(0.2, 0.1, n),
                "stderr": rng.uniform(0.05, 0.2, n),
                "pval": rng.uniform(0, 1, n),
                "qval": rng.uniform(0, 1, n),
            }
        )
    from osteobiome.meta import meta_analyze

    return meta_analyze(cohorts), cohorts


def test_forest_shows_twenty_cohorts() -> None:
    meta, cohorts = _tables()
    fig = figures.forest(meta, cohorts, [("g0", "bmd"), ("g1", "bmd")])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [*cohorts, "Pooled"]
    assert fig.get_size_inches()[1] > 6  # grows with the cohorts


def test_heterogeneity_panel_with_and_without_moderators() -> None:
    meta, cohorts = _tables()
    assert len(heterogeneity(meta).axes) == 1
    traits = pd.DataFrame({"mean_age": np.linspace(55, 75, K)}, index=list(cohorts))
    from osteobiome.meta import meta_analyze

    with_mods = meta_analyze(cohorts, moderators=traits)
    fig = heterogeneity(with_mods)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["mean_age"]


def test_funnel_only_for_ten_or_more_cohorts_with_egger() -> None:
    meta, cohorts = _tables()
    rows = funnel_rows(meta, cohorts, top=2)
    assert len(rows) == 2
    yi, sei, coef, egger = next(iter(rows.values()))
    assert len(yi) == K and egger["k"] == K and 0 <= egger["pval"] <= 1
    assert "Egger z" in funnel(rows).axes[0].get_title(loc="left")
    small_meta, small = _tables(k=9)
    assert funnel_rows(small_meta, small) == {}


def test_methods_sentences() -> None:
    settings = {
        "association": {"model": "twopart", "joint": "cauchy"},
        "meta": {"method": "REML", "moderators": "traits.tsv"},
        "batch_correction": {"batch": "cohort"},
    }
    text = " ".join(_consortium_sentences(settings))
    assert "presence-weighted Cauchy" in text and "meta-regression" in text and "batch-corrected" in text
    assert _consortium_sentences({"association": {"model": "lm"}, "meta": {"method": "REML"}}) == []
