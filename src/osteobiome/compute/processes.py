"""Worker processes for embarrassingly parallel steps (cohort jobs, power replicates, benchmark seeds).

Workers are forked from a clean ``forkserver`` process, not with plain ``fork``: forking a process that runs
threads (BLAS pools, progress bars, other executors) can deadlock the child. Each worker uses one BLAS
thread, since the workers already occupy the cores. As with any start method other than ``fork``, a script
that calls a parallel osteobiome function must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def process_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` forkserver processes (``preload``: modules imported once by
    the server), each limited to one BLAS thread and then set up by ``initializer(*initargs)``."""
    context = get_context("forkserver")
    context.set_forkserver_preload(["osteobiome", *preload])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(initializer, initargs)
    )


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if initializer is not None:
        initializer(*initargs)
