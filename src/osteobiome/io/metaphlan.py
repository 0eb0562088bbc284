"""MetaPhlAn merged profiles (``merge_metaphlan_tables.py``): one row per clade at every rank,
``k__Bacteria|p__Firmicutes|…|s__Blautia_obeum``, relative abundance in percent (0–100) per sample.

We keep the clades of one rank (default: species, the leaves), named by their own readable name
(``Blautia_obeum``, ``Lachnospiraceae``) with the full clade string in ``extra["clades"]``; the taxonomy comes
from the clade strings. ``UNKNOWN``/``UNCLASSIFIED`` rows go to ``extra["unclassified"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData, numeric_frame, read_delimited, unique_ids
from osteobiome.io.cohort import RANKS
from osteobiome.io.taxonomy import PREFIX_RANK, check_rank, parse_lineages

_LEVEL = {**PREFIX_RANK, "t": len(RANKS)}  # t__ strain: below species
_ID_COLUMNS = ("ncbi_tax_id", "clade_taxid", "taxid", "additional_species")
_CLADE = re.compile(r"^([kdpcofgst])__")


def is_metaphlan(labels: pd.Index) -> bool:
    """Most labels are ``|``-joined clades starting at kingdom (``k__``/``d__``)."""
    labels = [str(x) for x in labels[:200]]
    return bool(labels) and sum(bool(re.match(r"^[kd]__", x)) for x in labels) >= 0.5 * len(labels)


def clade_level(clade: str) -> int | None:
    """0 (kingdom) … 6 (species), 7 (strain) from the last ``|`` part, ``None`` for UNKNOWN/UNCLASSIFIED."""
    match = _CLADE.match(clade.rsplit("|", 1)[-1].strip())
    return _LEVEL[match.group(1)] if match else None


def read_metaphlan(path: Path, rank: str | None = None) -> FeatureData:
    """A merged MetaPhlAn table at ``rank`` (``Species`` by default) → :class:`FeatureData` (percent)."""
    rank = check_rank(rank or "Species")
    frame = read_delimited(path, numbers=True)
    frame = frame.drop(columns=[c for c in frame.columns if c.strip().lower() in _ID_COLUMNS])
    frame.columns = pd.Index([_sample_name(c) for c in frame.columns], dtype=object)
    levels = pd.Series([clade_level(c) for c in frame.index], index=frame.index, dtype=object)
    values = numeric_frame(frame, path)
    unclassified = values[levels.isna().to_numpy()]
    chosen = values[(levels == RANKS.index(rank)).to_numpy()]
    if chosen.empty:
        present = sorted({RANKS[int(v)] for v in levels.dropna() if int(v) < len(RANKS)}, key=RANKS.index)
        raise InputError(f"{path}: no MetaPhlAn clade at rank {rank!r}; ranks present: {present}.")
    unique_ids(chosen.index, "clade", path)
    names = _readable_names(chosen.index)
    taxonomy = parse_lineages(pd.Series(list(chosen.index), index=names))
    table = chosen.set_axis(names, axis=0).T
    unique_ids(table.index, "sample", path)
    extra: dict[str, object] = {"clades": pd.Series(list(chosen.index), index=names, name="clade")}
    if not unclassified.empty:
        extra["unclassified"] = unclassified.T
    return FeatureData.from_table(table, "metaphlan", str(path), taxonomy, extra, value_type="relative")


def _sample_name(column: str) -> str:
    """Strip the suffix ``merge_metaphlan_tables`` leaves from file names (``S1_profile`` → ``S1``)."""
    return re.sub(r"(_metaphlan_bugs_list|_profile|_taxonomic_profile|\.metaphlan)$", "", column)


def _readable_names(clades: pd.Index) -> pd.Index:
    """Last clade part without its prefix; duplicates get their parent in parentheses."""
    leaf = [c.rsplit("|", 1)[-1].split("__", 1)[-1] for c in clades]
    parent = [c.rsplit("|", 2)[-2].split("__", 1)[-1] if c.count("|") else "" for c in clades]
    counts = pd.Series(leaf).value_counts()
    names = [f"{n} ({p})" if counts[n] > 1 and p else n for n, p in zip(leaf, parent, strict=True)]
    return pd.Index(names, dtype=object, name="feature")
