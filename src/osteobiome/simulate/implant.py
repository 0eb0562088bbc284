"""Signal implantation into a real table (the realistic benchmark design of Wirbel et al. 2024, Genome Biology
25:247, doi:10.1186/s13059-024-03390-9, here with a continuous phenotype).

The real counts and metadata are kept. A phenotype is drawn from the real covariates,
``y = Σ_k w_k · x_k + noise_sd · ε`` (``x_k``: z-scored numeric covariate, or 0/1 indicator of the non-reference
level of a categorical one), and z-scored to ``z``. Each marker's relative abundance is multiplied by
``2**(log2fc · z)``, samples are re-closed, and counts are re-drawn by a multinomial at each sample's original
depth. Absent features stay absent (only abundance, not prevalence, carries the signal).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.io import check_columns
from osteobiome.io.align import rows_for
from osteobiome.io.cohort import Cohort
from osteobiome.simulate.associations import standardized
from osteobiome.simulate.copula import LN2


@dataclass(frozen=True)
class ImplantResult:
    """``table``: the implanted table (same samples and features); ``metadata``: input plus the phenotype
    column; ``truth``: ``feature phenotype log2fc cohort`` of the markers."""

    table: pd.DataFrame
    metadata: pd.DataFrame
    truth: pd.DataFrame
    phenotype: str


def implant_signal(
    table: pd.DataFrame | Cohort,
    metadata: pd.DataFrame | None = None,
    n_markers: int = 10,
    markers: Sequence[str] | None = None,
    effect: float | Sequence[float] = 0.3,
    covariate_weights: Mapping[str, float] | None = None,
    noise_sd: float = 1.0,
    phenotype: str = "phenotype",
    min_prevalence: float = 0.1,
    random_signs: bool = True,
    seed: int | np.random.Generator = 0,
    name: str = "implanted",
) -> ImplantResult:
    """Implant a phenotype signal into ``table`` (samples × features counts or relative abundances).

    ``markers`` (feature ids) or ``n_markers`` drawn among features present in ≥ ``min_prevalence`` of
    samples; ``effect``: log2 fold change per SD of the phenotype (one value, or one per marker), with a
    random sign per marker when ``random_signs`` and markers were drawn; ``covariate_weights``: ``{column:
    weight}`` in SD units of the phenotype's systematic part (confounding when the same covariates shift
    the microbiome); ``noise_sd``: SD of the independent part. Count tables are re-sampled at their original
    depth; relative tables are re-closed only.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if isinstance(table, Cohort):
        metadata = table.metadata if metadata is None else metadata
        table = table.table
    if metadata is None:
        metadata = pd.DataFrame(index=table.index)
    values, metadata = aligned_samples(table, metadata)
    if phenotype in metadata.columns:
        raise InputError(f"metadata already has a column {phenotype!r}; choose another phenotype name.")
    is_counts = bool(np.equal(np.floor(values), values).all())

    chosen, log2fc = _markers(table, values, markers, n_markers, effect, min_prevalence, random_signs, rng)
    y = _systematic_part(metadata, covariate_weights or {}) + float(noise_sd) * rng.standard_normal(
        len(metadata)
    )
    if y.std() == 0:
        raise InputError(
            "the implanted phenotype is constant; give covariate_weights or a positive noise_sd."
        )
    z = standardized(y)

    depth = values.sum(axis=1)
    rel = values / depth[:, None]
    rel[:, chosen] *= np.exp(LN2 * np.outer(z, log2fc))
    rel /= rel.sum(axis=1, keepdims=True)
    new = (
        rng.multinomial(depth.astype(np.int64), rel).astype(values.dtype)
        if is_counts
        else rel * depth[:, None]
    )

    out_meta = metadata.copy()
    out_meta[phenotype] = y
    truth = pd.DataFrame(
        {
            "feature": table.columns[chosen].astype(str),
            "phenotype": phenotype,
            "log2fc": log2fc,
            "cohort": name,
        }
    )
    return ImplantResult(
        table=pd.DataFrame(new, index=table.index, columns=table.columns),
        metadata=out_meta,
        truth=truth,
        phenotype=phenotype,
    )


def aligned_samples(table: pd.DataFrame, metadata: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """``(values, metadata rows in table order, ids as str)``; InputError for a sample without metadata, a
    negative or non-finite abundance, or an all-zero sample."""
    meta = rows_for(
        table.index, metadata, lambda absent: f"metadata: no row for sample(s) {absent}; every table sample needs metadata."
    )
    values = table.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError("table: abundances must be finite and non-negative to implant a signal.")
    if (values.sum(axis=1) == 0).any():
        raise InputError(
            f"table: all-zero sample(s) {preview(table.index[values.sum(axis=1) == 0])}; remove them first."
        )
    return values, meta


def _markers(
    table: pd.DataFrame,
    values: np.ndarray,
    markers: Sequence[str] | None,
    n_markers: int,
    effect: float | Sequence[float],
    min_prevalence: float,
    random_signs: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    columns = table.columns.astype(str)
    if markers is not None:
        markers = [str(m) for m in markers]
        for m in markers:
            if m not in columns:
                raise InputError(f"marker {m!r} is not a feature of the table{suggest(m, columns)}.")
        chosen = columns.get_indexer(markers)
        signs = np.ones(len(chosen))
    else:
        eligible = np.flatnonzero((values > 0).mean(axis=0) >= min_prevalence)
        if n_markers < 1 or n_markers > len(eligible):
            raise InputError(
                f"n_markers={n_markers}: {len(eligible)} features are present in ≥ {min_prevalence:.0%} of samples; "
                "ask for between 1 and that many, or lower min_prevalence."
            )
        chosen = np.sort(rng.choice(eligible, size=n_markers, replace=False))
        signs = rng.choice([-1.0, 1.0], size=n_markers) if random_signs else np.ones(n_markers)
    effects = (
        np.broadcast_to(np.asarray(effect, dtype=float), (len(chosen),))
        if np.ndim(effect) == 0
        else np.asarray(effect, dtype=float)
    )
    if effects.shape != (len(chosen),):
        raise InputError(f"effect: give one value or one per marker ({len(chosen)}), not {effects.size}.")
    return chosen, signs * effects


def _systematic_part(metadata: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    y = np.zeros(len(metadata))
    check_columns(metadata, weights, "covariate_weights")
    for column, weight in weights.items():
        x = metadata[column]
        if pd.api.types.is_numeric_dtype(x):
            v = standardized(x.to_numpy(dtype=float))
        else:
            levels = sorted(x.dropna().astype(str).unique())
            if len(levels) != 2:
                raise InputError(
                    f"covariate {column!r} has {len(levels)} levels; implantation uses numeric or two-level covariates."
                )
            v = np.where(x.isna(), np.nan, (x.astype(str) == levels[1]).to_numpy(dtype=float))
        if np.isnan(v).any():
            warnings.warn(
                f"covariate {column!r}: {int(np.isnan(v).sum())} missing value(s) contribute nothing to the phenotype.",
                stacklevel=3,
            )
            v = np.nan_to_num(v, nan=np.nanmean(v))
        y += float(weight) * v
    return y
