"""Which genera carry a pathway: contribution table from HUMAnN stratified pathway rows.

HUMAnN writes stratified rows as ``<pathway>|g__<Genus>.s__<species>`` (or ``<pathway>|unclassified``), next
to the community row ``<pathway>``. The input here is a DataFrame indexed by those raw row names with samples
as columns (the transpose of ``FeatureData.extra["stratified"]``, which the HUMAnN reader keeps as samples ×
row names); community rows (no ``|``) and HUMAnN's bookkeeping rows (``UNMAPPED`` …) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview
from osteobiome.io.pathways import HUMANN_SPECIAL

CONTRIBUTION_COLUMNS = [
    "pathway",
    "pathway_id",
    "genus",
    "mean_share",
    "mean_abundance",
    "n_samples",
    "prevalence",
]

_GENUS = re.compile(r"(?:^|[.;|])g__([^.;|]+)")


def pathway_id(name: str) -> str:
    """MetaCyc id of a pathway row name: ``'PWY-5676: acetyl-CoA fermentation…'`` -> ``'PWY-5676'``."""
    return str(name).split(":", 1)[0].strip()


def parse_stratified(index: Iterable[str]) -> pd.DataFrame:
    """Split stratified row names into ``pathway`` and ``genus`` (``'unclassified'`` if no ``g__``)."""
    rows = []
    for raw in index:
        pathway, _, stratum = str(raw).partition("|")
        if not stratum:
            rows.append((raw, pathway.strip(), None))
            continue
        match = _GENUS.search(stratum)
        genus = match.group(1).strip() if match else stratum.strip()
        rows.append((raw, pathway.strip(), genus))
    return pd.DataFrame(rows, columns=["row", "pathway", "genus"])


def contribution_table(
    stratified: pd.DataFrame,
    pathways: Iterable[str] | None = None,
    min_share: float = 0.0,
) -> pd.DataFrame:
    """Per pathway, the genera that contribute and how much.

    ``stratified``: rows = raw HUMAnN row names, columns = samples, values = abundances (non-negative).
    Species of one genus are summed per sample. For pathway ``P``, genus ``g`` and sample ``s``:
    ``share_gs = a_gs / sum_g' a_g's`` (the denominator is the sum over all strata of ``P`` in ``s``, including
    ``unclassified``; samples where ``P`` is absent are skipped). Columns: ``mean_share`` = mean of
    ``share_gs`` over samples carrying ``P`` (so the genera of a pathway sum to 1), ``mean_abundance`` = mean
    ``a_gs`` over all samples, ``n_samples`` = samples carrying ``P``, ``prevalence`` = fraction of those in
    which ``g`` contributes. ``pathways``: restrict to these (full names or MetaCyc ids). Rows with
    ``mean_share < min_share`` are dropped; sorted by pathway then descending share.
    """
    if not isinstance(stratified, pd.DataFrame):
        raise InputError("contribution table: pass a DataFrame of stratified rows (row names × samples).")
    parsed = parse_stratified(stratified.index)
    strat = (parsed["genus"].notna() & ~parsed["pathway"].isin(HUMANN_SPECIAL)).to_numpy()
    if not strat.any():
        raise InputError(
            f"contribution table: no stratified rows ('PATHWAY|g__Genus.s__species') among {preview(stratified.index)}; "
            "pass the HUMAnN stratified output."
        )
    values = stratified.to_numpy(dtype=float)[strat]
    if np.any(values < 0):
        raise InputError(
            "contribution table: negative abundances in the stratified rows; pass raw HUMAnN abundances."
        )
    keys = parsed.loc[strat, ["pathway", "genus"]].reset_index(drop=True)
    keys["pathway_id"] = keys["pathway"].map(pathway_id)
    if pathways is not None:
        wanted = {str(p) for p in pathways} | {pathway_id(p) for p in pathways}
        keep = (keys["pathway"].isin(wanted) | keys["pathway_id"].isin(wanted)).to_numpy()
        if not keep.any():
            raise InputError(
                f"contribution table: none of the pathways {preview(sorted(wanted))} has stratified rows; "
                f"available: {preview(keys['pathway'].unique())}."
            )
        keys, values = keys[keep].reset_index(drop=True), values[keep]
    by_genus = (
        pd.DataFrame(values).groupby([keys["pathway"], keys["pathway_id"], keys["genus"]], sort=False).sum()
    )
    totals = by_genus.groupby(level="pathway", sort=False).transform("sum").to_numpy()
    amounts = by_genus.to_numpy()
    carried = totals > 0
    n_samples = carried.sum(axis=1)
    out = by_genus.index.to_frame(index=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(carried, amounts / totals, 0.0)
        out["mean_share"] = np.where(n_samples > 0, share.sum(axis=1) / n_samples, np.nan)
        out["prevalence"] = np.where(n_samples > 0, ((amounts > 0) & carried).sum(axis=1) / n_samples, np.nan)
    out["mean_abundance"] = amounts.mean(axis=1)
    out["n_samples"] = n_samples
    out = out[out["mean_share"].fillna(0) >= min_share]
    out = out.sort_values(["pathway", "mean_share"], ascending=[True, False], kind="stable")
    return out[CONTRIBUTION_COLUMNS].reset_index(drop=True)
