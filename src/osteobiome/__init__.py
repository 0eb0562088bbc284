"""osteobiome: gut microbiome vs bone density, microarchitecture and strength across cohorts."""

from __future__ import annotations

__version__ = "0.1.0"

from osteobiome.associate import associate  # noqa: E402  (the function shadows the module name on purpose)
from osteobiome.cohort import Cohort  # noqa: E402
from osteobiome.errors import InputError  # noqa: E402

__all__ = ["Cohort", "InputError", "__version__", "associate"]
