"""Benchmark of the whole demo study (``osteobiome demo``): simulate an FHS-like and an MrOS-like cohort, then
run every phenotype's associations, diversity with 999 permutations, the meta-analysis and the report.

Timed twice in the same process: with 2 worker processes (what ``make demo`` does) and, as the baseline, with
1 (everything in this process); prints each step's time and the ratio. Usage:
``python benchmarks/bench_demo.py [out_dir]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

from osteobiome.study import load_study, run_study
from osteobiome.study.demo import write_demo_inputs


def demo_once(folder: Path, workers: int) -> tuple[float, float, dict[str, float]]:
    """(simulation seconds, study seconds, step timings) of one demo run into ``folder``."""
    start = time.perf_counter()
    study = write_demo_inputs(folder / "inputs")
    simulated = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finished = run_study(load_study(study), folder / "results", workers=workers, quiet=True)
    return simulated, finished.seconds, finished.results.timings


def main(out: Path) -> None:
    results = {}
    for workers in (2, 1):
        simulated, seconds, timings = demo_once(out / f"workers{workers}", workers)
        results[workers] = simulated + seconds
        steps = ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k != "total")
        print(f"workers={workers}: simulate {simulated:.2f} s + study {seconds:.2f} s = {simulated + seconds:.2f} s")
        print(f"  steps (s): {steps}")
    print(f"demo, 2 workers vs 1 (baseline): {results[2]:.2f} s vs {results[1]:.2f} s, ratio {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench_demo_")))
