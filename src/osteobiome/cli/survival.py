"""``osteobiome survival``: outcome ~ feature + covariates per feature (Cox for time to event, or logistic)."""

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
from osteobiome.io import load_cohort
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv
from osteobiome.survival.analysis import MAX_SIGNIFICANCE, run_survival


def register(app: typer.Typer) -> None:
    app.command("survival")(survival)


def survival(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN)."),
    metadata: Path = metadata_argument(),
    event: str = typer.Option(..., "--event", help="Event column: 1 = event (fracture) or case, 0 = censored or not."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    time: str | None = typer.Option(None, "--time", help="Follow-up time column (age at event/censoring with --entry)."),
    entry: str | None = typer.Option(None, "--entry", help="Delayed entry: age (time) at baseline; at risk on (entry, time]."),
    covariates: str = typer.Option("", "--covariates", help="Adjustment covariates, comma-separated: age,sex,bmi."),
    reference: list[str] = reference_option(),
    outcome_type: str = typer.Option("survival", "--outcome-type", help="survival (Cox, hazard ratio per SD) or binary (logistic, odds ratio per SD)."),
    preset: str = typer.Option("default", "--preset", help="Preprocessing of associate's preset (default or maaslin2: prevalence > 10%, TSS, log2)."),
    taxonomy: Path | None = taxonomy_option(),
    rank: str | None = rank_option(),
    normalization: str | None = typer.Option(None, "--normalization", help="TSS, CLR, CSS, TMM or NONE."),
    transform: str | None = typer.Option(None, "--transform", help="LOG, LOGIT, AST or NONE."),
    min_prevalence: float | None = typer.Option(None, "--min-prevalence", help="Fraction of samples above --min-abundance."),
    min_abundance: float | None = typer.Option(None, "--min-abundance", help="Abundance a sample must exceed to count."),
    min_variance: float | None = typer.Option(None, "--min-variance", help="Keep features whose variance is above this."),
    correction: str | None = typer.Option(None, "--correction", help="Multiple testing: BH, BY, bonferroni, holm or hochberg."),
    ph_transform: str = typer.Option("km", "--ph-transform", help="Time scale of the proportional-hazards test: km (as cox.zph), identity or log."),
    community_pcs: int = typer.Option(3, "--community-pcs", min=0, help="Robust Aitchison principal coordinates tested as exposures."),
    max_significance: float = typer.Option(MAX_SIGNIFICANCE, "--max-significance", help="q-value cut for significant_results.tsv."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Model the outcome on each feature (standardized, after associate's preprocessing) and community index,
    adjusted for --covariates: Cox proportional hazards with Efron ties and a proportional-hazards test, or
    logistic regression with --outcome-type binary. Writes survival_results.tsv and significant_results.tsv."""
    inputs = (features, metadata, taxonomy)
    check_output_dir(out, overwrite, inputs)
    cohort = load_cohort(features, metadata, taxonomy=taxonomy, rank=rank)
    result = run_survival(
        cohort,
        None,
        event=event,
        time=time,
        covariates=names(covariates),
        reference=parse_reference(reference),
        entry=entry,
        preset=preset,
        outcome_type=outcome_type,
        community_pcs=community_pcs,
        ph_transform=ph_transform,
        normalization=normalization,
        transform=transform,
        min_prevalence=min_prevalence,
        min_abundance=min_abundance,
        min_variance=min_variance,
        correction=correction,
    )
    significant = result.significant(max_significance)
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as staging:
        write_tsv(result.results, staging / "survival_results.tsv")
        write_tsv(significant, staging / "significant_results.tsv")
    first = result.results.iloc[0]
    typer.echo(
        f"{len(result.results)} exposures, {int(first['N'])} samples, {int(first['N.events'])} events; "
        f"{len(significant)} with q <= {max_significance}; written to {out}"
    )
