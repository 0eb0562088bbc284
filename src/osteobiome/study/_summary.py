"""The cohort overview row of the report: n, age, sex, sequencing depth, number of features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.io.cohort import Cohort
from osteobiome.io.taxonomy import RANK_PLURAL

FEMALE = {"f", "female", "woman", "women", "2"}


def cohort_summary(cohort: Cohort, rank: str | None) -> dict[str, object]:
    """Overview of one cohort: ``n``, samples left out (unmatched ids, all-zero), ``age`` (mean ± SD, range),
    ``female`` (%), ``depth`` (median, IQR), number of features (named after the rank)."""
    meta = cohort.metadata
    summary: dict[str, object] = {"n": cohort.n_samples}
    summary["samples left out"] = sum(len(d.ids) for d in cohort.drops if d.axis == "sample")
    age = _column(meta, ("age", "age_years", "age_at_visit"))
    if age is not None and pd.api.types.is_numeric_dtype(age) and age.notna().any():
        summary["age"] = f"{age.mean():.1f} ± {age.std():.1f} ({age.min():.0f}–{age.max():.0f})"
    sex = _column(meta, ("sex", "gender"))
    if sex is not None and sex.notna().any():
        female = sex.dropna().astype(str).str.strip().str.lower().isin(FEMALE)
        summary["female"] = f"{100 * female.mean():.0f}%"
    depth = np.asarray(cohort.X.sum(axis=1)).ravel()
    if cohort.value_type == "counts":
        q1, med, q3 = np.percentile(depth, [25, 50, 75])
        summary["depth (median, IQR)"] = f"{med:,.0f} ({q1:,.0f}–{q3:,.0f})"
    else:
        summary["depth (median, IQR)"] = "relative abundances"
    summary[RANK_PLURAL.get((rank or "").lower(), "features")] = cohort.n_features
    return summary


def _column(meta: pd.DataFrame, names: tuple[str, ...]) -> pd.Series | None:
    lowered = {str(c).lower(): c for c in meta.columns}
    for name in names:
        if name in lowered:
            return meta[lowered[name]]
    return None
