"""Wall-clock timing shared by the benchmark scripts (imported as ``_timing``; the scripts' folder is on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls of ``fn`` (seconds) and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (seconds)."""
    return timed(fn, repeats)[0]


def repeat(fn: Callable[[], Any], repeats: int = 3) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn`` (seconds), in call order."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def spread(values: list[float], unit: str = "s") -> str:
    """``median M (min A – max B, n = N)`` of repeated measurements."""
    import statistics

    return f"median {statistics.median(values):.3g} {unit} (min {min(values):.3g} – max {max(values):.3g}, n = {len(values)})"


def load() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    import os

    return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def machine() -> str:
    """CPU model, cores, memory, Python and numpy versions, and the current load: the line every benchmark prints
    first (ratios measured on a loaded machine mean little; say how loaded it was)."""
    import os
    import platform

    import numpy as np

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
        with open("/proc/meminfo") as handle:
            memory = int(next(line.split()[1] for line in handle if line.startswith("MemTotal"))) / 1024**2
    except OSError:
        memory = float("nan")
    return (
        f"machine: {model}, {os.cpu_count()} cores, {memory:.0f} GB; Python {platform.python_version()}, "
        f"numpy {np.__version__}; {load()}"
    )
