""":func:`load_cohort`: feature table + metadata + taxonomy files → a checked, aligned :class:`Cohort`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.base import FeatureData
from osteobiome.io.cohort import Cohort
from osteobiome.io.formats import read_features
from osteobiome.io.lineages import read_taxonomy
from osteobiome.io.metadata import read_metadata
from osteobiome.io.tables import SamplesAs


def load_cohort(
    features: str | Path | FeatureData | pd.DataFrame | object,
    metadata: str | Path | pd.DataFrame | None = None,
    taxonomy: str | Path | pd.DataFrame | None = None,
    name: str | None = None,
    samples_as: SamplesAs | None = None,
    rank: str | None = None,
) -> Cohort:
    """Read, match and check one cohort.

    Parameters
    ----------
    features : path, DataFrame, biom.Table, AnnData or FeatureData
        A feature-table file (TSV/CSV, BIOM, .qza, DADA2, MetaPhlAn, PICRUSt2, HUMAnN, feature store), a
        DataFrame (samples as rows or as columns: the metadata ids, else the labels, decide), a ``biom.Table``,
        or an AnnData object (``.X`` samples × features; its ``.obs`` is the metadata when ``metadata`` is None;
        anndata itself is not needed).
    metadata : path or DataFrame, optional
        Sample metadata (ids in the first column / the index).
    taxonomy : path or DataFrame, optional
        Features × ranks; replaces the one the table carries (features it lacks are an error).
    name : str, optional
        Cohort name (default: the file stem, or ``"cohort"`` for objects).
    samples_as : {"rows", "columns"}, optional
        Orientation of a plain table when neither the ids nor the labels tell it.
    rank : str, optional
        Collapse the features to this rank by summing (MetaPhlAn tables are read at that rank instead).

    Returns
    -------
    Cohort
        Samples with metadata × features (sparse tables stay sparse), checked and aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> from osteobiome import load_cohort
    >>> table = pd.DataFrame({"s1": [10, 0], "s2": [3, 4], "s3": [0, 9]}, index=["Blautia", "Dorea"])
    >>> meta = pd.DataFrame({"age": [61, 70, 58]}, index=["s1", "s2", "s3"])
    >>> load_cohort(table, meta).X.shape  # features were rows: the metadata ids tell
    (3, 2)
    """
    from osteobiome.io.objects import feature_data_from, is_table_object

    meta = read_metadata(metadata) if isinstance(metadata, str | Path) else metadata
    if isinstance(features, FeatureData):
        data = features
    elif is_table_object(features) or not isinstance(features, str | Path):
        data, carried = feature_data_from(features, samples_as, None if meta is None else meta.index)
        meta = carried if meta is None else meta
        name = name or "cohort"
    else:
        ids = None if meta is None else meta.index
        data = read_features(features, samples_as=samples_as, sample_ids=ids, rank=rank)
    tax = read_taxonomy(taxonomy) if isinstance(taxonomy, str | Path) else taxonomy
    if tax is None:
        tax = data.taxonomy
    elif not data.features.isin(tax.index).all():
        missing = data.features[~data.features.isin(tax.index)]
        raise InputError(
            f"{taxonomy}: {len(missing)} feature(s) of {data.source} have no taxonomy row: {preview(missing)}; "
            "are table and taxonomy from the same run?"
        )
    cohort = Cohort.from_arrays(
        data.X,
        data.samples,
        data.features,
        meta,
        tax,
        name=name or Path(data.source).name.split(".")[0],
        source=data.source,
        value_type=data.value_type,
    )
    if rank is not None and data.format != "metaphlan":
        cohort = cohort.collapse(rank)
    return cohort
