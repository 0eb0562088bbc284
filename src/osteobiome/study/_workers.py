"""The worker processes of a study run: how many, which modules their server preloads, and starting it early.

This module imports nothing heavy, so that a command can start the workers' server before its own imports
(both then import at the same time, on different cores)."""

from __future__ import annotations

import os

from osteobiome.compute.executors import start_forkserver

WORKER_PRELOAD = ["osteobiome.study._parts", "osteobiome.report._parallel"]
"""Modules the forkserver imports once for every worker of a study: the jobs' and the report figures' (the
first pool of a run starts the server, so both are listed here)."""


def worker_count(workers: int | None) -> int:
    """``workers`` bounded by the CPUs (default 1)."""
    return max(1, min(workers or 1, os.cpu_count() or 1))


def start_workers(workers: int | None) -> None:
    """With more than one worker, start the server the run's worker processes fork from now (it imports the
    modules they need in the background), so that a caller can do other work meanwhile; no effect otherwise."""
    if worker_count(workers) > 1:
        start_forkserver(WORKER_PRELOAD)
