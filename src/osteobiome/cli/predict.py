"""``osteobiome predict``: does the microbiome predict an outcome beyond the covariates? (nested cross-validation)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from osteobiome.cli._lists import names
from osteobiome.cli._options import metadata_argument
from osteobiome.cli._output import overwrite_option
from osteobiome.io.outputs import atomic_output_dir, check_output_dir


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


@contextmanager
def _progress(quiet: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """``progress(done, total)`` drawing a rich bar on stderr from its first call (so input errors, raised
    before any fold is fitted, print alone), or ``None`` when ``quiet``."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True))
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        bar.stop()


def predict(
    features: Path = typer.Argument(..., help="Feature table (counts or relative abundances; any format `inspect` reads)."),
    metadata: Path = metadata_argument(),
    outcome: str = typer.Option(..., "--outcome", help="Column to predict: binary (two levels) or numeric (continuous)."),
    covariates: str = typer.Option(..., "--covariates", help="Covariates of the reference model, comma-separated: age,sex,BMI."),
    out: Path = typer.Option(..., "--out", help="Output folder (written atomically)."),
    positive: str | None = typer.Option(None, "--positive", help="Level of a binary outcome coded 1 (default: 1 / True, else the last level)."),
    pathways: Path | None = typer.Option(None, "--pathways", help="Pathway table (PICRUSt2 / HUMAnN / plain), used beside the taxa."),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", help="Taxonomy table for --rank."),
    rank: str | None = typer.Option(None, "--rank", help="Collapse the taxa to this rank first (e.g. genus)."),
    learners: str = typer.Option("penalized,forest", "--learners", help="penalized (ridge, covariates unpenalized) and/or forest."),
    transform: str = typer.Option("clr", "--transform", help="clr or log (of relative abundances)."),
    min_prevalence: float = typer.Option(0.1, "--min-prevalence", help="Keep taxa present in this fraction of training samples."),
    folds: int = typer.Option(5, "--folds", help="Outer cross-validation folds."),
    repeats: int = typer.Option(2, "--repeats", help="Repeats of the outer folds."),
    inner_folds: int = typer.Option(3, "--inner-folds", help="Tuning folds inside each outer training set."),
    trees: int = typer.Option(200, "--trees", help="Trees of the random forest."),
    importance: bool = typer.Option(True, "--importance/--no-importance", help="Permutation importance per outer fold."),
    seed: int = typer.Option(0, "--seed", help="Seeds the folds, the forest and the permutations."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes over the outer folds."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Nested cross-validation of three models on the same folds — covariates only, microbiome only, microbiome +
    covariates — with ΔAUC (or ΔR²) of microbiome + covariates vs covariates; tables and figures in --out."""
    from osteobiome.io import check_columns, load_cohort
    from osteobiome.predict import cross_validate
    from osteobiome.report._prediction import prediction_figures

    inputs = (features, metadata, pathways, taxonomy)
    check_output_dir(out, overwrite, inputs)
    cohort = load_cohort(features, metadata, taxonomy=taxonomy, rank=rank)
    check_columns(cohort.metadata, [outcome, *names(covariates)], metadata)
    extra = load_cohort(pathways, metadata, name="pathways").table if pathways is not None else None
    with _progress(quiet, "outer folds") as progress:
        result = cross_validate(
            cohort, None, outcome, names(covariates), pathways=extra, positive=positive, name=Path(features).stem,
            workers=workers, progress=progress, learners=names(learners), transform=transform,
            min_prevalence=min_prevalence, folds=folds, repeats=repeats, inner_folds=inner_folds, trees=trees,
            importance=importance, seed=seed,
        )
    with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as staging:
        result.write(staging)
        prediction_figures(result, staging / "figures")
    for _, row in result.comparison.iterrows():
        typer.echo(
            f"{row['learner']}: Δ{row['metric']} (microbiome + covariates − covariates) = {row['estimate']:+.3f} "
            f"(95% CI {row['ci.lower']:+.3f} to {row['ci.upper']:+.3f}, p = {row['pval']:.2g})"
        )
    typer.echo(f"written to {out}")
