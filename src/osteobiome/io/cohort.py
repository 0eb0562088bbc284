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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from osteobiome.errors import InputError, preview, unique_ids
from osteobiome.io.align import match_samples
from osteobiome.io.taxonomy import RANKS, rank_labels

__all__ = ["RANKS", "Cohort", "Drop", "ValueType"]
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
        all proportions/percentages (relative); a mix of the two is an error. ``sparse=True`` stores ``X``
        as CSR.
        """
        where = source or name
        if table.shape[0] == 0 or table.shape[1] == 0:
            raise InputError(
                f"{where}: the feature table is empty ({table.shape[0]} samples × {table.shape[1]} features)."
            )
        _check_numeric(table, where)
        values = table.to_numpy(dtype=np.float64)
        return cls.from_arrays(
            sp.csr_matrix(values) if sparse else values,
            table.index,
            table.columns,
            metadata,
            taxonomy,
            name=name,
            source=source,
        )

    @classmethod
    def from_arrays(
        cls,
        X: np.ndarray | sp.spmatrix,
        samples: Sequence[object],
        features: Sequence[object],
        metadata: pd.DataFrame | None = None,
        taxonomy: pd.DataFrame | None = None,
        *,
        name: str = "cohort",
        source: str = "",
        value_type: ValueType | None = None,
    ) -> Cohort:
        """Like :meth:`from_frames` for a dense array or a scipy sparse matrix (kept as CSR, never densified).

        ``value_type`` overrides the inference when the format says what the values are (MetaPhlAn percents
        that happen to be whole numbers are still relative abundances).
        """
        where = source or name
        X = X.tocsr().astype(np.float64, copy=False) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        samples = pd.Index([str(s) for s in samples], dtype=object, name="sample")
        features = pd.Index([str(f) for f in features], dtype=object, name="feature")
        if X.shape != (len(samples), len(features)):
            raise ValueError(f"X has shape {X.shape}, ids give {(len(samples), len(features))}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise InputError(f"{where}: the feature table is empty ({X.shape[0]} samples × {X.shape[1]} features).")
        unique_ids(samples, "sample", where)
        unique_ids(features, "feature", where)
        _check_values(X, samples, features, where)

        drops: list[Drop] = []
        metadata = pd.DataFrame(index=samples.copy()) if metadata is None else metadata.copy()
        metadata.index = pd.Index([str(i) for i in metadata.index], dtype=object, name="sample")
        hint = "check the id column, or the table's orientation (--samples-as rows|columns)"
        keep, _ = match_samples(samples, metadata, hint=hint, where=where)
        only_meta = metadata.index.difference(samples, sort=False)
        if not keep.all():
            drops.append(Drop("sample", tuple(samples[~keep]), "in the feature table but not in the metadata"))
        if len(only_meta):
            drops.append(Drop("sample", tuple(only_meta), "in the metadata but not in the feature table"))

        depth = np.asarray(X.sum(axis=1)).ravel()
        zero = keep & (depth == 0)
        if zero.sum() == keep.sum():
            raise InputError(f"{where}: every sample is all-zero; nothing to analyse.")
        if zero.any():
            ids = tuple(samples[zero])
            warnings.warn(f"{where}: dropped {len(ids)} all-zero sample(s): {preview(ids, n=20)}", stacklevel=3)
            drops.append(Drop("sample", ids, "all-zero sample"))
        keep &= ~zero
        if not keep.all():
            X = X[np.flatnonzero(keep)]
            samples = samples[keep]
            depth = depth[keep]
        value_type = value_type or _value_type(X, depth, samples, where)

        if taxonomy is not None:
            taxonomy = _aligned_taxonomy(taxonomy, features, where)
        return cls(
            X=X,
            samples=samples,
            features=features,
            metadata=metadata.loc[samples],
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

    def with_table(self, X: np.ndarray | sp.csr_matrix, features: pd.Index, taxonomy: pd.DataFrame | None) -> Cohort:
        """The same samples and metadata with a new feature axis (used by collapsing and normalizing)."""
        return replace(self, X=X, features=pd.Index(features, dtype=object, name="feature"), taxonomy=taxonomy)

    def collapse(self, rank: str) -> Cohort:
        """Sum features that share a label at ``rank`` (see :func:`osteobiome.io.taxonomy.rank_labels`).

        New features are the rank labels in order of first appearance; the taxonomy keeps the ranks down to
        ``rank``. Sparse ``X`` stays sparse.
        """

        if self.taxonomy is None:
            raise InputError(
                f"{self.source or self.name}: cannot collapse to {rank!r} without a taxonomy; give one "
                "(--taxonomy, or a table that carries it)."
            )
        labels = rank_labels(self.taxonomy, rank)
        codes, groups = pd.factorize(labels.to_numpy(dtype=object))
        indicator = sp.csr_matrix(
            (np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), len(groups))
        )
        X = (self.X @ indicator).tocsr() if self.is_sparse else np.asarray(self.X @ indicator)
        upto = [r for r in self.taxonomy.columns[: list(self.taxonomy.columns).index(labels.name) + 1]]
        first = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
        taxonomy = self.taxonomy.iloc[first][upto].copy()
        taxonomy.index = pd.Index(groups, dtype=object, name="feature")
        taxonomy[labels.name] = list(groups)
        return self.with_table(X, pd.Index(groups, dtype=object), taxonomy)

    def drop_report(self) -> pd.DataFrame:
        """What was removed and why: one row per (axis, reason) with the count and the first few ids."""
        rows = [
            {"axis": d.axis, "reason": d.reason, "n": len(d.ids), "ids": preview(d.ids, n=5)} for d in self.drops
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
def _check_numeric(table: pd.DataFrame, where: str) -> None:
    """Every column numeric, else an error naming the first offending value."""
    for j, col in enumerate(table.columns):
        column = table.iloc[:, j]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            continue
        bad = (pd.to_numeric(column, errors="coerce").isna() & column.notna()).to_numpy()
        r = int(np.flatnonzero(bad)[0]) if bad.any() else 0
        raise InputError(
            f"{where}: non-numeric abundance {column.iloc[r]!r} for feature {str(col)!r}, sample "
            f"{str(table.index[r])!r}; the table must hold numbers only (is the orientation or the header right?)."
        )


def _stored_values(X: np.ndarray | sp.csr_matrix) -> np.ndarray:
    return X.data if sp.issparse(X) else X


def _first_cell(X: np.ndarray | sp.csr_matrix, bad: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first flagged stored value."""
    if not sp.issparse(X):
        r, c = np.argwhere(bad)[0]
        return int(r), int(c)
    k = int(np.flatnonzero(bad)[0])
    return int(np.searchsorted(X.indptr, k, side="right") - 1), int(X.indices[k])


