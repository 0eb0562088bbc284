"""Format detection and :func:`read_features`, the one entry point for every feature table format."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from osteobiome.errors import InputError, suggest
from osteobiome.io.base import FeatureData, checked_path, head_text, read_delimited
from osteobiome.io.biom import biom_kind, read_biom
from osteobiome.io.dada2 import read_seqtab
from osteobiome.io.metaphlan import is_metaphlan, read_metaphlan
from osteobiome.io.pathways import is_humann, is_picrust2, read_humann, read_picrust2
from osteobiome.io.qiime2 import read_qza_table
from osteobiome.io.store import is_store, read_store
from osteobiome.io.tables import SamplesAs, is_sequence, read_table

FORMATS: tuple[str, ...] = ("table", "biom-json", "biom-hdf5", "qiime2", "dada2", "metaphlan", "picrust2", "humann", "store")


def detect_format(path: str | Path) -> str:
    """One of :data:`FORMATS`, from the file's first bytes and first lines (never from its name alone).

    Binary: HDF5 → ``store`` (written by ``osteobiome convert``) or ``biom-hdf5``; zip → ``qiime2``. Text: BIOM JSON; MetaPhlAn (``#mpa`` line,
    ``clade_name`` header or ``k__…|…`` clades); HUMAnN (``# Pathway`` header, UNMAPPED rows, ``|g__`` strata);
    PICRUSt2 (``pathway`` header); DADA2 (ASV sequences as labels); anything else ``table``.
    """
    path = checked_path(path)
    with path.open("rb") as handle:
        head = handle.read(4096)
    kind = biom_kind(head)
    if kind == "biom-hdf5" and is_store(path):
        return "store"
    if kind:
        return kind
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip (PK\5\6: an empty one)
        return "qiime2"
    if b"\x00" in head and not head.startswith(b"\x1f\x8b"):  # gzip is decompressed below
        raise InputError(f"{path}: binary content where a table was expected; give a TSV/CSV, BIOM or .qza file.")
    text = head_text(path)
    if text.lstrip().startswith("#mpa"):
        return "metaphlan"
    frame = read_delimited(path, text=text)
    if (frame.index.name or "").lstrip("#").strip().lower() == "clade_name" or is_metaphlan(frame.index):
        return "metaphlan"
    if is_humann(frame):
        return "humann"
    if is_picrust2(frame):
        return "picrust2"
    labels = [*map(str, frame.columns[:50]), *map(str, frame.index[:50])]
    if sum(is_sequence(x) for x in labels) >= 0.4 * len(labels):
        return "dada2"
    return "table"


def read_features(
    path: str | Path,
    samples_as: SamplesAs | None = None,
    sample_ids: Iterable[object] | None = None,
    fmt: str | None = None,
    *,
    rank: str | None = None,
) -> FeatureData:
    """Read any supported feature table as samples × features.

    ``samples_as`` (``"rows"``/``"columns"``) and ``sample_ids`` (the metadata ids) settle the orientation of
    plain tables (see :mod:`osteobiome.io.tables`); ``fmt`` skips detection; ``rank`` picks the MetaPhlAn
    rank (default species).
    """
    path = checked_path(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {list(FORMATS)}{suggest(fmt, FORMATS)}.")
    fmt = fmt or detect_format(path)
    if fmt == "store":
        return read_store(path)
    if fmt in ("biom-json", "biom-hdf5"):
        return read_biom(path)
    if fmt == "qiime2":
        return read_qza_table(path)
    if fmt == "metaphlan":
        return read_metaphlan(path, rank)
    if fmt == "humann":
        return read_humann(path)
    if fmt == "picrust2":
        return read_picrust2(path)
    if fmt == "dada2":
        return read_seqtab(path, samples_as, sample_ids)
    return read_table(path, samples_as, sample_ids)
