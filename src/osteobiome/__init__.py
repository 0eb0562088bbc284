"""osteobiome: gut microbiome vs bone density, microarchitecture and strength across cohorts."""

from __future__ import annotations

__version__ = "0.1.0"

from osteobiome.associate import associate  # noqa: E402  (the function shadows the module name on purpose)
from osteobiome.cohort import Cohort  # noqa: E402
from osteobiome.errors import InputError  # noqa: E402
from osteobiome.io import load_cohort, read_features, read_metadata  # noqa: E402

__all__ = ["Cohort", "InputError", "__version__", "associate", "load_cohort", "meta_analyze", "read_features", "read_metadata"]


def __getattr__(name: str):
    """Lazy top-level access to the heavier entry points (``osteobiome.meta_analyze``)."""
    if name == "meta_analyze":
        from osteobiome.meta import meta_analyze

        return meta_analyze
    raise AttributeError(f"module 'osteobiome' has no attribute {name!r}")
