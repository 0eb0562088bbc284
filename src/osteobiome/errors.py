"""Errors a user can act on.

Every problem with the user's input is raised as :class:`InputError` with one line that names the file,
column or sample and says what to do. The CLI prints it as ``error: <message>`` and exits with code 2,
without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


class InputError(ValueError):
    """Bad user input (file, column, sample, option). The message is one line, ready to show."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ResourceError(RuntimeError):
    """An operation would exceed a machine limit (memory); the message names the option to use instead."""

    exit_code = 2


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """`` (did you mean 'a', 'b'?)`` for the closest candidates to ``name``, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=0.5)
    if not close:
        lowered = {str(c).lower(): str(c) for c in candidates}
        close = [lowered[str(name).lower()]] if str(name).lower() in lowered else []
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def preview(ids: Iterable[object], n: int = 4) -> str:
    """A short, readable list of a few ids: ``'a', 'b', 'c', … (120 in all)``."""
    ids = list(ids)
    shown = ", ".join(repr(str(i)) for i in ids[:n])
    return f"{shown}, … ({len(ids)} in all)" if len(ids) > n else shown


def unique_ids(ids: pd.Index, axis: str, where: Path | str, seen: Collection[str] | None = None) -> None:
    """Duplicate ids (within ``ids``, or already in ``seen``: the ids of earlier blocks of a streamed file)
    are an :class:`InputError` that lists a few of them."""
    dup = ids.duplicated()
    if seen:
        import numpy as np  # here, so that importing the errors (the CLI does) needs no numpy

        dup |= np.fromiter((i in seen for i in ids), bool, len(ids))
    if dup.any():
        raise InputError(f"{where}: duplicate {axis} ids: {preview(ids[dup].unique())}; make them unique or sum them first.")
