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
    features: str | Path | FeatureData,
    metadata: str | Path | pd.DataFrame | None = None,
    taxonomy: str | Path | pd.DataFrame | None = None,
    name: str | None = None,
    samples_as: SamplesAs | None = None,
    rank: str | None = None,
) -> Cohort:
    """Read, match and check one cohort.

    The metadata ids settle a plain table's orientation; a separate ``taxonomy`` (file or frame) replaces the
    one the table carries (features the taxonomy lacks are an error, extra taxonomy rows are ignored);
    ``rank`` collapses the features to that rank by summing (MetaPhlAn tables are read at that rank instead).
    Sparse tables (BIOM) stay sparse. ``name`` defaults to the table's file stem.
    """
    meta = read_metadata(metadata) if isinstance(metadata, str | Path) else metadata
    if isinstance(features, FeatureData):
        data = features
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