def _check_values(X: np.ndarray | sp.csr_matrix, samples: pd.Index, features: pd.Index, where: str) -> None:
    values = _stored_values(X)
    checks = (
        (np.isnan(values), "missing abundance", "use 0 for absent"),
        (np.isinf(values), "infinite abundance", "fix or remove it"),
        (
            values < 0,
            "negative abundance",
            "abundances must be counts or relative abundances (already log- or CLR-transformed data are not accepted)",
        ),
    )
    for bad, problem, todo in checks:
        if bad.any():
            r, c = _first_cell(X, bad)
            value = X[r, c]
            raise InputError(
                f"{where}: {problem} {value:g} for feature {features[c]!r}, sample {samples[r]!r}; {todo}."
            )


def _value_type(X: np.ndarray | sp.csr_matrix, depth: np.ndarray, samples: pd.Index, where: str) -> ValueType:
    """``counts`` when every value is an integer, else ``relative`` (proportions, percentages or other
    non-integer abundances such as PICRUSt2 predictions or HUMAnN RPKs).

    A mix is an error: some samples hold integer counts summing to more than 101 while others hold
    fractional values summing to at most 101 (proportions or percentages); ``depth``: the row sums of ``X``.
    """
    values = _stored_values(X)
    fractional = values != np.floor(values)
    if not fractional.any():
        return "counts"
    if sp.issparse(X):
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        row_fractional = np.bincount(rows, weights=fractional, minlength=X.shape[0]) > 0
    else:
        row_fractional = fractional.any(axis=1)
    counts_rows = ~row_fractional & (depth > 101)
    proportion_rows = row_fractional & (depth <= 101)
    if counts_rows.any() and proportion_rows.any():
        c = samples[np.flatnonzero(counts_rows)[0]]
        p = samples[np.flatnonzero(proportion_rows)[0]]
        raise InputError(
            f"{where}: the table mixes counts and proportions (sample {c!r} holds integer counts summing to "
            f"{depth[samples.get_loc(c)]:g}, sample {p!r} fractions summing to {depth[samples.get_loc(p)]:.4g}); "
            "convert every sample to one kind first."
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
