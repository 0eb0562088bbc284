"""Typer options shared by several commands: ``--scheduler``, ``--block-size``, ``--samples-as``, and the
metadata argument, ``--reference``, ``--taxonomy`` and ``--rank`` of the per-feature analyses."""

from __future__ import annotations

from typing import Any

from osteobiome.compute.executors import SCHEDULER_HELP
from osteobiome.errors import InputError


def scheduler_option() -> Any:
    """The shared ``--scheduler`` typer option (``associate``, ``meta``, ``run``); pass its value to
    :func:`osteobiome.compute.executors.parse_scheduler` or straight to a ``scheduler=`` parameter."""
    import typer

    return typer.Option(None, "--scheduler", help=SCHEDULER_HELP)


def block_size_option(what: str = "features") -> Any:
    """The shared ``--block-size`` typer option: ``what`` per block (default: chosen from the memory budget)."""
    import typer

    return typer.Option(None, "--block-size", min=1, help=f"{what.capitalize()} per block; bounds peak memory (default: automatic).")


def metadata_argument() -> Any:
    """The sample metadata argument (``associate``, ``mediate``, ``predict``, ``survival``)."""
    import typer

    return typer.Argument(..., help="Sample metadata (TSV/CSV, sample ids in the first column).")


def reference_option() -> Any:
    """The shared ``--reference variable=level`` typer option (repeatable; ``associate``, ``mediate``, ``survival``)."""
    import typer

    return typer.Option([], "--reference", help="Reference level: variable=level (repeatable).")


def parse_reference(values: list[str]) -> dict[str, str]:
    """``--reference`` values (``variable=level``, repeatable or ``;``-separated) as ``{variable: level}``."""
    reference = {}
    for item in values:
        for part in item.split(";"):
            name, sep, level = part.partition("=")
            if not sep or not name or not level:
                raise InputError(f"--reference {part!r}: write it as variable=level, e.g. --reference sex=F.")
            reference[name.strip()] = level.strip()
    return reference


def taxonomy_option() -> Any:
    """The shared ``--taxonomy`` typer option, the lineages that ``--rank`` collapses by."""
    import typer

    return typer.Option(None, "--taxonomy", help="Taxonomy table (features × ranks) for --rank.")


def rank_option() -> Any:
    """The shared ``--rank`` typer option (``associate``, ``batch-correct``, ``mediate``, ``survival``)."""
    import typer

    return typer.Option(None, "--rank", help="Collapse features to this rank first (needs a taxonomy).")


def samples_as_option() -> Any:
    """The shared ``--samples-as`` typer option (``inspect``, ``convert``, ``diversity``): ``rows``, ``columns``, or
    None to detect the orientation; anything else stops with one line."""
    import typer

    return typer.Option(
        None,
        "--samples-as",
        callback=_check_samples_as,
        help="Where the samples are in a plain table: rows or columns (detected if clear).",
    )


def _check_samples_as(value: str | None) -> str | None:
    if value is not None and value not in ("rows", "columns"):
        raise InputError(f"--samples-as must be 'rows' or 'columns', not {value!r}.")
    return value
