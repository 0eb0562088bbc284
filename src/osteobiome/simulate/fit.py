"""Fitting :class:`~osteobiome.simulate.params.SimParams` to a real count table.

1. Observed per-feature moments on the template: prevalence, mean and SD of ``ln(count / depth)`` over the
   non-zero samples; log-normal read depth (mean and SD of ``ln depth``).
2. Copula correlation: each feature becomes latent normal scores (zeros → the mean of a standard normal
   below ``Φ⁻¹(1 − prevalence)``; non-zeros → normal scores of their ranks above it), the Ledoit–Wolf shrunk
   correlation of those scores is computed and kept as its leading ``n_factors`` principal factors
   (``R ≈ L Lᵀ + diag(ψ)``, always positive definite, small to store).
3. Calibration by simulated moments: the structural prevalence, ``μ`` and ``σ`` are adjusted until tables
   simulated at the template's own depths reproduce the observed moments (sequencing adds zeros and
   truncates low abundances, so the observed moments are not the latent ones).

The shipped ``osteobiome/data/twins_params.json`` is regenerated with::

    osteobiome simulate fit ../shared/data/twins/Twins.csv \\
        --relabel src/osteobiome/data/silva138_gut_relabel.tsv --out src/osteobiome/data/twins_params.json
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from osteobiome.errors import InputError, preview
from osteobiome.io.cohort import RANKS
from osteobiome.simulate.copula import latent_abundances, sequence
from osteobiome.simulate.params import SimParams

MIN_PREVALENCE = 1e-4
MAX_PREVALENCE = 0.999
MAX_COMMUNALITY = 0.95
MAX_MEAN_DROP = 3.0  # latent mean log abundance at most this far (ln units) below the observed one


def fit_params(
    table: pd.DataFrame,
    n_factors: int = 10,
    calibration_rounds: int = 25,
    n_calibration: int = 3000,
    seed: int = 0,
    source: str = "",
) -> SimParams:
    """Fit simulator parameters to a samples × features count ``table`` (see the module docstring)."""
    where = source or "template"
    absent = table.sum(axis=0).to_numpy() == 0
    if absent.any():
        warnings.warn(
            f"{where}: dropped {int(absent.sum())} feature(s) never observed: {preview(table.columns[absent])} "
            "(nothing to fit; they are not simulated).",
            stacklevel=2,
        )
        table = table.loc[:, ~absent]
    counts = _checked_counts(table, where)
    depth = counts.sum(axis=1)
    prev_obs, mean_obs, sd_obs = marginal_moments(counts)
    sd_fill = float(np.nanmedian(sd_obs)) if np.isfinite(sd_obs).any() else 1.0
    sd_obs = np.where(np.isfinite(sd_obs) & (sd_obs > 0), sd_obs, sd_fill)

    loadings = _factor_loadings(counts, prev_obs, n_factors)
    log_depth = np.log(depth)
    params = SimParams(
        features=tuple(str(c) for c in table.columns),
        prevalence=np.clip(prev_obs, MIN_PREVALENCE, MAX_PREVALENCE),
        meanlog=mean_obs.copy(),
        sdlog=sd_obs.copy(),
        loadings=loadings,
        depth_meanlog=float(log_depth.mean()),
        depth_sdlog=float(log_depth.std(ddof=1)) if len(depth) > 1 else 0.0,
        source=source,
    )
    return _calibrate(params, prev_obs, mean_obs, sd_obs, depth, calibration_rounds, n_calibration, seed)


def marginal_moments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per feature: prevalence, mean and sample SD of ``ln(count / depth)`` over non-zero samples (NaN if < 2)."""
    depth = counts.sum(axis=1, keepdims=True)
    nz = counts > 0
    k = nz.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logrel = np.where(nz, np.log(np.where(nz, counts, 1) / depth), 0.0)
        mean = logrel.sum(axis=0) / k
        sq = np.where(nz, (logrel - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(sq / (k - 1))
    sd[k < 2] = np.nan
    return k / counts.shape[0], mean, sd


def relabel(params: SimParams, mapping: pd.DataFrame, where: str = "relabel table") -> SimParams:
    """Rename features through ``mapping`` (column ``source`` = current name, rank columns incl. ``Genus``)."""
    if "source" not in mapping.columns or "Genus" not in mapping.columns:
        raise InputError(f"{where}: needs columns 'source' and 'Genus' (plus any of {list(RANKS)}).")
    lookup = mapping.set_index("source")
    missing = [f for f in params.features if f not in lookup.index]
    if missing:
        raise InputError(f"{where}: no row for feature(s) {preview(missing)}; add a 'source' row for each.")
    ranks = [r for r in RANKS if r in mapping.columns]
    taxonomy = lookup.loc[list(params.features), ranks].copy()
    names = tuple(taxonomy["Genus"].astype(str))
    if len(set(names)) != len(names):
        dup = pd.Index(names)[pd.Index(names).duplicated()]
        raise InputError(f"{where}: new names are not unique: {preview(dup)}.")
    taxonomy.index = pd.Index(names, name="feature")
    return replace(params, features=names, taxonomy=taxonomy)


def read_template(path: str | Path, samples_as: str | None = None) -> pd.DataFrame:
    """A samples × features count table from ``path``, any format :func:`osteobiome.io.read_features` reads
    (orientation of plain tables detected unless ``samples_as`` is given)."""
    from osteobiome.io import read_features

    return read_features(path, samples_as=samples_as).table


# ---------------------------------------------------------------------- internals
def _checked_counts(table: pd.DataFrame, where: str) -> np.ndarray:
    values = table.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[0] < 10:
        raise InputError(
            f"{where}: at least 10 samples are needed to fit the simulator (got {values.shape[0]})."
        )
    if not np.isfinite(values).all() or (values < 0).any() or not np.equal(np.floor(values), values).all():
        raise InputError(
            f"{where}: the template must hold raw, non-negative integer counts (not relative abundances)."
        )
    if (values.sum(axis=1) == 0).any():
        bad = table.index[values.sum(axis=1) == 0]
        raise InputError(f"{where}: all-zero sample(s) {preview(bad)}; remove them first.")
    return values


def _latent_scores(counts: np.ndarray, prevalence: np.ndarray) -> np.ndarray:
    """Normal scores consistent with the zero-inflated copula (see the module docstring, step 2)."""
    rel = counts / counts.sum(axis=1, keepdims=True)
    threshold = ndtri(np.clip(1 - prevalence, 1e-9, 1 - 1e-9))
    zero_score = -np.exp(-0.5 * threshold**2) / np.sqrt(2 * np.pi) / np.maximum(ndtr(threshold), 1e-12)
    nz = counts > 0
    ranks = pd.DataFrame(np.where(nz, rel, np.nan)).rank(axis=0).to_numpy()
    k = nz.sum(axis=0)
    u = (1 - prevalence) + prevalence * ranks / (k + 1)
    scores = np.where(nz, ndtri(np.clip(u, 1e-9, 1 - 1e-9)), zero_score)
    return scores


def _factor_loadings(counts: np.ndarray, prevalence: np.ndarray, n_factors: int) -> np.ndarray:
    from sklearn.covariance import ledoit_wolf  # here: scikit-learn is slow to import; only fitting needs it

    p = counts.shape[1]
    k = max(0, min(n_factors, p - 1))
    if k == 0:
        return np.zeros((p, 1))
    scores = _latent_scores(counts, prevalence)
    sd = scores.std(axis=0)
    usable = sd > 1e-9
    standardized = np.zeros_like(scores)
    standardized[:, usable] = (scores[:, usable] - scores[:, usable].mean(axis=0)) / sd[usable]
    cov, _ = ledoit_wolf(standardized, assume_centered=True)
    d = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    corr = cov / np.outer(d, d)
    eigval, eigvec = np.linalg.eigh(corr)
    order = np.argsort(eigval)[::-1][:k]
    loadings = eigvec[:, order] * np.sqrt(np.clip(eigval[order], 0, None))
    loadings[~usable] = 0.0
    communality = np.sum(loadings**2, axis=1)
    too_high = communality > MAX_COMMUNALITY
    loadings[too_high] *= np.sqrt(MAX_COMMUNALITY / communality[too_high])[:, None]
    return loadings


def _calibrate(
    params: SimParams,
    prev_obs: np.ndarray,
    mean_obs: np.ndarray,
    sd_obs: np.ndarray,
    depth: np.ndarray,
    rounds: int,
    n_sim: int,
    seed: int,
) -> SimParams:
    """Method of simulated moments with common random numbers (same seed every round), bounded (see below)."""
    prev, mu, sigma = params.prevalence.copy(), params.meanlog.copy(), params.sdlog.copy()
    # Sequencing only removes presences and only truncates low abundances, so the latent prevalence is at
    # least the observed one and the latent mean at most the observed one; the caps keep rare features from
    # drifting to "always present but too small to be seen" (a direction the moments cannot tell apart).
    prev_low = np.clip(prev_obs, MIN_PREVALENCE, MAX_PREVALENCE)
    prev_high = np.clip(4 * prev_obs + 0.05, prev_low, MAX_PREVALENCE)
    for _ in range(rounds):
        current = replace(params, prevalence=prev, meanlog=mu, sdlog=sigma)
        rng = np.random.default_rng(seed)
        depths = rng.choice(depth.astype(np.int64), size=n_sim, replace=True)
        counts = sequence(latent_abundances(current, n_sim, rng), depths, rng)
        prev_sim, mean_sim, sd_sim = marginal_moments(counts)
        ratio = np.where(prev_sim > 0, prev_obs / np.maximum(prev_sim, 1e-12), 3.0)
        prev = np.clip(prev * ratio**0.8, prev_low, prev_high)
        ok_mean = np.isfinite(mean_sim)
        mu = np.clip(
            np.where(ok_mean, mu + 0.8 * (mean_obs - mean_sim), mu + 0.5), mean_obs - MAX_MEAN_DROP, mean_obs
        )
        ok_sd = np.isfinite(sd_sim) & (sd_sim > 0)
        sigma = np.where(ok_sd, sigma * (sd_obs / np.where(ok_sd, sd_sim, 1.0)) ** 0.8, sigma)
        sigma = np.clip(sigma, np.maximum(0.5 * sd_obs, 0.05), np.minimum(2.0 * sd_obs, 5.0))
    if not np.isfinite(mu).all():
        warnings.warn("simulator fit: calibration left non-finite means; check the template.", stacklevel=2)
    return replace(params, prevalence=prev, meanlog=mu, sdlog=sigma)
