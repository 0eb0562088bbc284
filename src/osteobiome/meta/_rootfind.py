"""Vectorized Brent root finder that takes the same steps as R's ``uniroot`` (``zeroin``).

metafor's Paule–Mandel estimator calls ``uniroot(..., tol=.Machine$double.eps^0.25)``, so its τ² is the
point where Brent's method (inverse quadratic interpolation, secant, bisection; Brent 1973, ch. 4) stops,
not the exact root. To reproduce those numbers we run the same iteration for many features at once, each
row with its own bracket, and stop each row by Brent's rule ``|c - b| / 2 <= 2·ε·|b| + tol / 2``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = np.finfo(float).eps


def brent_zeroin(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    f_lower: np.ndarray,
    f_upper: np.ndarray,
    tol: float,
    maxiter: int,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``f`` on ``[lower, upper]`` (one bracket per row; ``f_lower``, ``f_upper`` of opposite sign).

    ``f(x, rows)`` evaluates the function of the rows ``rows`` (integer index) at ``x``. Returns
    ``(root, converged)``; rows still running after ``maxiter + 1`` evaluations keep their last ``b`` and
    ``converged`` False, as ``uniroot`` returns its last iterate with a warning. ``rows`` (integer index):
    solve for those rows only (brackets given for all rows); the results are those rows'.
    """
    if rows is not None:
        subset = np.asarray(rows)
        return brent_zeroin(
            lambda x, sub: f(x, subset[sub]), lower[subset], upper[subset], f_lower[subset], f_upper[subset], tol, maxiter
        )
    a = np.asarray(lower, float).copy()
    b = np.asarray(upper, float).copy()
    fa = np.asarray(f_lower, float).copy()
    fb = np.asarray(f_upper, float).copy()
    c, fc = a.copy(), fa.copy()
    root = b.copy()
    converged = np.zeros(a.shape, bool)
    at_lower, at_upper = fa == 0, (fb == 0) & (fa != 0)
    root[at_lower] = a[at_lower]
    converged |= at_lower | at_upper
    running = np.flatnonzero(~converged)
    for _ in range(maxiter + 1):
        if running.size == 0:
            break
        ra, rb, rc, rfa, rfb, rfc = a[running], b[running], c[running], fa[running], fb[running], fc[running]
        prev_step = rb - ra
        swap = np.abs(rfc) < np.abs(rfb)
        ra = np.where(swap, rb, ra)
        rb = np.where(swap, rc, rb)
        rc = np.where(swap, ra, rc)
        rfa = np.where(swap, rfb, rfa)
        rfb = np.where(swap, rfc, rfb)
        rfc = np.where(swap, rfa, rfc)
        tol_act = 2 * EPS * np.abs(rb) + tol / 2
        new_step = (rc - rb) / 2
        done = (np.abs(new_step) <= tol_act) | (rfb == 0)
        root[running[done]] = rb[done]
        converged[running[done]] = True
        interpolate = ~done & (np.abs(prev_step) >= tol_act) & (np.abs(rfa) > np.abs(rfb))
        with np.errstate(divide="ignore", invalid="ignore"):
            cb = rc - rb
            secant = ra == rc
            t1_lin = rfb / rfa
            q_quad, t1_quad, t2_quad = rfa / rfc, rfb / rfc, rfb / rfa
            p = np.where(
                secant,
                cb * t1_lin,
                t2_quad * (cb * q_quad * (q_quad - t1_quad) - (rb - ra) * (t1_quad - 1.0)),
            )
            q = np.where(secant, 1.0 - t1_lin, (q_quad - 1.0) * (t1_quad - 1.0) * (t2_quad - 1.0))
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = (
                interpolate & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2) & (p < np.abs(prev_step * q / 2))
            )
            new_step = np.where(accept, p / q, new_step)
        new_step = np.where(np.abs(new_step) < tol_act, np.where(new_step > 0, tol_act, -tol_act), new_step)
        keep = ~done
        running, ra, rb, rc, rfa, rfb, rfc, new_step = (
            x[keep] for x in (running, ra, rb, rc, rfa, rfb, rfc, new_step)
        )
        ra, rfa = rb, rfb
        rb = rb + new_step
        rfb = f(rb, running)
        same_side = ((rfb > 0) & (rfc > 0)) | ((rfb < 0) & (rfc < 0))
        rc = np.where(same_side, ra, rc)
        rfc = np.where(same_side, rfa, rfc)
        a[running], b[running], c[running], fa[running], fb[running], fc[running] = ra, rb, rc, rfa, rfb, rfc
    root[running] = b[running]
    return root, converged
