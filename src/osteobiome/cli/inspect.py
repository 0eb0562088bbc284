"""``osteobiome inspect``: what a feature table (and its metadata) holds, before any analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from osteobiome.cli._options import samples_as_option
from osteobiome.errors import preview
from osteobiome.io import FORMATS, FeatureData, load_cohort, read_features, read_metadata
from osteobiome.io.cohort import Cohort
from osteobiome.io.taxonomy import is_unassigned, rank_labels


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)


def inspect(
    features: Path = typer.Argument(..., help="Feature table (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN)."),
    metadata: Path | None = typer.Option(None, "--metadata", "-m", help="Sample metadata TSV/CSV."),
    samples_as: str | None = samples_as_option(),
    taxonomy: Path | None = typer.Option(None, "--taxonomy", "-t", help="Taxonomy file (taxonomy.tsv/.qza, DADA2 taxa)."),
    fmt: str | None = typer.Option(None, "--format", help=f"Skip detection: one of {', '.join(FORMATS)}."),
    id_column: str | None = typer.Option(None, "--id-column", help="Metadata sample id column (default: first)."),
) -> None:
    """Print samples, features, depth range, sparsity, format, taxonomy ranks, id matching and metadata columns."""
    meta = read_metadata(metadata, id_column=id_column) if metadata is not None else None
    data = read_features(features, samples_as=samples_as, sample_ids=None if meta is None else meta.index, fmt=fmt)
    cohort = load_cohort(data, meta, taxonomy, name=features.name)
    console = Console()
    console.print(summary_table(data, cohort))
    if meta is not None:
        console.print(matching_table(data, meta, cohort))
        console.print(metadata_table(meta))


def summary_table(data: FeatureData, cohort: Cohort) -> Table:
    """Format, dimensions, depth, sparsity, taxonomy ranks and format-specific extras."""
    depth = np.asarray(cohort.X.sum(axis=1)).ravel()
    nonzero = cohort.X.nnz if cohort.is_sparse else int(np.count_nonzero(cohort.X))
    sparsity = 1 - nonzero / (cohort.n_samples * cohort.n_features)
    table = Table(title=f"{data.source}", show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("format", data.format + (" (sparse)" if cohort.is_sparse else ""))
    table.add_row("samples", f"{cohort.n_samples:,}")
    table.add_row("features", f"{cohort.n_features:,}")
    table.add_row("values", cohort.value_type)
    table.add_row("depth (sample totals)", f"min {depth.min():,.6g} · median {np.median(depth):,.6g} · max {depth.max():,.6g}")
    table.add_row("sparsity", f"{sparsity:.1%} zeros")
    table.add_row("taxonomy", _ranks(cohort.taxonomy))
    for key, value in data.extra.items():
        table.add_row(key, _describe_extra(value))
    for drop in cohort.drops:
        if drop.reason == "all-zero sample":
            table.add_row("dropped", f"{len(drop.ids)} all-zero sample(s): {preview(drop.ids)}")
    return table


def _ranks(taxonomy: pd.DataFrame | None) -> str:
    if taxonomy is None:
        return "none"
    assigned = [
        f"{rank} {int(taxonomy[rank].map(lambda v: not is_unassigned(v)).sum())}/{len(taxonomy)}" for rank in taxonomy.columns
    ]
    text = "assigned per rank: " + ", ".join(assigned)
    if "Genus" in taxonomy.columns:
        text += f"; {rank_labels(taxonomy, 'Genus').nunique():,} genera after collapsing"
    return text


def _describe_extra(value: object) -> str:
    if isinstance(value, pd.DataFrame):
        return f"{value.shape[1]:,} column(s) kept aside (e.g. {preview(value.columns, 2)})" if value.shape[1] else "none"
    if isinstance(value, pd.Series):
        return f"per-sample totals, mean {value.mean():.4g}" if value.dtype.kind == "f" else f"{len(value):,} entries"
    return str(value)


def matching_table(data: FeatureData, meta: pd.DataFrame, cohort: Cohort) -> Table:
    """How the sample ids of the table and the metadata match."""
    in_meta = data.samples.isin(meta.index)
    only_meta = meta.index[~meta.index.isin(data.samples)]
    table = Table(title="sample ids", show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("matched", f"{int(in_meta.sum()):,}")
    table.add_row("only in the table", f"{int((~in_meta).sum()):,}" + (f": {preview(data.samples[~in_meta])}" if (~in_meta).any() else ""))
    table.add_row("only in the metadata", f"{len(only_meta):,}" + (f": {preview(only_meta)}" if len(only_meta) else ""))
    table.add_row("analysable", f"{cohort.n_samples:,}")
    return table


def metadata_table(meta: pd.DataFrame) -> Table:
    """One row per metadata column: type, missingness and a short summary."""
    table = Table(title="metadata columns", title_justify="left")
    for name in ("column", "type", "missing", "summary"):
        table.add_column(name)
    for name in meta.columns:
        column = meta[name]
        missing = int(column.isna().sum())
        if isinstance(column.dtype, pd.CategoricalDtype):
            counts = column.value_counts()
            kind = "categorical"
            summary = f"{len(counts)} levels: " + ", ".join(f"{k} ({v})" for k, v in counts.head(4).items())
            summary += ", …" if len(counts) > 4 else ""
        else:
            kind = "numeric"
            summary = f"min {column.min():.4g} · median {column.median():.4g} · max {column.max():.4g}" if missing < len(column) else "all missing"
        table.add_row(str(name), kind, f"{missing} ({missing / len(column):.0%})", summary)
    return table
