"""Plain TSV/CSV feature tables, features as rows or as columns.

Orientation rule, in order (the first that decides wins):

1. ``samples_as="rows"|"columns"`` given by the user.
2. Metadata sample ids given: the axis whose ids overlap them holds the samples. Overlap on both axes is
   ambiguous (an error asking for ``samples_as``); overlap on neither falls through to rule 3.
3. The labels say what they are: the header's first cell names the row axis (``Taxa``, ``OTU ID``,
   ``Feature ID``, ``ASV``, ``Genus``, ``clade_name``, ``pathway``… → features as rows; ``SampleID``,
   ``sample``, ``#SampleID``… → samples as rows), and labels shaped like taxonomic lineages
   (``g__``, ``;``-separated, ``|``-separated) or DNA sequences mark the feature axis. Evidence must agree.
4. Otherwise an error asks for ``--samples-as rows|columns``.

A trailing ``taxonomy``/``Taxon`` column of a features-as-rows table (QIIME 1 / ``biom convert`` output) is
read as the feature taxonomy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.base import FeatureData, numeric_frame, read_delimited, unique_ids
from osteobiome.io.taxonomy import parse_lineages

SamplesAs = Literal["rows", "columns"]

_FEATURE_CORNERS = frozenset(
    "taxa taxon taxonomy otu otuid otu_id #otuid asv asvid feature featureid feature_id #featureid genus "
    "species family phylum clade clade_name pathway #pathway gene id_feature sequence".split()
)
_SAMPLE_CORNERS = frozenset(
    "sample samples sampleid sample_id sample-id #sampleid #sample_id #sample-id sample_name samplename "
    "subject participant".split()
)
_TAXONOMY_COLUMNS = ("taxonomy", "taxon", "lineage", "consensus lineage", "consensuslineage")
_LINEAGE = re.compile(r"(^|[;|]\s*)([kdpcofgs]|D_\d)__", re.IGNORECASE)
_DNA = re.compile(r"^[ACGTUNRYKMSWBDHV]{30,}$", re.IGNORECASE)


def is_sequence(label: str) -> bool:
    """A DNA sequence (IUPAC letters, at least 30 long): an ASV id as DADA2 writes it."""
    return bool(_DNA.match(label))


def looks_like_features(labels: Iterable[str]) -> bool:
    """Most labels are lineages (``g__…``, ``;`` or ``|`` separated ranks) or DNA sequences."""
    labels = [str(x) for x in labels][:200]
    if not labels:
        return False
    hits = sum(bool(_LINEAGE.search(x) or is_sequence(x) or x.count(";") >= 2) for x in labels)
    return hits >= 0.8 * len(labels)


def _corner_kind(corner: str | None) -> str | None:
    key = re.sub(r"\s+", "", (corner or "").lower())
    if key in _FEATURE_CORNERS:
        return "features"
    if key in _SAMPLE_CORNERS:
        return "samples"
    return None


def orientation(
    rows: pd.Index,
    columns: pd.Index,
    corner: str | None,
    path: Path | str,
    samples_as: SamplesAs | None = None,
    sample_ids: Iterable[object] | None = None,
) -> SamplesAs:
    """Which axis holds the samples, by the rule in the module docstring."""
    if samples_as is not None:
        if samples_as not in ("rows", "columns"):
            raise InputError(f"samples_as must be 'rows' or 'columns', not {samples_as!r}.")
        return samples_as
    if sample_ids is not None:
        ids = {str(i) for i in sample_ids}
        on_rows, on_cols = rows.isin(ids).any(), columns.isin(ids).any()
        if on_rows and on_cols:
            raise InputError(
                f"{path}: metadata sample ids occur both as row and as column labels; say where the samples "
                "are with --samples-as rows|columns."
            )
        if on_rows or on_cols:
            return "rows" if on_rows else "columns"
    votes = set()
    kind = _corner_kind(corner)
    if kind:
        votes.add("columns" if kind == "features" else "rows")
    if looks_like_features(rows):
        votes.add("columns")
    if looks_like_features(columns):
        votes.add("rows")
    if len(votes) == 1:
        return votes.pop()
    reason = "its labels point both ways" if votes else f"rows {preview(rows, 2)}, columns {preview(columns, 2)}"
    matched = "" if sample_ids is None else "no metadata sample id matches either axis; "
    raise InputError(
        f"{path}: cannot tell whether samples are rows or columns ({matched}{reason}); pass --samples-as "
        "rows|columns (samples_as= in Python)."
    )


def read_table(
    path: Path,
    samples_as: SamplesAs | None = None,
    sample_ids: Iterable[object] | None = None,
    fmt: str = "table",
) -> FeatureData:
    """A TSV/CSV feature table (optionally gzipped) → :class:`FeatureData` (samples × features)."""
    frame = read_delimited(path, numbers=True)
    taxonomy_col = next((c for c in frame.columns if c.strip().lower() in _TAXONOMY_COLUMNS), None)
    lineages = None
    if taxonomy_col is not None:
        lineages = frame.pop(taxonomy_col)
    if frame.shape[1] == 0:
        raise InputError(f"{path}: no abundance columns besides {taxonomy_col!r}.")
    axis = orientation(frame.index, frame.columns, frame.index.name, path, samples_as, sample_ids)
    if lineages is not None and axis == "rows":
        raise InputError(
            f"{path}: a {taxonomy_col!r} column only makes sense with features as rows; remove it or check "
            "--samples-as."
        )
    values = numeric_frame(frame, path, rows_are="feature" if axis == "columns" else "sample")
    table = values.T if axis == "columns" else values
    unique_ids(table.index, "sample", path)
    unique_ids(table.columns, "feature", path)
    taxonomy = parse_lineages(lineages) if lineages is not None else None
    return FeatureData.from_table(table, fmt, str(path), taxonomy)
