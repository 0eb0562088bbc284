"""Memory guard: estimate the bytes of a dense operation before allocating it, and refuse with a one-line
:class:`~osteobiome.errors.ResourceError` that names the option to use instead when it would not fit.

Available memory is ``psutil.virtual_memory().available`` when psutil is installed, else ``MemAvailable``
from ``/proc/meminfo``; when neither is known the guard lets the operation run.
"""

from __future__ import annotations

from pathlib import Path

from osteobiome.errors import ResourceError

#: Refuse when an operation needs more than this fraction of the memory available right now.
HEADROOM = 0.8
#: Memory target of one block of features (its dense copies) when no block size is given: 256 MiB.
BLOCK_BUDGET = 256 * 1024**2
_MEMINFO = Path("/proc/meminfo")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (psutil, else /proc/meminfo), or None if unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def human_bytes(n: float) -> str:
    """``1.5 GB``-style size (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def dense_bytes(n_rows: int, n_cols: int, copies: float = 1.0, itemsize: int = 8) -> int:
    """Bytes of ``copies`` dense ``n_rows × n_cols`` arrays of ``itemsize``-byte values."""
    return int(n_rows) * int(n_cols) * itemsize * copies


def check_memory(nbytes: float, what: str, instead: str) -> None:
    """Raise :class:`ResourceError` if ``nbytes`` exceeds ``HEADROOM`` × available memory.

    ``what`` describes the operation (``"a dense 10000 × 100000 table"``); ``instead`` names the option that
    avoids it (``"--block-size 2000"``).
    """
    available = available_memory()
    if available is None or nbytes <= HEADROOM * available:
        return
    raise ResourceError(
        f"{what} needs about {human_bytes(nbytes)} but only {human_bytes(available)} of memory is available; "
        f"use {instead} instead."
    )
