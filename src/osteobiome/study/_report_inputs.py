"""What the report draws beyond the result tables, computed once from the cohorts' data during a run.

- :func:`top_pairs`: the (feature, phenotype) pairs whose per-association plots the report shows;
- :func:`added_variable_points`: MaAsLin2-style per-association plots adjusted for the covariates (partial
  residuals: abundance and phenotype each residualized on the covariates, so the slope of the points is the
  model's coefficient — the Frisch–Waugh–Lovell theorem);
- :func:`joint_ordination`: one PCoA of every cohort's samples together, to colour by cohort and by phenotype
  on one scale;
- :func:`power_curves`: analytic power of the per-feature test over sample sizes at the study's observed
  effect sizes;
- :func:`planted_vs_found`: for simulated studies, the planted associations next to what was found.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.stats.design import build_design
from osteobiome.stats.distributions import normal_cdf, normal_isf

TOP_PAIRS = 6
PUBLISHED_EFFECT = 0.35  # |log2 fold change| per SD: the largest effects of the FHS/MrOS study


def top_pairs(
    tables: Mapping[str, pd.DataFrame], meta: pd.DataFrame | None, limit: int = TOP_PAIRS
) -> list[tuple[str, str]]:
    """The ``limit`` (feature, phenotype) pairs with the smallest meta-analysis p-value (pooled over ≥ 2
    cohorts), or with one cohort its smallest p-values."""
    if meta is not None and len(meta):
        ranked = meta[meta["k"] > 1].dropna(subset=["pval"]).sort_values("pval")
        return list(zip(ranked["feature"], ranked["exposure"], strict=True))[:limit]
    rows = pd.concat(list(tables.values()), ignore_index=True).dropna(subset=["pval"]).sort_values("pval")
    pairs = list(dict.fromkeys(zip(rows["feature"], rows["metadata"], strict=True)))
    return pairs[:limit]


def added_variable_points(
    transformed: pd.DataFrame,
    metadata: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    covariates: Sequence[str],
    reference: Mapping[str, str] | None = None,
    present: Cohort | None = None,
) -> pd.DataFrame:
    """Partial residuals of each (feature, phenotype) pair: columns ``feature phenotype sample x y``.

    ``transformed``: samples × features as the model saw them; ``present``: the cohort whose non-zero values
    mark the samples a two-part model's abundance part uses (``None``: every sample, as a linear model on the
    whole table). ``x`` is the z-scored phenotype and ``y`` the transformed abundance, each minus its
    least-squares fit on the covariates over the samples used, so that ``sum(x·y) / sum(x²)`` is the OLS
    coefficient of the phenotype in ``y ~ phenotype + covariates``.
    """
    frames = []
    for feature, phenotype in pairs:
        if feature not in transformed.columns or phenotype not in metadata.columns:
            continue
        variables = [phenotype, *covariates]
        ref = {k: v for k, v in (reference or {}).items() if k in variables} or None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                design = build_design(metadata, variables, ref, standardize=True)
        except InputError:
            continue
        y = transformed[feature].reindex(design.samples).to_numpy(float)
        keep = np.isfinite(y)
        if present is not None:
            keep &= _nonzero(present, feature).reindex(design.samples, fill_value=False).to_numpy(bool)
        if keep.sum() <= design.matrix.shape[1] + 1:
            continue
        if phenotype not in design.columns:  # a categorical phenotype: one column per level, no single slope
            continue
        X = design.matrix[keep]
        j = design.columns.index(phenotype)
        others = np.delete(X, j, axis=1)
        x_res = _residuals(X[:, j], others)
        y_res = _residuals(y[keep], others)
        frames.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "phenotype": phenotype,
                    "sample": design.samples[keep],
                    "x": x_res,
                    "y": y_res,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["feature", "phenotype", "sample", "x", "y"])
    return pd.concat(frames, ignore_index=True)


def _nonzero(cohort: Cohort, feature: str) -> pd.Series:
    """Whether ``feature`` is non-zero in each sample of ``cohort`` (dense or sparse table)."""
    column = cohort.X[:, cohort.features.get_loc(feature)]
    values = column.toarray().ravel() if hasattr(column, "toarray") else np.asarray(column).ravel()
    return pd.Series(values > 0, index=cohort.samples)


def _residuals(v: np.ndarray, X: np.ndarray) -> np.ndarray:
    beta, *_ = np.linalg.lstsq(X, v, rcond=None)
    return v - X @ beta


def joint_ordination(
    cohorts: Sequence[Cohort], metric: str, phenotype: str
) -> tuple[pd.DataFrame, pd.Series] | None:
    """PCoA (axes 1–2) of every cohort's samples together on ``metric``: columns ``PC1 PC2 cohort
    <phenotype>``, indexed ``cohort:sample``; with the proportion of variance of each axis. ``None`` with one
    cohort. Features missing from a cohort count as absent (zero)."""
    from osteobiome import diversity

    if len(cohorts) < 2:
        return None
    tables = [c.table.rename(index=lambda s, n=c.name: f"{n}:{s}") for c in cohorts]
    pooled = pd.concat(tables, axis=0).fillna(0.0)
    pooled = pooled.loc[pooled.sum(axis=1) > 0]
    coords, explained = diversity.pcoa(diversity.beta_distances(pooled, metric), n=2)
    cohort_of = pd.Series(
        np.concatenate([[c.name] * len(t) for c, t in zip(cohorts, tables, strict=True)]),
        index=pd.concat(tables).index,
    )
    values = pd.concat(
        [
            (c.metadata[phenotype] if phenotype in c.metadata else pd.Series(np.nan, index=c.metadata.index))
            .rename(index=lambda s, n=c.name: f"{n}:{s}")
            for c in cohorts
        ]
    )
    coords = coords.assign(cohort=cohort_of.reindex(coords.index), **{phenotype: values.reindex(coords.index)})
    return coords, explained


def power_curves(
    tables: Mapping[str, pd.DataFrame],
    meta: pd.DataFrame | None,
    q: float,
    n_points: int = 40,
) -> pd.DataFrame:
    """Power of one feature's two-sided test over sample sizes, per cohort, at the study's observed effects.

    Per cohort the residual SD of a feature's transformed abundance is ``s = stderr · sqrt(N.used)`` (median
    over the phenotype rows), so the test of a coefficient ``b`` (per SD of the phenotype) at ``n`` samples
    has power ``Φ(|b|·√n/s − z) + Φ(−|b|·√n/s − z)``, ``z = Φ⁻¹(1 − α/2)``. ``α = q · max(R, 1) / m``: the
    p-value level at which Benjamini–Hochberg at ``q`` declared the cohort's ``R`` hits among ``m`` tests.
    Effects: the absolute pooled coefficients of the (up to) three top meta-analysis pairs and 0.35 (the
    largest effects reported for FHS/MrOS). Columns ``cohort effect_label effect n power study_n alpha``.
    """
    effects: dict[str, float] = {}
    if meta is not None and len(meta):
        ranked = meta[meta["k"] > 1].dropna(subset=["pval", "coef"]).sort_values("pval").head(3)
        for _, row in ranked.iterrows():
            effects[f"{row['feature']} · {row['exposure']}"] = abs(float(row["coef"]))
    effects[f"|log2FC| = {PUBLISHED_EFFECT} per SD"] = PUBLISHED_EFFECT
    rows = []
    for name, table in tables.items():
        t = table.dropna(subset=["stderr", "pval"])
        n_used = t["N.used"] if "N.used" in t else t["N"]
        if not len(t):
            continue
        s = float(np.nanmedian(t["stderr"].to_numpy(float) * np.sqrt(n_used.to_numpy(float))))
        m = len(t)
        hits = int((t["qval"] < q).sum())
        alpha = q * max(hits, 1) / m
        z = normal_isf(alpha / 2)
        study_n = int(np.nanmedian(n_used))
        grid = np.unique(np.linspace(20, max(3 * study_n, 200), n_points).round().astype(int))
        for label, b in effects.items():
            shift = b * np.sqrt(grid) / s
            power = normal_cdf(shift - z) + normal_cdf(-shift - z)
            rows += [
                {"cohort": name, "effect_label": label, "effect": b, "n": int(n), "power": float(p),
                 "study_n": study_n, "alpha": alpha}
                for n, p in zip(grid, power, strict=True)
            ]
    return pd.DataFrame(rows)


def planted_vs_found(
    truth: Mapping[str, pd.DataFrame],
    tables: Mapping[str, pd.DataFrame],
    meta: pd.DataFrame | None,
    q_cohort: float,
    q_meta: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Planted associations next to the results, and a per-analysis summary.

    Returns ``(pairs, summary)``: ``pairs`` has ``analysis feature phenotype planted_log2fc coef qval found``
    (one row per planted pair; the meta-analysis row for pairs planted in any cohort); ``summary`` has
    ``analysis planted recovered hits hits_not_planted expected_false_hits`` where ``expected_false_hits =
    q · hits`` (Benjamini–Hochberg keeps the expected share of false hits among the hits at or below q).
    """
    pair_rows, summary = [], []
    planted_any: dict[tuple[str, str], float] = {}
    for name, table in tables.items():
        t = truth.get(name)
        if t is None:
            continue
        planted = {(r.feature, r.phenotype): float(r.log2fc) for r in t.itertuples()}
        planted = {k: v for k, v in planted.items() if k[1] in set(table["metadata"])}
        planted_any.update(planted)
        indexed = table.set_index(["feature", "metadata"])
        pair_rows += _pair_rows(name, planted, indexed, "qval", q_cohort)
        summary.append(_summary(name, planted, indexed, "qval", q_cohort))
    if meta is not None and planted_any:
        indexed = meta.set_index(["feature", "exposure"])
        pair_rows += _pair_rows("Meta-analysis", planted_any, indexed, "qval.fdr", q_meta)
        summary.append(_summary("Meta-analysis", planted_any, indexed, "qval.fdr", q_meta))
    return pd.DataFrame(pair_rows), pd.DataFrame(summary)


def _pair_rows(
    analysis: str, planted: Mapping[tuple[str, str], float], indexed: pd.DataFrame, qcol: str, q: float
) -> list[dict[str, object]]:
    rows = []
    for (feature, phenotype), log2fc in planted.items():
        hit = indexed.loc[(feature, phenotype)] if (feature, phenotype) in indexed.index else None
        coef = float(hit["coef"]) if hit is not None else np.nan
        qval = float(hit[qcol]) if hit is not None else np.nan
        rows.append(
            {
                "analysis": analysis,
                "feature": feature,
                "phenotype": phenotype,
                "planted_log2fc": log2fc,
                "coef": coef,
                "qval": qval,
                "found": bool(qval < q),
            }
        )
    return rows


def _summary(
    analysis: str, planted: Mapping[tuple[str, str], float], indexed: pd.DataFrame, qcol: str, q: float
) -> dict[str, object]:
    hits = set(indexed.index[(indexed[qcol] < q).to_numpy()])
    return {
        "analysis": analysis,
        "planted": len(planted),
        "recovered": len(hits & set(planted)),
        "hits": len(hits),
        "hits_not_planted": len(hits - set(planted)),
        "expected_false_hits": q * len(hits),
    }
