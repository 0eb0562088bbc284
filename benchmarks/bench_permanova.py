"""PERMANOVA speed: batched permutations (osteobiome) vs refitting every model for every permutation.

999 permutations, 5 terms (3 continuous, a 2-level and a 3-level factor), by="margin", Bray–Curtis on simulated
counts, n = 500, 1,000, 2,000 (best of 3 runs for the batched version; the machine is shared). The baseline permutes Gower's matrix and refits the full and the 5 reduced models
by least squares for each permutation (what a direct port of adonis2's loop does); it is timed on a few
permutations and extrapolated linearly to 999 (stated in the output).

Run: .venv/bin/python benchmarks/bench_permanova.py
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _timing import best_of  # noqa: E402
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


def main() -> None:
    rows = []
    for n in (500, 1000, 2000):
        table, meta = cohort(n)
        dm = beta_diversity(table, "braycurtis")
        fast = best_of(partial(permanova, dm, meta, TERMS, by="margin", permutations=PERMUTATIONS, seed=1))

        k = NAIVE_TIMED[n]
        G, blocks = gower(dm.data), design(meta, TERMS)
        perms = np.array([np.random.default_rng(i).permutation(n) for i in range(k)])
        naive = best_of(partial(permuted_F, G, blocks, "margin", perms), 1) / k * (PERMUTATIONS + 1)
        rows.append((n, fast, naive, k))
        print(f"n={n:5d}  batched {fast:7.2f} s   refit-per-permutation {naive:8.1f} s "
              f"(extrapolated from {k} permutations)   ratio {naive / fast:6.1f}x", flush=True)
    print("\n| n | batched (s) | refit per permutation (s, extrapolated) | ratio |\n|---|---|---|---|")
    for n, fast, naive, k in rows:
        print(f"| {n:,} | {fast:.2f} | {naive:.1f} (from {k} perms) | {naive / fast:.0f}x |")


if __name__ == "__main__":
    main()
