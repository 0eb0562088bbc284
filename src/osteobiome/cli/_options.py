"""Typer options shared by several commands: ``--scheduler`` and ``--block-size``."""

from __future__ import annotations

from typing import Any

from osteobiome.compute.executors import SCHEDULER_HELP


def scheduler_option() -> Any:
    """The shared ``--scheduler`` typer option (``associate``, ``meta``, ``run``); pass its value to
    :func:`osteobiome.compute.executors.parse_scheduler` or straight to a ``scheduler=`` parameter."""
    import typer

    return typer.Option(None, "--scheduler", help=SCHEDULER_HELP)


def block_size_option(what: str = "features") -> Any:
    """The shared ``--block-size`` typer option: ``what`` per block (default: chosen from the memory budget)."""
    import typer

    return typer.Option(None, "--block-size", min=1, help=f"{what.capitalize()} per block; bounds peak memory (default: automatic).")
