"""Incident-fracture models (issue 18): speed against a per-feature statsmodels loop, and false hits on a null
fracture outcome.

``speed``: 1,000 samples × 400 genera (synthetic sparse relative abundances), covariates age, sex, BMI, ~15%
fractures over follow-up times in tenths of a year (tied times). The same standardized log2-TSS exposures go to
``fit_cox`` (all features at once, Efron ties) and to statsmodels ``PHReg(ties="efron")`` fitted feature by
feature in the same process; also the full ``osteobiome.survival`` call (preprocessing, 400 Cox fits, PH tests,
4 alpha indices and 3 Aitchison PCs, table). Best of 3 for the vectorized code (min–max shown), one pass of the
loop. ``null``: per seed, a Framingham-like cohort from ``simulate_cohort("fhs", n=1000, seed)`` (age, BMI and
sex shift genera, so they confound) and a fracture outcome drawn from the covariates only (Weibull hazard,
log HR 0.07 per year of age, 0.5 for women, 0.03 per BMI unit; uniform censoring; ~18% events); the default
preset, adjusted for age, sex and BMI, in follow-up time and on the age scale with delayed entry (adjusted
for sex and BMI; ``unadjusted`` as third argument adds a run without covariates); a hit is q <= 0.1; also the
calibration of the genera's null p-values. Usage: ``python benchmarks/bench_survival.py [speed|null]
[n_seeds] [unadjusted]``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _timing import timed
from statsmodels.duration.hazard_regression import PHReg

import osteobiome
from osteobiome.simulate import simulate_cohort
from osteobiome.stats.preprocess import filter_features, normalize, transform
from osteobiome.survival import cox_zph, fit_cox
from osteobiome.survival.exposures import standardize_columns


def _speed_data(n: int = 1000, m: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rng.dirichlet(np.full(m, 0.3), size=n) * 20000 * (rng.random((n, m)) < rng.uniform(0.15, 0.95, m)))
    samples = [f"S{i:04d}" for i in range(n)]
    meta = pd.DataFrame(
        {"age": rng.uniform(60, 85, n), "sex": rng.choice(["F", "M"], n), "bmi": rng.normal(27, 4, n)}, index=samples
    )
    hazard = 0.01 * np.exp(0.07 * (meta["age"] - 70) + 0.5 * (meta["sex"] == "F"))
    follow, censor = rng.exponential(1 / hazard), rng.uniform(5, 15, n)
    meta["years"] = np.round(np.minimum(follow, censor), 1) + 0.1
    meta["fracture"] = (follow <= censor).astype(int)
    return pd.DataFrame(counts, index=samples, columns=[f"g{j:03d}" for j in range(m)]), meta


def speed() -> None:
    counts, meta = _speed_data()
    raw = counts.to_numpy(float)
    kept = filter_features(raw, 0.0, 0.1, 0.0)
    E, _ = standardize_columns(transform(normalize(raw[:, kept], "TSS"), "LOG"))
    Z = np.column_stack([meta["age"], meta["sex"] == "M", meta["bmi"]]).astype(float)
    time_, event = meta["years"].to_numpy(), meta["fracture"].to_numpy()
    print(f"speed: {raw.shape[0]} samples × {E.shape[1]} genera kept, {event.sum()} fractures, "
          f"{np.unique(time_[event == 1]).size} distinct event times; load average {os.getloadavg()[0]:.1f}")

    spread = []

    def ours() -> object:
        start = time.perf_counter()
        fit = fit_cox(time_, event, E, Z)
        cox_zph(fit, time_, event)
        spread.append(time.perf_counter() - start)
        return fit

    t_fit, fit = timed(ours)
    t_full, _ = timed(lambda: osteobiome.survival(counts, meta, event="fracture", time="years", covariates=["age", "sex", "bmi"]))
    start = time.perf_counter()
    loop = np.empty(E.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(E.shape[1]):
            res = PHReg(time_, np.column_stack([E[:, j], Z]), status=event, ties="efron").fit()
            loop[j] = res.params[0]
    t_loop = time.perf_counter() - start
    diff = np.max(np.abs(loop - fit.coef[:, 0]) / np.abs(fit.coef[:, 0]))
    print(f"  fit_cox + cox_zph, 400 features at once: {t_fit:.3f} s (repeats {min(spread):.3f}–{max(spread):.3f}; "
          f"iterations ≤ {fit.iterations.max()})")
    print(f"  osteobiome.survival full call (+ preprocessing, community exposures, table): {t_full:.3f} s")
    print(f"  statsmodels PHReg(ties='efron') loop: {t_loop:.3f} s -> {t_loop / t_fit:.0f}× (fits), "
          f"{t_loop / t_full:.0f}× (full call); max relative coef difference {diff:.1e}")


def _null_outcome(meta: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Weibull (shape 1.5) fracture times from age, sex and BMI only; uniform censoring at 3–18 years."""
    lp = 0.07 * (meta["age"] - meta["age"].mean()) + 0.5 * (meta["sex"] == "female") + 0.03 * (meta["BMI"] - meta["BMI"].mean())
    u = rng.random(len(meta))
    follow = (-np.log(u) / (0.008 * np.exp(lp))) ** (1 / 1.5)
    censor = rng.uniform(3, 18, len(meta))
    out = meta.copy()
    out["years"] = np.round(np.minimum(follow, censor), 2) + 0.01
    out["fracture"] = (follow <= censor).astype(int)
    out["exit_age"] = out["age"] + out["years"]
    return out


