"""Simulated cohorts: host data from a preset, a gut genus count table with covariate effects and planted
phenotype associations, and the truth."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.io.outputs import atomic_output_dir
from osteobiome.io.tsv import write_tsv
from osteobiome.simulate.associations import associations_for, log2_shifts
from osteobiome.simulate.copula import simulate_counts
from osteobiome.simulate.host import simulate_host
from osteobiome.simulate.params import SimParams, resolve_params
from osteobiome.simulate.presets import cohort_preset, covariate_effects


@dataclass(frozen=True)
class SimulatedCohort:
    """One simulated cohort. ``features``: samples × genera counts; ``truth``: ``feature phenotype log2fc cohort``."""

    name: str
    features: pd.DataFrame
    taxonomy: pd.DataFrame | None
    metadata: pd.DataFrame
    truth: pd.DataFrame

    def to_cohort(self) -> Cohort:
        return Cohort.from_frames(
            self.features, self.metadata, self.taxonomy, name=self.name, source=f"simulated {self.name}"
        )

    def write(self, out: str | Path, overwrite: bool = False, inputs: tuple = ()) -> Path:
        """Write ``features.tsv`` (samples × features), ``taxonomy.tsv``, ``metadata.tsv``, ``truth.tsv`` atomically
        (``overwrite`` / ``inputs``: see :func:`osteobiome.io.outputs.atomic_output_dir`)."""
        out = Path(out)
        with atomic_output_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
            write_tsv(self.features.rename_axis("sample"), tmp / "features.tsv", index=True)
            write_tsv(self.metadata.rename_axis("sample"), tmp / "metadata.tsv", index=True)
            if self.taxonomy is not None:
                write_tsv(self.taxonomy.rename_axis("feature"), tmp / "taxonomy.tsv", index=True)
            write_tsv(self.truth, tmp / "truth.tsv")
        return out


def simulate_cohort(
    preset: str = "fhs",
    n: int | None = None,
    seed: int = 0,
    associations: pd.DataFrame | str | Path | None = None,
    params: SimParams | str | Path | None = None,
) -> SimulatedCohort:
    """Simulate one cohort of a preset (``fhs`` or ``mros``).

    ``n`` defaults to the preset's size; ``associations`` (table or file; ``None`` = the preset defaults) plants
    ``abundance × 2**(log2fc · z)`` with ``z`` the within-cohort z-score of the phenotype; ``params`` (``None`` =
    shipped Twins-fitted, SILVA-relabelled parameters, sequenced at the preset's read depth; a file or
    :class:`SimParams` keeps its own fitted depth). Age, BMI and sex shift some genera (``covariate_effects``
    in the preset file), so they confound microbe-bone associations unless adjusted for.
    """
    spec = cohort_preset(preset)
    n = int(spec["n"] if n is None else n)
    if n < 3:
        raise InputError(f"--n {n}: simulate at least 3 samples.")
    rng = np.random.default_rng(seed)
    sim_params = resolve_params(params)
    if params is None:
        depth = spec["read_depth"]
        sim_params = replace(
            sim_params, depth_meanlog=float(np.log(depth["median"])), depth_sdlog=float(depth["sdlog"])
        )

    metadata = simulate_host(spec, n, rng, sample_prefix=f"{preset.upper()}_")
    truth = associations_for(associations, preset, sim_params.features, metadata)
    shift = log2_shifts(covariate_effects(), "covariate", sim_params.features, metadata)
    shift += log2_shifts(truth, "phenotype", sim_params.features, metadata)
    counts = simulate_counts(sim_params, n, rng, log2_shift=shift)
    features = pd.DataFrame(
        counts, index=metadata.index, columns=pd.Index(sim_params.features, name="feature")
    )
    return SimulatedCohort(
        name=preset, features=features, taxonomy=sim_params.taxonomy, metadata=metadata, truth=truth
    )
