"""Two-part mixed model speed on MaAsLin2's HMP2 example (issue 16): per-feature cost of each part.

HMP2 (1,576 complete samples, 87 species present in > 10%, 6 coefficients, ``(1 | subject)``, 130 subjects).
Times both parts of the two-part mixed model — ``stats.lmm.fit_lmm`` on each species' present samples (REML,
Satterthwaite) and ``stats.glmm.fit_glmm`` (Laplace logistic GLMM, MaAsLin3 augmentation) — against the
fixed-effect two-part fits (``stats.twopart``) in the same process, best of ``repeats``, wall and CPU time, one
process, one BLAS thread; prints the load average (the machine is shared). Needs ``../shared``.
Usage: ``python benchmarks/bench_glmm.py [repeats]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from osteobiome.stats.design import build_design
from osteobiome.stats.glmm import fit_glmm
from osteobiome.stats.lmm import fit_lmm
from osteobiome.stats.preprocess import filter_features, normalize
from osteobiome.stats.twopart import fit_abundance, fit_prevalence, log2_nonzero

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "reference" / "maaslin2_hmp2"


def best(fn, repeats: int) -> tuple[float, float, object]:  # noqa: ANN001
    """Best wall and CPU seconds of ``repeats`` calls and the last result."""
    wall, cpu, result = np.inf, np.inf, None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def main(repeats: int = 2) -> None:
    taxonomy = pd.read_csv(FOLDER / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    metadata = pd.read_csv(FOLDER / "HMP2_metadata.tsv", sep="\t", index_col=0).loc[taxonomy.index]
    raw = taxonomy.to_numpy(dtype=float)
    kept = filter_features(raw, 0.0, 0.1, 0.0)
    design = build_design(metadata, ["diagnosis", "dysbiosis", "antibiotics", "age"], {"diagnosis": "nonIBD"}, True, "default", ["subject"])
    relative = normalize(raw[:, kept], "TSS")[design.rows]
    log_abundance, present, X, groups = log2_nonzero(relative), relative > 0, design.matrix, [design.groups["subject"]]
    m = relative.shape[1]
    with threadpool_limits(1):
        cases = {
            "fixed two-part (twopart.fit_abundance + fit_prevalence)": lambda: (
                fit_abundance(log_abundance, X), fit_prevalence(present, X)
            ),
            "abundance part: lmm.fit_lmm on present samples": lambda: fit_lmm(log_abundance, X, groups),
            "prevalence part: glmm.fit_glmm (augmented)": lambda: fit_glmm(present, X, groups),
        }
        rows = {name: best(fn, repeats) for name, fn in cases.items()}
    baseline = rows["fixed two-part (twopart.fit_abundance + fit_prevalence)"][0]
    print(f"HMP2: {X.shape[0]} samples × {m} species, {X.shape[1]} coefficients, {len(np.unique(groups[0]))} subjects; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| fit | wall (s) | CPU (s) | CPU per species (ms) | wall vs fixed two-part |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu, _) in rows.items():
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {1000 * cpu / m:.1f} | {wall / baseline:.0f}x |")
    glmm = rows["prevalence part: glmm.fit_glmm (augmented)"][2]
    print(f"GLMM: {glmm.evaluations.mean():.1f} deviance+gradient evaluations per species (median "
          f"{np.median(glmm.evaluations):.0f}); converged {glmm.converged.sum()}/{m}, singular {glmm.singular.sum()}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
