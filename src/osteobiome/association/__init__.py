"""Per-feature association of microbiome features with phenotypes: typed options
(:mod:`~osteobiome.association.options`), the one pipeline (:func:`associate`, :mod:`~osteobiome.association.pipeline`)
whose feature blocks run in this process or on dask, and the model variants of the presets
(:mod:`~osteobiome.association.variants`). Attributes load on first access (the CLI imports the options only)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "AssociationOptions": "osteobiome.association.options",
    "associate": "osteobiome.association.pipeline",
    "run_association": "osteobiome.association.pipeline",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
