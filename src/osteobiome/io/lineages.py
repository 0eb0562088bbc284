"""Feature taxonomy files → features × ranks: QIIME 2 ``taxonomy.tsv`` (``Feature ID``, ``Taxon``,
``Confidence``) or its ``.qza``, DADA2 ``taxa`` tables (a column per rank), and any two-column
``feature<TAB>lineage`` file in the styles :mod:`osteobiome.io.taxonomy` parses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.base import checked_path, read_delimited, unique_ids
from osteobiome.io.dada2 import rank_columns, taxa_table_taxonomy
from osteobiome.io.qiime2 import read_qza_taxonomy_text
from osteobiome.io.taxonomy import parse_lineage, parse_lineages

_LINEAGE_COLUMNS = ("taxon", "taxonomy", "lineage", "consensus lineage", "consensuslineage")


def read_taxonomy(path: str | Path) -> pd.DataFrame:
    """A taxonomy file → DataFrame indexed by feature id with columns among ``RANKS`` (``None`` = unassigned)."""
    path = checked_path(path)
    text = read_qza_taxonomy_text(path) if path.suffix.lower() == ".qza" else None
    frame = read_delimited(path, text=text, comment_lines=False)
    frame = frame[~frame.index.str.lower().isin(["#q2:types"])]
    if frame.shape[1] == 1 and sum(v is not None for v in parse_lineage(frame.columns[0])) >= 2:
        header = pd.DataFrame({frame.columns[0]: [frame.columns[0]]}, index=[frame.index.name or ""])
        frame = pd.concat([header, frame])  # no header line: the first line is a feature
    unique_ids(frame.index, "feature", path)
    if rank_columns(frame.columns):
        return taxa_table_taxonomy(frame, path)
    lineage = next((c for c in frame.columns if c.strip().lower() in _LINEAGE_COLUMNS), None)
    if lineage is None and frame.shape[1] == 1:
        lineage = frame.columns[0]
    if lineage is None:
        raise InputError(
            f"{path}: no taxonomy column; expected 'Taxon' (QIIME 2), rank columns (Kingdom…Genus, DADA2) or a "
            f"single lineage column, found {list(frame.columns)}."
        )
    return parse_lineages(frame[lineage])

