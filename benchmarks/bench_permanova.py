"""PERMANOVA speed: batched permutations (osteobiome) vs refitting every model for every permutation.

999 permutations, 5 terms (3 continuous, a 2-level and a 3-level factor), by="margin", Bray–Curtis on simulated
counts, n = 500, 1,000, 2,000. The baseline permutes Gower's matrix and refits the full and the 5 reduced models
by least squares for each permutation (what a direct port of adonis2's loop does); it is timed on a few
permutations and extrapolated linearly to 999 (stated in the output). Both are timed ``repeats`` times,
interleaved (batched, refit, batched, …) in the same process; printed: the machine and its load, each side's
median and range, and the ratio of medians with the range of the per-repeat ratios.

Run: .venv/bin/python benchmarks/bench_permanova.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _timing import load, machine, spread  # noqa: E402
from naive_permanova import design, gower, permuted_F  # noqa: E402

from osteobiome.diversity import beta_diversity, permanova  # noqa: E402

TERMS = ["bmd", "age", "bmi", "sex", "site"]
PERMUTATIONS = 999
NAIVE_TIMED = {500: 50, 1000: 20, 2000: 8}


def cohort(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(n)]
    meta = pd.DataFrame(
        {"bmd": rng.normal(size=n), "age": rng.integers(40, 85, n), "bmi": rng.normal(27, 4, n),
         "sex": rng.choice(["F", "M"], n), "site": rng.choice(["a", "b", "c"], n)},
        index=ids,
    )
    base = rng.dirichlet(np.full(200, 0.3))
    props = rng.dirichlet(base * 50 + 1e-3, size=n) * np.exp(0.2 * meta.bmd.to_numpy())[:, None] ** (base > 0.01)
    counts = np.vstack([rng.multinomial(10_000, p / p.sum()) for p in props])
    return pd.DataFrame(counts, index=ids), meta


def _seconds(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(repeats: int) -> None:
    print(machine(), flush=True)
    rows = []
    for n in (500, 1000, 2000):
        table, meta = cohort(n)
        dm = beta_diversity(table, "braycurtis")
        k = NAIVE_TIMED[n]
        G, blocks = gower(dm.data), design(meta, TERMS)
        perms = np.array([np.random.default_rng(i).permutation(n) for i in range(k)])
        fast, naive = [], []
        for _ in range(repeats):
            fast.append(_seconds(lambda: permanova(dm, meta, TERMS, by="margin", permutations=PERMUTATIONS, seed=1)))  # noqa: B023
            naive.append(_seconds(lambda: permuted_F(G, blocks, "margin", perms)) / k * (PERMUTATIONS + 1))  # noqa: B023
        ratios = [b / a for a, b in zip(fast, naive, strict=True)]
        ratio = statistics.median(naive) / statistics.median(fast)
        rows.append((n, fast, naive, k, ratio, ratios))
        print(f"n={n:5d}  batched {spread(fast)}   refit-per-permutation {spread(naive)} (extrapolated from {k} "
              f"permutations)   ratio {ratio:.0f}x (per repeat {min(ratios):.0f}–{max(ratios):.0f}x); {load()}", flush=True)
    print("\n| n | batched (s) | refit per permutation (s, extrapolated) | ratio of medians | per repeat |\n|---|---|---|---|---|")
    for n, fast, naive, k, ratio, ratios in rows:
        print(f"| {n:,} | {statistics.median(fast):.2f} ({min(fast):.2f}–{max(fast):.2f}) | "
              f"{statistics.median(naive):.1f} ({min(naive):.1f}–{max(naive):.1f}; from {k} perms) | {ratio:.0f}x | "
              f"{min(ratios):.0f}–{max(ratios):.0f}x |")
    print(load())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
