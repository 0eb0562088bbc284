"""Where work runs: blocks of work in this process or on dask (threads, processes, or a dask.distributed cluster
given by its scheduler address), and pools of worker processes for embarrassingly parallel jobs.

:func:`run_blocks` applies ``func(shared, item)`` to every item and returns the results in order. The
single-process path (``scheduler=None``) consumes ``items`` lazily, one at a time, so peak memory is one
block; the dask paths hand the items to dask (``dask.delayed`` tasks, or ``Client.map`` on a cluster).
Dask is an optional extra, imported only when a scheduler is asked for; :func:`parse_scheduler` reads the
``--scheduler`` value.

:func:`process_pool` (cohort jobs, power replicates, benchmark seeds, mixed-model chunks): workers are forked
from a clean ``forkserver`` process, not with plain ``fork``: forking a process that runs threads (BLAS pools,
progress bars, other executors) can deadlock the child. Each worker uses one BLAS thread, since the workers
already occupy the cores. As with any start method other than ``fork``, a script that calls a parallel
osteobiome function must guard its entry point with ``if __name__ == "__main__":``.

Nothing outlives the process that made the pool: each worker watches it (a pidfd on Linux, else polling) and
exits when it ends, even by ``kill -9``; the forkserver and multiprocessing's resource tracker then exit as
their last users close. Workers ignore Ctrl-C; the parent stops them when an error or Ctrl-C leaves the
``with`` block, without waiting for their jobs.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import select
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from osteobiome.errors import InputError

LOCAL_SCHEDULERS = ("threads", "processes")
SCHEDULER_HELP = (
    "Run the feature blocks through dask: threads, processes, or a dask.distributed scheduler address "
    "(tcp://host:8786). Default: this process, one block at a time. Needs pip install osteobiome[dask]."
)


def require(module: str, for_what: str) -> Any:
    """Import ``module`` (a dask package) or raise a one-line InputError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{for_what} needs dask, which is not installed; run: pip install osteobiome[dask]") from None


def parse_scheduler(value: object) -> object:
    """``None``/``"sync"`` → None (this process); ``threads``/``processes``; an address (``tcp://h:p``, ``h:p``, ``inproc://…``);
    or a ``distributed.Client`` passed through. Anything else is an InputError."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "sync", "none")):
        return None
    if not isinstance(value, str):
        if all(hasattr(value, name) for name in ("scatter", "map", "gather")):  # a distributed.Client
            return value
        raise InputError(f"scheduler {value!r}: give threads, processes or a dask scheduler address (tcp://host:8786).")
    text = value.strip()
    if text.lower() in LOCAL_SCHEDULERS:
        return text.lower()
    scheme, _, rest = text.rpartition("://")
    host, _, port = rest.rpartition(":")
    if (scheme and rest) or (host and port.isdigit()):
        return text
    raise InputError(
        f"--scheduler {value!r} is neither threads, processes nor a scheduler address; "
        "give e.g. --scheduler threads or --scheduler tcp://10.0.0.5:8786."
    )


def _connect(address: str) -> Any:
    distributed = require("distributed", f"--scheduler {address}")
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {address}: cannot connect to a dask scheduler there ({exc}); is it running?") from None


@functools.cache
def _controller() -> Any:
    """One threadpoolctl controller per process (scanning the loaded BLAS libraries is the slow part)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Context in which BLAS uses one thread: blocks are parallel across tasks, and the tall-skinny products
    of a block (samples × few coefficients) gain little from BLAS threads but lose badly to oversubscription."""
    controller = _controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


def _task(func: Callable[[Any, Any], Any], shared: Any, item: Any) -> Any:
    """``func(shared, item)`` with one BLAS thread (in a worker process or thread)."""
    with one_blas_thread():
        return func(shared, item)


def run_blocks(func: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any, scheduler: object = None) -> list[Any]:
    """``[func(shared, item) for item in items]``, in this process or through dask (see the module docstring).

    ``func`` must be a module-level function (picklable for processes and clusters); ``shared`` is sent once
    per worker on a cluster. BLAS runs single-threaded inside blocks (set once around local runs: threadpoolctl
    limits are process-wide, so per-task limits would race between threads).
    """
    scheduler = parse_scheduler(scheduler)
    if scheduler is None:
        with one_blas_thread():
            return [func(shared, item) for item in items]
    if scheduler in LOCAL_SCHEDULERS:
        dask = require("dask", f"--scheduler {scheduler}")
        shared_task = dask.delayed(shared, name=f"shared-{uuid.uuid4().hex}")
        if scheduler == "threads":
            tasks = [dask.delayed(func, pure=False)(shared_task, item) for item in items]
            with one_blas_thread():
                return list(dask.compute(*tasks, scheduler=scheduler))
        tasks = [dask.delayed(_task, pure=False)(func, shared_task, item) for item in items]
        return list(dask.compute(*tasks, scheduler=scheduler))
    client = scheduler if not isinstance(scheduler, str) else _connect(scheduler)
    try:
        shared_future = client.scatter(shared, broadcast=True)
        item_futures = client.scatter(list(items))
        futures = client.map(functools.partial(_task, func), [shared_future] * len(item_futures), item_futures, pure=False)
        return client.gather(futures)
    finally:
        if client is not scheduler:
            client.close()


PARENT_POLL = 0.5
"""Seconds between checks that the parent still runs, where no pidfd is available."""


class _RecordingContext:
    """A multiprocessing context that keeps every process it makes (the pool's workers), so that the pool can stop
    its own workers: ``ProcessPoolExecutor`` gives no public access to them before Python 3.14."""

    def __init__(self, base: BaseContext) -> None:
        self._base = base
        self.processes: list[BaseProcess] = []

    def Process(self, *args: Any, **kwargs: Any) -> BaseProcess:  # noqa: N802 - the name every context has
        process = self._base.Process(*args, **kwargs)
        self.processes.append(process)
        return process

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


class _Pool(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` of forkserver workers that, when its ``with`` block ends with an exception
    (Ctrl-C included), terminates its workers instead of waiting for their running jobs, and that starts its
    workers (at the first ``submit``) with Ctrl-C held back until every one of them is known, so none is left
    half-started."""

    def __init__(self, max_workers: int, initializer: Callable[..., None], initargs: tuple) -> None:
        self._recorder = _RecordingContext(get_context("forkserver"))
        super().__init__(max_workers=max_workers, mp_context=self._recorder, initializer=initializer, initargs=initargs)

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
        processes = list(self._recorder.processes)
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
    start_forkserver(preload)
    return _Pool(workers, _start_worker, (os.getpid(), initializer, initargs))


def start_forkserver(preload: Sequence[str] = ()) -> None:
    """Start the server that :func:`process_pool` workers fork from (unless it runs already), importing
    ``osteobiome`` and ``preload``. It returns at once: the server imports in the
    background, so a caller that will need workers soon can start it early and work meanwhile (the first worker
    waits for the imports; the modules of the first call are the ones preloaded)."""
    get_context("forkserver").set_forkserver_preload(["osteobiome", *preload])
    _start_forkserver()


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
            while process_alive(parent):
                time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="osteobiome-parent-watch", daemon=True).start()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
