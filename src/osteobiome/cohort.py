"""The :class:`Cohort`: one cohort's feature table, feature annotations and sample metadata, kept aligned.

Like AnnData in scanpy, one object carries the data of one cohort through the pipeline:

- ``X``: samples × features abundances (counts or relative abundances), a float64 ``numpy`` array or a
  ``scipy.sparse`` CSR matrix;
- ``samples`` / ``features``: the row and column ids (``pd.Index`` of ``str``, unique);
- ``metadata``: a DataFrame indexed by ``samples`` (same order);
- ``taxonomy``: an optional DataFrame indexed by ``features`` with rank columns among :data:`RANKS`;
- ``drops``: what was removed on the way and why (see :meth:`Cohort.drop_report`).

Construct it with :meth:`Cohort.from_frames`, which matches table and metadata sample ids and checks the
values; all later methods return new objects (the original is never modified).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview

RANKS: tuple[str, ...] = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus", "Species")
ValueType = Literal["counts", "relative"]


@dataclass(frozen=True)
class Drop:
    """One removal: which axis, which ids, and why."""

    axis: Literal["sample", "feature"]
    ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Cohort:
    """One cohort's aligned data. Build with :meth:`from_frames`; see the module docstring for fields."""

    X: np.ndarray | sp.csr_matrix
    samples: pd.Index
    features: pd.Index
    metadata: pd.DataFrame
    taxonomy: pd.DataFrame | None = None
    name: str = "cohort"
    value_type: ValueType = "counts"
    source: str = ""
    drops: tuple[Drop, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        table: pd.DataFrame,
        metadata: pd.DataFrame | None = None,
        taxonomy: pd.DataFrame | None = None,
        *,
        name: str = "cohort",
        source: str = "",
        sparse: bool = False,
    ) -> Cohort:
        """Build a cohort from a samples × features ``table`` and a ``metadata`` frame indexed by sample id.

        Samples are matched by id: samples present on one side only are dropped and recorded; no overlap at
        all is an :class:`InputError` that shows a few ids from each side. All-zero samples are dropped with
        a warning listing them. Values must be finite and non-negative, and either all integers (counts) or
        all proportions/percentages (relative); a mix of the two is an error.
        """
        where = source or name
        table = _checked_table(table, where)
        drops: list[Drop] = []
        if metadata is None:
            metadata = pd.DataFrame(index=table.index.copy())
        metadata = metadata.copy()
        metadata.index = metadata.index.astype(str)
        if metadata.index.has_duplicates:
            dup = metadata.index[metadata.index.duplicated()].unique()
            raise InputError(
                f"{where}: duplicate sample ids in the metadata: {preview(dup)}; make ids unique."
            )
        common = table.index.intersection(metadata.index, sort=False)
        if len(common) == 0:
            raise InputError(
                f"{where}: no sample id is shared by the feature table ({preview(table.index)}) and the "
                f"metadata ({preview(metadata.index)}); check the id column, or the table's orientation "
                "(--samples-as rows|columns)."
            )
        only_table = table.index.difference(common, sort=False)
        only_meta = metadata.index.difference(common, sort=False)
        if len(only_table):
            drops.append(Drop("sample", tuple(only_table), "in the feature table but not in the metadata"))
        if len(only_meta):
            drops.append(Drop("sample", tuple(only_meta), "in the metadata but not in the feature table"))
        table = table.loc[common]
        metadata = metadata.loc[common]

        values = table.to_numpy(dtype=np.float64)
        value_type = _value_type(values, where)
        zero = values.sum(axis=1) == 0
        if zero.any():
            ids = tuple(table.index[zero])
            warnings.warn(f"{where}: dropped {len(ids)} all-zero sample(s): {preview(ids)}", stacklevel=2)
            drops.append(Drop("sample", ids, "all-zero sample"))
            values, table, metadata = values[~zero], table.loc[~zero], metadata.loc[~zero]
        if values.shape[0] == 0:
            raise InputError(f"{where}: every sample is all-zero; nothing to analyse.")

        if taxonomy is not None:
            taxonomy = _aligned_taxonomy(taxonomy, table.columns, where)
        X: np.ndarray | sp.csr_matrix = sp.csr_matrix(values) if sparse else values
        return cls(
            X=X,
            samples=pd.Index(table.index, dtype=object, name="sample"),
            features=pd.Index(table.columns, dtype=object, name="feature"),
            metadata=metadata,
            taxonomy=taxonomy,
            name=name,
            value_type=value_type,
            source=source,
            drops=tuple(drops),
        )

    # ------------------------------------------------------------------ views
    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.X)

    @property
    def table(self) -> pd.DataFrame:
        """The feature table as a dense samples × features DataFrame."""
        values = self.X.toarray() if self.is_sparse else self.X
        return pd.DataFrame(values, index=self.samples, columns=self.features)

    def dense(self) -> np.ndarray:
        """``X`` as a dense float64 array."""
        return self.X.toarray() if self.is_sparse else np.asarray(self.X)

    def __repr__(self) -> str:
        tax = f", taxonomy ranks {list(self.taxonomy.columns)}" if self.taxonomy is not None else ""
        return (
            f"Cohort({self.name!r}: {self.n_samples} samples × {self.n_features} features, "
            f"{self.value_type}{', sparse' if self.is_sparse else ''}; metadata {list(self.metadata.columns)}{tax})"
        )

    # ------------------------------------------------------------------ subsetting
    def subset(
        self,
        samples: object = None,
        features: object = None,
        reason: str = "subset",
    ) -> Cohort:
        """A cohort restricted to ``samples`` / ``features`` (ids, or boolean masks); removals recorded with ``reason``."""
        s_mask = self._mask(samples, self.samples, "sample")
        f_mask = self._mask(features, self.features, "feature")
        drops = list(self.drops)
        if (~s_mask).any():
            drops.append(Drop("sample", tuple(self.samples[~s_mask]), reason))
        if (~f_mask).any():
            drops.append(Drop("feature", tuple(self.features[~f_mask]), reason))
        X = self.X[s_mask][:, f_mask]
        taxonomy = self.taxonomy.loc[self.features[f_mask]] if self.taxonomy is not None else None
        return replace(
            self,
            X=X,
            samples=self.samples[s_mask],
            features=self.features[f_mask],
            metadata=self.metadata.loc[self.samples[s_mask]],
            taxonomy=taxonomy,
            drops=tuple(drops),
        )

    def with_table(
        self, X: np.ndarray | sp.csr_matrix, features: pd.Index, taxonomy: pd.DataFrame | None
    ) -> Cohort:
        """The same samples and metadata with a new feature axis (used by collapsing and normalizing)."""
        return replace(
            self, X=X, features=pd.Index(features, dtype=object, name="feature"), taxonomy=taxonomy
        )

    def drop_report(self) -> pd.DataFrame:
        """What was removed and why: one row per (axis, reason) with the count and the first few ids."""
        rows = [
            {"axis": d.axis, "reason": d.reason, "n": len(d.ids), "ids": preview(d.ids, n=5)}
            for d in self.drops
        ]
        return pd.DataFrame(rows, columns=["axis", "reason", "n", "ids"])

    @staticmethod
    def _mask(selector: object, index: pd.Index, axis: str) -> np.ndarray:
        if selector is None:
            return np.ones(len(index), dtype=bool)
        arr = np.asarray(selector)
        if arr.dtype == bool:
            if arr.shape != (len(index),):
                raise InputError(f"a boolean {axis} mask must have length {len(index)}, not {arr.shape[0]}.")
            return arr
        wanted = pd.Index([str(x) for x in arr.ravel()])
        missing = wanted.difference(index)
        if len(missing):
            raise InputError(f"unknown {axis} id(s): {preview(missing)}.")
        return index.isin(wanted)


