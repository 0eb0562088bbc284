"""``osteobiome validate STUDY.yaml``: check every file, id and column of a study and say what would run."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.study import load_study, validate_study


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(study: Path = typer.Argument(..., help="Study file (YAML).")) -> None:
    """Check the study file, every input file, sample ids and metadata columns; print what `run` would do."""
    plan = validate_study(load_study(study))
    typer.echo(plan.describe())
    typer.echo(f"{study}: ok")
