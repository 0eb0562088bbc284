"""The ``--overwrite`` option shared by every command that writes a results folder (see :mod:`osteobiome.io.outputs`)."""

from __future__ import annotations

import typer


def overwrite_option() -> bool:
    """``--overwrite``: replace ``--out`` even when it is not an earlier osteobiome result."""
    return typer.Option(
        False,
        "--overwrite",
        help="Replace --out even when it is a folder that is not an earlier osteobiome result (its contents are "
        "deleted). A folder that holds the inputs is never replaced.",
    )