def null(n_seeds: int = 20, unadjusted: bool = False) -> None:
    print(f"null: fhs n=1000, {n_seeds} seeds, hits = q <= 0.1 (default preset); load average {os.getloadavg()[0]:.1f}")
    rows, pvalues = [], []
    for seed in range(n_seeds):
        cohort = simulate_cohort("fhs", n=1000, seed=seed)
        meta = _null_outcome(cohort.metadata, np.random.default_rng(1000 + seed))
        runs = {
            "follow-up, adjusted": dict(time="years", covariates=["age", "sex", "BMI"]),
            "age scale, entry": dict(time="exit_age", entry="age", covariates=["sex", "BMI"]),
        }
        if unadjusted:
            runs["follow-up, unadjusted"] = dict(time="years")
        for label, kwargs in runs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = osteobiome.survival(cohort.features, meta, event="fracture", reference={"sex": "male"} if "covariates" in kwargs else None, **kwargs)
            hits = res["qval"] <= 0.1
            genera = res["kind"] == "feature"
            pvalues.append(pd.DataFrame({"run": label, "pval": res.loc[genera, "pval"].to_numpy()}))
            rows.append({"seed": seed, "run": label, "events": int(res["N.events"].iloc[0]),
                         "feature_hits": int((hits & (res["kind"] == "feature")).sum()),
                         "community_hits": int((hits & (res["kind"] == "community")).sum()),
                         "ph_flags": int(res["ph.flag"].sum()), "exposures": len(res)})
    table = pd.DataFrame(rows)
    summary = table.groupby("run", sort=False).agg(
        seeds=("seed", "size"), events=("events", "mean"), feature_hits=("feature_hits", "mean"),
        runs_with_a_hit=("feature_hits", lambda h: float((h > 0).mean())), community_hits=("community_hits", "mean"),
        runs_with_a_community_hit=("community_hits", lambda h: float((h > 0).mean())),
        ph_flags=("ph_flags", "mean"), exposures=("exposures", "mean"),
    )
    print(summary.round(3).to_string())
    p = pd.concat(pvalues, ignore_index=True).dropna()
    levels = (0.05, 0.01, 0.001)
    calibration = p.groupby("run", sort=False)["pval"].agg(
        [("null p-values", "size")] + [(f"P(p < {a:g})", lambda v, a=a: float((v < a).mean())) for a in levels]
    )
    print("genus p-values under the null (uniform: P(p < a) = a):")
    print(calibration.round(4).to_string())


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "speed"
    if mode == "speed":
        speed()
    else:
        null(int(sys.argv[2]) if len(sys.argv) > 2 else 20, len(sys.argv) > 3 and sys.argv[3] == "unadjusted")
