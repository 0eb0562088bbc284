"""DADA2 outputs written from R: ``seqtab.nochim`` (samples × ASV sequences, ``write.csv``/``write.table``)
and the ``taxa`` table of ``assignTaxonomy``/``addSpecies`` (ASV sequence → Kingdom…Genus[,Species], ``NA``
where unassigned). ASV ids stay the full sequences, so the two files join exactly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData
from osteobiome.io.cohort import RANKS
from osteobiome.io.tables import SamplesAs, read_table
from osteobiome.io.taxonomy import binomial, is_unassigned, trim_ranks


def read_seqtab(
    path: Path, samples_as: SamplesAs | None = None, sample_ids: Iterable[object] | None = None
) -> FeatureData:
    """``seqtab.nochim`` as CSV/TSV (sequences are recognised as the feature axis)."""
    return read_table(path, samples_as, sample_ids, fmt="dada2")


def rank_columns(columns: Iterable[str]) -> dict[str, str]:
    """Map of file column → rank for columns named like ranks (case-insensitive; ``Domain`` = Kingdom)."""
    lookup = {r.lower(): r for r in RANKS} | {"domain": "Kingdom"}
    return {c: lookup[c.strip().lower()] for c in columns if c.strip().lower() in lookup}


def taxa_table_taxonomy(frame: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """A table with one column per rank (DADA2 ``taxa``, or any rank-per-column file) → features × RANKS.

    ``NA``/empty cells are unassigned; a bare species epithet (``addSpecies``) is joined to its genus.
    """
    mapping = rank_columns(frame.columns)
    if not mapping:
        raise InputError(f"{path}: no rank columns (Kingdom, Phylum, …, Genus, Species) found; check the file.")
    ranks = pd.DataFrame(None, index=frame.index.astype(str), columns=list(RANKS), dtype=object)
    for column, rank in mapping.items():
        ranks[rank] = [None if is_unassigned(v) else str(v).strip() for v in frame[column]]
    ranks["Species"] = [binomial(g, s) for g, s in zip(ranks["Genus"], ranks["Species"], strict=True)]
    ranks.index.name = "feature"
    return trim_ranks(ranks)
