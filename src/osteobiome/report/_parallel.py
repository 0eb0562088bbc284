"""The report's figures drawn in worker processes: while the report is written, :func:`figures.draw
<osteobiome.report.figures.draw>` hands each figure's function and arguments (pickled) to a process pool, which
builds and saves it, and returns a placeholder; once the HTML is rendered, :meth:`FigurePool.resolve` puts each
figure's data URI in place of its placeholder (waiting for the figures still being drawn). Building, laying out
and rasterizing the figures is most of the report's time; the figures and their files are the same as when drawn
in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from osteobiome.compute.executors import process_pool
from osteobiome.report import figures


class FigurePool:
    """Figures being saved by the workers of ``pool``, by placeholder."""

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.pending: dict[str, Future] = {}

    def submit(
        self, folder: Path, name: str, make: Callable[..., figures.Figure], args: tuple, kwargs: dict[str, Any]
    ) -> str:
        """Hand the figure ``make(*args, **kwargs)`` to a worker, which builds it and writes
        ``folder/name.svg|png``; return its placeholder."""
        token = f"osteobiome-figure-{len(self.pending)}-pending"
        self.pending[token] = self.pool.submit(_draw, folder, name, make, args, kwargs)
        return token

    def resolve(self, text: str) -> str:
        """``text`` with every placeholder replaced by its figure's data URI."""
        for token, future in self.pending.items():
            text = text.replace(token, future.result())
        return text


def _draw(folder: Path, name: str, make: Callable[..., figures.Figure], args: tuple, kwargs: dict[str, Any]) -> str:
    return figures.save(make(*args, **kwargs), folder, name)


@contextmanager
def figures_in_workers(workers: int) -> Iterator[FigurePool | None]:
    """With ``workers`` > 1, a :class:`FigurePool` that :func:`~osteobiome.report.figures.draw` uses until the
    block ends; else ``None`` (figures are saved in this process)."""
    if workers < 2:
        yield None
        return
    with process_pool(workers, preload=[__name__]) as pool:
        deferred = FigurePool(pool)
        figures.DEFERRED.append(deferred)
        try:
            yield deferred
        finally:
            figures.DEFERRED.remove(deferred)
