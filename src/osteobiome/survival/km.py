"""Kaplan–Meier survival curves (product-limit), with delayed entry."""

from __future__ import annotations

import numpy as np
import pandas as pd

from osteobiome.survival._risksets import risk_sets


def kaplan_meier(time: np.ndarray, event: np.ndarray, entry: np.ndarray | None = None) -> pd.DataFrame:
    """The product-limit estimate ``S(t) = Π_{t_k <= t} (1 − d_k / n_k)`` at each distinct event time ``t_k``
    (``d_k`` events among the ``n_k`` samples at risk, ``entry < t_k <= time``).

    Returns a DataFrame with columns ``time n.risk n.event surv`` (R's ``survfit`` names), one row per event
    time."""
    risk = risk_sets(time, event, entry)
    surv = np.cumprod(1.0 - risk.deaths / risk.at_risk)
    return pd.DataFrame({"time": risk.times, "n.risk": risk.at_risk, "n.event": risk.deaths, "surv": surv})


def survival_before(curve: pd.DataFrame) -> np.ndarray:
    """``S(t_k−)``, the curve just before each of its event times (1 at the first)."""
    surv = curve["surv"].to_numpy()
    return np.concatenate([[1.0], surv[:-1]])
