"""Power and empirical FDR of the association analysis (and of the meta-analysis over cohorts).

For every setting (per-cohort sample size ``n`` × effect, in log2 fold change per SD) and replicate:

1. data with known truth: ``n_markers`` genera, drawn per replicate with random signs among the candidates
   (observed prevalence ≥ ``min_prevalence`` and mean relative abundance ≤ ``max_abundance``), get
   ``|log2fc| = effect`` per SD of ``phenotype``, either in cohorts simulated from a preset (host data and
   covariate confounding included) or implanted into ``n`` samples drawn from a user's table
   (:func:`~osteobiome.simulate.implant.implant_signal`);
2. the real analysis: :func:`osteobiome.association.pipeline.associate` with its ``default`` preset (two-part model,
   abundance coefficient compared with the median coefficient, presence-weighted Cauchy joint p-value, BH per
   variable) and ``phenotype`` + covariates as fixed effects in each cohort, then
   :func:`osteobiome.meta.meta_analyze` (REML) when ``cohorts > 1``;
3. discoveries = features with ``q ≤ q`` for the phenotype (``qval``, or ``qval.fdr`` after pooling);
   power = discovered planted / planted (planted genera filtered out before testing count as missed);
   FDR = false discoveries / discoveries (0 when nothing is discovered).

Dominant genera are not planted: scaling a genus that holds a tenth of the reads shifts every other genus's
relative abundance through closure (a real compositional effect, which no relative-abundance method can tell
from a direct one) and would count as false discoveries. Replicate ``r`` of setting ``s`` uses the seed
``SeedSequence([seed, s, r])``, so results do not depend on the number of workers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from osteobiome.compute.processes import process_pool
from osteobiome.errors import InputError
from osteobiome.io import check_columns
from osteobiome.simulate.implant import aligned_samples, implant_signal
from osteobiome.simulate.presets import cohort_preset
from osteobiome.simulate.synthetic import simulate_cohort

POWER_COLUMNS = ["n", "effect", "cohorts", "replicates", "power", "power_sd", "fdr", "fdr_sd"]
NO_ASSOCIATIONS = pd.DataFrame(columns=["feature", "phenotype", "log2fc"])


@dataclass(frozen=True)
class PowerDesign:
    """Everything one replicate needs (picklable; sent once to each worker process)."""

    phenotype: str
    covariates: tuple[str, ...]
    candidates: tuple[str, ...]
    n_markers: int
    q: float
    cohorts: int
    preset: str | None = None
    table: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    covariate_weights: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PowerResult:
    """``summary``: one row per setting (:data:`POWER_COLUMNS`); ``replicates``: one row per replicate."""

    summary: pd.DataFrame
    replicates: pd.DataFrame


def power(
    ns: Sequence[int] = (300, 1000, 3000),
    effects: Sequence[float] = (0.1, 0.2, 0.35),
    preset: str | None = "mros",
    table: pd.DataFrame | None = None,
    metadata: pd.DataFrame | None = None,
    cohorts: int = 1,
    replicates: int = 50,
    q: float = 0.1,
    phenotype: str | None = None,
    covariates: Sequence[str] | None = None,
    covariate_weights: Mapping[str, float] | None = None,
    n_markers: int = 10,
    min_prevalence: float = 0.25,
    max_abundance: float = 0.05,
    workers: int = 1,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> PowerResult:
    """Power (recall of planted associations) and empirical FDR over ``ns`` × ``effects`` (module docstring).

    Preset mode (``preset``, default ``mros``): ``phenotype`` defaults to ``tibia_Ct_vBMD``, ``covariates``
    to age, sex (when the preset has both sexes) and BMI. Template mode (``table`` samples × features counts +
    ``metadata``): the phenotype (a new column, default name ``phenotype``) is drawn from
    ``covariate_weights`` (default 0.5 per SD of each of ``covariates``, else of the first three numeric
    columns) plus unit noise; ``covariates`` default to the keys of ``covariate_weights``. ``n`` is per cohort
    (drawn with replacement when larger than the template). ``progress`` is called with 1 per replicate done.
    """
    ns, effects = _checked_grid(ns, effects, replicates, workers, q, cohorts, n_markers)
    if table is not None:
        design = _template_design(
            table,
            metadata,
            phenotype,
            covariates,
            covariate_weights,
            n_markers,
            q,
            cohorts,
            min_prevalence,
            max_abundance,
        )
    else:
        design = _preset_design(
            preset or "mros", phenotype, covariates, n_markers, q, cohorts, min_prevalence, max_abundance
        )
    tasks = [(s, r, n, e) for s, (n, e) in enumerate(product(ns, effects)) for r in range(replicates)]
    rows = []
    if workers == 1:
        for task in tasks:
            rows.append(_replicate(design, seed, *task))
            if progress:
                progress(1)
    else:
        with process_pool(workers, initializer=_set_design, initargs=(design,)) as pool:
            for row in pool.map(_replicate_in_worker, [(seed, *task) for task in tasks]):
                rows.append(row)
                if progress:
                    progress(1)
    reps = pd.DataFrame(rows)
    summary = (
        reps.groupby(["n", "effect"], sort=True)
        .agg(
            replicates=("power", "size"),
            power=("power", "mean"),
            power_sd=("power", "std"),
            fdr=("fdr", "mean"),
            fdr_sd=("fdr", "std"),
        )
        .reset_index()
    )
    summary.insert(2, "cohorts", cohorts)
    return PowerResult(summary=summary[POWER_COLUMNS], replicates=reps)


# ---------------------------------------------------------------------- one replicate
def _replicate(design: PowerDesign, seed: int, setting: int, rep: int, n: int, effect: float) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence([seed, setting, rep]))
    chosen = [
        design.candidates[j] for j in rng.choice(len(design.candidates), size=design.n_markers, replace=False)
    ]
    log2fc = rng.choice([-1.0, 1.0], size=design.n_markers) * effect
    cohort_seeds = rng.integers(0, 2**63 - 1, size=design.cohorts)
    data = {f"cohort{i + 1}": _cohort(design, n, chosen, log2fc, int(s)) for i, s in enumerate(cohort_seeds)}
    discovered = _discoveries(design, data)
    planted = set(chosen)
    true_pos = len(discovered & planted)
    return {
        "n": n,
        "effect": effect,
        "replicate": rep,
        "planted": len(planted),
        "discoveries": len(discovered),
        "true_positives": true_pos,
        "power": true_pos / len(planted),
        "fdr": (len(discovered) - true_pos) / len(discovered) if discovered else 0.0,
    }


def _cohort(design: PowerDesign, n: int, markers: list[str], log2fc: np.ndarray, seed: int):
    """(features, metadata) of one cohort with the markers planted."""
    if design.preset is not None:
        associations = pd.DataFrame({"feature": markers, "phenotype": design.phenotype, "log2fc": log2fc})
        sim = simulate_cohort(design.preset, n=n, seed=seed, associations=associations)
        return sim.features, sim.metadata
    rng = np.random.default_rng(seed)
    table, metadata = design.table, design.metadata
    rows = rng.choice(len(table), size=n, replace=n > len(table))
    ids = pd.Index([f"s{k}" for k in range(n)], name="sample")
    res = implant_signal(
        table.iloc[rows].set_axis(ids, axis=0),
        metadata.iloc[rows].set_axis(ids, axis=0),
        markers=markers,
        effect=log2fc,
        covariate_weights=dict(design.covariate_weights),
        phenotype=design.phenotype,
        seed=rng,
    )
    return res.table, res.metadata


def _discoveries(design: PowerDesign, data: dict) -> set[str]:
    from osteobiome.association.pipeline import associate

    results = {}
    for name, (features, metadata) in data.items():
        fixed = [design.phenotype] + [c for c in design.covariates if metadata[c].nunique() > 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[name] = associate(features, metadata, fixed=fixed)
    if len(results) == 1:
        res = next(iter(results.values()))
        hits = res[(res["metadata"] == design.phenotype) & (res["qval"] <= design.q)]
        return set(hits["feature"].astype(str))
    from osteobiome.meta import meta_analyze

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = meta_analyze(results, exposure=design.phenotype)
    return set(pooled.loc[pooled["qval.fdr"] <= design.q, "feature"].astype(str))


_WORKER_DESIGN: PowerDesign | None = None


def _set_design(design: PowerDesign) -> None:
    global _WORKER_DESIGN
    _WORKER_DESIGN = design


def _replicate_in_worker(task: tuple) -> dict:
    if _WORKER_DESIGN is None:  # pragma: no cover - the pool initializer always runs first
        raise RuntimeError("power worker started without a design")
    return _replicate(_WORKER_DESIGN, *task)


# ---------------------------------------------------------------------- designs and checks
def _candidates(
    counts: pd.DataFrame, min_prevalence: float, max_abundance: float, n_markers: int, where: str
):
    values = counts.to_numpy(dtype=float)
    prevalence = (values > 0).mean(axis=0)
    abundance = (values / values.sum(axis=1, keepdims=True)).mean(axis=0)
    ok = (prevalence >= min_prevalence) & (abundance <= max_abundance)
    if ok.sum() < n_markers:
        raise InputError(
            f"{where}: only {int(ok.sum())} features have prevalence ≥ {min_prevalence:.0%} and mean relative "
            f"abundance ≤ {max_abundance:.0%}; plant fewer markers or relax min_prevalence / max_abundance."
        )
    return tuple(str(c) for c in counts.columns[ok])


def _preset_design(preset, phenotype, covariates, n_markers, q, cohorts, min_prevalence, max_abundance):
    spec = cohort_preset(preset)
    probe = simulate_cohort(preset, n=2000, seed=0, associations=NO_ASSOCIATIONS)
    name = phenotype or "tibia_Ct_vBMD"
    default = ("age", "sex", "BMI") if 0 < spec["female_fraction"] < 1 else ("age", "BMI")
    covariates = tuple(default if covariates is None else covariates)
    check_columns(probe.metadata, (name, *covariates), f"{preset} preset")
    candidates = _candidates(probe.features, min_prevalence, max_abundance, n_markers, f"preset {preset}")
    return PowerDesign(name, covariates, candidates, n_markers, q, cohorts, preset=preset)


def _template_design(
    table, metadata, phenotype, covariates, weights, n_markers, q, cohorts, min_prevalence, max_abundance
):
    if metadata is None:
        raise InputError(
            "template mode needs the metadata (--metadata): the phenotype is drawn from its covariates."
        )
    values = table.to_numpy(dtype=float)
    if not np.equal(np.floor(values), values).all() or (values < 0).any():
        raise InputError("template: power by implantation needs raw counts (non-negative integers).")
    table = table.loc[values.sum(axis=1) > 0]
    _, metadata = aligned_samples(table, metadata)
    if weights is None:
        numeric = [c for c in metadata.columns if pd.api.types.is_numeric_dtype(metadata[c])]
        weights = {c: 0.5 for c in (covariates if covariates is not None else numeric[:3])}
    name = phenotype or "phenotype"
    covariates = tuple(weights if covariates is None else covariates)
    check_columns(metadata, (*weights, *covariates), "covariates")
    candidates = _candidates(table, min_prevalence, max_abundance, n_markers, "template")
    return PowerDesign(
        name,
        covariates,
        candidates,
        n_markers,
        q,
        cohorts,
        table=table,
        metadata=metadata.drop(columns=[name], errors="ignore"),
        covariate_weights=tuple(dict(weights).items()),
    )


def _checked_grid(ns, effects, replicates, workers, q, cohorts, n_markers) -> tuple[list[int], list[float]]:
    ns = [int(n) for n in ns]
    effects = [float(e) for e in effects]
    if not ns or min(ns) < 10:
        raise InputError(f"--n {','.join(map(str, ns))}: give sample sizes of at least 10.")
    if not effects or min(effects) <= 0:
        raise InputError(
            f"--effect {','.join(map(str, effects))}: give positive effects (log2 fold change per SD)."
        )
    if replicates < 2:
        raise InputError(f"--replicates {replicates}: at least 2 (the spread needs two).")
    if workers < 1:
        raise InputError(f"--workers {workers}: at least 1.")
    if not 0 < q < 1:
        raise InputError(f"--q {q}: the FDR level must lie between 0 and 1.")
    if cohorts < 1:
        raise InputError(f"--cohorts {cohorts}: at least one cohort.")
    if n_markers < 1:
        raise InputError(f"n_markers={n_markers}: plant at least one marker.")
    return ns, effects
