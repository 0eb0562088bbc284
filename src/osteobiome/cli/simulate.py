"""``osteobiome simulate``: a simulated cohort (features, taxonomy, metadata, truth); ``simulate fit``: fit the
simulator to a real count table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError
from osteobiome.io.outputs import atomic_output_file, check_output_dir

simulate_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="Simulate a cohort (gut genus counts + host and bone data + planted truth); `simulate fit` fits parameters.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")


@simulate_app.callback()
def simulate(
    ctx: typer.Context,
    preset: str = typer.Option(
        "fhs", "--preset", help="Cohort preset: fhs (1,227 men and women) or mros (831 older men)."
    ),
    n: int | None = typer.Option(None, "--n", help="Number of samples (default: the preset's size)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    associations: Path | None = typer.Option(
        None,
        "--associations",
        help="TSV/CSV with feature, phenotype, log2fc[, cohort] (default: the preset's).",
    ),
    params: Path | None = typer.Option(
        None, "--params", help="Simulator parameters from `simulate fit` (default: shipped)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (features.tsv, taxonomy.tsv, metadata.tsv, truth.tsv)."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Simulate a cohort and write features.tsv, taxonomy.tsv, metadata.tsv and truth.tsv to --out."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise InputError("simulate: --out is required (the folder to write the simulated cohort to).")
    from osteobiome.simulate import simulate_cohort

    check_output_dir(out, overwrite, (associations, params))
    cohort = simulate_cohort(preset=preset, n=n, seed=seed, associations=associations, params=params)
    cohort.write(out, overwrite=overwrite, inputs=(associations, params))
    typer.echo(
        f"{cohort.name}: {cohort.features.shape[0]} samples × {cohort.features.shape[1]} genera, "
        f"{len(cohort.truth)} planted associations → {out}"
    )


@simulate_app.command("fit")
def fit(
    template: Path = typer.Argument(
        ..., help="Real count table, any format osteobiome reads (orientation detected)."
    ),
    out: Path = typer.Option(..., "--out", help="Parameter file to write (JSON)."),
    factors: int = typer.Option(
        10, "--factors", help="Number of copula factors kept from the shrunk correlation."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the calibration simulations."),
    relabel: Path | None = typer.Option(
        None, "--relabel", help="TSV mapping 'source' names to new names and ranks (Kingdom..Genus)."
    ),
) -> None:
    """Fit zero-inflated log-normal marginals, a shrunk copula correlation and the read depth to TEMPLATE."""
    from osteobiome.simulate.fit import fit_params, read_template
    from osteobiome.simulate.fit import relabel as relabel_params

    table = read_template(template)
    params = fit_params(table, n_factors=factors, seed=seed, source=Path(template).name)
    if relabel is not None:
        if not relabel.is_file():
            raise InputError(f"{relabel}: relabel table not found.")
        params = relabel_params(params, pd.read_csv(relabel, sep="\t", comment="#"), where=str(relabel))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output_file(out) as tmp:
        params.save(tmp)
    typer.echo(f"fitted {params.n_features} features on {table.shape[0]} samples → {out}")
