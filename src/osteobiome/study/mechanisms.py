"""The study's "Mechanisms" tables: set-level tests of curated traits and the significant features annotated.

Uses the knowledge table (:mod:`osteobiome.knowledge`) and the competitive set tests (:mod:`osteobiome.sets`):
per cohort, CAMERA for each trait set × phenotype on the transformed abundances with that cohort's covariates;
across cohorts, the set results are combined by :func:`osteobiome.sets.meta_set_results`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

TITLES = {
    "sets": "Set-level tests",
    "sets_by_cohort": "Set-level tests per cohort",
    "annotated_hits": "Significant features with their traits and references",
}
MIN_SET_SIZE = 3


def mechanism_tables(
    cohorts: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, Sequence[str]]],
    hits: pd.DataFrame,
    phenotypes: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """``cohorts``: name → (samples × transformed features, metadata, covariates); ``hits``: significant rows
    with ``feature``, ``phenotype``, ``coef``, ``q`` (and ``source``). Returns the tables keyed as :data:`TITLES`
    (``sets`` has ``set phenotype effect pval qval``); empty when no feature matches the knowledge table."""
    from osteobiome.knowledge import annotate, trait_sets
    from osteobiome.sets import camera_by_phenotype, meta_set_results

    features = list(dict.fromkeys(f for table, _, _ in cohorts.values() for f in table.columns))
    sets = trait_sets(features, min_size=MIN_SET_SIZE)
    out: dict[str, pd.DataFrame] = {}
    if sets:
        per_cohort = {
            name: camera_by_phenotype(
                table, meta, list(phenotypes), sets, list(covariates), min_size=MIN_SET_SIZE
            )
            for name, (table, meta, covariates) in cohorts.items()
        }
        per_cohort = {k: v for k, v in per_cohort.items() if len(v)}
        if len(per_cohort) > 1:
            out["sets"] = meta_set_results(per_cohort)
            out["sets_by_cohort"] = pd.concat(
                [t.assign(cohort=name) for name, t in per_cohort.items()], ignore_index=True
            )
        elif per_cohort:
            out["sets"] = next(iter(per_cohort.values()))
    if len(hits):
        notes = annotate(hits["feature"].unique())
        if len(notes):
            merged = hits.merge(notes, on="feature")
            keep = [
                "feature",
                "phenotype",
                "source",
                "coef",
                "q",
                "entity_type",
                "trait",
                "direction",
                "reference",
                "note",
            ]
            out["annotated_hits"] = merged[[c for c in keep if c in merged.columns]]
    return out


def significant_hits(
    associations: Mapping[str, pd.DataFrame], meta: pd.DataFrame | None, fdr_cohort: float, fdr_meta: float
) -> pd.DataFrame:
    """Significant feature × phenotype rows of the meta-analysis and of every cohort, in one frame."""
    frames = []
    if meta is not None and len(meta):
        rows = meta[meta["qval.fdr"] < fdr_meta]
        frames.append(
            pd.DataFrame(
                {
                    "feature": rows["feature"],
                    "phenotype": rows["exposure"],
                    "source": "meta-analysis",
                    "coef": rows["coef"],
                    "q": rows["qval.fdr"],
                }
            )
        )
    for name, table in associations.items():
        rows = table[table["qval"] < fdr_cohort]
        frames.append(
            pd.DataFrame(
                {
                    "feature": rows["feature"],
                    "phenotype": rows["metadata"],
                    "source": name,
                    "coef": rows["coef"],
                    "q": rows["qval"],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["feature", "phenotype", "source", "coef", "q"])
    return pd.concat(frames, ignore_index=True).sort_values("q", kind="stable").reset_index(drop=True)
