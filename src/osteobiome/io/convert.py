"""``osteobiome convert``: any feature table → the chunked HDF5 feature store (:mod:`osteobiome.io.store`).

Plain tables and HUMAnN tables with features as rows (gene families: 10^5–10^6 rows, mostly zeros) are
streamed: ``block_size`` rows at a time (default: about 256 MB of values) are parsed, made sparse and appended, so memory holds one block of
rows, never the dense table. HUMAnN stratified rows (``…|g__…``) and UNMAPPED/UNINTEGRATED/UNGROUPED rows are
left out (the community totals are the table, as :func:`osteobiome.io.pathways.read_humann`); a taxonomy
column is not stored. Every other format (BIOM, .qza, MetaPhlAn, samples-as-rows tables, …) is read with
:func:`~osteobiome.io.read_features` (BIOM stays sparse) and written block by block.
"""

from __future__ import annotations

import gzip
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.compute.memory import BLOCK_BUDGET
from osteobiome.errors import InputError, unique_ids
from osteobiome.io.base import checked_path, head_text, numeric_frame, read_delimited, table_header
from osteobiome.io.formats import detect_format, read_features
from osteobiome.io.pathways import _SUFFIX, HUMANN_SPECIAL
from osteobiome.io.store import feature_blocks, write_store
from osteobiome.io.tables import _TAXONOMY_COLUMNS, SamplesAs, orientation

STREAMED = ("table", "humann")


def convert(
    path: str | Path,
    out: str | Path,
    samples_as: SamplesAs | None = None,
    fmt: str | None = None,
    block_size: int | None = None,
) -> Path:
    """Write the feature table at ``path`` to the store ``out``; returns ``out``. ``block_size``: features per
    block (default: as many rows as fit :data:`~osteobiome.compute.memory.BLOCK_BUDGET`, see :func:`_rows_per_block`)."""
    path = checked_path(path)
    if block_size is not None and block_size < 1:
        raise InputError(f"--block-size {block_size}: give a positive number of features per block.")
    fmt = fmt or detect_format(path)
    if fmt in STREAMED:
        text = head_text(path, max_lines=200)
        head = read_delimited(path, text=text)
        axis = "columns" if fmt == "humann" else orientation(head.index, head.columns, head.index.name, path, samples_as)
        if axis == "columns":
            return _stream(path, Path(out), fmt, block_size, text.splitlines())
    data = read_features(path, samples_as=samples_as, fmt=fmt)
    block_size = block_size or _rows_per_block(len(data.samples))
    return write_store(out, data.samples, feature_blocks(data.X, data.features, block_size), source=str(path))


def _rows_per_block(n_samples: int) -> int:
    """Feature rows per block that fit :data:`~osteobiome.compute.memory.BLOCK_BUDGET` at 4 float64 copies (32 bytes)
    per cell."""
    return max(1, BLOCK_BUDGET // (32 * n_samples))


def _stream(path: Path, out: Path, fmt: str, block_size: int | None, head: list[str]) -> Path:
    """Stream the rows of the delimited file ``path`` (first lines ``head``) into the store ``out``."""
    skip, sep, header = table_header(path, head)
    samples = [c.strip() for c in header[1:]]
    block_size = block_size or _rows_per_block(len(samples))
    taxonomy = [i for i, c in enumerate(samples) if c.lower() in _TAXONOMY_COLUMNS]
    if taxonomy:
        warnings.warn(f"{path}: the {samples[taxonomy[0]]!r} column is not stored in the feature store.", stacklevel=3)
    if fmt == "humann":
        samples = [_SUFFIX.sub("", s) for s in samples]
    kept_columns = [i for i in range(len(samples)) if i not in taxonomy]
    samples = [samples[i] for i in kept_columns]
    unique_ids(pd.Index(samples), "sample", path)
    with path.open("rb") as handle:
        compression = "gzip" if handle.read(2) == b"\x1f\x8b" else None
    seen: set[str] = set()

    def blocks() -> Iterator[tuple[list[str], sp.spmatrix]]:
        reader = pd.read_csv(
            path,
            sep=sep,
            skiprows=skip + 1,
            header=None,
            names=list(range(len(header))),
            index_col=0,
            dtype={0: str},
            chunksize=block_size,
            compression=compression,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
        for chunk in reader:
            chunk.index = chunk.index.astype(str).str.strip()
            chunk = chunk.iloc[:, kept_columns]
            chunk.columns = samples
            if fmt == "humann":
                keep = ~chunk.index.str.contains("|", regex=False) & ~chunk.index.isin(HUMANN_SPECIAL)
                chunk = chunk[keep]
            unique_ids(chunk.index, "feature", path, seen)
            seen.update(chunk.index)
            values = numeric_frame(chunk, path, rows_are="feature").to_numpy()
            if np.any(values < 0):
                raise InputError(f"{path}: negative abundances; the table must hold counts or relative abundances.")
            yield list(chunk.index), sp.csr_matrix(values).T

    try:
        return write_store(out, samples, blocks(), source=str(path))
    except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: damaged gzip file ({exc}); re-create or re-download it.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a delimited table ({exc}); check the file.") from None
