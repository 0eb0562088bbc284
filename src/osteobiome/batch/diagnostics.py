"""How much of the community variation a batch explains, before and after adjustment (MMUPHin's check):
PERMANOVA R² of the batch (vegan ``adonis2(d ~ batch)``) on Bray–Curtis distances, and PCoA coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from osteobiome.diversity import beta_distances, pcoa, permanova


@dataclass(frozen=True)
class BatchDiagnostics:
    """``r2``: rows ``before``/``after``, columns ``R2 F pval`` of the batch term; ``coords``: PCoA axes 1–2 of
    every sample with columns ``PC1 PC2 table`` (``before``/``after``); ``proportion``: the axes' share of the
    variance per table (rows ``before``/``after``, columns ``PC1 PC2``)."""

    r2: pd.DataFrame
    coords: pd.DataFrame
    proportion: pd.DataFrame


def batch_diagnostics(
    before: pd.DataFrame,
    after: pd.DataFrame,
    metadata: pd.DataFrame,
    batch: str,
    permutations: int = 999,
    seed: int = 1,
) -> BatchDiagnostics:
    """PERMANOVA of ``batch`` (categorical) and a 2-axis PCoA on Bray–Curtis distances of both tables
    (samples × features, same samples); samples with no reads are left out."""
    rows, coords, proportion = {}, [], {}
    for label, table in (("before", before), ("after", after)):
        table = table.loc[table.sum(axis=1) > 0]
        dm = beta_distances(table, "braycurtis")
        fit = permanova(
            dm, metadata.loc[table.index], [batch], permutations=permutations, seed=seed, categorical=[batch]
        )
        rows[label] = fit.set_index("term").loc[batch, ["R2", "F", "pval"]]
        axes, share = pcoa(dm, n=2)
        coords.append(axes.assign(table=label))
        proportion[label] = share
    return BatchDiagnostics(pd.DataFrame(rows).T, pd.concat(coords), pd.DataFrame(proportion).T)
