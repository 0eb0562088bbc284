"""The demo study: an FHS-like and an MrOS-like cohort simulated with the default planted associations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from osteobiome.errors import InputError
from osteobiome.io.tsv import write_tsv

DEMO_COHORTS = (("FHS", "fhs"), ("MrOS", "mros"))
DEMO_COVARIATES = ["age", "sex", "BMI"]


def write_demo_inputs(folder: Path, seed: int = 2026, n: int | None = None) -> Path:
    """Simulate both cohorts into ``folder`` (features, taxonomy, metadata, truth per cohort) and write
    ``folder/study.yaml`` analysing every bone phenotype the two cohorts share; return the study file's path.

    ``n``: samples per cohort (default: the presets' sizes, 1,227 and 831)."""
    try:
        from osteobiome.simulate import simulate_cohort
    except ModuleNotFoundError:
        raise InputError(
            "osteobiome demo needs the simulator (osteobiome.simulate), which is not installed."
        ) from None

    folder.mkdir(parents=True, exist_ok=True)
    phenotypes: list[str] | None = None
    cohorts = []
    for i, (name, preset) in enumerate(DEMO_COHORTS):
        sim = simulate_cohort(preset, n=n, seed=seed + i)
        sub = folder / preset
        write_tsv(sim.features.T.rename_axis("feature"), sub / "features.tsv", index=True)
        write_tsv(sim.metadata.rename_axis("sample_id"), sub / "metadata.tsv", index=True)
        if sim.taxonomy is not None:
            write_tsv(sim.taxonomy.rename_axis("feature"), sub / "taxonomy.tsv", index=True)
        write_tsv(sim.truth, sub / "truth.tsv")
        cohort_phenotypes = bone_phenotypes(sim.metadata, sim.truth)
        phenotypes = (
            cohort_phenotypes if phenotypes is None else [p for p in phenotypes if p in cohort_phenotypes]
        )
        entry = {
            "name": name,
            "features": f"{preset}/features.tsv",
            "metadata": f"{preset}/metadata.tsv",
            "samples_as": "columns",
        }
        if sim.taxonomy is not None:
            entry["taxonomy"] = f"{preset}/taxonomy.tsv"
        entry["truth"] = f"{preset}/truth.tsv"
        cohorts.append(entry)
    study = {
        "study": "Demo: gut microbiome and bone in an FHS-like and an MrOS-like cohort (simulated)",
        "cohorts": cohorts,
        "rank": "genus",
        "phenotypes": phenotypes,
        "covariates": DEMO_COVARIATES,
        "reference": {"sex": "female"},
        "association": {"preset": "default"},
        "meta_analysis": {"method": "REML"},
        "fdr": {"cohort": 0.1, "meta": 0.25},
        "diversity": {
            "alpha": ["shannon", "observed"],
            "beta": ["braycurtis"],
            "permutations": 999,
            "seed": 1,
        },
        "seed": seed,
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def bone_phenotypes(metadata: pd.DataFrame, truth: pd.DataFrame) -> list[str]:
    """The numeric metadata columns that are not host covariates (the bone measures), planted ones first."""
    host = {c.lower() for c in (*DEMO_COVARIATES, "height", "weight")}
    numeric = [
        c for c in metadata.columns if pd.api.types.is_numeric_dtype(metadata[c]) and c.lower() not in host
    ]
    planted = [p for p in dict.fromkeys(truth["phenotype"]) if p in numeric]
    return planted + [c for c in numeric if c not in planted]
