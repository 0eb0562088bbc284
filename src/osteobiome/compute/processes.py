"""Worker processes for embarrassingly parallel steps (cohort jobs, power replicates, benchmark seeds).

Workers are forked from a clean ``forkserver`` process, not with plain ``fork``: forking a process that runs
threads (BLAS pools, progress bars, other executors) can deadlock the child. Each worker uses one BLAS
thread, since the workers already occupy the cores. As with any start method other than ``fork``, a script
that calls a parallel osteobiome function must guard its entry point with ``if __name__ == "__main__":``.

Nothing outlives the process that made the pool: each worker watches it (a pidfd on Linux, else polling) and
exits when it ends, even by ``kill -9``; the forkserver and multiprocessing's resource tracker then exit as
their last users close. Workers ignore Ctrl-C; the parent stops them when an error or Ctrl-C leaves the
``with`` block, without waiting for their jobs.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

PARENT_POLL = 0.5
"""Seconds between checks that the parent still runs, where no pidfd is available."""


class _Pool(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` that, when its ``with`` block ends with an exception (Ctrl-C included),
    terminates its workers instead of waiting for their running jobs, and that starts its workers (at the
    first ``submit``) with Ctrl-C held back until every one of them is known, so none is left half-started."""

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001, ANN201
        if threading.current_thread() is not threading.main_thread():
            return super().submit(fn, *args, **kwargs)
        held: list[int] = []  # a Ctrl-C while a worker starts is acted on once it is recorded in the pool
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        try:
            future = super().submit(fn, *args, **kwargs)
        finally:
            signal.signal(signal.SIGINT, previous)
        if held and callable(previous):
            previous(signal.SIGINT, None)
        return future

    def __exit__(self, exc_type, exc_val, exc_tb):  # noqa: ANN001
        if exc_type is None:
            return super().__exit__(exc_type, exc_val, exc_tb)
        processes = list((self._processes or {}).values())  # no public way before Python 3.14
        for process in processes:
            process.terminate()
        for process in processes:  # gone before this process frees the queues they may still be reading
            process.join(timeout=5)
        self.shutdown(wait=False, cancel_futures=True)
        return False


def process_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` forkserver processes (``preload``: modules imported once by
    the server), each limited to one BLAS thread, tied to this process's life and then set up by
    ``initializer(*initargs)``."""
    context = get_context("forkserver")
    context.set_forkserver_preload(["osteobiome", *preload])
    _start_forkserver()
    return _Pool(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def _start_forkserver() -> None:
    """Start the forkserver (and resource tracker) with Ctrl-C ignored, as they inherit it: a Ctrl-C while
    the server imports its preloaded modules must not print their traceback (the parent handles it)."""
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_worker(parent: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with(parent)
    threadpool_limits(1)
    if initializer is not None:
        initializer(*initargs)


def exit_with(parent: int) -> None:
    """End this process as soon as process ``parent`` ends (a daemon thread waits on it)."""
    try:
        handle: int | None = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # not Linux ≥ 5.3
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable once the parent has terminated
        else:
            while _running(parent):
                time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="osteobiome-parent-watch", daemon=True).start()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
