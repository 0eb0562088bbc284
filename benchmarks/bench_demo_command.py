"""The ``osteobiome demo --out DIR`` command as a user runs it (after set-up): wall time, CPU time of the whole
process tree, the per-stage times of its ``run.json``, the report's size and the load average, ``repeats`` times.

CPU time: ``/usr/bin/time`` sees only the command's own process, because the workers are children of the
multiprocessing forkserver, which outlives the command's wait. This script makes itself a child subreaper
(Linux ``prctl(PR_SET_CHILD_SUBREAPER)``), so the orphaned forkserver and, through it, the workers are reaped
here and their user + system time counts. Usage: ``python benchmarks/bench_demo_command.py [repeats] [out_dir]``
(``out_dir`` default /tmp/demo-x; replaced on each run).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _timing import load, machine, spread

PR_SET_CHILD_SUBREAPER = 36


def run_once(out: Path) -> dict:
    """One ``osteobiome demo --out out --quiet`` run: wall, CPU of every descendant, stages, report size."""
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "osteobiome"), "demo", "--out", str(out), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    while True:  # reap the orphaned forkserver (and resource tracker) once they exit
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    stages = json.loads((out / "run.json").read_text())["timings_seconds"]
    return {
        "wall": wall,
        "cpu": cpu,
        "stages": stages,
        "report_mb": (out / "report.html").stat().st_size / 1e6,
        "load": (load_before, os.getloadavg()[0]),
    }


def main(repeats: int, out: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("warning: not a child subreaper; the workers' CPU time is not counted", flush=True)
    print(machine(), flush=True)
    runs = []
    for i in range(repeats):
        r = run_once(out)
        runs.append(r)
        steps = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
        print(
            f"run {i + 1}: wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s (all processes), report {r['report_mb']:.2f} MB,"
            f" load average {r['load'][0]:.2f} before / {r['load'][1]:.2f} after\n  stages (s): {steps}",
            flush=True,
        )
    print(f"wall: {spread([r['wall'] for r in runs])}\nCPU: {spread([r['cpu'] for r in runs])}\n{load()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/demo-x"))
