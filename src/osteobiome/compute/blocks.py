"""Where blocks of work run: in this process, or through dask (threads, processes, or a dask.distributed
cluster given by its scheduler address).

:func:`run_blocks` applies ``func(shared, item)`` to every item and returns the results in order. The
single-process path (``scheduler=None``) consumes ``items`` lazily, one at a time, so peak memory is one
block; the dask paths hand the items to dask (``dask.delayed`` tasks, or ``Client.map`` on a cluster).
Dask is an optional extra, imported only when a scheduler is asked for. CLI commands share
:data:`SCHEDULER_HELP`, :func:`parse_scheduler` and the typer options :func:`scheduler_option` and
:func:`block_size_option` defined here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import uuid
from collections.abc import Callable, Iterable
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


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Context in which BLAS uses one thread: blocks are parallel across tasks, and the tall-skinny products
    of a block (samples × few coefficients) gain little from BLAS threads but lose badly to oversubscription."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


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


def scheduler_option() -> Any:
    """The shared ``--scheduler`` typer option (``associate``, ``meta``, ``run``); pass its value to
    :func:`parse_scheduler` or straight to a ``scheduler=`` parameter."""
    import typer

    return typer.Option(None, "--scheduler", help=SCHEDULER_HELP)


def block_size_option(what: str = "features") -> Any:
    """The shared ``--block-size`` typer option: ``what`` per block (default: chosen from the memory budget)."""
    import typer

    return typer.Option(None, "--block-size", min=1, help=f"{what.capitalize()} per block; bounds peak memory (default: automatic).")
