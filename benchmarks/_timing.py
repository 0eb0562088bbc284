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
