"""Feature tables passed as Python objects instead of files: a pandas DataFrame (either orientation, told by the
metadata ids or the labels), a ``biom.Table``, or an AnnData object (duck-typed on ``.X``, ``.obs``,
``.obs_names``, ``.var_names``, so anndata is never a dependency; its ``.obs`` is the sample metadata).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData, numeric_frame, unique_ids
from osteobiome.io.tables import SamplesAs, orientation

ANNDATA_ATTRIBUTES = ("X", "obs", "obs_names", "var_names")


def is_biom_table(obj: object) -> bool:
    """A ``biom.Table`` (or anything with its ``matrix_data`` and ``ids(axis=…)``)."""
    return hasattr(obj, "matrix_data") and callable(getattr(obj, "ids", None))


def is_anndata(obj: object) -> bool:
    """An AnnData-like object: samples (``obs``) × features (``var``) in ``X``."""
    return all(hasattr(obj, name) for name in ANNDATA_ATTRIBUTES)


def is_table_object(obj: object) -> bool:
    """Whether :func:`feature_data_from` reads ``obj``."""
    return isinstance(obj, pd.DataFrame) or is_biom_table(obj) or is_anndata(obj)


def feature_data_from(
    obj: object, samples_as: SamplesAs | None = None, sample_ids: Iterable[object] | None = None
) -> tuple[FeatureData, pd.DataFrame | None]:
    """:class:`FeatureData` of a DataFrame, ``biom.Table`` or AnnData object, and the metadata the object carries
    (AnnData's ``obs``; else None).

    A DataFrame's orientation follows :func:`osteobiome.io.tables.orientation`: ``samples_as``, else the axis
    holding the metadata ``sample_ids``, else its labels (lineages or sequences mark features)."""
    if isinstance(obj, pd.DataFrame):
        where = "the feature DataFrame"
        axis = orientation(obj.index.astype(str), obj.columns.astype(str), obj.index.name, where, samples_as, sample_ids)
        values = numeric_frame(obj, where, rows_are="feature" if axis == "columns" else "sample")
        table = values.T if axis == "columns" else values
        unique_ids(table.index.astype(str), "sample", where)
        unique_ids(table.columns.astype(str), "feature", where)
        return FeatureData.from_table(table, "dataframe", where), None
    if is_biom_table(obj):
        from osteobiome.io.biom import biom_feature_data

        return biom_feature_data(obj, "biom-table", "the biom.Table"), None
    if is_anndata(obj):
        where = "the AnnData object"
        X = obj.X
        X = sp.csr_matrix(X, dtype=np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        samples = pd.Index([str(s) for s in obj.obs_names], dtype=object, name="sample")
        features = pd.Index([str(f) for f in obj.var_names], dtype=object, name="feature")
        if X.shape != (len(samples), len(features)):
            raise InputError(f"{where}: X is {X.shape[0]} × {X.shape[1]} but there are {len(samples)} obs and {len(features)} var names.")
        unique_ids(samples, "sample", where)
        unique_ids(features, "feature", where)
        obs = pd.DataFrame(obj.obs).set_axis(samples, axis=0) if len(getattr(obj.obs, "columns", ())) else None
        return FeatureData(X=X, samples=samples, features=features, taxonomy=None, format="anndata", source=where), obs
    raise InputError(
        f"features of type {type(obj).__name__} are not readable; pass a file path, a DataFrame, a biom.Table or an AnnData object."
    )
