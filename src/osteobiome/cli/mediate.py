"""``osteobiome mediate``: does a genus act on the outcome through a mediator? Every feature × mediator pair."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.cli._lists import names
from osteobiome.cli._options import (
    metadata_argument,
    parse_reference,
    rank_option,
    reference_option,
    taxonomy_option,
)
from osteobiome.cli._output import overwrite_option
from osteobiome.io import load_cohort, read_metadata
from osteobiome.io.mediators import read_mediators
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv
from osteobiome.mediation.pipeline import run_mediation


def register(app: typer.Typer) -> None:
    app.command("mediate")(mediate)


def mediate(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, …): the exposures."),
    metadata: Path = metadata_argument(),
    mediators: Path = typer.Option(..., "--mediators", help="Samples × mediators TSV/CSV (metabolites, SCFAs, serum markers)."),
    outcome: str = typer.Option(..., "--outcome", help="Numeric metadata column of the outcome (e.g. tibia_Ct_vBMD)."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically): mediation.tsv, significant_results.tsv."),
    covariates: str = typer.Option("", "--covariates", help="Covariates, comma-separated: age,sex,BMI."),
    reference: list[str] = reference_option(),
    preset: str = typer.Option(
        "default", "--preset", help="Filter / normalization / transform of the features: default or maaslin2 (same here: TSS, log2)."
    ),
    test: str = typer.Option(
        "hdmt", "--test", help="Composite-null test: hdmt (mixture null, calibrated), dact or maxp (conservative)."
    ),
    ci: str = typer.Option("bootstrap", "--ci", help="Indirect-effect CI: bootstrap (screened pairs; delta for the rest) or delta."),
    n_boot: int = typer.Option(1000, "--n-boot", min=10, help="Bootstrap resamples."),
    ci_screen: float = typer.Option(0.05, "--ci-screen", help="Bootstrap CIs for pairs with composite p <= this."),
    log_mediators: bool = typer.Option(False, "--log-mediators", help="log2 the mediators first (zeros: half the smallest value)."),
    taxonomy: Path | None = taxonomy_option(),
    rank: str | None = rank_option(),
    min_prevalence: float | None = typer.Option(None, "--min-prevalence", help="Fraction of samples a feature must be present in."),
    max_significance: float = typer.Option(0.1, "--max-significance", help="q-value cut for significant_results.tsv."),
    seed: int = typer.Option(1, "--seed", help="Seed of the bootstrap."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Mediation from every feature through every mediator to --outcome: alpha (mediator ~ feature + covariates),
    beta (outcome ~ mediator + feature + covariates), indirect = alpha·beta with a CI, composite-null p and q."""
    inputs = (features, metadata, mediators, taxonomy)
    check_output_dir(out, overwrite, inputs)
    meta = read_metadata(metadata)
    cohort = load_cohort(features, meta, taxonomy=taxonomy, rank=rank)
    table = read_mediators(mediators, log=log_mediators, sample_ids=meta.index)
    result = run_mediation(
        cohort,
        None,
        table,
        outcome,
        names(covariates),
        parse_reference(reference),
        preset,
        test,
        ci,
        n_boot,
        ci_screen,
        seed=seed,
        min_prevalence=min_prevalence,
    )
    significant = result.significant(max_significance)
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as staging:
        write_tsv(result.results, staging / "mediation.tsv")
        write_tsv(significant, staging / "significant_results.tsv")
    n_features, n_mediators = result.exposures.shape[1], table.shape[1]
    typer.echo(
        f"{len(result.results)} pairs ({n_features} features × {n_mediators} mediators, test {test}); "
        f"{len(significant)} with q <= {max_significance}; written to {out}"
    )
