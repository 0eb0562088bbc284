"""Curated knowledge: gut genera -> bone-relevant traits, MetaCyc pathways -> mechanism groups.

The table ships with the package (``osteobiome/data/knowledge.tsv``; compiled 2026-11-21, written by the
osteobiome authors from the cited literature, one row per entity × trait, every row with a DOI or PMID).
Columns: :data:`COLUMNS`. Header lines starting with ``#`` carry the provenance (:func:`knowledge_provenance`).

Genus matching survives taxonomy spelling variants (:func:`normalize_genus_name`): SILVA vs GTDB suffixes
(``Blautia_A``, ``Ruminococcus_B``), SILVA clade numbers (``Prevotella_9``), brackets (``[Eubacterium] hallii
group``), rank prefixes and full lineages (``d__Bacteria;…;g__Blautia_A``), underscores vs spaces
(``Lachnospiraceae_NK4A136_group``). Pathways match by MetaCyc id, with or without description
(``PWY-5676: acetyl-CoA fermentation to butanoate II``) or HUMAnN stratification (``…|g__Genus.s__sp``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.cohort import RANKS
from osteobiome.io.outputs import atomic_output_file
from osteobiome.io.taxonomy import is_unassigned, parse_lineage
from osteobiome.io.tsv import write_tsv

COLUMNS = ["entity_type", "entity", "trait", "direction", "reference", "note"]
ENTITY_TYPES = ("genus", "pathway")
DIRECTIONS = ("positive", "negative", "conflicting", "unclear")
BONE_TRAIT = "reported bone association"
ANNOTATION_COLUMNS = ["feature", *COLUMNS]

_RANK_PREFIX = re.compile(r"^(?:[a-z]|D_\d+)__", re.IGNORECASE)
_GTDB_SUFFIX = re.compile(r"^([A-Z][a-z]+) ([A-Z]{1,3})$")
_SILVA_NUMBER = re.compile(r"^([A-Z][a-z]+) (\d+)$")
_SENSU_STRICTO = re.compile(r"^([A-Z][a-z]+) sensu stricto(?: \d+)?$")


def _data_text() -> str:
    return resources.files("osteobiome").joinpath("data/knowledge.tsv").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _load() -> tuple[pd.DataFrame, tuple[str, ...]]:
    lines = _data_text().splitlines()
    header = tuple(line.lstrip("#").strip() for line in lines if line.startswith("#"))
    body = [line for line in lines if line and not line.startswith("#")]
    rows = [line.split("\t") for line in body]
    if rows[0] != COLUMNS or any(len(r) != len(COLUMNS) for r in rows[1:]):
        raise RuntimeError("osteobiome/data/knowledge.tsv is malformed; reinstall the package.")
    return pd.DataFrame(rows[1:], columns=COLUMNS), header


def load_knowledge(entity_type: str | None = None) -> pd.DataFrame:
    """The knowledge table (a copy), optionally only ``'genus'`` or ``'pathway'`` rows."""
    table = _load()[0]
    if entity_type is not None:
        if entity_type not in ENTITY_TYPES:
            raise InputError(f"entity type '{entity_type}' is unknown; use one of {preview(ENTITY_TYPES)}.")
        table = table[table["entity_type"] == entity_type]
    return table.reset_index(drop=True).copy()


def knowledge_provenance() -> dict[str, str]:
    """``{'compiled': '2026-11-21', 'source': …, 'header': <all '#' lines joined>}`` from the file header."""
    header = _load()[1]
    compiled = next(
        (h.split(":", 1)[1].split(";")[0].strip() for h in header if h.startswith("compiled:")), ""
    )
    source = next((h.split(";", 1)[1].strip() for h in header if h.startswith("compiled:") and ";" in h), "")
    return {"compiled": compiled, "source": source, "header": "\n".join(header)}


def normalize_genus_name(name: object) -> str:
    """Canonical genus name for matching across SILVA, GTDB, RDP and Greengenes spellings.

    ``'g__Blautia_A'`` -> ``'Blautia'``; ``'[Eubacterium]_hallii_group'`` -> ``'Eubacterium hallii group'``;
    ``'Prevotella_9'`` -> ``'Prevotella'``; ``'Clostridium sensu stricto 1'`` -> ``'Clostridium'``;
    ``'Escherichia/Shigella'`` -> ``'Escherichia-Shigella'``; a lineage string gives its genus rank.
    Returns ``''`` for unassigned names (:func:`osteobiome.io.taxonomy.is_unassigned`: ``uncultured``, ``NA``,
    ``g__``). Lineage strings are parsed with :func:`osteobiome.io.taxonomy.parse_lineage`.
    """
    text = str(name).strip().strip("'\"")
    if ";" in text or "|" in text:
        text = parse_lineage(text)[RANKS.index("Genus")] or ""
    text = _RANK_PREFIX.sub("", text.strip())
    text = text.replace("[", "").replace("]", "").replace("/", "-")
    text = " ".join(text.replace("_", " ").split())
    for pattern in (_GTDB_SUFFIX, _SILVA_NUMBER, _SENSU_STRICTO):
        match = pattern.match(text)
        if match:
            text = match.group(1)
            break
    return "" if is_unassigned(text) else text


def _genus_key(name: object) -> str:
    return normalize_genus_name(name).casefold().replace("-", " ")


def pathway_key(name: object) -> str:
    """MetaCyc id of a pathway feature name, upper-case: ``'PWY-5676: acetyl…|g__X.s__y'`` -> ``'PWY-5676'``."""
    return str(name).split("|", 1)[0].split(":", 1)[0].strip().upper()


def annotate(features: Iterable[object], entity_type: str | None = None) -> pd.DataFrame:
    """Knowledge rows matching each feature name, long format (one row per feature × matched trait).

    ``features``: genus names (any taxonomy spelling, or lineage strings) and/or pathway names/ids.
    A feature is matched as a pathway when its MetaCyc id is in the table, otherwise as a genus.
    ``entity_type`` restricts matching to ``'genus'`` or ``'pathway'``. Columns :data:`ANNOTATION_COLUMNS`
    (``feature`` is the name as given); unmatched features are absent.
    """
    table = load_knowledge(entity_type)
    genus = table[table["entity_type"] == "genus"]
    pathway = table[table["entity_type"] == "pathway"]
    genus_index = genus.groupby(genus["entity"].map(_genus_key)).indices
    pathway_index = pathway.groupby(pathway["entity"].str.upper()).indices
    parts = []
    for feature in dict.fromkeys(str(f) for f in features):
        hit = pathway_index.get(pathway_key(feature))
        source = pathway
        if hit is None:
            hit, source = genus_index.get(_genus_key(feature)), genus
        if hit is not None:
            rows = source.iloc[hit].copy()
            rows.insert(0, "feature", feature)
            parts.append(rows)
    if not parts:
        return pd.DataFrame(columns=ANNOTATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[ANNOTATION_COLUMNS]


def set_name(trait: str, direction: str) -> str:
    """Name of the feature set of a knowledge row: the trait, split by sign for reported bone associations."""
    if trait == BONE_TRAIT and direction in ("positive", "negative"):
        return f"{trait} ({direction})"
    return trait


def trait_sets(
    features: Iterable[object], entity_type: str | None = None, min_size: int = 1
) -> dict[str, list[str]]:
    """Feature sets for set-level tests: ``{set name: [feature names as given]}`` (sets with < ``min_size``
    features dropped). Reported bone associations are split into ``(positive)`` and ``(negative)`` sets;
    ``conflicting`` ones join no set. Pass the result to :func:`osteobiome.mechanisms.sets.camera`."""
    hits = annotate(features, entity_type)
    hits = hits[~((hits["trait"] == BONE_TRAIT) & (hits["direction"] == "conflicting"))]
    names = [set_name(t, d) for t, d in zip(hits["trait"], hits["direction"], strict=True)]
    grouped: dict[str, list[str]] = {}
    for name, feature in zip(names, hits["feature"], strict=True):
        members = grouped.setdefault(name, [])
        if feature not in members:
            members.append(feature)
    return {k: v for k, v in sorted(grouped.items()) if len(v) >= min_size}


def export_knowledge(path: str | os.PathLike[str]) -> int:
    """Write the whole table (columns :data:`COLUMNS`, tab-separated, no comment lines) to ``path`` atomically
    (temporary sibling file, then rename). Returns the number of rows written."""
    table = load_knowledge()
    with atomic_output_file(path) as tmp:
        write_tsv(table, tmp)
    return len(table)
