"""Incident-fracture models (issue 18): speed against a per-feature statsmodels loop, and false hits on a null
fracture outcome.

``speed``: 1,000 samples × 400 genera (synthetic sparse relative abundances), covariates age, sex, BMI, ~15%
fractures over follow-up times in tenths of a year (tied times). The same standardized log2-TSS exposures go to
``fit_cox`` (all features at once, Efron ties) and to statsmodels ``PHReg(ties="efron")`` fitted feature by
feature in the same process; also the full ``osteobiome.survival`` call (preprocessing, 400 Cox fits, PH tests,
4 alpha indices and 3 Aitchison PCs, table). Best of 3 for the vectorized code (min–max shown), one pass of the
loop. ``null``: per seed, a Framingham-like cohort from ``simulate_cohort("fhs", n=1000, seed)`` (age, BMI and
sex shift genera, so they confound) and a fracture outcome drawn from the covariates only (Weibull hazard,
log HR 0.07 per year of age, 0.5 for women, 0.03 per BMI unit; uniform censoring; ~33% events); the default
preset, adjusted for age, sex and BMI, in follow-up time and on the age scale with delayed entry (adjusted
for sex and BMI; ``unadjusted`` adds a run without covariates; ``small`` uses n = 300 and a lower hazard, ~41
events). Per run the genera are tested by the Wald, likelihood-ratio and score tests of one ``fit_cox`` on the
run's own exposures (the table's ``pval`` is the Wald test), BH over the genera per test; a hit is q <= 0.1.
Printed: false hits per run and P(any false hit) with standard errors over the seeds, and P(p < a) of the null
genus p-values with exact 95% intervals (also for genera present in < 50% of samples); the same for the 7
community exposures of the table (its Wald p, BH within them), P(any) also per kind. ``power``: per seed the
same cohort with 5 genera given a true log HR per SD (:data:`SIGNAL`) in follow-up time; recall, false hits,
FDR and average precision (AUPRC) per test. Usage: ``python benchmarks/bench_survival.py speed``,
``… null [n_seeds] [first_seed] [unadjusted] [small]``, ``… power [n_seeds] [first_seed]``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _timing import timed
from scipy.stats import beta
from sklearn.metrics import average_precision_score
from statsmodels.duration.hazard_regression import PHReg

import osteobiome
from osteobiome.simulate import simulate_cohort
from osteobiome.stats.multitest import adjust
from osteobiome.stats.preprocess import filter_features, normalize, standardize_columns, transform
from osteobiome.survival import SurvivalAnalysis, cox_zph, fit_cox, run_survival
from osteobiome.survival.cox import TESTS


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


def _null_outcome(
    meta: pd.DataFrame, rng: np.random.Generator, signal: np.ndarray | float = 0.0, rate: float = 0.008
) -> pd.DataFrame:
    """Weibull (shape 1.5, scale ``rate``) fracture times from age, sex and BMI (+ ``signal``, a log hazard ratio
    per sample); uniform censoring at 3–18 years."""
    lp = 0.07 * (meta["age"] - meta["age"].mean()) + 0.5 * (meta["sex"] == "female") + 0.03 * (meta["BMI"] - meta["BMI"].mean())
    lp = lp + signal
    u = rng.random(len(meta))
    follow = (-np.log(u) / (rate * np.exp(lp))) ** (1 / 1.5)
    censor = rng.uniform(3, 18, len(meta))
    out = meta.copy()
    out["years"] = np.round(np.minimum(follow, censor), 2) + 0.01
    out["fracture"] = (follow <= censor).astype(int)
    out["exit_age"] = out["age"] + out["years"]
    return out


RUNS = {
    "follow-up, adjusted": dict(time="years", covariates=["age", "sex", "BMI"]),
    "age scale, entry": dict(time="exit_age", entry="age", covariates=["sex", "BMI"]),
}


def _all_tests(analysis: SurvivalAnalysis) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """The genera and their p-values by every test of ``fit_cox`` (one fit on the analysis' own exposures)."""
    genera = analysis.results.loc[(analysis.results["kind"] == "feature") & analysis.results["pval"].notna(), "feature"]
    out = analysis.outcome
    entry = out["entry"].to_numpy() if out["entry"].notna().all() else None
    fit = fit_cox(out["time"].to_numpy(), out["event"].to_numpy(), analysis.exposures[genera].to_numpy(),
                  analysis.covariates.to_numpy(), entry)
    return pd.Index(genera), {test: fit.test_pval(test) for test in TESTS}


def _survival(features: pd.DataFrame, meta: pd.DataFrame, kwargs: dict) -> SurvivalAnalysis:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_survival(features, meta, event="fracture", reference={"sex": "male"} if "covariates" in kwargs else None, **kwargs)


def _mean_se(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"


def _any_se(hits: pd.Series) -> str:
    """P(hits > 0) over the seeds ± its binomial standard error."""
    share = (hits > 0).mean()
    return f"{share:.3f} ± {np.sqrt(share * (1 - share) / len(hits)):.3f}"


def _share_ci(hits: int, n: int) -> str:
    """``k/n`` as a share with its exact (Clopper–Pearson) 95% interval."""
    lo = beta.ppf(0.025, hits, n - hits + 1) if hits else 0.0
    hi = beta.ppf(0.975, hits + 1, n - hits) if hits < n else 1.0
    return f"{hits / n:.4f} [{lo:.4f}, {hi:.4f}]"


def null(n_seeds: int = 20, unadjusted: bool = False, first_seed: int = 0, small: bool = False) -> None:
    n, rate = (300, 0.0025) if small else (1000, 0.008)
    print(f"null: fhs n={n}, seeds {first_seed}–{first_seed + n_seeds - 1}, hits = q <= 0.1 (BH over the genera, "
          f"default preset, each test); load average {os.getloadavg()[0]:.1f}")
    cpu, wall = time.process_time(), time.perf_counter()
    runs = dict(RUNS, **({"follow-up, unadjusted": dict(time="years")} if unadjusted else {}))
    rows, pvalues, community = [], [], []
    for seed in range(first_seed, first_seed + n_seeds):
        cohort = simulate_cohort("fhs", n=n, seed=seed)
        meta = _null_outcome(cohort.metadata, np.random.default_rng(1000 + seed), rate=rate)
        for label, kwargs in runs.items():
            analysis = _survival(cohort.features, meta, kwargs)
            res = analysis.results
            genera, tests = _all_tests(analysis)
            prevalence = res.set_index("feature").loc[genera, "N.not.0"].to_numpy() / res["N"].iloc[0]
            community.append(res.loc[res["kind"] == "community", ["feature", "pval", "qval"]].assign(seed=seed, run=label))
            for test, p in tests.items():
                pvalues.append(pd.DataFrame({"run": label, "test": test, "pval": p, "prevalence": prevalence}))
                rows.append({"seed": seed, "run": label, "test": test, "events": int(res["N.events"].iloc[0]),
                             "hits": int((adjust(p, "BH") <= 0.1).sum())})
    table = pd.DataFrame(rows)
    summary = table.groupby(["run", "test"], sort=False).agg(
        seeds=("seed", "size"), events=("events", "mean"), false_hits_per_run=("hits", _mean_se), p_any=("hits", _any_se),
    )
    print(summary.to_string())
    p = pd.concat(pvalues, ignore_index=True).dropna()
    print("genus p-values under the null (uniform: P(p < a) = a), exact 95% intervals:")
    levels = (0.05, 0.01, 0.0015, 0.001)
    calibration = p.groupby(["run", "test"], sort=False)["pval"].agg(
        [("tests", "size")] + [(f"P(p < {a:g})", lambda v, a=a: _share_ci(int((v < a).sum()), len(v))) for a in levels]
    )
    print(calibration.to_string())
    sparse = p[p["prevalence"] < 0.5]
    print(f"genera present in < 50% of samples ({sparse.groupby(['run', 'test']).size().iloc[0]} tests per row):")
    print(sparse.groupby(["run", "test"], sort=False)["pval"].agg(
        [(f"P(p < {a:g})", lambda v, a=a: _share_ci(int((v < a).sum()), len(v))) for a in (0.01, 0.001)]).to_string())
    _community_null(pd.concat(community, ignore_index=True))
    print(f"CPU {time.process_time() - cpu:.0f} s, wall {time.perf_counter() - wall:.0f} s; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _community_null(community: pd.DataFrame) -> None:
    """False hits of the community exposures (the table's Wald p and q, BH within the community exposures) per
    run: mean, P(any) overall and within each kind (alpha indices, Aitchison PCs), mean hits in runs with a hit;
    and their null p-value tails per kind and per exposure."""
    kind = community["feature"].str.split(":").str[0]
    hit = community["qval"] <= 0.1
    community = community.assign(kind=kind, hit=hit, alpha=hit & (kind == "alpha"), aitchison=hit & (kind == "aitchison"))
    per_run = community.groupby(["run", "seed"], sort=False)[["hit", "alpha", "aitchison"]].sum().rename(columns={"hit": "hits"})
    print(f"community exposures ({community['feature'].nunique()} per run, Wald, BH within them), hit = q <= 0.1:")
    print(per_run.groupby("run", sort=False).agg(
        seeds=("hits", "size"), false_hits_per_run=("hits", _mean_se), p_any=("hits", _any_se),
        p_any_alpha=("alpha", _any_se), p_any_aitchison=("aitchison", _any_se),
        hits_in_runs_with_any=("hits", lambda h: round(h[h > 0].mean(), 2))).to_string())
    levels = (0.05, 0.01, 0.001)
    tails = [(f"P(p < {a:g})", lambda v, a=a: _share_ci(int((v < a).sum()), len(v))) for a in levels]
    print("community p-values under the null, exact 95% intervals:")
    print(community.dropna(subset=["pval"]).groupby(["run", "kind"], sort=False)["pval"].agg([("tests", "size")] + tails).to_string())
    print(community.dropna(subset=["pval"]).groupby(["run", "feature"])["pval"].agg([("tests", "size")] + tails).to_string())


#: Implanted log hazard ratios per SD of the genus (power mode).
SIGNAL = (0.15, -0.15, 0.2, -0.2, 0.25)


def power(n_seeds: int = 20, first_seed: int = 0) -> None:
    print(f"power: fhs n=1000, seeds {first_seed}–{first_seed + n_seeds - 1}, {len(SIGNAL)} genera per seed with "
          f"log HR {SIGNAL} per SD (follow-up time, adjusted); hits = q <= 0.1; load average {os.getloadavg()[0]:.1f}")
    cpu, wall = time.process_time(), time.perf_counter()
    rows = []
    for seed in range(first_seed, first_seed + n_seeds):
        cohort = simulate_cohort("fhs", n=1000, seed=seed)
        rng = np.random.default_rng(2000 + seed)
        base = _survival(cohort.features, _null_outcome(cohort.metadata, rng), RUNS["follow-up, adjusted"])
        kept = base.results.loc[(base.results["kind"] == "feature") & base.results["pval"].notna(), "feature"]
        chosen = rng.choice(kept.to_numpy(), len(SIGNAL), replace=False)
        signal = base.exposures[chosen].to_numpy() @ np.array(SIGNAL)
        meta = _null_outcome(cohort.metadata, rng, signal)
        genera, tests = _all_tests(_survival(cohort.features, meta, RUNS["follow-up, adjusted"]))
        truth = genera.isin(chosen)
        for test, p in tests.items():
            hits = adjust(p, "BH") <= 0.1
            rows.append({"seed": seed, "test": test, "true_hits": int((hits & truth).sum()),
                         "false_hits": int((hits & ~truth).sum()),
                         "fdp": (hits & ~truth).sum() / max(hits.sum(), 1),
                         "auprc": average_precision_score(truth, -np.log(p))})
    table = pd.DataFrame(rows)
    summary = table.groupby("test", sort=False).agg(
        seeds=("seed", "size"), recall=("true_hits", lambda h: _mean_se(h / len(SIGNAL))),
        false_hits_per_run=("false_hits", _mean_se), fdr=("fdp", _mean_se), auprc=("auprc", _mean_se),
    )
    print(summary.to_string())
    print(f"CPU {time.process_time() - cpu:.0f} s, wall {time.perf_counter() - wall:.0f} s; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "speed"
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    first = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 0
    if mode == "speed":
        speed()
    elif mode == "power":
        power(seeds, first)
    else:
        null(seeds, "unadjusted" in sys.argv[3:], first, "small" in sys.argv[3:])
