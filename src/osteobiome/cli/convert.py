"""``osteobiome convert``: a feature table → the chunked HDF5 feature store, for tables too large to hold dense."""

from __future__ import annotations

from pathlib import Path

import typer

from osteobiome.cli._options import samples_as_option
from osteobiome.io import FORMATS
from osteobiome.io.convert import convert as convert_table
from osteobiome.io.store import FeatureStore


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)


def convert(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV incl. HUMAnN gene families, BIOM, .qza, …)."),
    out: Path = typer.Option(..., "--out", "-o", help="The feature store to write (table.h5)."),
    samples_as: str | None = samples_as_option(),
    fmt: str | None = typer.Option(None, "--format", help=f"Skip detection: one of {', '.join(FORMATS)}."),
    block_size: int | None = typer.Option(
        None, "--block-size", min=1, help="Feature rows parsed per block (default: about 256 MB of values)."
    ),
) -> None:
    """Write FEATURES as a sparse, chunked HDF5 store readable block by block (osteobiome.io.store)."""
    path = convert_table(features, out, samples_as=samples_as, fmt=fmt, block_size=block_size)
    store = FeatureStore.open(path)
    n, m = store.shape
    density = store.nnz / max(1, n * m)
    typer.echo(f"{n:,} samples × {m:,} features, {store.nnz:,} non-zeros ({density:.2%}) → {path}")
