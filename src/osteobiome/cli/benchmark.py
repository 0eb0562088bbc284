"""``osteobiome benchmark calibration``: false discovery rate and recall of the association presets by signal
implantation into a real table (yours, e.g. the Twins data)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import typer

from osteobiome.cli._lists import names, numbers
from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError
from osteobiome.evaluate import calibration
from osteobiome.io.outputs import atomic_output_dir, check_output_dir

bench = typer.Typer(help="Benchmarks any user can rerun.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench, name="benchmark")


@bench.command("calibration")
def calibration_command(
    template: Path = typer.Argument(..., help="Real feature table to implant into (counts; e.g. Twins.csv)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="New output folder (runs.tsv, summary.tsv, calibration.md/png)."
    ),
    metadata: Path | None = typer.Option(None, "--metadata", "-m", help="Metadata with real covariates."),
    covariates: str | None = typer.Option(
        None,
        "--covariates",
        help="Numeric metadata columns to use as covariates (default: simulate age, BMI, sex).",
    ),
    grid: str = typer.Option(
        "standard",
        "--grid",
        help="standard (4 effects × 3 n × 100 seeds, the calibration grid of benchmarks/RESULTS.md) or small (CI).",
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="Seeds per cell (overrides the grid)."),
    sizes: str | None = typer.Option(None, "--sizes", help="Sample sizes, e.g. 150,278,500."),
    effects: str | None = typer.Option(
        None, "--effects", help="log2 fold changes per SD, e.g. 0.1,0.25,0.5,1."
    ),
    methods: str | None = typer.Option(
        None, "--methods", help=f"Methods (default: the grid's) among: {', '.join(calibration.CANDIDATES)}."
    ),
    workers: int = typer.Option(1, "--workers", "-j", help="Processes."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Implant markers into the template, run every candidate preset, score FDR / recall / AUPRC per q."""
    grids = {"standard": calibration.STANDARD, "small": calibration.SMALL}
    if grid not in grids:
        raise InputError(f"--grid {grid!r}: use 'standard' or 'small'.")
    check_output_dir(out, overwrite, (template, metadata))
    chosen = grids[grid]
    overrides = {
        "seeds": seeds,
        "sizes": None if sizes is None else tuple(numbers(sizes, "--sizes", int)),
        "effects": None if effects is None else tuple(numbers(effects, "--effects", float)),
        "methods": None if methods is None else tuple(names(methods)),
    }
    chosen = replace(chosen, **{k: v for k, v in overrides.items() if v is not None})
    data = calibration.load_template(template, metadata, tuple(names(covariates)))
    start = time.perf_counter()
    runs = calibration.run(data, chosen, workers=workers)
    with atomic_output_dir(out, overwrite=overwrite, inputs=(template, metadata)) as tmp:
        calibration.write_outputs(runs, tmp)
    typer.echo(f"{len(runs)} rows in {time.perf_counter() - start:.1f} s -> {out}")
