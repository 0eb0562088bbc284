"""Benchmark of the whole demo study (``osteobiome demo``): simulate an FHS-like and an MrOS-like cohort, then
run every phenotype's associations, diversity with 999 permutations, the meta-analysis and the report.

Timed in the same process with 2 worker processes (what ``make demo`` does) and, as the baseline, with 1
(everything in this process), ``repeats`` times each, interleaved (2, 1, 2, 1, …) so that a change of load hits
both alike. Prints the machine and its load, every run (with the load when it ended), each setting's median and
range, and the ratio of medians with the range of the per-pair ratios. Two workers can only help when a second
core is free: on a loaded machine expect about 1×. Usage: ``python benchmarks/bench_demo.py [repeats] [out_dir]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _timing import load, machine, spread

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


def main(repeats: int, out: Path) -> None:
    print(machine(), flush=True)
    times: dict[int, list[float]] = {2: [], 1: []}
    for run in range(repeats):
        for workers in (2, 1):
            simulated, seconds, timings = demo_once(out / f"run{run}_workers{workers}", workers)
            times[workers].append(simulated + seconds)
            steps = ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k != "total")
            print(
                f"run {run + 1}, workers={workers}: simulate {simulated:.2f} s + study {seconds:.2f} s = "
                f"{simulated + seconds:.2f} s ({load()})\n  steps (s): {steps}",
                flush=True,
            )
    ratios = [one / two for one, two in zip(times[1], times[2], strict=True)]
    median = statistics.median(times[1]) / statistics.median(times[2])
    print(f"workers=2: {spread(times[2])}\nworkers=1 (baseline): {spread(times[1])}")
    print(f"demo, 1 worker / 2 workers: ratio of medians {median:.2f}x; per pair {min(ratios):.2f}–{max(ratios):.2f}x; {load()}")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 3,
        Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="bench_demo_")),
    )
