"""Results that appear complete or not at all, and never at the cost of the user's own files.

A results folder is written into a temporary sibling (``.OUT.tmp-<pid>-…``) and moved into place at the end.
An existing ``OUT`` is replaced only when it is a previous osteobiome result (it holds :data:`MARKER`, or the
``run.json`` of an older version), when it is empty, or when the user said ``--overwrite``; a folder that holds
the inputs of the run is never replaced. A lock file beside ``OUT`` (``.OUT.lock``, ``fcntl.flock``) keeps two
runs from writing the same folder at once, and temporaries left by killed runs (their pid is dead) are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from osteobiome.compute.executors import process_alive
from osteobiome.errors import InputError

MARKER = ".osteobiome-output"
"""The file in every results folder that marks it as ours, so that a later run may replace it."""
MARKER_TEXT = "osteobiome results; a later osteobiome run may replace this folder (others need --overwrite).\n"

_LOOKS = 100
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _foreign_entries(folder: Path, keep: tuple[str, ...]) -> bool:
    """Whether ``folder`` holds entries (outside ``keep``) and is not an osteobiome result.

    Another run may swap its finished result into ``folder``'s place and delete the old one while we look, so
    the answer counts only when the folder at that path stayed the same (device, inode, change time) for the
    whole look; else we look again (at most :data:`_LOOKS` times: a folder that never stops changing is not a
    result being swapped in, and its last look counts).
    """
    foreign = False
    for _ in range(_LOOKS):
        before = _identity(folder)
        if before is None:
            return False
        try:
            names = {entry.name for entry in os.scandir(folder)} - set(keep)
            foreign = bool(names) and not is_osteobiome_output(folder, names)
        except FileNotFoundError:
            continue
        if _identity(folder) == before:
            return foreign
    return foreign


def _is_file_like(path: Path) -> bool:
    """Whether ``path`` exists and is not a folder (one ``stat``, so a folder being swapped is never a file)."""
    try:
        return not stat.S_ISDIR(path.stat().st_mode)
    except FileNotFoundError:
        return False


def is_osteobiome_output(folder: Path, names: set[str] | None = None) -> bool:
    """Whether ``folder`` holds an osteobiome result: our marker, or the ``run.json`` older versions wrote.

    ``names`` is the folder's listing when the caller already has it.
    """
    if names is None:
        try:
            names = set(os.listdir(folder))
        except OSError:
            return False
    if MARKER in names:
        return True
    try:
        return "run.json" in names and '"osteobiome"' in (folder / "run.json").read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        return False


def check_output_dir(
    out: str | Path, overwrite: bool = False, inputs: Iterable[str | Path | None] = (), keep: tuple[str, ...] = ()
) -> Path:
    """``out`` resolved, or an :class:`InputError` when writing there could lose the user's files.

    Refused: a file named ``out``; a folder that holds any of ``inputs`` (outside its ``keep`` entries, which
    are carried over), even with ``overwrite``; a non-empty folder that is not an osteobiome result, unless
    ``overwrite``. Call it before the work starts; :func:`atomic_output_dir` calls it again under its lock.
    """
    out = Path(out).resolve()
    if _is_file_like(out):
        raise InputError(f"{out}: exists and is not a folder; choose another --out.")
    kept = [out / name for name in keep]
    for item in inputs:
        if item is None:
            continue
        path = Path(item).resolve()
        if (path == out or out in path.parents) and not any(k == path or k in path.parents for k in kept):
            raise InputError(
                f"{out}: holds the input {path}; the results folder would replace it, so choose an --out "
                "outside the folders of the inputs."
            )
    if not overwrite and _foreign_entries(out, keep):
        raise InputError(
                f"{out}: folder exists, is not empty and is not an osteobiome result; choose a new --out, or "
                "add --overwrite to replace it (everything in it is deleted)."
            )
    return out


@contextlib.contextmanager
def atomic_output_dir(
    out: str | Path,
    keep: tuple[str, ...] = (),
    overwrite: bool = False,
    inputs: Iterable[str | Path | None] = (),
) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``, on any error it is removed.

    ``out`` is checked by :func:`check_output_dir` (``overwrite``, ``inputs``, ``keep``) and locked against
    other runs for the whole time (:class:`InputError` if another run holds it). An existing ``out`` is
    replaced only once the new results are complete (its entries named in ``keep``, e.g. ``inputs``, are moved
    into the new folder first). The new folder holds :data:`MARKER` and gets the usual permissions (0777 minus
    the umask). A full disk is an :class:`InputError` naming the folder, what was written and the free space.
    """
    inputs = list(inputs)
    out = check_output_dir(out, overwrite, inputs, keep)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{out}: cannot create the results folder ({exc.strerror}); choose another --out."
        ) from None
    with _locked(out):
        check_output_dir(out, overwrite, inputs, keep)
        remove_stale_temporaries(out)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        except OSError as exc:
            raise InputError(
                f"{out}: cannot create the results folder ({exc.strerror}); choose another --out."
            ) from None
        try:
            tmp.chmod(0o777 & ~_umask())
            (tmp / MARKER).write_text(MARKER_TEXT)  # from the start, so that a results README can list it
            yield tmp
            _move_into_place(tmp, out, keep)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            written = _size(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(_no_space(out, written)) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _move_into_place(tmp: Path, out: Path, keep: tuple[str, ...]) -> None:
    if not out.exists():
        tmp.rename(out)
        return
    for name in keep:
        if (out / name).exists() and not (tmp / name).exists():
            (out / name).rename(tmp / name)
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
    out.rename(old / out.name)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``.OUT.lock`` beside ``out`` (an :class:`InputError` when another run holds it); removed after."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, unique temporary names still keep runs apart
        yield
        return
    lock = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"{out}: another osteobiome run is writing this folder now; wait for it to finish or choose "
                "another --out."
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino  # not a lock file the previous holder removed
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Remove ``.OUT.tmp-<pid>-…`` / ``.OUT.old-<pid>-…`` folders beside ``out`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(?:tmp|old)-(\d+)-")
    removed = []
    for entry in out.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    return pid == os.getpid() or process_alive(pid)


def _size(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _no_space(out: Path, written: int) -> str:
    try:
        free = shutil.disk_usage(out.parent).free
    except OSError:
        free = 0
    return (
        f"{out}: the disk is full (no space left on device); the results needed more than {_mb(written)} "
        f"and {_mb(free)} is free in {out.parent}; free some space or choose an --out on another disk."
    )


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.1f} MB"


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
    except OSError as exc:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if exc.errno in _NO_SPACE:
            raise InputError(_no_space(path, written)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
