"""QIIME 2 artifacts (``.qza``) without QIIME 2: a zip whose ``<uuid>/metadata.yaml`` names the semantic type
and whose ``<uuid>/data/`` folder holds the payload.

Supported: ``FeatureTable[Frequency]`` / ``FeatureTable[RelativeFrequency]`` (``feature-table.biom``) and
``FeatureData[Taxonomy]`` (``taxonomy.tsv``: ``Feature ID``, ``Taxon``, optional ``Confidence``).
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import yaml

from osteobiome.compute.memory import check_memory, human_bytes
from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData
from osteobiome.io.biom import read_biom

TABLE_TYPES = ("FeatureTable[Frequency]", "FeatureTable[RelativeFrequency]")
TAXONOMY_TYPE = "FeatureData[Taxonomy]"
METADATA_LIMIT = 1_000_000
"""Bytes a ``metadata.yaml`` may unpack to (QIIME 2 writes about 100)."""
PAYLOAD_COPIES = 3
"""Copies of a member's unpacked size that reading it holds at once (bytes, parsed BIOM, sparse table)."""


def artifact_type(path: Path) -> tuple[str, zipfile.ZipFile, str]:
    """(semantic type, open zip, root folder) of a .qza; an error when it is not a QIIME 2 artifact."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a QIIME 2 artifact (not a zip file); re-export it from QIIME 2.") from None
    names = archive.namelist()
    if not names:
        archive.close()
        raise InputError(f"{path}: an empty zip archive, not a QIIME 2 artifact; re-export it from QIIME 2.")
    roots = sorted({n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith("/metadata.yaml")})
    if not roots:
        archive.close()
        raise InputError(f"{path}: no metadata.yaml at the top of the archive; not a QIIME 2 artifact.")
    root = roots[0]
    try:
        meta = _metadata(archive, f"{root}/metadata.yaml", path)
    except InputError:
        archive.close()
        raise
    return str(meta.get("type", "")), archive, root


def _metadata(archive: zipfile.ZipFile, name: str, path: Path) -> dict:
    """The artifact's ``metadata.yaml`` as a mapping; anything else (too large, not YAML, not a mapping) is an
    :class:`InputError` naming the archive."""
    problem = None
    if archive.getinfo(name).file_size > METADATA_LIMIT:
        problem = f"unpacks to {human_bytes(archive.getinfo(name).file_size)}"
    else:
        try:
            meta = yaml.safe_load(archive.read(name))
        except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
            problem = f"is not valid YAML ({getattr(exc, 'problem', None) or type(exc).__name__})"
        else:
            if meta is None:
                meta = {}
            if not isinstance(meta, dict):
                problem = f"is a {type(meta).__name__}, not a mapping with a 'type'"
    if problem:
        raise InputError(f"{path}: its {name} {problem}; not a QIIME 2 artifact, re-export it from QIIME 2.")
    return meta


def _payload(archive: zipfile.ZipFile, root: str, suffix: str, path: Path, kind: str) -> tuple[str, bytes]:
    found = [n for n in archive.namelist() if n.startswith(f"{root}/data/") and n.endswith(suffix)]
    if not found:
        raise InputError(f"{path}: the {kind} artifact holds no {suffix} file under data/; re-export it.")
    size = archive.getinfo(found[0]).file_size
    check_memory(
        PAYLOAD_COPIES * size,
        f"{path}: reading {found[0]} (it unpacks to {human_bytes(size)})",
        "a machine with more memory, or export it (qiime tools export) and run `osteobiome convert` on it,",
    )
    return found[0], archive.read(found[0])


def read_qza_table(path: Path) -> FeatureData:
    """A ``FeatureTable[Frequency]`` artifact → :class:`FeatureData` (CSR)."""
    kind, archive, root = artifact_type(path)
    with archive:
        if kind not in TABLE_TYPES:
            hint = " (that is a taxonomy: pass it as --taxonomy)" if kind == TAXONOMY_TYPE else ""
            raise InputError(f"{path}: artifact type {kind or 'unknown'!r} is not a feature table{hint}; give a FeatureTable[Frequency].")
        name, content = _payload(archive, root, ".biom", path, kind)
    data = read_biom(path, content, source=f"{path}:{name}")
    return replace(data, format="qiime2", source=str(path))


def read_qza_taxonomy_text(path: Path) -> str:
    """The ``taxonomy.tsv`` text inside a ``FeatureData[Taxonomy]`` artifact."""
    kind, archive, root = artifact_type(path)
    with archive:
        if kind != TAXONOMY_TYPE:
            raise InputError(f"{path}: artifact type {kind or 'unknown'!r} is not {TAXONOMY_TYPE}; give the taxonomy artifact.")
        _, content = _payload(archive, root, ".tsv", path, kind)
    return content.decode("utf-8-sig")

