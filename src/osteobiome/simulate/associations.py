"""Planted associations and covariate effects: tables that turn into per-sample log2 abundance shifts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, suggest
from osteobiome.simulate.presets import default_associations

TRUTH_COLUMNS = ["feature", "phenotype", "log2fc", "cohort"]
ALL_COHORTS = {"", "all", "*", "nan", "none"}


def read_associations(path: str | Path) -> pd.DataFrame:
    """An associations table from a TSV/CSV file: ``feature`` (or ``genus``), ``phenotype``, ``log2fc``, ``[cohort]``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: associations file not found.")
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    table = pd.read_csv(path, sep=sep, comment="#", dtype={"cohort": str})
    return checked_associations(table.rename(columns={"genus": "feature"}), where=str(path))


def checked_associations(table: pd.DataFrame, where: str = "associations") -> pd.DataFrame:
    """The table with columns ``feature phenotype log2fc cohort`` (cohort empty = every cohort), checked."""
    missing = [c for c in ("feature", "phenotype", "log2fc") if c not in table.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {missing}{suggest(missing[0], table.columns)}; "
            "expected feature, phenotype, log2fc and optionally cohort."
        )
    out = table.copy()
    if "cohort" not in out.columns:
        out["cohort"] = ""
    log2fc = pd.to_numeric(out["log2fc"], errors="coerce")
    if log2fc.isna().any():
        row = int(np.flatnonzero(log2fc.isna().to_numpy())[0])
        raise InputError(f"{where}: log2fc {out['log2fc'].iloc[row]!r} in row {row + 1} is not a number.")
    out["log2fc"] = log2fc.astype(float)
    out["feature"] = out["feature"].astype(str)
    out["phenotype"] = out["phenotype"].astype(str)
    out["cohort"] = out["cohort"].fillna("").astype(str)
    return out[TRUTH_COLUMNS].reset_index(drop=True)


def associations_for(
    associations: pd.DataFrame | str | Path | None,
    cohort: str,
    features: tuple[str, ...],
    metadata: pd.DataFrame,
) -> pd.DataFrame:
    """The rows that apply to ``cohort`` (default table when ``None``), checked against features and metadata."""
    if associations is None:
        where = "default associations"
        table = checked_associations(default_associations(), where)
    elif isinstance(associations, pd.DataFrame):
        where = "associations"
        table = checked_associations(associations, where)
    else:
        where = str(associations)
        table = read_associations(associations)  # checked by the reader
    keep = table["cohort"].str.lower().isin(ALL_COHORTS) | (table["cohort"] == cohort)
    table = table.loc[keep].reset_index(drop=True)
    for name in table["feature"].unique():
        if name not in features:
            raise InputError(f"{where}: feature {name!r} is not simulated{suggest(name, features)}.")
    for name in table["phenotype"].unique():
        if name not in metadata.columns:
            raise InputError(
                f"{where}: phenotype {name!r} is not in the cohort metadata{suggest(name, metadata.columns)}."
            )
        if not pd.api.types.is_numeric_dtype(metadata[name]):
            raise InputError(
                f"{where}: phenotype {name!r} is not numeric; planted effects are per SD of a number."
            )
    table["cohort"] = cohort
    return table


def log2_shifts(
    effects: pd.DataFrame, variable: str, features: tuple[str, ...], metadata: pd.DataFrame
) -> np.ndarray:
    """n × features matrix ``Σ log2fc · x``: ``x`` is the z-score of a numeric variable (sample SD), or the
    0/1 indicator ``== 'female'`` for ``sex``. Rows of ``effects`` naming features not simulated are ignored
    (covariate effects are defined for the shipped genus names)."""
    index = {f: j for j, f in enumerate(features)}
    shift = np.zeros((len(metadata), len(features)))
    for feature, var, log2fc in effects[["feature", variable, "log2fc"]].itertuples(index=False):
        if feature not in index:
            continue
        shift[:, index[feature]] += log2fc * _exposure(metadata, var)
    return shift


def _exposure(metadata: pd.DataFrame, column: str) -> np.ndarray:
    values = metadata[column]
    if column == "sex" or not pd.api.types.is_numeric_dtype(values):
        return (values.astype(str).str.lower() == "female").to_numpy(dtype=float)
    return standardized(values.to_numpy(dtype=float))


def standardized(x: np.ndarray) -> np.ndarray:
    """``(x − mean) / SD`` (sample SD, NaN ignored); zeros when ``x`` is constant."""
    sd = np.nanstd(x, ddof=1) if np.isfinite(x).sum() > 1 else 0.0
    return (x - np.nanmean(x)) / sd if sd > 0 else np.zeros_like(x)