# ---------------------------------------------------------------------- checks
def _checked_table(table: pd.DataFrame, where: str) -> pd.DataFrame:
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InputError(
            f"{where}: the feature table is empty ({table.shape[0]} samples × {table.shape[1]} features)."
        )
    table = table.copy()
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    for axis, ids in (("sample", table.index), ("feature", table.columns)):
        if ids.has_duplicates:
            dup = ids[ids.duplicated()].unique()
            raise InputError(
                f"{where}: duplicate {axis} ids: {preview(dup)}; make them unique or sum them first."
            )
    non_numeric = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if non_numeric:
        col = non_numeric[0]
        bad = pd.to_numeric(table[col], errors="coerce").isna() & table[col].notna()
        sample = table.index[bad.to_numpy()][0] if bad.any() else table.index[0]
        raise InputError(
            f"{where}: non-numeric abundance {table.at[sample, col]!r} for feature {col!r}, sample {sample!r}; "
            "the table must hold numbers only (is the orientation or the header right?)."
        )
    values = table.to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        r, c = np.argwhere(np.isnan(values))[0]
        raise InputError(
            f"{where}: missing abundance for feature {table.columns[c]!r}, sample {table.index[r]!r}; use 0 for absent."
        )
    if not np.isfinite(values).all():
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise InputError(
            f"{where}: infinite abundance for feature {table.columns[c]!r}, sample {table.index[r]!r}."
        )
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise InputError(
            f"{where}: negative abundance {values[r, c]:g} for feature {table.columns[c]!r}, sample {table.index[r]!r}; "
            "abundances must be counts or relative abundances (already log- or CLR-transformed data are not accepted)."
        )
    return table


def _value_type(values: np.ndarray, where: str) -> ValueType:
    """``counts`` when every value is an integer, ``relative`` when samples are proportions; a mix is an error."""
    integer = np.equal(np.floor(values), values)
    if integer.all():
        return "counts"
    row_integer = integer.all(axis=1)
    row_max = values.max(axis=1)
    if row_integer.any() and (row_max[row_integer] > 100).any():
        first_count = np.flatnonzero(row_integer & (row_max > 100))[0]
        first_rel = np.flatnonzero(~row_integer)[0]
        raise InputError(
            f"{where}: the table mixes counts and proportions (row {first_count + 1} holds integer counts above 100, "
            f"row {first_rel + 1} fractional values); convert every sample to one kind first."
        )
    return "relative"


def _aligned_taxonomy(taxonomy: pd.DataFrame, features: pd.Index, where: str) -> pd.DataFrame:
    taxonomy = taxonomy.copy()
    taxonomy.index = taxonomy.index.astype(str)
    unknown = [c for c in taxonomy.columns if c not in RANKS]
    if unknown:
        raise InputError(f"{where}: taxonomy columns {unknown} are not ranks; use {list(RANKS)}.")
    missing = features.difference(taxonomy.index)
    if len(missing):
        raise InputError(
            f"{where}: {len(missing)} feature(s) have no taxonomy: {preview(missing)}; give a taxonomy row for "
            "every feature (or none)."
        )
    return taxonomy.loc[features]
