"""Feature filtering, normalization and transformation (MaAsLin2's pipeline), as pure numpy functions.

All arrays are samples × features. The order MaAsLin2 uses, and so do we: :func:`filter_features` on the
raw values, :func:`normalize` over the retained features, :func:`transform`. :func:`standardize` z-scores
numeric metadata columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from osteobiome.errors import InputError, suggest

NORMALIZATIONS = ("TSS", "CLR", "CSS", "TMM", "NONE")
TRANSFORMS = ("LOG", "LOGIT", "AST", "NONE")

# Transforms that only make sense on some normalizations (MaAsLin2 allows LOGIT/AST only after TSS or NONE;
# we also refuse to log- or logit-transform CLR values, which are already logs and can be negative).
_ALLOWED_NORMALIZATIONS = {
    "LOG": ("TSS", "CSS", "TMM", "NONE"),
    "LOGIT": ("TSS", "NONE"),
    "AST": ("TSS", "NONE"),
    "NONE": NORMALIZATIONS,
}


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    upper = str(value).upper()
    if upper not in choices:
        raise InputError(f"{what} {value!r} is not known{suggest(upper, choices)}; use one of {', '.join(choices)}.")
    return upper


def check_combination(normalization: str, transform: str) -> tuple[str, str]:
    """Canonical (upper-case) names, or an InputError for unknown names or a nonsensical pair (CLR + LOG …)."""
    normalization = _choice(normalization, NORMALIZATIONS, "normalization")
    transform = _choice(transform, TRANSFORMS, "transform")
    allowed = _ALLOWED_NORMALIZATIONS[transform]
    if normalization not in allowed:
        raise InputError(
            f"transform {transform} cannot follow normalization {normalization} "
            f"({transform} needs {' or '.join(allowed)}); choose another --transform (e.g. NONE) or --normalization."
        )
    return normalization, transform


def filter_features(
    X: np.ndarray, min_abundance: float = 0.0, min_prevalence: float = 0.1, min_variance: float = 0.0
) -> np.ndarray:
    """Boolean mask of features kept, from raw values (MaAsLin2's strict inequalities).

    Kept if ``#{samples: x > min_abundance} > n_samples * min_prevalence`` (NaN counts as 0) and the sample
    variance (ddof 1, NaN ignored) of the raw values is ``> min_variance``.
    """
    if not 0.0 <= min_prevalence <= 1.0:
        raise InputError(f"min_prevalence {min_prevalence} must be a fraction between 0 and 1 (e.g. 0.1 for 10%).")
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    prevalent = np.count_nonzero(X > min_abundance, axis=0) > n * min_prevalence  # NaN > a is False
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # the variance of X / max|X| (times max|X|^2): values near 1e-300 would underflow to a variance of 0
        scale = np.nanmax(np.abs(X), axis=0, initial=0.0) if n else np.zeros(X.shape[1])
        scale = np.where(scale > 0, scale, 1.0)
        scaled = X / scale
        if n <= 1:
            variance = np.zeros(X.shape[1])
        else:
            variance = np.nanvar(scaled, axis=0, ddof=1) if np.isnan(X).any() else scaled.var(axis=0, ddof=1)
    varies = variance > 0 if min_variance == 0 else variance * scale**2 > min_variance
    return prevalent & varies  # an all-NaN feature's variance is NaN: not kept


def normalize(X: np.ndarray, method: str = "TSS", overwrite: bool = False) -> np.ndarray:
    """Normalize each sample (row): TSS, CLR, CSS, TMM or NONE.

    - TSS: x / row total (NaN ignored; an all-zero row stays 0, as vegan's ``decostand('total')``).
    - CLR: ln(x + 1) − mean_j ln(x_j + 1) (per sample; MaAsLin2's ``chemometrics::clr(x + 1)``).
    - CSS: metagenomeSeq cumulative-sum scaling, x / (s_p / 1000) with s_p the sum of counts up to the
      sample's p-th quantile of non-zero counts and p from ``cumNormStatFast`` (relative change > 0.1; at least 0.5), as MaAsLin2 calls it.
    - TMM: edgeR trimmed mean of M-values (30% / 5% trims, precision weights), x / (lib · f) · mean(lib · f).

    ``overwrite=True``: NONE and TSS may be computed in ``X`` itself (a float64 array the caller no longer needs).
    """
    method = _choice(method, NORMALIZATIONS, "normalization")
    X = np.asarray(X, dtype=float)
    overwrite = overwrite and X.flags.writeable
    if method == "NONE":
        return X if overwrite else X.copy()
    if method == "CLR":
        if np.nanmin(X) <= -1:
            raise InputError("CLR needs values > -1 (it takes ln(x + 1)); pass raw counts or relative abundances.")
        logged = np.log(X + 1.0)
        return logged - logged.mean(axis=1, keepdims=True)
    lowest = X.min() if X.size else 0.0
    complete = not np.isnan(lowest)  # min propagates NaN
    if (lowest if complete else np.nanmin(X)) < 0:
        raise InputError(f"{method} normalization needs non-negative abundances; the table has negative values.")
    if method == "TSS":
        totals = X.sum(axis=1, keepdims=True) if complete else np.nansum(X, axis=1, keepdims=True)
        totals = np.maximum(np.finfo(float).eps, totals)
        return np.divide(X, totals, out=X if overwrite else None)
    if method == "CSS":
        return X / (_css_factors(X) / 1000.0)[:, None]
    factors = _tmm_factors(X)
    effective = np.nansum(X, axis=1) * factors
    return X / effective[:, None] * effective.mean()


def _css_quantile(X: np.ndarray) -> float:
    """metagenomeSeq ``cumNormStatFast``: the data-driven quantile p for CSS."""
    if np.any(np.sum(X > 0, axis=1) <= 1):
        raise InputError("CSS needs every sample to have at least two non-zero features; drop near-empty samples.")
    reference = np.sort(np.sort(X, axis=1).mean(axis=0))
    k = int(np.argmax(reference > 0))
    tail = reference[k:]
    probs = np.linspace(0.0, 1.0, tail.size)
    diffs = np.empty((tail.size, X.shape[0]))
    for i, row in enumerate(X):
        diffs[:, i] = tail - np.quantile(row[row > 0], probs)
    medians = np.median(np.abs(diffs), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jumps = np.flatnonzero(np.abs(np.diff(medians)) / medians[1:] > 0.1)
    p = (jumps[0] + 1) / medians.size if jumps.size else 0.5
    return max(p, 0.5)


def _css_factors(X: np.ndarray) -> np.ndarray:
    """Per-sample CSS scaling factors: sum of (x − eps) over counts up to the p-th quantile of non-zeros."""
    X = np.nan_to_num(X, nan=0.0)
    p = _css_quantile(X)
    factors = np.empty(X.shape[0])
    for i, row in enumerate(X):
        cutoff = np.quantile(row[row > 0], p)
        shifted = row - np.finfo(float).eps
        factors[i] = shifted[shifted <= cutoff].sum()
    return factors


def _tmm_factor(obs: np.ndarray, ref: np.ndarray) -> float:
    """edgeR's TMM factor of one sample against the reference sample (weighted trimmed mean of log ratios)."""
    n_obs, n_ref = obs.sum(), ref.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log2((obs / n_obs) / (ref / n_ref))
        abundance = (np.log2(obs / n_obs) + np.log2(ref / n_ref)) / 2
        variance = (n_obs - obs) / n_obs / obs + (n_ref - ref) / n_ref / ref
    finite = np.isfinite(log_ratio) & np.isfinite(abundance)
    log_ratio, abundance, variance = log_ratio[finite], abundance[finite], variance[finite]
    if log_ratio.size == 0 or np.max(np.abs(log_ratio)) < 1e-6:
        return 1.0
    n = log_ratio.size
    lo_l, lo_s = np.floor(n * 0.3) + 1, np.floor(n * 0.05) + 1
    rank_l, rank_s = rankdata(log_ratio), rankdata(abundance)
    keep = (rank_l >= lo_l) & (rank_l <= n + 1 - lo_l) & (rank_s >= lo_s) & (rank_s <= n + 1 - lo_s)
    f = np.sum(log_ratio[keep] / variance[keep]) / np.sum(1.0 / variance[keep])
    return float(2.0**f) if np.isfinite(f) else 1.0


def _tmm_factors(X: np.ndarray) -> np.ndarray:
    """TMM normalization factors (geometric mean 1); the reference sample has its upper quartile closest to
    the mean upper quartile."""
    X = np.nan_to_num(X, nan=0.0)
    libs = X.sum(axis=1)
    if np.any(libs <= 0):
        raise InputError("TMM needs every sample to have a positive total count; drop empty samples.")
    upper = np.quantile(X / libs[:, None], 0.75, axis=1)
    ref = X[int(np.argmax(np.sqrt(X).sum(axis=1)))] if np.median(upper) < 1e-20 else X[int(np.argmin(np.abs(upper - upper.mean())))]
    factors = np.array([_tmm_factor(row, ref) for row in X])
    return factors / np.exp(np.mean(np.log(factors)))


def transform(X: np.ndarray, method: str = "LOG", overwrite: bool = False) -> np.ndarray:
    """Transform each value: LOG, LOGIT, AST or NONE.

    - LOG: log2(x), zeros replaced by half of that feature's smallest non-zero value.
    - LOGIT: ln(x / (1 − x)) on proportions; non-finite results (x = 0 or 1) become 0 (MaAsLin2).
    - AST: sign(x) · arcsin(sqrt(|x|)), needs |x| <= 1.

    ``overwrite=True``: LOG may be computed in ``X`` itself (a float64 array the caller no longer needs).
    """
    method = _choice(method, TRANSFORMS, "transform")
    X = np.asarray(X, dtype=float)
    if method == "NONE":
        return X.copy()
    if method == "LOG":
        return _log2(X if overwrite and X.flags.writeable else X.copy())
    if method == "AST":
        if np.nanmax(np.abs(X)) > 1:
            raise InputError("AST transform needs values between -1 and 1; use --normalization TSS (relative abundances).")
        return np.sign(X) * np.arcsin(np.sqrt(np.abs(X)))
    if np.nanmin(X) < 0 or np.nanmax(X) > 1:
        raise InputError("LOGIT transform needs proportions between 0 and 1; use --normalization TSS.")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(X / (1.0 - X))
    return np.where(np.isfinite(y) | np.isnan(X), y, 0.0)


def _smallest_positive(X: np.ndarray) -> np.ndarray:
    """Per column of a non-negative ``X`` without NaN: the smallest value > 0 (0 where there is none), computed
    on the IEEE bits: for x >= 0 they order as the values do, and ``bits - 1`` (unsigned, 0 wrapping to the
    largest) puts zeros last. ``X`` is changed and restored in place (exact integer arithmetic)."""
    bits = X.view(np.uint64)
    bits -= np.uint64(1)
    smallest = bits.min(axis=0) + np.uint64(1)
    bits += np.uint64(1)
    return smallest.view(np.float64)


def _log2(X: np.ndarray) -> np.ndarray:
    """LOG of :func:`transform`, in place in ``X``: log2(x), zeros (and -0.0) at log2(½ smallest positive value of
    the feature). Every positive value of a feature lies above half its smallest one, so ``max(x, ½ smallest)``
    replaces exactly the zeros (NaN stays NaN) before one ``log2`` of the whole table (log2 of zero is slow)."""
    lowest = X.min() if X.size else 0.0
    missing = np.isnan(lowest)  # min propagates NaN
    if (np.nanmin(X) if missing else lowest) < 0:
        raise InputError("LOG transform needs non-negative values; use --transform NONE after CLR.")
    if missing:  # features with missing values: their smallest positive value ignoring NaN
        smallest = np.fmin.reduce(np.where((X == 0) | np.isnan(X), np.inf, X), axis=0)
    else:
        smallest = _smallest_positive(X)
    if np.any(~(smallest > 0) | ~np.isfinite(smallest)):
        raise InputError("LOG transform: a feature has no non-zero value; filter features first (--min-prevalence).")
    np.maximum(X, smallest / 2.0, out=X)
    return np.log2(X, out=X)


def standardize(metadata: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Copy of ``metadata`` with numeric ``columns`` (default: all numeric) z-scored by :func:`zscore`."""
    out = metadata.copy()
    names = columns if columns is not None else list(metadata.columns)
    for name in names:
        if pd.api.types.is_numeric_dtype(out[name]) and not pd.api.types.is_bool_dtype(out[name]):
            out[name] = zscore(out[name].to_numpy(dtype=float), name)
    return out


def zscore(values: np.ndarray, name: str, where: str = "model") -> np.ndarray:
    """``(x − mean) / sd`` of one metadata column, sample sd (ddof 1), NaN ignored — R's ``scale()``; a constant
    column raises InputError naming ``name`` (drop it from the ``where``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean, sd = np.nanmean(values), np.nanstd(values, ddof=1)
    if not np.isfinite(sd) or sd == 0:
        raise InputError(f"metadata column {name!r} is constant; drop it from the {where}.")
    return (values - mean) / sd


#: A column whose sd is at most this × its largest |value| is constant (equal up to rounding).
CONSTANT_TOLERANCE = 1e-12


def standardize_columns(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(z, constant)``: every column as ``(x − mean) / sd`` (sd with n − 1, R's ``scale()``) and a mask of the
    constant columns, left NaN (so are columns with a NaN). Constant means ``sd ≤ 1e-12 · max|x|``: a column
    equal up to rounding (a feature transformed to the same value in every sample, say) carries no information,
    and scaling its rounding noise to sd 1 would invent an exposure; R's ``lm`` aliases such a column (NA).
    The exposures of survival and of mediation (its mediators and outcome too) are standardized here."""
    values = np.asarray(values, dtype=float)
    sd = values.std(axis=0, ddof=1)
    constant = ~(sd > CONSTANT_TOLERANCE * np.maximum(np.abs(values).max(axis=0), 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (values - values.mean(axis=0)) / np.where(constant, np.nan, sd)
    return z, constant


def preprocessed_table(table: pd.DataFrame, opts: Mapping[str, Any]) -> pd.DataFrame:
    """Samples × kept features after the filter / normalization / transform of ``opts`` (resolved association
    options as a mapping), computed over every sample of ``table`` as ``associate`` does; the exposures of the
    outcome-side analyses (survival, mediation), before they are standardized."""
    raw = table.to_numpy(dtype=float)
    kept = filter_features(raw, opts["min_abundance"], opts["min_prevalence"], opts["min_variance"])
    check_kept(int(kept.sum()), raw.shape[1], opts)
    values = transform(normalize(raw[:, kept], opts["normalization"]), opts["transform"])
    return pd.DataFrame(values, index=table.index, columns=table.columns[kept])


def check_kept(n_kept: int, n_features: int, opts: Mapping[str, Any]) -> None:
    """An :class:`InputError` when the filter of ``opts`` (association options, read by name) kept none of the
    ``n_features`` features."""
    if n_kept == 0:
        raise InputError(
            f"all {n_features} features were filtered out (min_prevalence={opts['min_prevalence']}, "
            f"min_abundance={opts['min_abundance']}, min_variance={opts['min_variance']}); lower the thresholds."
        )
