"""``osteobiome run STUDY.yaml --out DIR``: the whole study from its study file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from osteobiome.cli._options import block_size_option, scheduler_option
from osteobiome.cli._output import overwrite_option
from osteobiome.study import start_workers

if TYPE_CHECKING:
    from osteobiome.study.run import StudyRun


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    study: Path = typer.Argument(..., help="Study file (YAML): cohorts, phenotypes, covariates, options."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Results folder (replaced only when the run completes)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Processes for the per-cohort analyses and the report's figures."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress display and no summary; only the report path."
    ),
    block_size: int | None = block_size_option(),
    scheduler: str | None = scheduler_option(),
    overwrite: bool = overwrite_option(),
) -> None:
    """Run a study: per-cohort associations and diversity, meta-analysis, pathways, report.html.

    --block-size/--scheduler fit the associations in blocks of features (large tables, dask; any preset);
    the set-level tests of the Mechanisms section are skipped then (a warning says so).
    """
    start_workers(workers)  # first: the workers' server imports while this process does (on another core)
    from osteobiome.study import load_study, run_study

    finished = run_study(
        load_study(study), out, workers=workers, quiet=quiet, block_size=block_size, scheduler=scheduler,
        overwrite=overwrite,
    )
    print_summary(finished, quiet)


def print_summary(finished: StudyRun, quiet: bool) -> None:
    """The end-of-run summary (unless ``quiet``) and the report path (always, last line)."""
    if not quiet:
        for line in finished.summary():
            typer.echo(line, err=True)
    typer.echo(str(finished.report) if finished.report is not None else str(finished.out))
