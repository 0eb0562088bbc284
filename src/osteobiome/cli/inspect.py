"""``osteobiome inspect``: what a feature table (and its metadata) holds, before any analysis."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)


def inspect(
    features: Path = typer.Argument(
        ..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN)."
    ),
    metadata: Path | None = typer.Option(None, "--metadata", "-m", help="Sample metadata TSV/CSV."),
) -> None:
    """Print samples, features, depth range, sparsity, format, taxonomy ranks, id matching and metadata columns."""
    raise NotImplementedError("filled in by the foundation work")
