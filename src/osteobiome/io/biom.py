"""BIOM tables: 1.0 (JSON) and 2.1 (HDF5), read with biom-format, observation taxonomy included.

BIOM stores observations (features) × samples; we return samples × features as CSR (HDF5 and sparse
JSON tables are sparse already, so nothing is densified).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import h5py
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData, unique_ids
from osteobiome.io.taxonomy import parse_lineages

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TAXONOMY_KEYS = ("taxonomy", "taxon", "lineage")


def biom_kind(head: bytes) -> str | None:
    """``biom-hdf5`` / ``biom-json`` from the first bytes of a file, or ``None``."""
    if head.startswith(HDF5_MAGIC):
        return "biom-hdf5"
    if head.lstrip()[:1] == b"{" and b"Biological Observation Matrix" in head:
        return "biom-json"
    return None


def read_biom(path: Path, content: bytes | None = None, source: str | None = None) -> FeatureData:
    """A BIOM file (or its bytes, e.g. from inside a .qza) → :class:`FeatureData` with CSR ``X``."""
    import biom  # imported here: biom-format is slow to import and only BIOM files need it

    source = source or str(path)
    if content is None:
        with path.open("rb") as handle:
            head = handle.read(4096)
    else:
        head = content[:4096]
    kind = biom_kind(head)
    try:
        if kind == "biom-hdf5":  # from the path when we have it: HDF5 reads only what it needs
            with h5py.File(path if content is None else io.BytesIO(content), "r") as handle:
                table = biom.Table.from_hdf5(handle)
        elif kind == "biom-json":
            text = path.read_text(encoding="utf-8") if content is None else content.decode("utf-8")
            table = biom.Table.from_json(json.loads(text))
        else:
            raise InputError(f"{source}: not a BIOM file (neither HDF5 nor BIOM JSON); check the format.")
    except InputError:
        raise
    except Exception as exc:  # biom-format raises many kinds on malformed files
        raise InputError(f"{source}: damaged or unsupported BIOM file ({type(exc).__name__}: {exc}).") from None
    samples = pd.Index([str(s) for s in table.ids(axis="sample")], dtype=object, name="sample")
    features = pd.Index([str(f) for f in table.ids(axis="observation")], dtype=object, name="feature")
    unique_ids(samples, "sample", source)
    unique_ids(features, "feature", source)
    X = sp.csr_matrix(table.matrix_data.T, dtype="float64")
    return FeatureData(
        X=X,
        samples=samples,
        features=features,
        taxonomy=_observation_taxonomy(table, features),
        format=kind,
        source=source,
    )


def _observation_taxonomy(table: object, features: pd.Index) -> pd.DataFrame | None:
    metadata = table.metadata(axis="observation")
    if not metadata or metadata[0] is None:
        return None
    key = next((k for k in metadata[0] if str(k).lower() in _TAXONOMY_KEYS), None)
    if key is None:
        return None
    lineages = [m.get(key) for m in metadata]
    lineages = ["; ".join(map(str, v)) if isinstance(v, list | tuple) else v for v in lineages]
    return parse_lineages(pd.Series(lineages, index=features))
