"""One way to match a feature table's samples with a table indexed by sample id (metadata, mediators).

Ids are compared as strings. Duplicate ids on either side, or no id in common, stop with one line naming the
table and what to check; samples on one side only are left out (:func:`align_samples` warns,
:class:`~osteobiome.io.cohort.Cohort` records them as drops), except by :func:`rows_for`, for which every sample
needs a row (distance matrices, implantation, alpha associations).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview


def match_samples(
    samples: pd.Index, table: pd.DataFrame, what: str = "metadata", hint: str = "check which axis holds samples", where: str = ""
) -> tuple[np.ndarray, pd.DataFrame]:
    """Which of the feature table's ``samples`` have a row in ``table`` (boolean mask), and ``table`` indexed by
    its ids as strings; ``what`` names the table and ``hint`` what to check in the errors, prefixed by ``where``."""
    prefix = f"{where}: " if where else ""
    samples = pd.Index(samples).astype(str)
    table = table.set_axis(table.index.astype(str), axis=0)
    for side, ids in (("feature table", samples), (what, table.index)):
        _check_unique(ids, side, prefix)
    used = samples.isin(table.index)
    if not used.any():
        raise InputError(
            f"{prefix}no sample id is in both the feature table ({preview(samples)}) and the {what} "
            f"({preview(table.index)}); {hint}."
        )
    return used, table


def _check_unique(ids: pd.Index, side: str, prefix: str = "") -> None:
    """InputError naming the duplicated ids if ``ids`` (of the table called ``side``) has any."""
    if ids.has_duplicates:
        dup = ids[ids.duplicated()].unique()
        raise InputError(f"{prefix}the {side} has duplicate sample ids {preview(dup)}; give each sample one row.")


def rows_for(
    samples: pd.Index, table: pd.DataFrame, missing: Callable[[str], str], what: str = "metadata"
) -> pd.DataFrame:
    """The rows of ``table`` for every one of ``samples``, in their order, indexed by the ids as strings: where
    each sample must have a row (no sample is left out). Samples without a row stop with
    ``InputError(missing(ids))``, ``ids`` a preview of them; duplicate ids in ``table`` (named ``what``) stop too."""
    samples = text_ids(pd.Index(samples))
    table = table.set_axis(text_ids(table.index), axis=0)
    absent = samples.difference(table.index)
    if len(absent):
        raise InputError(missing(preview(absent)))
    _check_unique(table.index, what)
    return table.loc[samples]


def text_ids(ids: pd.Index) -> pd.Index:
    """``ids`` as strings (already a string index: itself, no copy)."""
    return ids if isinstance(ids.dtype, pd.StringDtype) else ids.astype(str)


def align_samples(
    samples: pd.Index,
    table: pd.DataFrame,
    what: str = "metadata",
    hint: str = "check which axis holds samples",
    stacklevel: int = 5,
) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`match_samples`, warning of the samples on one side only, and the rows of ``table`` for the matched
    samples in the feature table's order."""
    ids, index = text_ids(pd.Index(samples)), text_ids(table.index)
    if len(ids) and ids.equals(index) and not ids.has_duplicates:  # the same ids in the same order: nothing to match
        return np.ones(len(ids), dtype=bool), table.set_axis(index, axis=0)  # a new frame, as .loc gives
    used, table = match_samples(samples, table, what, hint)
    samples = pd.Index(samples).astype(str)
    for side, extra in (("feature table", samples[~used]), (what, table.index.difference(samples))):
        if len(extra):
            warnings.warn(f"{len(extra)} samples only in the {side} are left out: {preview(extra)}.", stacklevel=stacklevel)
    return used, table.loc[samples[used]]
