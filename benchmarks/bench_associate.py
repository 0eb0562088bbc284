"""Association engine vs a plain per-feature statsmodels OLS loop, in the same process.

Cases: a simulated table of 2,000 samples × 1,000 features × 5 covariates, and MaAsLin2's HMP2 example
(1,595 samples × 87 species, ../shared). The engine time is the full LM path (filter → normalize → transform
→ design → fit → BH → table); the baseline fits ``sm.OLS(y, X).fit()`` per feature on the same transformed
data and design (the model fitting alone, so the ratio understates the pipeline's advantage). Also times
the random-intercept (REML + Satterthwaite) path on HMP2.

Issue 15's targets (``--targets``): 661 samples × 421 genera, 5 covariates, 20 calls of ``associate`` (the
MaAsLin2 and the default preset, from the DataFrame each time) against R's per-feature ``lm`` loop on the same
transformed data and covariates (``benchmarks/r/lm_loop.R``: ``summary(lm(expr ~ covariates))`` per feature, 20
times; reading excluded) when ``Rscript`` is installed, else against a statsmodels formula loop (said in the
output). Every timing is repeated; median and spread (min–max) of wall and CPU time (user + system: robust to other
jobs on a shared machine; both sides single-threaded) are printed with the load average; the ratios use CPU time.

Run: ``.venv/bin/python benchmarks/bench_associate.py [--targets]`` (engine and baseline both with one BLAS thread).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from _timing import best_of
from threadpoolctl import threadpool_limits

from osteobiome.association.pipeline import associate, run_association
from osteobiome.stats.lm import fit_lm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "maaslin2_hmp2"


def statsmodels_loop(transformed: np.ndarray, X: np.ndarray) -> None:
    """Strongest plain baseline: the prepared design array, one ``sm.OLS`` per feature."""
    for j in range(transformed.shape[1]):
        sm.OLS(transformed[:, j], X).fit().pvalues  # noqa: B018


def formula_loop(transformed: np.ndarray, metadata: pd.DataFrame, fixed: list[str]) -> None:
    """MaAsLin2's way: a data frame and a formula per feature (``glm(expr ~ a + b, data)`` in R)."""
    frame = metadata[fixed].copy()
    for j in range(transformed.shape[1]):
        smf.ols("expr ~ " + " + ".join(fixed), frame.assign(expr=transformed[:, j])).fit().pvalues  # noqa: B018


def simulated(n: int = 2000, m: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    samples = [f"s{i}" for i in range(n)]
    metadata = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "bmi": rng.normal(27, 4, n),
            "bmd": rng.normal(0, 1, n),
            "sex": rng.choice(["F", "M"], n),
            "smoker": rng.choice(["no", "yes"], n),
        },
        index=samples,
    )
    counts = rng.negative_binomial(1.0, 1.0 / (1.0 + rng.gamma(0.5, 40.0, m)), size=(n, m))
    return pd.DataFrame(counts, index=samples, columns=[f"g{j}" for j in range(m)]), metadata


def compare(label: str, table: pd.DataFrame, metadata: pd.DataFrame, fixed: list[str], reference: dict, repeats: int) -> str:
    kwargs = {"reference": reference, "preset": "maaslin2"}
    engine = best_of(lambda: associate(table, metadata, fixed, **kwargs), repeats)
    run = run_association(table, metadata, fixed, **kwargs)
    transformed, X = run.transformed.to_numpy()[run.design.rows], run.design.matrix
    fit_only = best_of(lambda: fit_lm(transformed, X), repeats)
    loop = best_of(lambda: statsmodels_loop(transformed, X), 1)
    used = metadata.loc[run.design.samples]
    formulas = best_of(lambda: formula_loop(transformed, used, fixed), 1)
    line = (
        f"| {label} | {transformed.shape[0]} × {transformed.shape[1]} × {X.shape[1] - 1} | {engine * 1e3:.1f} ms "
        f"| {fit_only * 1e3:.1f} ms | {loop * 1e3:.0f} ms ({loop / engine:.0f}×; fit only {loop / fit_only:.0f}×) "
        f"| {formulas * 1e3:.0f} ms ({formulas / engine:.0f}×) |"
    )
    print(line)
    return line


