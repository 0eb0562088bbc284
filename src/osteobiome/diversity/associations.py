"""Alpha diversity vs phenotypes: each index ~ phenotype + covariates, with the association engine's design and
OLS (:func:`osteobiome.stats.design.build_design`, :func:`osteobiome.stats.lm.fit_lm`) and ``associate``'s columns.

One model per phenotype (the covariates adjust; only the phenotype's coefficients are reported), all indices
fitted at once. Numeric metadata are z-scored when the preset standardizes (MaAsLin2's default), so ``coef`` is
the change in the index per standard deviation of a numeric phenotype, or versus the reference level of a
categorical one. q-values: the preset's correction over the phenotype rows of the call (per phenotype with
``fdr_scope="per-variable"``, the default preset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from osteobiome.association.options import AssociationOptions
from osteobiome.association.pipeline import EXTRA_COLUMNS, MAASLIN2_COLUMNS
from osteobiome.errors import InputError
from osteobiome.io.align import rows_for
from osteobiome.stats.design import build_design
from osteobiome.stats.lm import fit_lm
from osteobiome.stats.multitest import adjust_grouped


def alpha_associations(
    alpha: pd.DataFrame,
    metadata: pd.DataFrame,
    phenotypes: Sequence[str],
    covariates: Sequence[str] = (),
    reference: Mapping[str, str] | None = None,
    preset: str | AssociationOptions = "default",
    **options: Any,
) -> pd.DataFrame:
    """One row per alpha index × phenotype coefficient: ``feature metadata value coef stderr N N.not.0 pval qval``
    then ``N.used df log10.pval``, sorted by q-value. ``options``: ``standardize``, ``correction``, ``fdr_scope``."""
    opts = AssociationOptions.resolve(preset, options)
    if not phenotypes:
        raise InputError("alpha associations: no phenotype given; name at least one metadata column.")
    meta = rows_for(
        alpha.index, metadata, lambda absent: f"alpha associations: samples {absent} have no metadata row; add or drop them."
    )
    values = alpha.to_numpy(dtype=float)
    tables = []
    for phenotype in phenotypes:
        fixed = [phenotype, *[c for c in covariates if c != phenotype]]
        design = build_design(
            meta,
            fixed,
            {k: v for k, v in (reference or {}).items() if k in fixed},
            opts.standardize,
            opts.require_reference,
        )
        fit = fit_lm(values[design.rows], design.matrix)
        for j in (j for j, term in enumerate(design.terms) if term == phenotype):
            tables.append(
                pd.DataFrame(
                    {
                        "feature": alpha.columns.astype(str),
                        "metadata": phenotype,
                        "value": design.values[j],
                        "coef": fit.coef[j],
                        "stderr": fit.stderr[j],
                        "N": len(alpha),
                        "N.not.0": (np.nan_to_num(values) != 0).sum(axis=0),
                        "pval": fit.pval[j],
                        "N.used": fit.n_used,
                        "df": fit.df if fit.df.ndim == 1 else fit.df[j],
                        "log10.pval": fit.log_pval[j] / np.log(10.0),
                    }
                )
            )
    results = pd.concat(tables, ignore_index=True)
    results["qval"] = adjust_grouped(
        results["pval"].to_numpy(), results["metadata"].to_numpy(), opts.correction, opts.fdr_scope
    )
    results = results.sort_values("qval", kind="stable").reset_index(drop=True)
    return results[MAASLIN2_COLUMNS + EXTRA_COLUMNS]
