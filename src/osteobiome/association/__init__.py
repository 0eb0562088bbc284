"""Per-feature association of microbiome features with phenotypes: the pipeline (:func:`associate`), its
blocked/Dask backend (:mod:`~osteobiome.association.blocked`) and the model variants of the presets
(:mod:`~osteobiome.association.variants`)."""

from __future__ import annotations

from osteobiome.association.pipeline import associate

__all__ = ["associate"]
