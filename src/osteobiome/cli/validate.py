"""``osteobiome validate STUDY.yaml``: check every file, id and column of a study and say what would run."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from osteobiome.study import load_study, validate_study


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(study: Path = typer.Argument(..., help="Study file (YAML).")) -> None:
    """Check the study file, every input file, sample ids and metadata columns; print what `run` would do."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = validate_study(load_study(study))
    notes = [note for cohort in plan.cohorts for note in cohort.notes]
    for warning in caught:  # notes are printed once, in the description below
        if not any(note in str(warning.message) for note in notes):
            warnings.warn(str(warning.message), stacklevel=1)
    typer.echo(plan.describe())
    typer.echo(f"{study}: ok")
