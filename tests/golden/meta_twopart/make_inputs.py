"""Inputs of the two-part meta-analysis golden test (issue 21), generated once:

    cd tests/golden/meta_twopart && ../../../.venv/bin/python make_inputs.py && Rscript make.R

Two held-out-style simulated cohorts (FHS-like n=400, MrOS-like n=300), each through ``osteobiome associate``
(default preset: two-part model) for ``genus ~ radius_Tt_vBMD + age``; the phenotype's rows are written as
``<cohort>/all_results.tsv`` (the associate output layout). ``make.R`` pools their prevalence coefficients.
"""

from pathlib import Path

import osteobiome as ob
from osteobiome.simulate import simulate_cohort

PHENOTYPE = "radius_Tt_vBMD"

for preset, n, seed in (("fhs", 400, 21), ("mros", 300, 22)):
    sim = simulate_cohort(preset, n=n, seed=seed)
    table = ob.associate(sim.to_cohort(), sim.metadata, fixed=[PHENOTYPE, "age"])
    table = table[table["metadata"] == PHENOTYPE]
    Path(preset).mkdir(exist_ok=True)
    table.to_csv(Path(preset) / "all_results.tsv", sep="\t", index=False, na_rep="NA")
