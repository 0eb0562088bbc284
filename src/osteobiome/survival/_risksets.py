"""Risk sets of right-censored or left-truncated (counting-process) survival data, as index arithmetic.

For distinct event times ``t_1 < … < t_K`` the risk set of ``t_k`` is ``{i : entry_i < t_k <= time_i}``
(R's ``Surv(entry, time, event)``; entry = −∞ without delayed entry). Sample ``i`` is in the risk sets
``k <= a_i`` (``a_i`` the last event time <= ``time_i``) and not yet in those with ``k <= b_i`` (``b_i`` the last
event time <= ``entry_i``), so a risk-set sum is a reverse cumulative sum over event times of per-bin sums,
the bins taken by one sparse (K × n) product for ``a`` and one for ``b``. Deaths at ``t_k`` are summed with
a sparse (K × n) indicator matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RiskSets:
    """Event-time structure shared by every feature's Cox model.

    ``times`` (K distinct event times), ``deaths`` (d_k), ``at_risk`` (n_k), ``death_matrix`` (K × n CSR
    indicator of the samples dying at t_k), ``exit_bins`` / ``entry_bins`` (K × n CSR indicators of the last
    event time <= each sample's time / entry; ``entry_bins`` None without delayed entry)."""

    times: np.ndarray
    deaths: np.ndarray
    at_risk: np.ndarray
    death_matrix: sp.csr_matrix
    exit_bins: sp.csr_matrix
    entry_bins: sp.csr_matrix | None

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Risk-set sums of per-sample ``values`` (n, …) at every event time: (K, …)."""
        binned = _apply(self.exit_bins, values)
        if self.entry_bins is not None:
            binned -= _apply(self.entry_bins, values)
        return np.cumsum(binned[::-1], axis=0)[::-1]

    def death_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-sample ``values`` (n, …) over the deaths at every event time: (K, …)."""
        return _apply(self.death_matrix, values)


def _apply(matrix: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(values).reshape(values.shape[0], -1)
    return np.asarray(matrix @ flat).reshape((matrix.shape[0],) + values.shape[1:])


def _bins(values: np.ndarray, times: np.ndarray) -> sp.csr_matrix:
    """(K × n) indicator of the last event time <= each value (samples before the first have no entry)."""
    k = np.searchsorted(times, values, side="right") - 1
    inside = np.flatnonzero(k >= 0)
    return sp.csr_matrix((np.ones(inside.size), (k[inside], inside)), shape=(times.size, values.size))


def risk_sets(time: np.ndarray, event: np.ndarray, entry: np.ndarray | None = None) -> RiskSets:
    """The :class:`RiskSets` of ``time`` (event or censoring), ``event`` (bool) and optional ``entry`` (delayed
    entry / left truncation: a sample is at risk on ``(entry, time]``)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    times, inverse = np.unique(time[event], return_inverse=True)
    deaths = np.bincount(inverse, minlength=times.size)
    cols = np.flatnonzero(event)
    death_matrix = sp.csr_matrix((np.ones(cols.size), (inverse, cols)), shape=(times.size, time.size))
    exit_bins = _bins(time, times)
    entry_bins = None if entry is None else _bins(np.asarray(entry, dtype=float), times)
    ones = np.ones(time.size)
    at_risk = np.cumsum((exit_bins @ ones - (0 if entry_bins is None else entry_bins @ ones))[::-1])[::-1]
    return RiskSets(times, deaths, np.rint(at_risk).astype(int), death_matrix, exit_bins, entry_bins)
