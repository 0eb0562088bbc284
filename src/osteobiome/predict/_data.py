"""The prediction design: one samples × columns frame (taxa, pathways, covariates) and the outcome vector.

Column names carry their block (``taxon|Bacteroides``, ``pathway|PWY-5100``, ``cov|age``) so a genus named
like a covariate cannot collide. Samples missing the outcome or a covariate are dropped with one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort

BLOCKS = ("taxon", "pathway", "cov")
SEP = "|"


@dataclass(frozen=True)
class Design:
    """``X``: samples × prefixed columns; ``y``: 0/1 (binary) or float (continuous); ``positive``: the level
    coded 1; ``numeric`` / ``categorical``: covariate columns (prefixed) by type."""

    X: pd.DataFrame
    y: np.ndarray
    task: str
    outcome: str
    positive: str | None
    numeric: list[str]
    categorical: list[str]
    name: str = "cohort"

    def block(self, kind: str) -> list[str]:
        """The columns of one block (``taxon``, ``pathway`` or ``cov``)."""
        return [c for c in self.X.columns if c.startswith(kind + SEP)]

    @property
    def samples(self) -> pd.Index:
        return self.X.index


def strip(column: str) -> tuple[str, str]:
    """``"taxon|Bacteroides"`` → ``("taxon", "Bacteroides")``."""
    kind, _, name = column.partition(SEP)
    return kind, name


def _table(features: Cohort | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(features, Cohort):
        return features.table
    if not isinstance(features, pd.DataFrame):
        raise InputError(f"{what}: expected a Cohort or a samples × features DataFrame, got {type(features).__name__}.")
    table = features.copy()
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    return table


def _checked_abundances(table: pd.DataFrame, what: str) -> pd.DataFrame:
    values = table.to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    if bad.any():
        raise InputError(
            f"{what}: samples {preview(table.index[bad])} hold missing, infinite or negative abundances; fix or drop them."
        )
    return table


def outcome_vector(values: pd.Series, outcome: str, positive: str | None) -> tuple[np.ndarray, str, str | None]:
    """``(y, task, positive)``: two levels → binary 0/1 (``positive`` coded 1; default 1 / True, else the
    last level in sorted order, with a warning); a numeric column with more values → continuous."""
    levels = pd.unique(values)
    if len(levels) < 2:
        raise InputError(f"outcome {outcome!r}: takes a single value in the samples used; nothing to predict.")
    if len(levels) == 2:
        text = values.astype(str)
        names = sorted({str(v) for v in levels})
        if positive is None:
            truthy = [n for n in names if n in ("1", "1.0", "True", "true")]
            positive = truthy[0] if truthy else names[-1]
            if not truthy:
                warnings.warn(
                    f"outcome {outcome!r}: levels {names[0]!r}/{names[1]!r}; predicting {positive!r} "
                    "(choose with --positive / positive=).",
                    stacklevel=3,
                )
        elif str(positive) not in names and pd.api.types.is_numeric_dtype(values) and _number(positive) in set(levels):
            positive = next(n for n in names if float(n) == _number(positive))  # "1" for a 1.0 level
        elif str(positive) not in names:
            raise InputError(
                f"positive level {positive!r} is not a level of outcome {outcome!r}{suggest(str(positive), names)}; "
                f"levels are {names[0]!r} and {names[1]!r}."
            )
        return (text == str(positive)).to_numpy(dtype=float), "binary", str(positive)
    if not pd.api.types.is_numeric_dtype(values):
        raise InputError(
            f"outcome {outcome!r}: {len(levels)} levels ({preview(levels)}); give a binary (two levels) or a "
            "numeric outcome."
        )
    if positive is not None:
        raise InputError(f"outcome {outcome!r} is continuous; --positive / positive= applies to binary outcomes only.")
    return values.to_numpy(dtype=float), "continuous", None


def _number(text: object) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def build_design(
    features: Cohort | pd.DataFrame,
    metadata: pd.DataFrame | None,
    outcome: str,
    covariates: Sequence[str] = (),
    pathways: Cohort | pd.DataFrame | None = None,
    positive: str | None = None,
    name: str | None = None,
) -> Design:
    """Match features, pathways and metadata by sample id, code the outcome and covariates (see the module)."""
    if metadata is None:
        if not isinstance(features, Cohort):
            raise InputError("metadata: required when the features are a DataFrame.")
        metadata = features.metadata
    name = name or (features.name if isinstance(features, Cohort) else None) or "cohort"
    meta = metadata.copy()
    meta.index = meta.index.astype(str)
    for column in [outcome, *covariates]:
        if column not in meta.columns:
            role = "outcome" if column == outcome else "covariate"
            raise InputError(
                f"metadata: {role} column {column!r} not found{suggest(column, meta.columns)}; columns are "
                f"{preview(meta.columns, 8)}."
            )
    if outcome in covariates:
        raise InputError(f"covariates: {outcome!r} is the outcome; drop it from the covariates.")
    taxa = _checked_abundances(_table(features, "features"), "features")
    blocks = [taxa.add_prefix("taxon" + SEP)]
    if pathways is not None:
        blocks.append(_checked_abundances(_table(pathways, "pathways"), "pathways").add_prefix("pathway" + SEP))
    shared = blocks[0].index
    for block in blocks[1:]:
        shared = shared.intersection(block.index, sort=False)
    shared = shared.intersection(meta.index, sort=False)
    if not len(shared):
        raise InputError(
            f"features and metadata share no sample id (features: {preview(taxa.index)}; metadata: "
            f"{preview(meta.index)}); check the id column."
        )
    used = meta.loc[shared, [outcome, *covariates]]
    complete = used.notna().all(axis=1) & (taxa.loc[shared].sum(axis=1) > 0)
    if not complete.all():
        warnings.warn(
            f"{name}: {int((~complete).sum())} sample(s) without reads or with a missing {outcome!r} or covariate "
            f"left out ({preview(shared[~complete.to_numpy()])}).",
            stacklevel=3,
        )
    shared = shared[complete.to_numpy()]
    y, task, positive = outcome_vector(used.loc[shared, outcome], outcome, positive)
    numeric, categorical = [], []
    covs = pd.DataFrame(index=shared)
    for column in covariates:
        values = used.loc[shared, column]
        key = "cov" + SEP + column
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            covs[key] = values.astype(float)
            numeric.append(key)
        else:
            covs[key] = values.astype(str)
            categorical.append(key)
    X = pd.concat([b.loc[shared] for b in blocks] + [covs], axis=1)
    X.index.name = "sample"
    return Design(X, y, task, outcome, positive, numeric, categorical, name)
