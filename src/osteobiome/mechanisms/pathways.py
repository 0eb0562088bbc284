"""The study's "Mechanisms" tables: set-level tests of curated traits and the significant features annotated.

Uses the knowledge table (:mod:`osteobiome.mechanisms.knowledge`) and the competitive set tests (:mod:`osteobiome.mechanisms.sets`):
per cohort, CAMERA for each trait set × phenotype on the transformed abundances with that cohort's covariates;
across cohorts, the set results are combined by :func:`osteobiome.mechanisms.sets.meta_set_results`. For HUMAnN pathway
tables with stratified rows, :func:`pathway_contributions` says which genera carry the top pathways.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from osteobiome.mechanisms.contributions import CONTRIBUTION_COLUMNS, contribution_table, pathway_id

TITLES = {
    "sets": "Set-level tests",
    "sets_by_cohort": "Set-level tests per cohort",
    "annotated_hits": "Significant features with their traits and references",
    "contributions": "Genera contributing to the top pathways (HUMAnN stratified rows)",
}
MIN_SET_SIZE = 3
TOP_PATHWAYS = 5
PATHWAY_COLUMNS = ["cohort", "pathway", "pathway_id", "phenotype", "coef", "pval", "qval", "selected"]


def mechanism_tables(
    cohorts: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, Sequence[str]]],
    hits: pd.DataFrame,
    phenotypes: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """``cohorts``: name → (samples × transformed features, metadata, covariates); ``hits``: significant rows
    with ``feature``, ``phenotype``, ``coef``, ``q`` (and ``source``). Returns the tables keyed as :data:`TITLES`
    (``sets`` has ``set phenotype effect pval qval``); empty when no feature matches the knowledge table."""
    from osteobiome.mechanisms.knowledge import annotate, trait_sets
    from osteobiome.mechanisms.sets import set_tests_across_cohorts

    features = list(dict.fromkeys(f for table, _, _ in cohorts.values() for f in table.columns))
    sets = trait_sets(features, min_size=MIN_SET_SIZE)
    out: dict[str, pd.DataFrame] = {}
    numeric = _numeric_phenotypes(cohorts, phenotypes) if sets else []
    if sets and numeric:
        per_cohort, combined = set_tests_across_cohorts(
            {name: (table, meta) for name, (table, meta, _) in cohorts.items()},
            numeric,
            sets,
            {name: covariates for name, (_, _, covariates) in cohorts.items()},
            min_size=MIN_SET_SIZE,
        )
        if combined is not None:
            out["sets"], out["sets_by_cohort"] = combined, per_cohort
        elif len(per_cohort):
            out["sets"] = per_cohort.drop(columns="cohort")  # one cohort: its own table
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


def has_set_tests(features: Iterable[str], metadata: Iterable[pd.DataFrame], phenotypes: Sequence[str]) -> bool:
    """Whether :func:`mechanism_tables` has set-level tests to run on these tested ``features``: a curated trait
    set holds at least :data:`MIN_SET_SIZE` of them and a phenotype is numeric in every cohort's ``metadata``."""
    from osteobiome.mechanisms.knowledge import trait_sets

    metadata = list(metadata)
    numeric = any(_numeric_everywhere(phenotype, metadata) for phenotype in phenotypes)
    return numeric and bool(trait_sets(list(dict.fromkeys(features)), min_size=MIN_SET_SIZE))


def _numeric_everywhere(phenotype: str, metadata: Iterable[pd.DataFrame]) -> bool:
    return all(pd.api.types.is_numeric_dtype(meta[phenotype]) for meta in metadata)


def _numeric_phenotypes(
    cohorts: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, Sequence[str]]], phenotypes: Sequence[str]
) -> list[str]:
    """The phenotypes numeric in every cohort; the set tests skip the others, with a warning saying so."""
    numeric = []
    for phenotype in phenotypes:
        if _numeric_everywhere(phenotype, (meta for _, meta, _ in cohorts.values())):
            numeric.append(phenotype)
        else:
            warnings.warn(
                f"phenotype {phenotype!r} is categorical: the set tests of the Mechanisms section need a numeric "
                "phenotype and skip it (its associations and meta-analysis are reported as usual).",
                stacklevel=3,
            )
    return numeric


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


def top_pathways(
    associations: Mapping[str, pd.DataFrame],
    meta: pd.DataFrame | None,
    fdr_cohort: float,
    fdr_meta: float,
    n: int = TOP_PATHWAYS,
) -> tuple[pd.DataFrame, str]:
    """The (at most ``n``) most significant pathways and how they were chosen.

    Ranked by meta-analysis q (then p) when there is a meta-analysis, otherwise by the cohorts' q (then p); a
    pathway's best feature × phenotype row counts. Only pathways at q below the threshold are taken (smallest q
    first); when none is, the ``n`` with the smallest p are taken and the label says so. Returns (frame with ``pathway phenotype coef
    pval qval``, label).
    """
    if meta is not None and len(meta):
        rows = meta.rename(columns={"exposure": "phenotype", "qval.fdr": "qval"})
        threshold, where = fdr_meta, "meta-analysis"
    else:
        rows = pd.concat(list(associations.values()), ignore_index=True).rename(
            columns={"metadata": "phenotype"}
        )
        threshold, where = fdr_cohort, "cohort"
    usable = rows.dropna(subset=["pval"]).rename(columns={"feature": "pathway"})[
        ["pathway", "phenotype", "coef", "pval", "qval"]
    ]
    significant = usable[usable["qval"] < threshold].sort_values(["qval", "pval"], kind="stable")
    if len(significant):
        chosen = significant.drop_duplicates("pathway").head(n).reset_index(drop=True)
        return chosen, f"{where} q < {threshold:g}"
    chosen = (
        usable.sort_values("pval", kind="stable").drop_duplicates("pathway").head(n).reset_index(drop=True)
    )
    return chosen, f"top {len(chosen)} by {where} p (none at q < {threshold:g})"


def pathway_contributions(strata: Mapping[str, pd.DataFrame], top: pd.DataFrame, label: str) -> pd.DataFrame:
    """Per cohort, the genera contributing to the ``top`` pathways (:func:`top_pathways`), most significant first.

    ``strata``: cohort → HUMAnN stratified rows (raw row names × samples). Columns: ``cohort``, the pathway's
    top row (``phenotype coef pval qval``), ``selected`` (= ``label``), then the contribution columns of
    :func:`osteobiome.mechanisms.contributions.contribution_table`; empty when no top pathway has stratified rows.
    """
    rank = {pathway_id(p): i for i, p in enumerate(top["pathway"])}
    chosen = top.set_index(top["pathway"].map(pathway_id)).drop(columns="pathway")
    frames = []
    for name, rows in strata.items():
        # the pathway part of the row names only; contribution_table parses the strata
        present = {pathway_id(str(row).partition("|")[0]) for row in rows.index}
        wanted = [p for p in top["pathway"] if pathway_id(p) in present]
        if wanted:
            table = contribution_table(rows, pathways=wanted).join(chosen, on="pathway_id")
            order = table["pathway_id"].map(rank)
            table = table.iloc[order.argsort(kind="stable")]
            frames.append(table.assign(cohort=name, selected=label))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[[*PATHWAY_COLUMNS, *(c for c in CONTRIBUTION_COLUMNS if c not in PATHWAY_COLUMNS)]]
