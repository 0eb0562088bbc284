"""Realistic simulation of gut genus count tables with bone phenotypes, and signal implantation (generator only;
power and calibration live in :mod:`osteobiome.evaluate`).

- :func:`simulate_cohort`: a cohort preset (``fhs``, ``mros``) with host data, a zero-inflated log-normal /
  Gaussian-copula genus table and planted phenotype associations (truth returned);
- :func:`fit_params`: fit the simulator to a real count table;
- :func:`implant_signal`: plant a phenotype signal into a real table (Wirbel et al. 2024 design);
"""

from __future__ import annotations

from osteobiome.simulate.fit import fit_params
from osteobiome.simulate.implant import ImplantResult, implant_signal
from osteobiome.simulate.params import SimParams, default_params
from osteobiome.simulate.synthetic import SimulatedCohort, simulate_cohort

__all__ = [
    "ImplantResult",
    "SimParams",
    "SimulatedCohort",
    "default_params",
    "fit_params",
    "implant_signal",
    "simulate_cohort",
]
