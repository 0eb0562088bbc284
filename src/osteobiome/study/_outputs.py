"""The files that describe a run: tables, checksums of the inputs, package versions.

Results folders are written with :func:`osteobiome.io.outputs.atomic_output_dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import platform
from pathlib import Path

PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "scikit-bio",
    "matplotlib",
    "jinja2",
    "pydantic",
    "pyyaml",
)


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of osteobiome, Python and the numerical packages a result depends on."""
    from osteobiome import __version__

    found = {"osteobiome": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found