def main() -> None:
    print(
        "| case | samples × features × coefs | engine, full LM path | engine, fit_lm only "
        "| sm.OLS array loop (speed-up) | smf.ols formula loop (speed-up) |"
    )
    print("|---|---|---|---|---|---|")
    table, metadata = simulated()
    compare("simulated", table, metadata, ["age", "bmi", "bmd", "sex", "smoker"], {}, repeats=3)
    taxonomy = pd.read_csv(SHARED / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    hmp2_meta = pd.read_csv(SHARED / "HMP2_metadata.tsv", sep="\t", index_col=0)
    fixed, reference = ["diagnosis", "dysbiosis", "antibiotics", "age"], {"diagnosis": "nonIBD"}
    compare("HMP2 (MaAsLin2 default)", taxonomy, hmp2_meta, fixed, reference, repeats=10)
    for random in (["subject"], ["site", "subject"]):
        seconds = best_of(
            lambda random=random: associate(taxonomy, hmp2_meta, fixed, random=random, reference=reference, preset="maaslin2"), 2
        )
        print(f"LMM on HMP2, random intercepts {'+'.join(random)}: {seconds:.2f} s for 87 features")


R_LOOP = Path(__file__).resolve().parent / "r" / "lm_loop.R"
CALLS = 20


def _spread(times: list[float]) -> str:
    return f"{statistics.median(times):.3f} s (range {min(times):.3f}–{max(times):.3f}, {len(times)} repeats)"


def _r_loop(transformed: pd.DataFrame, covariates: pd.DataFrame, calls: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        y, meta = Path(folder) / "y.tsv", Path(folder) / "meta.tsv"
        transformed.to_csv(y, sep="\t")
        covariates.to_csv(meta, sep="\t")
        out = subprocess.run(["Rscript", str(R_LOOP), str(y), str(meta), str(calls)], capture_output=True, text=True, check=True)
    return float(out.stdout.split("SECONDS")[1].split()[0]), float(out.stdout.split("CPU")[1].split()[0])


def targets(repeats: int = 5) -> None:
    """Issue 15: 20 calls on 661 × 421 × 5 covariates, both presets, against R's lm loop."""
    table, metadata = simulated(n=661, m=421, seed=15)
    fixed = ["age", "bmi", "bmd", "sex", "smoker"]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    ours = {}
    for preset in ("maaslin2", "default"):
        associate(table, metadata, fixed, preset=preset)  # warm-up (imports, caches)
        wall, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(CALLS):
                associate(table, metadata, fixed, preset=preset)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        ours[preset] = (wall, cpu)
        print(f"osteobiome {preset}: {CALLS} calls: wall {_spread(wall)}; CPU {_spread(cpu)}; "
              f"{statistics.median(cpu) / CALLS * 1e3:.1f} ms CPU per call")
    run = run_association(table, metadata, fixed, preset="maaslin2")
    transformed = run.transformed.loc[run.design.samples]
    covariates = metadata.loc[run.design.samples, fixed]
    if shutil.which("Rscript"):
        label = "R per-feature lm loop (Rscript)"
        runs = [_r_loop(transformed, covariates, CALLS) for _ in range(2)]
        base_wall, base_cpu = [r[0] for r in runs], [r[1] for r in runs]
    else:
        label = "statsmodels formula loop (Rscript not installed: NOT the R baseline)"
        base_wall, base_cpu = [], []
        for _ in range(2):
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(CALLS):
                formula_loop(transformed.to_numpy(), covariates, fixed)
            base_wall.append(time.perf_counter() - start)
            base_cpu.append(time.process_time() - start_cpu)
    print(f"{label}: {CALLS} calls: wall {_spread(base_wall)}; CPU {_spread(base_cpu)}")
    for preset, (wall, cpu) in ours.items():
        print(
            f"speed-up {preset} vs {label.split(' (')[0]}: CPU {statistics.median(base_cpu) / statistics.median(cpu):.0f}× "
            f"(range {min(base_cpu) / max(cpu):.0f}–{max(base_cpu) / min(cpu):.0f}×), wall "
            f"{statistics.median(base_wall) / statistics.median(wall):.0f}×"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    with threadpool_limits(1):  # both sides single-threaded: small BLAS calls only lose from threads on a busy box
        targets() if "--targets" in sys.argv else main()
