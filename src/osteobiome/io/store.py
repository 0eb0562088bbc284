"""The osteobiome feature store: a sparse samples × features table in one chunked HDF5 file, readable one
block of features at a time (written by ``osteobiome convert FEATURES --out table.h5``).

Layout (version 1), compressed CSC, i.e. features are the compressed axis so that a block of consecutive
features is one contiguous stretch of ``indices``/``data``::

    /                 attrs: format = "osteobiome-store", version = 1, n_samples, n_features, nnz, source
    /samples          (n_samples,)  UTF-8 strings
    /features         (n_features,) UTF-8 strings
    /indptr           (n_features + 1,) int64   non-zeros of feature j are at indptr[j]:indptr[j+1]
    /indices          (nnz,) int32              sample (row) index of each non-zero, increasing per feature
    /data             (nnz,) float64            the non-zero values

``indices`` and ``data`` are chunked (:data:`CHUNK` values, gzip level 1 with shuffle), so reading features
``j0:j1`` touches only the chunks holding ``indptr[j0]:indptr[j1]``: memory is bounded by the block, never by
the table. Any HDF5 reader (h5py, R's rhdf5) can read it; ``scipy.sparse.csc_matrix((data, indices, indptr))``
rebuilds the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData
from osteobiome.io.outputs import atomic_output_file

FORMAT = "osteobiome-store"
VERSION = 1
#: Values per HDF5 chunk of ``indices``/``data`` (1 MiB of float64).
CHUNK = 1 << 17


def is_store(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 file written by :func:`write_store`."""
    try:
        with h5py.File(path, "r") as handle:
            return handle.attrs.get("format") == FORMAT
    except OSError:
        return False


def _string_dataset(handle: h5py.File, name: str, values: Iterable[str]) -> None:
    handle.create_dataset(name, data=np.array([str(v) for v in values], dtype=object), dtype=h5py.string_dtype())


def write_store(
    path: str | Path,
    samples: Iterable[str],
    features_blocks: Iterable[tuple[Iterable[str], sp.spmatrix | np.ndarray]],
    source: str = "",
) -> Path:
    """Write blocks of features (``(feature ids, samples × block matrix)`` pairs, in order) to ``path``.

    Streams: only one block is in memory at a time. The file is written beside ``path`` and renamed into place.
    """
    path = Path(path)
    with atomic_output_file(path) as tmp:
        _write(tmp, [str(s) for s in samples], features_blocks, source)
    return path


def _write(tmp: Path, samples: list[str], features_blocks: Iterable[tuple[Iterable[str], object]], source: str) -> None:
    features: list[str] = []
    nnz = 0
    with h5py.File(tmp, "w") as handle:
        options = {"chunks": (CHUNK,), "maxshape": (None,), "compression": "gzip", "compression_opts": 1, "shuffle": True}
        indices = handle.create_dataset("indices", shape=(0,), dtype=np.int32, **options)
        data = handle.create_dataset("data", shape=(0,), dtype=np.float64, **options)
        indptr = [np.zeros(1, dtype=np.int64)]
        for ids, block in features_blocks:
            ids = [str(f) for f in ids]
            csc = sp.csc_matrix(block, dtype=np.float64)
            csc.eliminate_zeros()
            csc.sort_indices()
            if csc.shape != (len(samples), len(ids)):
                raise ValueError(f"block has shape {csc.shape}, expected {(len(samples), len(ids))}")
            indices.resize((nnz + csc.nnz,))
            data.resize((nnz + csc.nnz,))
            indices[nnz:] = csc.indices
            data[nnz:] = csc.data
            indptr.append(csc.indptr[1:].astype(np.int64) + nnz)
            nnz += csc.nnz
            features.extend(ids)
        handle.create_dataset("indptr", data=np.concatenate(indptr))
        _string_dataset(handle, "samples", samples)
        _string_dataset(handle, "features", features)
        handle.attrs.update(
            format=FORMAT, version=VERSION, n_samples=len(samples), n_features=len(features), nnz=nnz, source=source
        )


def read_store(path: str | Path) -> FeatureData:
    """The whole store as :class:`~osteobiome.io.base.FeatureData` with a CSR ``X`` (for ``read_features``)."""
    store = FeatureStore.open(path)
    with h5py.File(store.path, "r") as handle:
        source = str(handle.attrs.get("source", "")) or str(path)
    return FeatureData(store.to_csr(), store.samples, store.features, None, "store", str(path), extra={"converted_from": source})


def feature_blocks(X: sp.spmatrix | np.ndarray, features: Iterable[str], block_size: int) -> Iterator[tuple[list[str], object]]:
    """``(ids, samples × block)`` pairs of ``block_size`` consecutive features of an in-memory table."""
    features = [str(f) for f in features]
    X = X.tocsc() if sp.issparse(X) else X
    for j0 in range(0, len(features), block_size):
        yield features[j0 : j0 + block_size], X[:, j0 : j0 + block_size]


@dataclass(frozen=True)
class FeatureStore:
    """Read access to a store file; each method opens the file, so instances are cheap and picklable (dask)."""

    path: Path

    @classmethod
    def open(cls, path: str | Path) -> FeatureStore:
        """The store at ``path``; InputError if it is not one."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file; check the path.")
        if not is_store(path):
            raise InputError(f"{path}: not an osteobiome feature store; create one with 'osteobiome convert FEATURES --out {path.name}'.")
        with h5py.File(path, "r") as handle:
            version = int(handle.attrs["version"])
        if version > VERSION:
            raise InputError(f"{path}: store version {version} is newer than this osteobiome reads ({VERSION}); upgrade osteobiome.")
        return cls(path)

    def _attr(self, name: str) -> int:
        with h5py.File(self.path, "r") as handle:
            return int(handle.attrs[name])

    @property
    def shape(self) -> tuple[int, int]:
        """(samples, features)."""
        return self._attr("n_samples"), self._attr("n_features")

    @property
    def nnz(self) -> int:
        return self._attr("nnz")

    @property
    def samples(self) -> pd.Index:
        with h5py.File(self.path, "r") as handle:
            return pd.Index(handle["samples"].asstr()[:], dtype=object, name="sample")

    @property
    def features(self) -> pd.Index:
        with h5py.File(self.path, "r") as handle:
            return pd.Index(handle["features"].asstr()[:], dtype=object, name="feature")

    def columns(self, j0: int, j1: int) -> sp.csc_matrix:
        """Features ``j0:j1`` as a samples × (j1 − j0) CSC matrix, reading only their non-zeros."""
        with h5py.File(self.path, "r") as handle:
            ptr = handle["indptr"][j0 : j1 + 1]
            lo, hi = int(ptr[0]), int(ptr[-1])
            indices = handle["indices"][lo:hi]
            data = handle["data"][lo:hi]
            n_samples = int(handle.attrs["n_samples"])
        return sp.csc_matrix((data, indices, ptr - lo), shape=(n_samples, len(ptr) - 1))

    def blocks(self, block_size: int) -> Iterator[tuple[int, int]]:
        """``(j0, j1)`` ranges of ``block_size`` consecutive features covering the store."""
        n = self.shape[1]
        return ((j0, min(j0 + block_size, n)) for j0 in range(0, n, block_size))

    def to_csr(self) -> sp.csr_matrix:
        """The whole table as samples × features CSR (sparse: memory ~ 12 bytes per non-zero)."""
        return self.columns(0, self.shape[1]).tocsr()
