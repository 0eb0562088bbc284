"""``osteobiome batch-correct``: MMUPHin-style batch adjustment of a pooled table, with before/after diagnostics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from osteobiome.batch import adjust_batch, batch_diagnostics
from osteobiome.cli._lists import names
from osteobiome.cli._options import rank_option, taxonomy_option
from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError
from osteobiome.io import check_columns, load_cohort
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv


def register(app: typer.Typer) -> None:
    app.command("batch-correct")(batch_correct)


def parameters_table(adjustment) -> pd.DataFrame:  # noqa: ANN001
    """Per feature × batch: ``gamma_hat gamma_star delta_hat delta_star adjusted`` (long)."""
    parts = {
        name: getattr(adjustment, name).stack(future_stack=True)
        for name in ("gamma_hat", "gamma_star", "delta_hat", "delta_star", "adjusted")
    }
    table = pd.DataFrame(parts)
    table.index.names = ["feature", "batch"]
    return table.reset_index()


def batch_correct(
    features: Path = typer.Argument(
        ..., help="Pooled feature table (samples from every batch; any format associate reads)."
    ),
    metadata: Path = typer.Argument(
        ..., help="Sample metadata with the batch column and the covariates to protect."
    ),
    batch: str = typer.Option(
        ..., "--batch", help="Metadata column naming each sample's batch (cohort, run, centre)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    covariates: str = typer.Option(
        "", "--covariates", help="Covariates of interest to protect, comma-separated."
    ),
    phenotype: str | None = typer.Option(
        None, "--phenotype", help="Colour the second PCoA row by this column."
    ),
    taxonomy: Path | None = taxonomy_option(),
    rank: str | None = rank_option(),
    permutations: int = typer.Option(
        999, "--permutations", min=0, help="PERMANOVA permutations of the diagnostics."
    ),
    seed: int = typer.Option(1, "--seed", help="Seed of the PERMANOVA permutations."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Zero-inflated empirical-Bayes batch correction (MMUPHin adjust_batch) of log relative abundances, zeros kept
    zero and covariates protected: OUT/features.tsv (same totals as the input), batch_parameters.tsv,
    diagnostics.tsv (PERMANOVA R² of the batch before/after), pcoa.tsv and pcoa.svg|png."""
    from osteobiome.report.consortium import batch_pcoa
    from osteobiome.report.figures import save

    inputs = (features, metadata, taxonomy)
    check_output_dir(out, overwrite, inputs)
    cohort = load_cohort(features, metadata, taxonomy=taxonomy, rank=rank)
    protect = names(covariates)
    check_columns(cohort.metadata, [batch, *protect, *([phenotype] if phenotype else [])], metadata)
    if batch in protect:
        raise InputError(f"--covariates: {batch!r} is the batch column; protect other covariates only.")
    table = cohort.table
    adjustment = adjust_batch(table, cohort.metadata, batch, protect)
    diagnostics = batch_diagnostics(table, adjustment.table, cohort.metadata, batch, permutations, seed)
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        write_tsv(adjustment.table.rename_axis("sample"), tmp / "features.tsv", index=True)
        write_tsv(parameters_table(adjustment), tmp / "batch_parameters.tsv")
        write_tsv(diagnostics.r2.rename_axis("table"), tmp / "diagnostics.tsv", index=True)
        write_tsv(diagnostics.coords.rename_axis("sample"), tmp / "pcoa.tsv", index=True)
        figure = batch_pcoa(
            diagnostics.coords, diagnostics.proportion, cohort.metadata, batch, phenotype, diagnostics.r2
        )
        save(figure, tmp, "pcoa")
    before, after = (100 * float(diagnostics.r2.loc[t, "R2"]) for t in ("before", "after"))
    n_adjusted = int(adjustment.adjusted.any(axis=1).sum())
    typer.echo(
        f"{n_adjusted} of {table.shape[1]} features adjusted over {adjustment.adjusted.shape[1]} batches; "
        f"PERMANOVA R² of {batch}: {before:.2f}% before, {after:.2f}% after; written to {out}"
    )
