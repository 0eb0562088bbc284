"""Why the default's median comparison costs recall at small effects (issue 9 follow-up, RESULTS.md § calibration).

Three measurements on the Twins template, each printed as a table:

A. *Is the median comparison's standard error right?* One implanted data set (n = 278, standard-grid seed 0,
   null phenotype), the phenotype redrawn ``draws`` times; per genus the empirical SD over draws of
   ``beta_j - median`` against the mean estimated SE, and the rejection rates at 0.05 / 0.01. Estimators: the
   default (:func:`osteobiome.stats.compositional.median_contrast`, uniform weights on the central half) and
   the alternative examined here, the Bahadur representation of the sample median (below), unweighted and
   with weights ``1/s_l`` (precision-weighted median); and the default fed with HC3 per-sample terms
   (``variance="HC3"``) instead of the classical residual ones.
B. *What does an exactly calibrated BH give on the null phenotype?* ``E[V]`` and ``P(V >= 1)`` for ``m``
   independent uniform p-values at q = 0.1 (Monte Carlo).
C. *Criteria per estimator*: per run the two parts' p-values and the
   centred abundance p-values of every estimator, joined by MaAsLin3's Beta(1, 2) rule (``joint="beta"``: so
   ``default`` here is today's ``twopart-median-beta`` candidate, not the Cauchy-joint default preset), BH
   per run, recall / FDR / null false discoveries per (n, effect), against the ``maaslin2`` preset, on fresh
   seeds and on the standard grid's seeds. Variants
   ``+c`` have no prevalence part for genera present in every sample (what the two-part model does now, as
   MaAsLin3); without ``+c`` that part has p = 1 (what the augmented fit of a constant gave before), which
   doubles the joint p-value; ``+epv10`` / ``+epv40`` also drop it below 10 / 40 absent (or present) samples.

Bahadur alternative. For the sample (weighted) median ``M`` of coefficients ``beta_l`` with SEs ``s_l``,
correlation ``rho_jl`` and weights ``w_l``: ``M - theta ~ sum_l w_l (1/2 - 1{beta_l <= theta}) / D`` with
``D = sum_l w_l / s_l``, hence ``cov(beta_j, M) = s_j sum_l w_l rho_jl / D`` and
``var(M) = sum_{l,l'} w_l w_l' arcsin(rho_ll') / D^2`` (bivariate-normal orthant covariances).

Usage: ``python benchmarks/calibration_diagnosis.py [seeds] [draws] [workers]`` (defaults 100 2000 2).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from osteobiome.association.pipeline import associate, run_association
from osteobiome.compute.processes import process_pool
from osteobiome.evaluate import calibration as C
from osteobiome.stats import compositional as comp
from osteobiome.stats.lm import t_test
from osteobiome.stats.multitest import adjust_grouped
from osteobiome.stats.twopart import fit_abundance, fit_prevalence, joint_pvalue, log2_nonzero

TWINS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "twins" / "Twins.csv"
FIXED = ["phenotype", "age", "bmi", "sex"]
GRID = C.STANDARD
Q = 0.1


def weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """Smallest x with cumulative weight >= half (midpoint on an exact tie)."""
    order = np.argsort(x)
    xs, cum = x[order], np.cumsum(w[order])
    k = int(np.searchsorted(cum, cum[-1] / 2))
    if np.isclose(cum[k], cum[-1] / 2) and k + 1 < xs.size:
        return 0.5 * (xs[k] + xs[k + 1])
    return float(xs[k])


def bahadur_contrast(coef: np.ndarray, influence: np.ndarray, df, weighted: bool) -> comp.CorrectedTest:  # noqa: ANN001
    """``beta_j - M`` with the Bahadur variance (module docstring); ``weighted``: weights ``1/s_l``."""
    U = np.nan_to_num(influence)
    s = np.sqrt(np.sum(U**2, axis=0))
    ok = np.isfinite(coef) & (s > 0)
    w = np.where(ok, 1.0 / np.where(ok, s, 1.0), 0.0) if weighted else ok.astype(float)
    shift = weighted_median(coef[ok], w[ok]) if weighted else float(np.median(coef[ok]))
    D = np.sum(w[ok] / s[ok])
    cov = U.T @ (U @ (np.where(ok, w / np.where(ok, s, 1.0), 0.0) / D))
    scaled = U[:, ok] / s[ok]
    var_m = (w[ok] / D) @ np.arcsin(np.clip(scaled.T @ scaled, -1.0, 1.0)) @ (w[ok] / D)
    se = np.sqrt(np.clip(s**2 - 2.0 * cov + var_m, 0.0, None))
    centred = coef - shift
    with np.errstate(divide="ignore", invalid="ignore"):
        pval, log_pval = t_test(centred / se, df)
    return comp.CorrectedTest(centred, se, pval, log_pval, shift)


ESTIMATORS = {
    "default": lambda coef, U, df: comp.median_contrast(coef, U, df),
    "bahadur": lambda coef, U, df: bahadur_contrast(coef, U, df, weighted=False),
    "weighted": lambda coef, U, df: bahadur_contrast(coef, U, df, weighted=True),
}


def _parts(table: pd.DataFrame, metadata: pd.DataFrame):  # noqa: ANN202
    """The default's design, relative abundances and both parts' fits (no centring)."""
    run = run_association(table, metadata, fixed=FIXED, preset="default", compositional="none")
    X, rel = run.design.matrix, run.normalized.to_numpy()[run.design.rows]
    return run, X, fit_abundance(log2_nonzero(rel), X), fit_prevalence(rel > 0, X)


# ------------------------------------------------------------------------------------------------ A
def se_calibration(template: C.Template, draws: int, n: int = 278, seed: int = 0) -> pd.DataFrame:
    prepared = C.prepare_run(template, GRID, n, seed)
    no_signal = next(prepared.plan())[0]  # the first null phenotype
    run, X, _, _ = _parts(*prepared.implant(no_signal))
    X = X.copy()
    log_abundance = log2_nonzero(run.normalized.to_numpy()[run.design.rows])
    weights = np.array([C.PHENOTYPE_WEIGHTS[c] for c in ("age", "bmi", "sex")])
    redraw = np.random.default_rng(1)
    names = [*ESTIMATORS, "default, HC3 terms"]
    coef = {k: [] for k in names}
    se = {k: [] for k in names}
    raw = []
    for _ in range(draws):
        y = X[:, 2:] @ weights + redraw.normal(size=n)
        X[:, 1] = (y - y.mean()) / y.std(ddof=1)
        fit = fit_abundance(log_abundance, X, influence=True)
        raw.append(fit.coef[1])
        U = comp.residual_influence(fit.stderr[1], fit.resid)
        for name, estimator in ESTIMATORS.items():
            test = estimator(fit.coef[1], U, fit.df)
            coef[name].append(test.coef)
            se[name].append(test.stderr)
        test = comp.median_contrast(fit.coef[1], fit.influence[1], fit.df)  # HC3 per-sample terms
        coef["default, HC3 terms"].append(test.coef)
        se["default, HC3 terms"].append(test.stderr)
    rows = []
    features = run.normalized.columns
    precise = features[np.argmin(np.std(raw, axis=0))]
    for name in names:
        c, s = np.array(coef[name]), np.array(se[name])
        ratio = np.sqrt(np.mean(s**2, axis=0)) / np.std(c, axis=0)
        pval = 2.0 * stats.t.sf(np.abs(c / s), fit.df)
        for label, cols in (
            ("all genera (mean)", slice(None)),
            (f"{precise} (most precise)", features == precise),
        ):
            rows.append(
                {
                    "estimator": name,
                    "genera": label,
                    "SD(beta - centre)": np.mean(np.std(c, axis=0)[cols]),
                    "SE / SD": np.mean(ratio[cols]),
                    "P(p < 0.05)": np.mean((pval < 0.05)[:, cols]),
                    "P(p < 0.01)": np.mean((pval < 0.01)[:, cols]),
                }
            )
    print(
        f"raw coefficient SD of {precise}: {np.std(raw, axis=0)[features == precise][0]:.3f}; "
        f"median over genera {np.median(np.std(raw, axis=0)):.3f}"
    )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ B
def calibrated_bh_null(m: int, reps: int = 40000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    p = np.sort(rng.uniform(size=(reps, m)), axis=1)
    passed = p <= Q * np.arange(1, m + 1) / m
    k = np.where(passed.any(axis=1), m - np.argmax(passed[:, ::-1], axis=1), 0)
    return float(k.mean()), float((k > 0).mean())


# ------------------------------------------------------------------------------------------------ C
def _one(template: C.Template, n: int, seed: int) -> pd.DataFrame:
    warnings.simplefilter("ignore")
    prepared = C.prepare_run(template, GRID, n, seed)  # the calibration benchmark's own samples and plan
    out = []
    for markers, truth, effect, draw in prepared.plan():
        table, metadata = prepared.implant(markers)
        run, _, ab, pr = _parts(table, metadata)
        m2 = associate(table, metadata, fixed=FIXED, preset="maaslin2")
        m2 = m2[m2["metadata"] == "phenotype"].set_index("feature")["qval"]
        names = run.normalized.columns
        frame = pd.DataFrame(
            {
                "n": n,
                "seed": seed,
                "effect": effect,
                "draw": draw,
                "feature": names,
                "marker": names.isin(truth.index),
                "n_samples": len(metadata),
                "n_present": ab.n_used,
                "everywhere": ab.n_used == len(metadata),
                "p_prevalence": pr.pval[1],
                "q_maaslin2": m2.reindex(names).to_numpy(),
            }
        )
        U = comp.residual_influence(ab.stderr[1], ab.resid)
        for name, estimator in ESTIMATORS.items():
            frame[f"p_{name}"] = estimator(ab.coef[1], U, ab.df).pval
        out.append(frame)
    return pd.concat(out)


def collect(template: C.Template, seeds: range, workers: int) -> pd.DataFrame:
    """Per-genus p-values of every run of ``seeds`` (all n, null draws and effects)."""
    tasks = [(n, s) for n in GRID.sizes for s in seeds]
    with process_pool(workers) as pool:
        parts = list(pool.map(_one, [template] * len(tasks), *zip(*tasks, strict=True)))
    return pd.concat(parts, ignore_index=True)


def method_qvalues(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """q-values (BH per run) of maaslin2 and of every estimator without / with ``+c``; for the default also
    with the prevalence part dropped below 10 or 10 x (coefficients - 1) = 40 events (``+epv``)."""
    run_id = data.groupby(["n", "seed", "effect", "draw"]).ngroup().to_numpy()
    minority = np.minimum(data["n_present"], data["n_samples"] - data["n_present"])
    qvals = {"maaslin2": data["q_maaslin2"].to_numpy()}
    prevalence = {
        "": data["p_prevalence"].mask(data["everywhere"], 1.0),
        "+c": data["p_prevalence"],
        "+c+epv10": data["p_prevalence"].where(minority >= 10),
        "+c+epv40": data["p_prevalence"].where(minority >= 10 * (len(FIXED))),
    }
    for name in ESTIMATORS:
        for suffix, p_prev in prevalence.items():
            if "epv" in suffix and name != "default":
                continue
            joint = joint_pvalue(data[f"p_{name}"].to_numpy(), p_prev.to_numpy(), "beta")
            qvals[name + suffix] = adjust_grouped(joint, run_id, "BH", "per-variable")
    return qvals


def report(data: pd.DataFrame, label: str) -> None:
    """Print recall / FDR per cell, null false discoveries and P(V >= 1), and who finds what."""
    qvals = method_qvalues(data)
    found = {m: np.nan_to_num(q, nan=1.0) <= Q for m, q in qvals.items()}
    small = (data["effect"] > 0) & (data["effect"] <= 0.25) & data["marker"]
    for a, b in (("maaslin2", "default+c"), ("default+c", "maaslin2")):
        only = data.loc[small & found[a] & ~found[b], "feature"].value_counts()
        print(
            f"markers at effects <= 0.25 found by {a}, missed by {b}: {only.sum()} ({only.head(4).to_dict()})"
        )
    prevalence_won = data["p_prevalence"] < data["p_default"]
    hits = found["default+c"]
    print(
        "default+c discoveries decided by the prevalence part: "
        f"{int((hits & data['marker'] & prevalence_won).sum())} of {int((hits & data['marker']).sum())} true, "
        f"{int((hits & ~data['marker'] & prevalence_won).sum())} of {int((hits & ~data['marker']).sum())} false"
    )
    rows = []
    for method, hit in found.items():
        per_run = data.assign(found=hit, true=hit & data["marker"]).groupby(["n", "effect", "seed", "draw"])
        agg = per_run.agg(found=("found", "sum"), true=("true", "sum"), markers=("marker", "sum"))
        agg["fdr"] = (agg["found"] - agg["true"]) / agg["found"].clip(lower=1)
        agg["recall"] = agg["true"] / agg["markers"].replace(0, np.nan)
        agg["false"] = agg["found"] - agg["true"]
        agg["any_false"] = agg["false"] > 0
        rows.append(agg.groupby(["n", "effect"]).mean().assign(method=method).reset_index())
    crit = pd.concat(rows)
    print(f"\nC. criteria at q = {Q}, {label}")
    for metric in ("recall", "fdr"):
        table = crit[crit.effect > 0].pivot_table(index="method", columns=["n", "effect"], values=metric)
        print(f"\n{metric}\n{table.round(4).to_string()}")
    null = crit[crit.effect == 0]
    table = null.pivot_table(index="method", columns="n", values="false")
    table["all"] = table.mean(axis=1)
    table["P(V>=1) all"] = null.groupby("method")["any_false"].mean()
    print(f"\nnull phenotype: false discoveries per run, and P(V >= 1)\n{table.round(3).to_string()}")


def main(seeds: int = 100, draws: int = 2000, workers: int = 2) -> None:
    template = C.load_template(TWINS)
    start = time.perf_counter()
    print(
        f"A. median comparison SE under the null (n = 278, standard seed 0, phenotype redrawn {draws} times)"
    )
    print(se_calibration(template, draws).round(3).to_string(index=False))
    e_v, p_any = calibrated_bh_null(m=47)
    print(
        f"\nB. exactly calibrated BH, 47 independent null p-values, q = {Q}: "
        f"E[V] = {e_v:.3f}, P(V >= 1) = {p_any:.3f}\n"
    )
    report(
        collect(template, range(GRID.seeds, GRID.seeds + seeds), workers),
        f"fresh seeds {GRID.seeds}..{GRID.seeds + seeds - 1} (expected values)",
    )
    print()
    report(collect(template, range(GRID.seeds), workers), f"the standard grid's seeds 0..{GRID.seeds - 1}")
    print(f"\n{time.perf_counter() - start:.0f} s wall")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
