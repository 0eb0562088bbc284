"""Host data of a simulated cohort: age, sex, height, weight, BMI and correlated bone phenotypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from osteobiome.simulate.associations import standardized
from osteobiome.simulate.presets import phenotype_specs, reference_age


def simulate_host(preset: dict, n: int, rng: np.random.Generator, sample_prefix: str = "S") -> pd.DataFrame:
    """``n`` participants of a preset (see ``cohort_presets.yaml``): one row per sample, ids ``<prefix>0001``…

    Columns: ``age`` (y), ``sex`` (``female``/``male``), ``height`` (cm), ``weight`` (kg), ``BMI`` (kg/m²) and
    every bone phenotype of the preset file.
    """
    age_spec = preset["age"]
    age = truncated_normal(rng, age_spec["loc"], age_spec["scale"], age_spec["min"], age_spec["max"], n)
    female = rng.random(n) < float(preset["female_fraction"])
    decades = (age - reference_age()) / 10.0

    h = preset["height_cm"]
    height = (
        np.where(
            female,
            rng.normal(h["female"]["mean"], h["female"]["sd"], n),
            rng.normal(h["male"]["mean"], h["male"]["sd"], n),
        )
        + h["per_decade"] * decades
    )
    bmi_mean, bmi_sd = float(preset["bmi"]["mean"]), float(preset["bmi"]["sd"])
    sdlog = np.sqrt(np.log1p((bmi_sd / bmi_mean) ** 2))
    bmi = np.exp(rng.normal(np.log(bmi_mean) - sdlog**2 / 2, sdlog, n))
    weight = bmi * (height / 100.0) ** 2

    width = len(str(n))
    index = pd.Index([f"{sample_prefix}{i + 1:0{max(width, 4)}d}" for i in range(n)], name="sample")
    meta = pd.DataFrame(
        {
            "age": np.round(age, 1),
            "sex": np.where(female, "female", "male"),
            "height": np.round(height, 1),
            "weight": np.round(weight, 1),
            "BMI": np.round(bmi, 2),
        },
        index=index,
    )
    for name, values in bone_phenotypes(female, decades, standardized(bmi), rng).items():
        meta[name] = values
    return meta


def bone_phenotypes(
    female: np.ndarray, decades: np.ndarray, bmi_z: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Phenotype values from the factor model of ``cohort_presets.yaml`` (rounded to 4 significant digits)."""
    specs = phenotype_specs()
    factors = sorted({f for spec in specs.values() for f in spec["loadings"]})
    n = len(female)
    loadings = np.array([[spec["loadings"].get(f, 0.0) for f in factors] for spec in specs.values()])
    unique_sd = np.sqrt(1.0 - np.sum(loadings**2, axis=1))
    e = rng.standard_normal((n, len(factors))) @ loadings.T + rng.standard_normal((n, len(specs))) * unique_sd
    out: dict[str, np.ndarray] = {}
    for j, (name, spec) in enumerate(specs.items()):
        beta = float(spec.get("bmi_beta", 0.0))
        score = beta * bmi_z + np.sqrt(1.0 - beta**2) * e[:, j]
        mean = np.where(female, spec["female"]["mean"], spec["male"]["mean"]) + decades * np.where(
            female, spec["female"]["per_decade"], spec["male"]["per_decade"]
        )
        sd = np.where(female, spec["female"]["sd"], spec["male"]["sd"])
        if spec.get("distribution") == "lognormal":
            mean = np.maximum(mean, 0.05 * sd)
            sdlog = np.sqrt(np.log1p((sd / mean) ** 2))
            value = np.exp(np.log(mean) - sdlog**2 / 2 + sdlog * score)
        else:
            value = np.maximum(mean + sd * score, 0.02 * np.abs(mean))
        out[name] = _round_sig(value, 4)
    return out


def _round_sig(x: np.ndarray, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        mag = np.floor(np.log10(np.abs(np.where(x == 0, 1, x))))
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(x * scale) / scale


def truncated_normal(
    rng: np.random.Generator, loc: float, scale: float, low: float, high: float, n: int
) -> np.ndarray:
    """``n`` draws of N(loc, scale²) truncated to [low, high], one uniform ``u`` each (inverse CDF):
    ``x = loc + scale · Φ⁻¹(Φ(a) + u (Φ(b) − Φ(a)))`` with ``a, b`` the standardized bounds. A truncation above
    the mean is drawn as the mirror image of one below it (with ``1 − u``), so that Φ keeps its precision.
    The same draws as ``scipy.stats.truncnorm.rvs`` from the same generator, to ≈ 1e-12 relative (without
    importing scipy.stats, which costs 0.4 s). ``scale`` must be positive and ``low < high`` (ValueError, as
    scipy.stats' domain check; reversed bounds would otherwise give draws between them)."""
    if not (scale > 0 and low < high):
        raise ValueError(f"truncated_normal: needs scale > 0 and low < high, got scale={scale}, [{low}, {high}]")
    a, b = (low - loc) / scale, (high - loc) / scale
    mirrored = a > 0
    if mirrored:
        a, b = -b, -a
    u = rng.uniform(size=n)
    lower, upper = special.ndtr(a), special.ndtr(b)
    if mirrored:  # x increases with u either way
        return loc - scale * special.ndtri(lower + (1.0 - u) * (upper - lower))
    return loc + scale * special.ndtri(lower + u * (upper - lower))
