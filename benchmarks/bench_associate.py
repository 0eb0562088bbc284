"""Association engine vs a plain per-feature statsmodels OLS loop, in the same process.

Cases: a simulated table of 2,000 samples × 1,000 features × 5 covariates, and MaAsLin2's HMP2 example
(1,595 samples × 87 species, ../shared). The engine time is the full LM path (filter → normalize → transform
→ design → fit → BH → table); the baseline fits ``sm.OLS(y, X).fit()`` per feature on the same transformed
data and design (the model fitting alone, so the ratio understates the pipeline's advantage). Also times
the random-intercept (REML + Satterthwaite) path on HMP2.

Run: ``.venv/bin/python benchmarks/bench_associate.py`` (engine and baseline both with one BLAS thread).
"""

from __future__ import annotations

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


if __name__ == "__main__":
    with threadpool_limits(1):  # both sides single-threaded: small BLAS calls only lose from threads on a busy box
        main()
