"""Results that appear complete or not at all: written beside their destination, then moved into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from osteobiome.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``, on any error it is removed.

    An existing ``out`` folder is replaced only once the new results are complete (its entries named in
    ``keep``, e.g. ``inputs``, are moved into the new folder first); an existing file of that name is an
    :class:`InputError`. The folder gets the usual permissions (0777 minus the umask), not mkdtemp's 0700.
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
        tmp.chmod(0o777 & ~_umask())
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


@contextlib.contextmanager
def atomic_output_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path``, on error it is removed.

    The parent folder must exist (an :class:`InputError` otherwise); the file gets 0666 minus the umask.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: folder does not exist; create it or choose another --out path.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file path for --out.")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.chmod(0o666 & ~_umask())
        yield tmp
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
