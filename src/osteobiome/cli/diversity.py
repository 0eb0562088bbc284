"""``osteobiome diversity``: alpha indices, one beta distance matrix, PERMANOVA, PERMDISP and PCoA in one folder.

Files (written to a temporary sibling folder, then moved into place): ``alpha.tsv`` (samples × indices),
``alpha_associations.tsv`` (each index ~ phenotype + the other terms, ``associate``'s columns),
``permanova.tsv`` (vegan's columns ``term Df SumOfSqs R2 F pval``), ``permdisp.tsv`` (one block per
categorical term), ``pcoa.tsv`` (sample coordinates) and ``pcoa_explained.tsv`` (proportion per axis).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import typer

from osteobiome.cli._lists import names
from osteobiome.cli._options import samples_as_option
from osteobiome.cli._output import overwrite_option
from osteobiome.diversity import (
    alpha_associations,
    alpha_diversity,
    beta_diversity,
    pcoa,
    permanova,
    permdisp,
    rarefy,
)
from osteobiome.diversity.terms import require_terms
from osteobiome.errors import InputError
from osteobiome.io import check_columns, load_cohort
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv


def register(app: typer.Typer) -> None:
    app.command("diversity")(diversity)


def diversity(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, ...)."),
    metadata: Path = typer.Argument(..., help="Sample metadata TSV/CSV, first column = sample id."),
    terms: str = typer.Option(..., "--terms", help="PERMANOVA terms in formula order, comma-separated."),
    out: Path = typer.Option(..., "--out", help="Output folder (replaced atomically)."),
    metric: str = typer.Option("braycurtis", "--metric", help="braycurtis, jaccard, aitchison, weighted_unifrac, unweighted_unifrac."),
    by: str = typer.Option("terms", "--by", help="terms (sequential) or margin (each term after all others)."),
    strata: str | None = typer.Option(None, "--strata", help="Metadata column: permute only within its groups."),
    categorical: str = typer.Option("", "--categorical", help="Numeric-coded columns to treat as factors, comma-separated."),
    permutations: int = typer.Option(999, "--permutations", help="Number of permutations."),
    seed: int = typer.Option(1, "--seed", help="Seed for permutations and rarefaction."),
    alpha: str = typer.Option("observed,shannon,simpson,pielou", "--alpha", help="Alpha indices, comma-separated."),
    shannon_base: str = typer.Option("e", "--shannon-base", help="Log base of Shannon: e (vegan, skbio>=0.6.1) or 2 (QIIME 2)."),
    tree: Path | None = typer.Option(None, "--tree", help="Newick tree (faith_pd, UniFrac)."),
    rarefy_depth: int | None = typer.Option(None, "--rarefy", help="Rarefy every sample to this many reads first."),
    phenotypes: str | None = typer.Option(
        None, "--phenotypes", help="Terms whose alpha associations to report (default: the first term); other terms adjust."
    ),
    samples_as: str | None = samples_as_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Alpha and beta diversity vs metadata: alpha associations, PERMANOVA (adonis2), PERMDISP (betadisper), PCoA."""
    inputs = (features, metadata, tree)
    check_output_dir(out, overwrite, inputs)
    term_list = names(terms)
    factors = names(categorical)
    base = math.e if shannon_base.strip().lower() == "e" else _positive_float(shannon_base, "--shannon-base")
    cohort = load_cohort(features, metadata, samples_as=samples_as)
    table, meta = cohort, cohort.metadata
    require_terms(meta, term_list)
    check_columns(meta, ([strata] if strata else []) + factors, "--strata/--categorical")
    tested = names(phenotypes or term_list[0])
    require_terms(meta, tested, "--phenotypes")
    adjusters = [t for t in term_list if t not in tested]
    meta = meta.assign(**{c: meta[c].astype("string") for c in factors})
    if rarefy_depth is not None:
        table, _ = rarefy(cohort, rarefy_depth, seed)
        meta = meta.loc[table.index]
    alpha_table = alpha_diversity(table, names(alpha), tree=tree, base=base)
    dm = beta_diversity(table, metric, tree=tree)
    results = {
        "alpha.tsv": alpha_table.reset_index(),
        "alpha_associations.tsv": alpha_associations(alpha_table, meta, tested, adjusters),
        "permanova.tsv": permanova(dm, meta, term_list, by=by, permutations=permutations, strata=strata, seed=seed),
        "permdisp.tsv": _permdisp_all(dm, meta, term_list, permutations, seed),
    }
    coords, explained = pcoa(dm)
    results["pcoa.tsv"] = coords.reset_index()
    results["pcoa_explained.tsv"] = explained.rename_axis("axis").reset_index()
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        for name, frame in results.items():
            write_tsv(frame, tmp / name)
    typer.echo(f"diversity: {len(meta)} samples, {metric}, {by}; results in {out}")


def _permdisp_all(dm, meta: pd.DataFrame, terms: list[str], permutations: int, seed: int) -> pd.DataFrame:  # noqa: ANN001
    """PERMDISP for every categorical term (numeric terms have no groups)."""
    tables = [
        permdisp(dm, meta, t, permutations=permutations, seed=seed).table
        for t in terms
        if t in meta.columns and not pd.api.types.is_numeric_dtype(meta[t])
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["term", "Df", "SumOfSqs", "MeanSqs", "F", "pval"])


def _positive_float(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0 or value == 1:
        raise InputError(f"{option} '{text}': give 'e' or a positive number other than 1 (e.g. 2).")
    return value
