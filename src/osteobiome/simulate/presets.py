"""Cohort presets (host data, bone phenotypes, covariate effects, default associations) from the shipped
``osteobiome/data/cohort_presets.yaml`` (sources and approximations are documented in that file)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd
import yaml

from osteobiome.errors import InputError, suggest

PRESET_FILE = "cohort_presets.yaml"


@cache
def _load() -> dict:
    return yaml.safe_load(resources.files("osteobiome.data").joinpath(PRESET_FILE).read_text())


def cohort_preset(name: str) -> dict:
    """The settings of one cohort preset (``fhs`` or ``mros``)."""
    cohorts = _load()["cohorts"]
    if name not in cohorts:
        raise InputError(
            f"unknown cohort preset {name!r}{suggest(name, cohorts)}; choose one of {list(cohorts)}."
        )
    return cohorts[name]


def phenotype_specs() -> dict[str, dict]:
    """Bone phenotype definitions: unit, factor loadings, BMI effect, per-sex mean/SD/change per decade."""
    return _load()["phenotypes"]


def reference_age() -> float:
    return float(_load()["reference_age"])


def covariate_effects() -> pd.DataFrame:
    """Columns ``feature covariate log2fc`` (per SD of numeric covariates; female vs male for ``sex``)."""
    return pd.DataFrame(_load()["covariate_effects"], columns=["feature", "covariate", "log2fc"])


def default_associations() -> pd.DataFrame:
    """Columns ``feature phenotype log2fc cohort`` (log2 fold change per SD of the phenotype)."""
    return pd.DataFrame(_load()["associations"], columns=["feature", "phenotype", "log2fc", "cohort"])
