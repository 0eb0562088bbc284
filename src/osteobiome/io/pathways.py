"""Functional profiles: PICRUSt2 ``path_abun_unstrat.tsv(.gz)`` and HUMAnN ``pathabundance`` (or
``genefamilies``) tables, pathways as rows and samples as columns.

Pathway names keep their MetaCyc id and description, ``PRPP-PWY: superpathway of histidine, purine, and
pyrimidine biosynthesis`` (HUMAnN writes them so; PICRUSt2 tables with a ``description`` column from
``add_descriptions.py`` are joined the same way, without one the id alone is the name).

HUMAnN: community totals (rows without ``|``) form the table; stratified rows (``PWY|g__Genus.s__species``,
``PWY|unclassified``) go to ``extra["stratified"]`` (samples × row names as in the file); ``UNMAPPED`` and
``UNINTEGRATED`` totals go to ``extra["unmapped"]`` / ``extra["unintegrated"]`` (per-sample Series). Sample
columns lose HUMAnN's ``_Abundance`` suffix (``S1_Abundance-RPKs`` → ``S1``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.base import FeatureData, numeric_frame, read_delimited, unique_ids

HUMANN_SPECIAL = ("UNMAPPED", "UNINTEGRATED", "UNGROUPED")
_SUFFIX = re.compile(r"[_-]Abundance(-RPKs|-CPM|-RELAB)?$|-RPKs$", re.IGNORECASE)


def is_humann(frame: pd.DataFrame) -> bool:
    """A HUMAnN table: ``# Pathway``/``# Gene Family`` header, or UNMAPPED rows, or ``|g__…`` strata."""
    corner = (frame.index.name or "").strip()
    named = corner.startswith("#") and corner.lstrip("#").strip().lower() in ("pathway", "gene family")
    labels = [str(x) for x in frame.index[:500]]
    special = any(x.split("|", 1)[0] in HUMANN_SPECIAL for x in labels)
    strata = any(re.search(r"\|(g__|unclassified$)", x) for x in labels)
    return named or special or strata


def is_picrust2(frame: pd.DataFrame) -> bool:
    """A PICRUSt2 pathway table: first header cell ``pathway`` (or ``function``) and no HUMAnN markers."""
    return (frame.index.name or "").strip().lower() in ("pathway", "function") and not is_humann(frame)


def read_picrust2(path: Path) -> FeatureData:
    """``path_abun_unstrat.tsv(.gz)`` → samples × pathways."""
    frame = read_delimited(path, numbers=True)
    lower = {c.lower(): c for c in frame.columns}
    if "sequence" in lower or "taxon" in lower:
        raise InputError(
            f"{path}: a stratified PICRUSt2 table (has a {lower.get('sequence', lower.get('taxon'))!r} column); "
            "give path_abun_unstrat.tsv instead."
        )
    if "description" in lower:
        described = frame.pop(lower["description"])
        frame.index = pd.Index(
            [f"{i}: {d}" if d.strip() else i for i, d in zip(frame.index, described, strict=True)], dtype=object
        )
    unique_ids(frame.index, "pathway", path)
    table = numeric_frame(frame, path).T
    unique_ids(table.index, "sample", path)
    return FeatureData.from_table(table, "picrust2", str(path))


def read_humann(path: Path) -> FeatureData:
    """HUMAnN ``pathabundance``/``genefamilies`` (joined or single-sample) → community totals, samples × pathways."""
    frame = read_delimited(path, numbers=True)
    frame.columns = pd.Index([_SUFFIX.sub("", c) for c in frame.columns], dtype=object)
    unique_ids(frame.columns, "sample", path)
    unique_ids(frame.index, "pathway", path)
    values = numeric_frame(frame, path).T
    names = pd.Series(values.columns, index=values.columns)
    stratified = names.str.contains("|", regex=False).to_numpy()
    special = names.isin(HUMANN_SPECIAL).to_numpy()
    table = values.loc[:, ~stratified & ~special]
    if table.shape[1] == 0:
        raise InputError(f"{path}: no community-level pathway rows (only stratified or UNMAPPED rows).")
    extra: dict[str, object] = {"stratified": values.loc[:, stratified]}
    for key in HUMANN_SPECIAL:
        if key in values.columns:
            extra[key.lower()] = values[key].rename(key)
    return FeatureData.from_table(table, "humann", str(path), extra=extra)
