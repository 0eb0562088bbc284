"""The study's incident-outcome step (``survival:`` in the study file): per cohort
:func:`osteobiome.survival.run_survival`, then the meta-analysis of the log hazard (odds) ratios of the
features across cohorts with :func:`osteobiome.meta.meta_analyze`, and Kaplan–Meier curves by tertile of the
top genus for the report. Tables go to ``survival/`` of the results folder.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from osteobiome.io.tsv import write_tsv
from osteobiome.meta import meta_analyze
from osteobiome.study._parts import reference_for
from osteobiome.survival import kaplan_meier, run_survival
from osteobiome.survival.analysis import OPTIONS as SURVIVAL_OPTIONS
from osteobiome.survival.analysis import SurvivalAnalysis

TERTILES = ("lowest third", "middle third", "highest third")


@dataclass
class SurvivalResults:
    """``outcome`` (event column), ``outcome_type``, ``time`` (time column or None); ``cohorts``: cohort → result table; ``meta``: pooled
    features (``None`` with one cohort); ``top``: the top genus (smallest pooled, else cohort, p-value);
    ``curves``: Kaplan–Meier curves by tertile of ``top`` (``time n.risk n.event surv cohort group``, a first
    row at time 0 or the earliest entry with ``surv`` 1; empty for binary outcomes)."""

    outcome: str
    outcome_type: str
    time: str | None
    cohorts: dict[str, pd.DataFrame]
    meta: pd.DataFrame | None
    top: str | None
    curves: pd.DataFrame

    def ranked(self) -> pd.DataFrame:
        """Features ranked by the pooled p-value (or the first cohort's), with ``coef stderr pval qval``."""
        if self.meta is not None:
            table = self.meta.rename(columns={"qval.fdr": "qval"})
        else:
            table = next(iter(self.cohorts.values()))
            table = table[table["kind"] == "feature"]
        return table.dropna(subset=["pval"]).sort_values("pval", kind="stable").reset_index(drop=True)


def _tertile_curves(analysis: SurvivalAnalysis, feature: str, cohort: str) -> pd.DataFrame:
    exposure = analysis.exposures[feature]
    groups = pd.qcut(exposure.rank(method="first"), 3, labels=TERTILES)
    outcome = analysis.outcome
    entry = outcome["entry"] if outcome["entry"].notna().all() else None
    parts = []
    for label in TERTILES:
        rows = (groups == label).to_numpy()
        if not outcome["event"].to_numpy()[rows].any():
            continue
        entries = None if entry is None else entry.to_numpy()[rows]
        curve = kaplan_meier(outcome["time"].to_numpy()[rows], outcome["event"].to_numpy()[rows] == 1, entries)
        start = pd.DataFrame({"time": [0.0 if entries is None else entries.min()], "n.risk": [int(rows.sum())], "n.event": [0], "surv": [1.0]})
        parts.append(pd.concat([start, curve], ignore_index=True).assign(cohort=cohort, group=label))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["time", "n.risk", "n.event", "surv", "cohort", "group"])


def survival_step(plan, method: str = "REML", test: str = "z", fdr_meta: float = 0.25, fdr_cohort: float = 0.1) -> SurvivalResults | None:  # noqa: ANN001
    """Run the ``survival:`` section of ``plan.config`` on every cohort of the validated ``plan``."""
    cfg = plan.config
    spec = cfg.survival
    if spec is None:
        return None
    # the associations' preprocessing, as the Methods text says: the study file's filters, normalization and transform
    preprocessing = {k: v for k, v in cfg.association.options().items() if k in SURVIVAL_OPTIONS}
    analyses = {}
    for cp in plan.cohorts:
        covariates = spec.covariates if spec.covariates is not None else cp.covariates
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*samples only in the.*")
            analyses[cp.name] = run_survival(
                cp.cohort, None, event=spec.event, time=spec.time, covariates=covariates, reference=reference_for(cfg, covariates),
                entry=spec.entry, preset=cfg.association.preset, outcome_type=spec.outcome_type,
                community_pcs=spec.community_pcs, **preprocessing,
            )
    tables = {name: a.results for name, a in analyses.items()}
    meta = None
    if len(tables) > 1:
        features = {
            name: t[(t["kind"] == "feature") & t["pval"].notna()].assign(metadata=spec.event, value=spec.event)
            for name, t in tables.items()
        }
        meta = meta_analyze(features, exposure=spec.event, method=method, test=test, q_threshold=fdr_meta, cohort_q=fdr_cohort)
    results = SurvivalResults(spec.event, spec.outcome_type, spec.time, tables, meta, None, pd.DataFrame())
    ranked = results.ranked()
    results.top = str(ranked["feature"].iloc[0]) if len(ranked) else None
    if results.top is not None and spec.outcome_type == "survival":
        curves = [_tertile_curves(a, results.top, name) for name, a in analyses.items() if results.top in a.exposures]
        results.curves = pd.concat(curves, ignore_index=True)
    return results


def write_survival(results: SurvivalResults | None, out: Path) -> None:
    """``survival/cohorts/<name>/survival_results.tsv``, ``survival/meta_results.tsv`` and
    ``survival/km_top_genus.tsv``."""
    if results is None:
        return
    for name, table in results.cohorts.items():
        write_tsv(table, out / "survival" / "cohorts" / name / "survival_results.tsv")
    if results.meta is not None:
        write_tsv(results.meta, out / "survival" / "meta_results.tsv")
    if len(results.curves):
        write_tsv(results.curves, out / "survival" / "km_top_genus.tsv")


__all__ = ["SurvivalResults", "survival_step", "write_survival"]
