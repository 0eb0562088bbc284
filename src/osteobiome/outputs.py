"""Results folders that appear complete or not at all: written in a temporary sibling folder, moved into place."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from osteobiome.errors import InputError


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``, on any error it is removed.

    An existing ``out`` folder is replaced only once the new results are complete (its entries named in
    ``keep``, e.g. ``inputs``, are moved into the new folder first); an existing file of that name is an
    :class:`InputError`.
    """
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise InputError(
            f"{out}: cannot create the results folder ({exc.strerror}); choose another --out."
        ) from None
    try:
        yield tmp
        if out.exists():
            for name in keep:
                if (out / name).exists() and not (tmp / name).exists():
                    (out / name).rename(tmp / name)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
