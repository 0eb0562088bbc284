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
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
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
