"""Tables simulated from the shipped Twins parameters look like the Twins table.

Thresholds on the two-sample Kolmogorov–Smirnov statistic D (simulated n = 1,000 at the fitted log-normal
depth vs the 278 real samples; 130 features):
- feature-level distributions (130 values each): the 5 % critical value for 130 vs 130 values is
  1.36·√(2/130) ≈ 0.17; we allow D ≤ 0.20, i.e. "not distinguishable beyond a small margin" (the mean of the
  log abundance of rare features is noisy: it rests on 1–5 non-zero counts);
- per-sample sparsity and Shannon diversity: D ≤ 0.20. The real table is a mix of lean/obese twins and pairs
  of samples per person, structure the simulator does not model; D of 0.20 still means the two ECDFs never
  differ by more than 20 percentage points;
- Bray–Curtis: D ≤ 0.25 (the copula keeps 10 factors of the shrunk correlation, so between-sample similarity
  is slightly lower than in the real table: median 0.47 vs 0.43).
For scale, a naive Dirichlet-multinomial without zero inflation (benchmarks/bench_simulate_realism.py) gives
D > 0.7 on sparsity, Shannon diversity and Bray–Curtis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.evaluate.realism import compare_statistics, compare_tables, realism_statistics
from osteobiome.simulate import default_params
from osteobiome.simulate.copula import simulate_counts
from osteobiome.simulate.fit import read_template

THRESHOLDS = {
    "feature prevalence": 0.20,
    "feature mean log abundance": 0.20,
    "feature variance of log abundance": 0.20,
    "sample sparsity": 0.20,
    "sample Shannon diversity": 0.20,
    "Bray-Curtis dissimilarity": 0.25,
}


@pytest.mark.parametrize("seed", [0, 1])
def test_twins_parameters_reproduce_the_twins_table(shared, seed):
    real = read_template(shared / "data" / "twins" / "Twins.csv").to_numpy(float)
    simulated = simulate_counts(default_params(), 1000, np.random.default_rng(seed))
    table = compare_tables(real, simulated, seed=seed).set_index("statistic")
    for name, limit in THRESHOLDS.items():
        assert table.loc[name, "ks"] <= limit, (name, table.loc[name].to_dict())


def test_compare_statistics_reuses_precomputed_statistics():
    rng = np.random.default_rng(3)
    real, simulated = rng.poisson(3.0, (40, 12)), rng.poisson(2.0, (60, 12))
    from_stats = compare_statistics(realism_statistics(real), realism_statistics(simulated))
    pd.testing.assert_frame_equal(from_stats, compare_tables(real, simulated))
    assert from_stats.loc[from_stats.statistic == "sample sparsity", "ks"].iloc[0] > 0
