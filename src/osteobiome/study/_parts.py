"""The per-cohort work of a study, as independent jobs that run in this process or in worker processes.

A job is one cohort's associations (every phenotype), pathway associations, diversity (alpha indices, their
associations, PCoA) or PERMANOVAs for a chunk of phenotypes, or the joint ordination of every cohort's samples.
With more workers than cohorts the PERMANOVAs, the slowest part, are split into chunks (see :func:`plan_jobs`),
so that a single large cohort uses every worker too.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from osteobiome import diversity
from osteobiome.association.pipeline import run_association
from osteobiome.compute.executors import one_blas_thread, process_pool
from osteobiome.diversity.adjusted import permanova_each
from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.study._formula import cohort_formula, formula_terms, kept_rows
from osteobiome.study._report_inputs import joint_ordination
from osteobiome.study._strata import stratified
from osteobiome.study._workers import WORKER_PRELOAD
from osteobiome.study.config import StudyConfig
from osteobiome.study.validate import StudyPlan


@dataclass(frozen=True)
class Blocked:
    """Block size and dask scheduler of the associations (``--block-size`` / ``--scheduler``), or automatic."""

    block_size: int | None = None
    scheduler: str | None = None

    @property
    def on(self) -> bool:
        return self.block_size is not None or self.scheduler is not None


@dataclass
class Part:
    """One job's result: cohort, kind (``associations`` ``pathways`` ``diversity`` ``permanova`` ``strata``), value."""

    cohort: str
    kind: str
    value: Any = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phenotypes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``FHS permanova (10 phenotypes)``, ``MrOS associations`` …"""
        n = len(self.phenotypes)
        return f"{self.cohort} {self.kind}" + (f" ({n} phenotype{'s' if n > 1 else ''})" if n else "")


Job = tuple[str, str, Cohort | tuple[Cohort, ...], list[str], tuple[str, ...]]
"""cohort name, kind, data, covariates, phenotypes (the joint ordination: :data:`JOINT`, every cohort's data)"""

JOINT = "joint"
"""The cohort name of the one job across cohorts (the joint ordination: its timing is ``joint ordination``)."""


def plan_jobs(plan: StudyPlan, workers: int) -> list[Job]:
    """The jobs of a study: per cohort associations, pathways, diversity and PERMANOVA chunks, and the joint
    ordination.

    The associations of every cohort come first (what the meta-analysis waits for, see :func:`run_jobs`), then
    the pathways and the joint ordination, then each cohort's PERMANOVA chunks, diversity and strata. A cohort's
    PERMANOVAs are split into ``workers // cohorts`` chunks (at least one): enough for the workers to share them,
    and no more, since every chunk recomputes the distances and the covariates' permuted products."""
    cfg = plan.config
    chunks = chunked(list(cfg.phenotypes), max(1, workers // len(plan.cohorts)))
    jobs: list[Job] = [(cp.name, "associations", cp.cohort, cp.covariates, ()) for cp in plan.cohorts]
    jobs += [(cp.name, "pathways", cp.pathways, cp.covariates, ()) for cp in plan.cohorts if cp.pathways is not None]
    if cfg.diversity is not None and len(plan.cohorts) > 1:  # the longest job: early, beside the associations
        jobs.append((JOINT, "ordination", tuple(cp.cohort for cp in plan.cohorts), [], ()))
    for cp in plan.cohorts:
        if cfg.diversity is not None:
            jobs.extend((cp.name, "permanova", cp.cohort, cp.covariates, chunk) for chunk in chunks)
            jobs.append((cp.name, "diversity", cp.cohort, cp.covariates, ()))
        if cfg.strata:
            jobs.append((cp.name, "strata", cp.cohort, cp.covariates, ()))
    return jobs


Wait = Callable[[set[str]], list[Part]]
"""``wait(kinds)``: the parts of those kinds, once every job of those kinds has finished."""


def run_jobs(
    cfg: StudyConfig,
    jobs: list[Job],
    workers: int,
    finished: Callable[[Part], None],
    blocked: Blocked = Blocked(),
    meanwhile: Callable[[Wait], None] | None = None,
) -> list[Part]:
    """Run ``jobs`` over ``workers`` processes (1: in this process), calling ``finished(part)`` as each ends.

    ``meanwhile(wait)``: work of this process done while the workers run the jobs (with one BLAS thread, as
    theirs), or after the jobs with one worker; what it needs of the jobs it gets from ``wait(kinds)``, which
    returns once those jobs have finished (the others run on). While it waits, every job that ends is collected
    (``finished`` is called), so that a failed job of any kind stops the run there, not after ``meanwhile``.
    The parts are returned in the jobs' order."""
    if workers == 1:
        parts: list[Part] = []
        for job in jobs:
            parts.append(run_part(cfg, *job, blocked=blocked))
            finished(parts[-1])
        if meanwhile is not None:
            meanwhile(lambda kinds: [p for p in parts if p.kind in kinds])
        return parts
    done: dict[int, Part] = {}  # by job index: the parts come back in the jobs' order, whatever ends first
    with process_pool(min(workers, len(jobs)), preload=WORKER_PRELOAD) as pool:
        pending = {pool.submit(run_part, cfg, *job, blocked=blocked): i for i, job in enumerate(jobs)}

        def collect(until: set[Future]) -> None:
            """Collect the jobs as they end (in any order; a failed one raises) until those of ``until`` have."""
            if not until:
                return
            for future in as_completed(list(pending)):
                part = future.result()
                done[pending.pop(future)] = part
                finished(part)
                until.discard(future)
                if not until:
                    return

        def wait(kinds: set[str]) -> list[Part]:
            collect({f for f, i in pending.items() if jobs[i][1] in kinds})
            return [done[i] for i in sorted(done) if jobs[i][1] in kinds]

        if meanwhile is not None:
            with one_blas_thread():
                meanwhile(wait)
        collect(set(pending))
    return [done[i] for i in sorted(done)]


def chunked(items: list[str], n: int) -> list[tuple[str, ...]]:
    """``items`` in at most ``n`` contiguous, nearly equal, non-empty chunks."""
    n = max(1, min(n, len(items)))
    bounds = [round(i * len(items) / n) for i in range(n + 1)]
    return [tuple(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def run_part(
    cfg: StudyConfig,
    name: str,
    kind: str,
    cohort: Cohort | tuple[Cohort, ...],
    covariates: list[str],
    phenotypes: tuple[str, ...],
    blocked: Blocked = Blocked(),
) -> Part:
    """One job, with the user warnings it raised (prefixed with cohort and kind); input errors name both too.
    ``cohort``: the cohort's data, or every cohort's for the joint ordination (``name`` :data:`JOINT`)."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if kind == "diversity":
                value = _diversity(cohort, cfg, covariates)
            elif kind == "permanova":
                value = _permanovas(cohort, cfg, covariates, phenotypes)
            elif kind == "strata":
                value = stratified(cohort, cfg, covariates, name)
            elif kind == "ordination":
                value = _joint_ordinations(cohort, cfg)
            else:
                value = _associations(cohort, cfg, covariates, blocked)
        except InputError as exc:
            where = "joint" if name == JOINT else f"cohort {name},"
            raise InputError(f"{where} {kind}: {exc}") from None
    messages = [
        str(w.message) if name in str(w.message) else f"{name} {kind}: {w.message}"
        for w in caught
        if issubclass(w.category, UserWarning)
    ]
    return Part(name, kind, value, messages, time.perf_counter() - start, tuple(phenotypes))


def reference_for(cfg: StudyConfig, variables: list[str]) -> dict[str, str] | None:
    """The study's reference levels for the variables of one model (``None`` when there are none)."""
    return {k: v for k, v in cfg.reference.items() if k in variables} or None


def _associations(
    cohort: Cohort, cfg: StudyConfig, covariates: list[str], blocked: Blocked
) -> tuple[pd.DataFrame, dict]:
    """``feature ~ phenotype + covariates`` (or the study's formula) for each phenotype, keeping the phenotype's
    rows of each model (and its interaction rows).

    Also returns the preset's resolved options, every row of every model (``all_results``: covariate rows too,
    with ``model`` = the model's phenotype, as MaAsLin2's ``all_results.tsv``) and the transformed abundance
    table (samples × features, the same for every phenotype) that the set-level tests use (kept only when the
    table ran as one in-memory block).
    """
    frames, every, info = [], [], {}
    options = cfg.association.resolved()
    terms = formula_terms(cfg.formula) if cfg.formula else None
    for phenotype in cfg.phenotypes:
        fixed = [phenotype, *covariates]
        result = run_association(
            cohort,
            cohort.metadata,
            [] if terms else fixed,
            list(cfg.random_effects),
            reference_for(cfg, fixed),
            options,
            block_size=blocked.block_size,
            scheduler=blocked.scheduler,
            formula=cohort_formula(terms, phenotype, covariates) if terms else None,
        )
        if result.transformed is not None:
            info.setdefault("transformed", result.transformed)
        info["options"] = result.options.as_dict()
        frames.append(kept_rows(result.results, phenotype, terms))
        every.append(result.results.assign(model=phenotype))
    info["all_results"] = pd.concat(every, ignore_index=True)
    return pd.concat(frames, ignore_index=True), info


def _diversity(cohort: Cohort, cfg: StudyConfig, covariates: list[str]) -> dict[str, Any]:
    """Alpha indices and their associations with each phenotype; PCoA of each distance."""
    spec = cfg.diversity
    table = cohort.table
    alpha = diversity.alpha_diversity(table, list(spec.alpha))
    alpha_assoc = diversity.alpha_associations(
        alpha,
        cohort.metadata,
        list(cfg.phenotypes),
        list(covariates),
        reference=reference_for(cfg, [*cfg.phenotypes, *covariates]),
        preset=cfg.association.resolved(),
    )
    pcoa = {metric: diversity.pcoa(diversity.beta_distances(table, metric)) for metric in spec.beta}
    return {"alpha": alpha, "alpha_associations": alpha_assoc, "pcoa": pcoa}


def _joint_ordinations(cohorts: tuple[Cohort, ...], cfg: StudyConfig) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per distance of the study, the PCoA of every cohort's samples together, coloured by the first phenotype
    (:func:`~osteobiome.study._report_inputs.joint_ordination`)."""
    out = {}
    for metric in cfg.diversity.beta:
        joint = joint_ordination(list(cohorts), metric, cfg.phenotypes[0])
        if joint is not None:
            out[metric] = joint
    return out


def _permanovas(
    cohort: Cohort, cfg: StudyConfig, covariates: list[str], phenotypes: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Per distance, PERMANOVA of ``distance ~ covariates + phenotype`` (sequential) for each phenotype, stacked
    with a ``phenotype`` column; samples missing a term are left out of that phenotype's test."""
    spec = cfg.diversity
    out = {}
    for metric in spec.beta:
        dm = diversity.beta_distances(cohort.table, metric)
        tables = permanova_each(dm, cohort.metadata, covariates, phenotypes, spec.permutations, spec.seed)
        out[metric] = pd.concat([t.assign(phenotype=p) for p, t in tables.items()], ignore_index=True)
    return out

