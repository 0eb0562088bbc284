"""Risk sets of right-censored or left-truncated (counting-process) survival data, as index arithmetic.

For distinct event times ``t_1 < … < t_K`` the risk set of ``t_k`` is ``{i : entry_i < t_k <= time_i}``
(R's ``Surv(entry, time, event)``; entry = −∞ without delayed entry). Sums over a risk set are a
cumulative sum over samples sorted by decreasing ``time`` (those with ``time >= t_k``) minus one over samples
sorted by decreasing ``entry`` (those with ``entry >= t_k``, not yet at risk). Deaths at ``t_k`` are summed
with a sparse (K × n) indicator matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class RiskSets:
    """Event-time structure shared by every feature's Cox model.

    ``times`` (K distinct event times), ``deaths`` (d_k), ``at_risk`` (n_k), ``death_matrix`` (K × n CSR
    indicator of the samples dying at t_k), ``by_time`` / ``n_time`` (samples by decreasing time; how many
    have ``time >= t_k``), ``by_entry`` / ``n_entry`` (the same for ``entry``; None without delayed entry)."""

    times: np.ndarray
    deaths: np.ndarray
    at_risk: np.ndarray
    death_matrix: sp.csr_matrix
    by_time: np.ndarray
    n_time: np.ndarray
    by_entry: np.ndarray | None
    n_entry: np.ndarray | None

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Risk-set sums of per-sample ``values`` (n, …) at every event time: (K, …)."""
        return _tail_sums(values, self.by_time, self.n_time) - (
            0.0 if self.by_entry is None else _tail_sums(values, self.by_entry, self.n_entry)
        )

    def death_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-sample ``values`` (n, …) over the deaths at every event time: (K, …)."""
        flat = values.reshape(values.shape[0], -1)
        return np.asarray(self.death_matrix @ flat).reshape((self.times.size,) + values.shape[1:])


def _tail_sums(values: np.ndarray, order: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the first ``counts[k]`` samples of ``order`` for every k."""
    cumulative = np.cumsum(values[order], axis=0)
    out = np.zeros((counts.size,) + values.shape[1:])
    positive = counts > 0
    out[positive] = cumulative[counts[positive] - 1]
    return out


def risk_sets(time: np.ndarray, event: np.ndarray, entry: np.ndarray | None = None) -> RiskSets:
    """The :class:`RiskSets` of ``time`` (event or censoring), ``event`` (bool) and optional ``entry`` (delayed
    entry / left truncation: a sample is at risk on ``(entry, time]``)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    times, inverse = np.unique(time[event], return_inverse=True)
    deaths = np.bincount(inverse, minlength=times.size)
    rows = inverse
    cols = np.flatnonzero(event)
    death_matrix = sp.csr_matrix((np.ones(cols.size), (rows, cols)), shape=(times.size, time.size))
    by_time = np.argsort(-time, kind="stable")
    n_time = time.size - np.searchsorted(np.sort(time), times, side="left")
    if entry is None:
        by_entry = n_entry = None
        at_risk = n_time
    else:
        entry = np.asarray(entry, dtype=float)
        by_entry = np.argsort(-entry, kind="stable")
        n_entry = entry.size - np.searchsorted(np.sort(entry), times, side="left")
        at_risk = n_time - n_entry
    return RiskSets(times, deaths, at_risk, death_matrix, by_time, n_time, by_entry, n_entry)
