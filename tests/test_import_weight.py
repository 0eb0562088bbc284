"""The demo's two interpreters (the command's process and the forkserver its workers fork from) import no
package they do not use: scipy.stats, scikit-bio (and biom-format with it), scikit-learn and statsmodels cost
over a second of every run when imported at the top of a module on these paths. Each check runs in a fresh
interpreter, since this one has imported everything already."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from osteobiome.diversity import beta_distances, beta_diversity, pcoa, permanova

HEAVY = ("scipy.stats", "skbio", "biom", "sklearn", "statsmodels")
#: What the demo command's process imports (its module, then in ``demo()`` the study and the simulator), and what
#: the forkserver preloads (study._workers.WORKER_PRELOAD).
PATHS = {
    "demo command": ["osteobiome.cli.demo", "osteobiome.cli.run", "osteobiome.study.run", "osteobiome.study.demo"],
    "worker preload": ["osteobiome.study._parts", "osteobiome.report._parallel"],
}


@pytest.mark.parametrize("modules", PATHS.values(), ids=PATHS.keys())
def test_no_heavy_imports(modules: list[str]) -> None:
    code = f"import sys\nimport {', '.join(modules)}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"import {', '.join(modules)} imports {done.stdout.strip()}"


def test_simulating_the_demo_cohorts_imports_none_of_them(tmp_path) -> None:
    """The demo simulates its cohorts in the command's process before the workers get jobs: on the critical path."""
    code = (
        "import sys\nfrom pathlib import Path\nfrom osteobiome.study.demo import write_demo_inputs\n"
        f"write_demo_inputs(Path({str(tmp_path)!r}), n=50)\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [], f"simulating the demo imports {done.stdout.strip()}"


def test_worker_preload_is_what_the_test_imports() -> None:
    from osteobiome.study._workers import WORKER_PRELOAD

    assert sorted(WORKER_PRELOAD) == sorted(PATHS["worker preload"])


def test_beta_distances_give_the_bits_of_a_distance_matrix() -> None:
    """PCoA and PERMANOVA on beta_distances' DataFrame equal those on beta_diversity's DistanceMatrix exactly."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        rng.poisson(rng.gamma(0.5, 20.0, size=40), size=(60, 40)) + np.eye(60, 40, dtype=int),
        index=[f"S{i}" for i in range(60)],
        columns=[f"g{j}" for j in range(40)],
    )
    metadata = pd.DataFrame({"x": rng.normal(size=60), "g": rng.choice(["a", "b"], 60)}, index=table.index)
    for metric in ("braycurtis", "aitchison", "jaccard"):
        frame, matrix = beta_distances(table, metric), beta_diversity(table, metric)
        assert list(frame.index) == list(matrix.ids) and np.array_equal(frame.to_numpy(), matrix.data)
        (c1, e1), (c2, e2) = pcoa(frame), pcoa(matrix)
        assert np.array_equal(c1.to_numpy(), c2.to_numpy()) and np.array_equal(e1.to_numpy(), e2.to_numpy())
        p1, p2 = (permanova(d, metadata, ["g", "x"], permutations=99, seed=1) for d in (frame, matrix))
        pd.testing.assert_frame_equal(p1, p2, check_exact=True)
