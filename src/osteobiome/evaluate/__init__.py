"""How well the analyses work: power and empirical FDR over sample sizes and effects (:func:`power`), the
calibration benchmark of the association presets on implanted signals (:mod:`~osteobiome.evaluate.calibration`)
and the realism of simulated tables against a real template (:mod:`~osteobiome.evaluate.realism`)."""

from __future__ import annotations

from osteobiome.evaluate.power import PowerResult, power

__all__ = ["PowerResult", "power"]
