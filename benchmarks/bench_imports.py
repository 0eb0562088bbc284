"""Imports of the demo's two interpreters: the modules the ``osteobiome demo`` process imports (its command
module, then the study and the simulator) and those the forkserver preloads for the workers
(``osteobiome.study._parts``, ``osteobiome.report._parallel``), plus ``osteobiome --help``; each in a fresh
interpreter.

Per import set: wall time and CPU time (user + system of the child) over ``repeats`` runs, and the total of
``python -X importtime`` (the cumulative times of the top-level imports; median of as many separate runs). With ``--baseline SRC``
(a source folder holding another version's ``osteobiome`` package, e.g. an export of an older commit's
``src``), the same runs of that version are interleaved with this one's, so both see the same machine load.

Usage: ``python benchmarks/bench_imports.py [repeats] [--baseline SRC]``
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _timing import load, machine

SRC = Path(__file__).resolve().parents[1] / "src"
DEMO = "osteobiome.cli.demo, osteobiome.cli.run, osteobiome.study.run, osteobiome.study.demo"
CASES = {
    f"import {DEMO}": ["-c", f"import {DEMO}"],
    "import osteobiome.study._parts, osteobiome.report._parallel": [
        "-c", "import osteobiome.study._parts, osteobiome.report._parallel"],
    "osteobiome --help": ["-c", "import sys; from osteobiome.cli import main; sys.argv[0] = 'osteobiome'; main()", "--help"],
}


def run(args: list[str], src: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``python *args`` importing osteobiome from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def importtime_total(args: list[str], src: Path) -> float:
    """Sum of the cumulative times of the top-level imports that ``-X importtime`` reports (seconds)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-X", "importtime", *args], env=env, capture_output=True, text=True, check=True)
    top = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| \S", done.stderr, flags=re.MULTILINE)
    return sum(int(us) for us in top) / 1e6


def main(repeats: int, baseline: Path | None) -> None:
    print(machine())
    versions = {"this": SRC} | ({"baseline": baseline} if baseline else {})
    for case, args in CASES.items():
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
        totals: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(repeats):
            for name, src in versions.items():
                times[name].append(run(args, src))
                if case.startswith("import"):
                    totals[name].append(importtime_total(args, src))
        for name in versions:
            walls, cpus = zip(*times[name], strict=True)
            extra = f", -X importtime total median {statistics.median(totals[name]):.2f} s" if totals[name] else ""
            print(
                f"{case} [{name}]: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f} – max "
                f"{max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s, n = {repeats}{extra}"
            )
    print(load())


if __name__ == "__main__":
    argv = sys.argv[1:]
    base = None
    if "--baseline" in argv:
        i = argv.index("--baseline")
        base = Path(argv[i + 1]).resolve()
        del argv[i : i + 2]
    main(int(argv[0]) if argv else 5, base)
