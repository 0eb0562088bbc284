"""Mediator tables: samples × mediators (metabolomics, an SCFA panel, serum markers) as TSV/CSV.

Read like sample metadata (:func:`~osteobiome.io.metadata.read_metadata`: the id column is the first column
unless ``id_column`` names another; the same missing-value tokens; duplicate or empty ids are one-line errors),
then every mediator column must be numeric. A table with mediators as rows is transposed when ``sample_ids`` match
its header but not its first column. ``log=True`` takes log2 of every mediator, a zero replaced by half of that
mediator's smallest positive value (as the feature LOG transform); negative values are an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.metadata import read_metadata
from osteobiome.stats.preprocess import transform


def read_mediators(
    path: str | Path,
    log: bool = False,
    id_column: str | None = None,
    sample_ids: Sequence[str] | pd.Index | None = None,
) -> pd.DataFrame:
    """A mediator file → float DataFrame indexed by sample id (``str``), one column per mediator.

    ``sample_ids`` (e.g. the metadata's) settle the orientation (see the module text); ``log``: log2 as above.
    Text values, constant or all-missing mediators raise :class:`InputError` naming the file and mediator.
    """
    table = read_metadata(path, id_column=id_column)
    if sample_ids is not None:
        ids = pd.Index([str(i) for i in sample_ids])
        if not table.index.isin(ids).any() and pd.Index(table.columns.astype(str)).isin(ids).any():
            table = read_metadata(path, id_column=id_column, numeric=list(table.columns)).T
            table.index = pd.Index([str(i) for i in table.index], dtype=object, name="sample")
    for name in table.columns:
        column = table[name]
        if not pd.api.types.is_numeric_dtype(column):
            bad = pd.to_numeric(column.astype(object), errors="coerce").isna() & column.notna()
            raise InputError(
                f"{path}: mediator {name!r} holds text values {preview(column[bad].astype(str).unique())}; "
                "mediators must be numbers (missing: empty or NA)."
            )
        if column.notna().sum() < 3:
            raise InputError(f"{path}: mediator {name!r} has fewer than 3 values; drop it from the table.")
        if column.nunique(dropna=True) < 2:
            raise InputError(f"{path}: mediator {name!r} is constant; drop it from the table.")
    values = table.to_numpy(dtype=float)
    if log:
        negative = table.columns[np.nanmin(values, axis=0) < 0]
        if len(negative):
            raise InputError(
                f"{path}: mediator(s) {preview(negative)} have negative values and cannot be logged; "
                "drop --log-mediators (the values look transformed already)."
            )
        values = transform(values, "LOG")
    return pd.DataFrame(values, index=table.index.rename("sample"), columns=pd.Index(table.columns.astype(str), name="mediator"))
