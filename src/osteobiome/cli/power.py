"""``osteobiome power``: power and empirical FDR of the association (and meta-) analysis by simulation."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.cli._lists import names, numbers
from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv


def register(app: typer.Typer) -> None:
    app.command("power")(power_command)


def power_command(
    preset: str | None = typer.Option(
        None, "--preset", help="Cohort preset to simulate (fhs | mros; default mros)."
    ),
    template: Path | None = typer.Option(
        None, "--template", help="Real count table to implant signals into."
    ),
    metadata: Path | None = typer.Option(None, "--metadata", help="Metadata of --template (covariates)."),
    n: str = typer.Option("300,1000,3000", "--n", help="Samples per cohort, comma-separated."),
    effect: str = typer.Option(
        "0.1,0.2,0.35", "--effect", help="|log2 fold change| per SD, comma-separated."
    ),
    cohorts: int = typer.Option(
        1, "--cohorts", help="Cohorts per replicate; > 1 adds a random-effects meta-analysis."
    ),
    replicates: int = typer.Option(50, "--replicates", help="Replicates per setting."),
    q: float = typer.Option(0.1, "--q", help="FDR level for a discovery."),
    markers: int = typer.Option(10, "--markers", help="Planted marker genera per replicate."),
    phenotype: str | None = typer.Option(
        None, "--phenotype", help="Phenotype (preset default tibia_Ct_vBMD)."
    ),
    covariates: str | None = typer.Option(
        None,
        "--covariates",
        help="Adjustment covariates, comma-separated (default: age, sex, BMI of the preset; with --template "
        "the first 3 numeric metadata columns). With --template the phenotype is also drawn from them: "
        "0.5 × each one's z-score (a two-level one: 0/1) plus N(0, 1) noise.",
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes (replicates run in parallel)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    out: Path = typer.Option(
        ..., "--out", help="Output folder: power.tsv, replicates.tsv, power_curve.png/.svg."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Power (recall of planted associations) and empirical FDR over sample sizes × effects, with a figure."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from osteobiome.evaluate.power import power
    from osteobiome.evaluate.power_plot import plot_power

    if template is not None and preset is not None:
        raise InputError("give either --preset or --template (with --metadata), not both.")
    check_output_dir(out, overwrite, (template, metadata))
    table = meta = None
    if template is not None:
        if metadata is None:
            raise InputError("--template needs --metadata (the covariates the phenotype is drawn from).")
        table, meta = _read_template(template, metadata)
    ns, effects = numbers(n, "--n", int), numbers(effect, "--effect", float)
    covs = names(covariates) or None
    total = len(ns) * len(effects) * replicates
    with Progress(
        TextColumn("power"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("replicates", total=total)
        result = power(
            ns=ns,
            effects=effects,
            preset=preset,
            table=table,
            metadata=meta,
            cohorts=cohorts,
            replicates=replicates,
            q=q,
            phenotype=phenotype,
            covariates=covs,
            n_markers=markers,
            workers=workers,
            seed=seed,
            progress=lambda k: bar.advance(task, k),
        )
    source = f"template {template.name}" if template is not None else f"preset {preset or 'mros'}"
    with atomic_output_dir(out, overwrite=overwrite, inputs=(template, metadata)) as tmp:
        write_tsv(result.summary, tmp / "power.tsv")
        write_tsv(result.replicates, tmp / "replicates.tsv")
        plot_power(
            result.summary,
            q,
            tmp / "power_curve",
            title=f"{source}, {cohorts} cohort(s), {markers} planted genera, {replicates} replicates, q = {q:g}",
        )
    typer.echo(result.summary.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    typer.echo(f"→ {out}")


def _read_template(template: Path, metadata: Path):
    from osteobiome.io import read_features, read_metadata

    meta = read_metadata(metadata)
    return read_features(template, sample_ids=meta.index).table, meta
