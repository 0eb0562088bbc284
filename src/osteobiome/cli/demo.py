"""``osteobiome demo [--out DIR]``: simulate two cohorts and run the whole study on them."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.cli._output import overwrite_option
from osteobiome.study import start_workers


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(
        Path("demo_output"), "--out", "-o", help="Results folder; the simulated inputs go to DIR/inputs."
    ),
    seed: int = typer.Option(2026, "--seed", help="Seed of the simulated cohorts."),
    n: int | None = typer.Option(None, "--n", min=10, help="Samples per cohort (default: FHS 1,227 and MrOS 831)."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Processes for the per-cohort analyses and the report's figures."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress display and no summary; only the report path."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Simulate an FHS-like and an MrOS-like cohort with planted associations, run the study, print the report path."""
    start_workers(workers)  # first: the workers' server imports while this process does (on another core)
    from osteobiome.cli.run import print_summary
    from osteobiome.io.outputs import atomic_output_dir, check_output_dir
    from osteobiome.study import load_study, run_study
    from osteobiome.study.demo import write_demo_inputs

    out = check_output_dir(out, overwrite, keep=("inputs",))
    with atomic_output_dir(out / "inputs", overwrite=overwrite) as inputs:
        write_demo_inputs(inputs, seed=seed, n=n)
    if not quiet:
        typer.echo(f"demo: simulated cohorts and their study file written to {out / 'inputs' / 'study.yaml'}")
    finished = run_study(
        load_study(out / "inputs" / "study.yaml"), out, workers=workers, quiet=quiet, keep=("inputs",),
        overwrite=overwrite,
    )
    print_summary(finished, quiet)
