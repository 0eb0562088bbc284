"""Test of proportional hazards per feature: the scaled Schoenfeld residual score test of R's ``cox.zph``.

For the exposure ``f`` of a fitted model, add the time-varying term ``β_t · f · g(t)`` and test ``β_t = 0`` by
its score test at the fitted coefficients. With ``g_k = g(t_k) − ḡ`` (centred over the events; ``g`` the
"km" transform ``1 − S(t−)`` of the Kaplan–Meier curve of all samples, or identity / log of the time),
``U_k`` the exposure's score contribution and ``V_k`` the information contribution at event time ``t_k``:
``u = Σ_k g_k U_k``, ``b = Σ_k g_k V_k[:, f]``, ``c = Σ_k g_k² V_k[f, f]`` and the statistic
``u² / (c − bᵀ I⁻¹ b)`` (I the model's information) is chi-square with 1 df — ``cox.zph(fit)$table`` for the
exposure's row (survival ≥ 3.0).
"""

from __future__ import annotations

import numpy as np

from osteobiome.errors import InputError
from osteobiome.stats.distributions import chi2_sf
from osteobiome.survival.cox import CoxFit
from osteobiome.survival.km import kaplan_meier, survival_before

TRANSFORMS = ("km", "identity", "log")


def _time_transform(fit: CoxFit, time: np.ndarray, event: np.ndarray, entry: np.ndarray | None, transform: str) -> np.ndarray:
    risk = fit.risk
    if transform == "km":
        return 1.0 - survival_before(kaplan_meier(time, event, entry))
    if transform == "identity":
        return risk.times
    if transform == "log":
        return np.log(risk.times)
    raise InputError(f"PH test transform {transform!r} is not known; use one of {', '.join(TRANSFORMS)}.")


def cox_zph(
    fit: CoxFit, time: np.ndarray, event: np.ndarray, entry: np.ndarray | None = None, transform: str = "km"
) -> tuple[np.ndarray, np.ndarray]:
    """``(chisq, pval)`` per feature of the proportional-hazards test of the exposure (1 df), from the fit's
    per-event-time score and information. ``time``, ``event``, ``entry`` are the data the fit used."""
    risk = fit.risk
    g = _time_transform(fit, time, event, entry, transform)
    g = g - np.sum(risk.deaths * g) / risk.deaths.sum()
    u = g @ fit.score_by_time
    b = np.einsum("k,kmq->mq", g, fit.information_by_time)
    c = (g**2) @ fit.information_by_time[:, :, 0]
    chisq = np.full(u.shape, np.nan)
    ok = fit.converged
    if ok.any():
        solved = np.linalg.solve(fit.information[ok], b[ok][..., None])[..., 0]
        chisq[ok] = u[ok] ** 2 / (c[ok] - np.sum(b[ok] * solved, axis=1))
    return chisq, chi2_sf(chisq, 1)
