"""``osteobiome meta``: pool the ``associate`` results of several cohorts into ``OUT/meta_results.tsv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from osteobiome.cli._options import scheduler_option
from osteobiome.cli._output import overwrite_option
from osteobiome.errors import InputError
from osteobiome.io import read_metadata
from osteobiome.io.outputs import atomic_output_dir, check_output_dir
from osteobiome.io.tsv import write_tsv
from osteobiome.meta import METHODS, TESTS, meta_analyze

RESULTS_FILE = "all_results.tsv"
OUTPUT_FILE = "meta_results.tsv"
REGRESSION_FILE = "meta_regression.tsv"


def register(app: typer.Typer) -> None:
    app.command("meta")(meta)


def read_results(folder: Path) -> pd.DataFrame:
    """``folder/all_results.tsv`` of one cohort (feature, metadata and value read as text)."""
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise InputError(
            f"{path}: not found; give the output folder of 'osteobiome associate' (or MaAsLin2) for each cohort."
        )
    try:
        return pd.read_csv(path, sep="\t", dtype={"feature": str, "metadata": str, "value": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a tab-separated table ({exc}); check the file.") from exc


def cohort_names(folders: list[Path], names: str | None) -> list[str]:
    """``--names`` split on commas, else the folder names; must be one per folder and distinct."""
    chosen = [n.strip() for n in names.split(",")] if names else [f.resolve().name for f in folders]
    if len(chosen) != len(folders):
        raise InputError(
            f"--names: {len(chosen)} name(s) for {len(folders)} results folder(s); give one name per folder."
        )
    if len(set(chosen)) != len(chosen) or "" in chosen:
        raise InputError(
            f"cohort names {', '.join(chosen)} are empty or repeated; give distinct names with --names A,B,…."
        )
    return chosen


def meta(
    results: list[Path] = typer.Argument(
        ..., help="One associate output folder (with all_results.tsv) per cohort."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for meta_results.tsv."),
    names: str | None = typer.Option(
        None, "--names", help="Cohort names, comma-separated, one per folder (default: folder names)."
    ),
    exposure: str | None = typer.Option(
        None, "--exposure", help="Only this exposure (metadata column or metadata+level)."
    ),
    method: str = typer.Option("REML", "--method", help=f"τ² estimator: {'|'.join(METHODS)}."),
    test: str = typer.Option(
        "z", "--test", help=f"Test of the pooled effect: {'|'.join(TESTS)} (knha = Knapp–Hartung)."
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="mmuphin: MMUPHin lm_meta's REML stopping rule."
    ),
    q_threshold: float = typer.Option(
        0.25, "--q-threshold", help="q threshold for per-cohort and pooled significance."
    ),
    scheduler: str | None = scheduler_option(),
    joint: str = typer.Option(
        "cauchy", "--joint", help="Two-part tables: rule of the pooled joint p-value, cauchy|beta (as associate's joint)."
    ),
    moderators: Path | None = typer.Option(
        None, "--moderators", help="Cohort-level traits (TSV, cohort names in the first column): meta-regression."
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Meta-analyse per-cohort association results (metafor/MMUPHin compatible) into OUT/meta_results.tsv."""
    check_output_dir(out, overwrite, [*results, moderators])
    chosen = cohort_names(results, names)
    tables = {name: read_results(folder) for name, folder in zip(chosen, results, strict=True)}
    table = meta_analyze(
        tables, exposure=exposure, method=method, test=test, preset=preset, q_threshold=q_threshold,
        scheduler=scheduler, joint=joint, moderators=None if moderators is None else read_metadata(moderators),
    )
    with atomic_output_dir(out, overwrite=overwrite, inputs=[*results, moderators]) as tmp:
        write_tsv(table, tmp / OUTPUT_FILE)
        if "meta_regression" in table.attrs:
            write_tsv(table.attrs["meta_regression"], tmp / REGRESSION_FILE)
    path = out.resolve() / OUTPUT_FILE
    typer.echo(f"{len(table)} feature × exposure rows pooled over {len(chosen)} cohorts → {path}")
