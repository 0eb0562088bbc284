"""Run a whole study: per cohort associations and diversity, meta-analysis across cohorts, pathways, report.

Steps (each cohort's parts run in parallel with ``workers`` > 1):

1. :func:`~osteobiome.study.validate.validate_study` loads and checks every cohort (nothing is written before);
2. per cohort and phenotype, ``associate(feature ~ phenotype + covariates)``; the phenotype's rows are kept,
   with q-values over that phenotype's coefficients (the ``maaslin2`` preset keeps MaAsLin2's correction pooled
   over every coefficient of the model instead);
3. diversity: alpha indices and their association with each phenotype, beta distances, PERMANOVA of
   ``distance ~ covariates + phenotype`` (sequential, so the phenotype is covariate-adjusted) and PCoA;
4. per phenotype, random-effects meta-analysis of the per-cohort coefficients;
5. pathway tables through the same models; 6. the HTML report, ``run.json`` and ``run.log``.

Everything is written into a temporary folder beside ``out`` that replaces it only when complete.
"""

from __future__ import annotations

import importlib
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import pandas as pd

from osteobiome.cohort import Cohort
from osteobiome.study.config import StudyConfig
from osteobiome.study.outputs import atomic_output_dir, sha256, versions, write_tsv
from osteobiome.study.results import CohortResults, StudyResults
from osteobiome.study.summary import cohort_summary
from osteobiome.study.validate import CohortPlan, StudyPlan, validate_study

ASSOC_COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval", "N.used"]


@dataclass
class StudyRun:
    """A finished run: where its results are, what it found, how long it took."""

    out: Path
    report: Path | None
    results: StudyResults
    seconds: float

    def summary(self) -> list[str]:
        """Lines for the end of a run: hits per cohort, meta-analysis hits, time, report path."""
        r = self.results
        lines = [f"{name}: {n} hit(s) at q < {r.fdr_cohort:g}" for name, n in r.cohort_hits().items()]
        if r.meta is not None:
            lines.append(f"meta-analysis: {r.meta_hits()} hit(s) at q < {r.fdr_meta:g}")
        lines.append(f"time: {self.seconds:.1f} s; results in {self.out}")
        return lines


@dataclass
class _Part:
    """One unit of parallel work and what it returned."""

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


def run_study(
    cfg: StudyConfig,
    out: str | Path,
    workers: int | None = None,
    quiet: bool = False,
    keep: tuple[str, ...] = (),
) -> StudyRun:
    """Run the study described by ``cfg`` into the folder ``out``; see the module docstring for the steps.

    ``workers``: processes for the per-cohort analyses (default 1); ``quiet``: no progress display;
    ``keep``: entries of an existing ``out`` folder carried into the new one (the demo keeps ``inputs``).
    """
    start = time.perf_counter()
    log = _RunLog()
    timings: dict[str, float] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _timed(timings, "validate"):
            plan = validate_study(cfg)
        log.add(f"validated {cfg.source or 'study'}:\n{plan.describe()}")
        with atomic_output_dir(out, keep=keep) as tmp, _progress(quiet) as progress:
            parts = _run_parts(plan, workers, progress, log, timings)
            caught.extend(_Warning(w) for p in parts for w in p.warnings)
            cohorts = _cohort_results(plan, parts)
            with _timed(timings, "meta-analysis"):
                meta = _meta_analysis({c.name: c.associations for c in cohorts}, cfg, progress)
                pathway_tables = {
                    c.name: c.pathway_associations for c in cohorts if c.pathway_associations is not None
                }
                pathway_meta = (
                    _meta_analysis(pathway_tables, cfg, progress) if len(pathway_tables) > 1 else None
                )
            log.add(f"meta-analysis done in {timings['meta-analysis']:.2f} s")
            with _timed(timings, "mechanisms"):
                mechanisms = _mechanisms(plan, parts, cohorts, meta, pathway_meta)
            log.add(f"mechanisms: {', '.join(mechanisms) or 'none'} in {timings['mechanisms']:.2f} s")
            results = StudyResults(
                title=cfg.study,
                phenotypes=list(cfg.phenotypes),
                covariates=list(cfg.covariates),
                cohorts=cohorts,
                meta=meta,
                pathway_meta=pathway_meta,
                mechanisms=mechanisms,
                settings=_settings(plan, parts, mechanisms),
                fdr_cohort=cfg.fdr.cohort,
                fdr_meta=cfg.fdr.meta,
                versions=versions(),
                timings=timings,
            )
            with _timed(timings, "write tables"):
                _write_tables(results, tmp)
            report = None
            if cfg.report:
                results.warnings = _messages(caught)
                task = progress("report", 1)
                with _timed(timings, "report"):
                    from osteobiome.report import render

                    render(results, tmp)
                task()
                report = Path(out).resolve() / "report.html"
                log.add(f"report written in {timings['report']:.2f} s")
            timings["total"] = time.perf_counter() - start
            results.warnings = _messages(caught)
            log.add_warnings(results.warnings)
            _write_run_json(tmp, cfg, plan, results)
            log.write(tmp / "run.log")
    for message in results.warnings:
        warnings.warn(message, stacklevel=2)
    return StudyRun(Path(out).resolve(), report, results, time.perf_counter() - start)


# ---------------------------------------------------------------------- per-cohort work
def _run_parts(
    plan: StudyPlan, workers: int | None, progress: Callable, log: _RunLog, timings: dict
) -> list[_Part]:
    """Associations, diversity and pathways of every cohort, over ``workers`` processes (1 = in this process).

    With several workers the PERMANOVAs (one per phenotype and distance, the slowest part) are also split into
    one job per worker and cohort, so that a single large cohort uses every worker too.
    """
    cfg = plan.config
    n_workers = max(1, min(workers or 1, os.cpu_count() or 1))
    chunks = _chunks(list(cfg.phenotypes), n_workers)
    jobs = []
    for cp in plan.cohorts:
        jobs.append((cp.name, "associations", cp.cohort, cp.covariates, ()))
        if cfg.diversity is not None:
            jobs.append((cp.name, "diversity", cp.cohort, cp.covariates, ()))
            jobs.extend((cp.name, "permanova", cp.cohort, cp.covariates, chunk) for chunk in chunks)
        if cp.pathways is not None:
            jobs.append((cp.name, "pathways", cp.pathways, cp.covariates, ()))
    advance = progress("cohort analyses", len(jobs))
    parts: list[_Part] = []

    def finished(part: _Part) -> None:
        parts.append(part)
        key = f"{part.cohort} {part.kind}"
        timings[key] = timings.get(key, 0.0) + part.seconds
        log.add(f"{part.label} done in {part.seconds:.2f} s")
        advance()

    if n_workers == 1:
        for job in jobs:
            finished(_run_part(cfg, *job))
    else:
        with ProcessPoolExecutor(
            min(n_workers, len(jobs)), mp_context=_worker_context(), initializer=_single_threaded_blas
        ) as pool:
            for future in as_completed([pool.submit(_run_part, cfg, *job) for job in jobs]):
                finished(future.result())
    return parts


def _worker_context() -> BaseContext:
    """Worker processes forked from a clean server process that has this module imported.

    Not plain ``fork``: forking a process that runs threads (BLAS pools, other executors) can deadlock the child.
    """
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _single_threaded_blas() -> None:
    """One BLAS thread per worker process: the workers already use the cores (no oversubscription)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _chunks(items: list[str], n: int) -> list[tuple[str, ...]]:
    """``items`` in at most ``n`` contiguous, nearly equal, non-empty chunks."""
    n = max(1, min(n, len(items)))
    bounds = [round(i * len(items) / n) for i in range(n + 1)]
    return [tuple(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _run_part(
    cfg: StudyConfig, name: str, kind: str, cohort: Cohort, covariates: list[str], phenotypes: tuple[str, ...]
) -> _Part:
    """One cohort's associations, diversity, PERMANOVAs (of ``phenotypes``) or pathways, with its warnings."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "diversity":
            value = _diversity(cohort, cfg, covariates)
        elif kind == "permanova":
            value = _permanovas(cohort, cfg, covariates, phenotypes)
        else:
            value = _associations(cohort, cfg, covariates)
    messages = [
        str(w.message) if name in str(w.message) else f"{name} {kind}: {w.message}"
        for w in caught
        if issubclass(w.category, UserWarning)
    ]
    return _Part(name, kind, value, messages, time.perf_counter() - start, tuple(phenotypes))


def _associations(cohort: Cohort, cfg: StudyConfig, covariates: list[str]) -> tuple[pd.DataFrame, dict]:
    """``feature ~ phenotype + covariates`` for each phenotype; the phenotype's rows of each model.

    Also returns the resolved options of the preset and the transformed abundance table (samples ×
    features, the same for every phenotype) that the set-level tests use.
    """
    engine = _module("osteobiome.associate")
    if engine is None:
        warnings.warn(
            "the association engine (osteobiome.associate) is not installed; associations skipped",
            stacklevel=2,
        )
        return pd.DataFrame(columns=ASSOC_COLUMNS), {}
    run = getattr(engine, "run_association", None)
    frames, info = [], {"options": association_options(cfg)}
    for phenotype in cfg.phenotypes:
        fixed = [phenotype, *covariates]
        args = (
            cohort,
            cohort.metadata,
            fixed,
            list(cfg.random_effects),
            _reference(cfg, fixed),
            cfg.association.preset,
        )
        if run is not None:
            result = run(*args, **cfg.association.options())
            table = result.results
            info.setdefault("transformed", result.transformed)
            info["options"] = dict(result.options)
        else:
            table = engine.associate(*args, **cfg.association.options())
        frames.append(table[table["metadata"] == phenotype])
    return pd.concat(frames, ignore_index=True), info


def _reference(cfg: StudyConfig, variables: list[str]) -> dict[str, str] | None:
    """The study's reference levels for the variables of one model (``None`` when there are none)."""
    return {k: v for k, v in cfg.reference.items() if k in variables} or None


def association_options(cfg: StudyConfig) -> dict[str, Any]:
    """Every option of the association preset as it will run (the preset's values with the study's overrides)."""
    engine = _module("osteobiome.associate")
    resolve = getattr(engine, "resolve_options", None) if engine is not None else None
    options = cfg.association.options()
    return dict(resolve(cfg.association.preset, options)) if resolve is not None else options


def _diversity(cohort: Cohort, cfg: StudyConfig, covariates: list[str]) -> dict[str, Any]:
    """Alpha indices and their associations with each phenotype; PCoA of each distance."""
    div = _module("osteobiome.diversity")
    spec = cfg.diversity
    if div is None or spec is None:
        warnings.warn(
            "the diversity module (osteobiome.diversity) is not installed; diversity skipped", stacklevel=2
        )
        return {}
    table = cohort.table
    alpha = div.alpha_diversity(table, list(spec.alpha))
    alpha_assoc = div.alpha_associations(
        alpha,
        cohort.metadata,
        list(cfg.phenotypes),
        list(covariates),
        reference=_reference(cfg, [*cfg.phenotypes, *covariates]),
        preset=cfg.association.preset,
    )
    pcoa = {metric: div.pcoa(div.beta_diversity(table, metric)) for metric in spec.beta}
    return {"alpha": alpha, "alpha_associations": alpha_assoc, "pcoa": pcoa}


def _permanovas(
    cohort: Cohort, cfg: StudyConfig, covariates: list[str], phenotypes: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """Per distance, PERMANOVA of ``distance ~ covariates + phenotype`` (sequential) for each phenotype, stacked
    with a ``phenotype`` column; samples missing a term are left out of that phenotype's test."""
    div = _module("osteobiome.diversity")
    spec = cfg.diversity
    if div is None or spec is None:
        return {}
    meta = cohort.metadata
    out = {}
    for metric in spec.beta:
        dm = div.beta_diversity(cohort.table, metric)
        tables = []
        for phenotype in phenotypes:
            terms = [*covariates, phenotype]
            complete = meta.index[meta[terms].notna().all(axis=1)]
            res = div.permanova(
                dm.filter(list(complete)),
                meta.loc[complete],
                terms,
                by="terms",
                permutations=spec.permutations,
                seed=spec.seed,
            )
            tables.append(res.assign(phenotype=phenotype))
        out[metric] = pd.concat(tables, ignore_index=True)
    return out


def _cohort_results(plan: StudyPlan, parts: list[_Part]) -> list[CohortResults]:
    by_key = {(p.cohort, p.kind): p.value for p in parts if p.kind != "permanova"}
    out = []
    for cp in plan.cohorts:
        assoc, _ = by_key[(cp.name, "associations")]
        div = by_key.get((cp.name, "diversity")) or {}
        pathways = by_key.get((cp.name, "pathways"))
        out.append(
            CohortResults(
                name=cp.name,
                summary=cohort_summary(cp.cohort, plan.config.rank),
                associations=assoc,
                metadata=cp.cohort.metadata,
                covariates=cp.covariates,
                alpha=div.get("alpha"),
                alpha_associations=div.get("alpha_associations"),
                permanova=_stacked_permanovas(
                    [p.value for p in parts if (p.cohort, p.kind) == (cp.name, "permanova")],
                    plan.config.phenotypes,
                ),
                pcoa=div.get("pcoa", {}),
                pathway_associations=pathways[0] if pathways is not None else None,
            )
        )
    return out


def _stacked_permanovas(
    chunks: list[dict[str, pd.DataFrame]], phenotypes: list[str]
) -> dict[str, pd.DataFrame]:
    """The PERMANOVA tables of every phenotype chunk, per distance, in the study's phenotype order."""
    order = {p: i for i, p in enumerate(phenotypes)}
    out = {}
    for metric in dict.fromkeys(m for chunk in chunks for m in chunk):
        table = pd.concat([chunk[metric] for chunk in chunks if metric in chunk], ignore_index=True)
        out[metric] = table.sort_values("phenotype", key=lambda s: s.map(order), kind="stable").reset_index(
            drop=True
        )
    return out


# ---------------------------------------------------------------------- across cohorts
def _meta_analysis(
    tables: dict[str, pd.DataFrame], cfg: StudyConfig, progress: Callable
) -> pd.DataFrame | None:
    """Per phenotype, pool the cohorts' coefficients (``None`` with fewer than two cohorts)."""
    tables = {k: v for k, v in tables.items() if len(v)}
    if len(tables) < 2:
        return None
    meta_analyze = _engine("osteobiome.meta", "meta_analyze")
    if meta_analyze is None:
        warnings.warn(
            "the meta-analysis module (osteobiome.meta) is not installed; meta-analysis skipped", stacklevel=2
        )
        return None
    spec = cfg.meta_analysis
    advance = progress("meta-analysis", 1)
    meta = meta_analyze(
        tables,
        exposure=list(cfg.phenotypes),
        method=spec.method,
        test=spec.test,
        preset=spec.preset,
        q_threshold=cfg.fdr.meta,
        cohort_q=cfg.fdr.cohort,
    )
    advance()
    return meta


def _mechanisms(
    plan: StudyPlan,
    parts: list[_Part],
    cohorts: list[CohortResults],
    meta: pd.DataFrame | None,
    pathway_meta: pd.DataFrame | None,
) -> dict[str, pd.DataFrame]:
    """Set-level tests of the curated traits and the significant features annotated (empty without knowledge)."""
    cfg = plan.config
    if _module("osteobiome.knowledge") is None or _module("osteobiome.sets") is None:
        warnings.warn(
            "the knowledge modules (osteobiome.knowledge, osteobiome.sets) are not installed; "
            "the Mechanisms section is left out",
            stacklevel=2,
        )
        return {}
    from osteobiome.study.mechanisms import mechanism_tables, significant_hits

    transformed = {p.cohort: p.value[1].get("transformed") for p in parts if p.kind == "associations"}
    inputs = {
        cp.name: (transformed[cp.name], cp.cohort.metadata, cp.covariates)
        for cp in plan.cohorts
        if transformed.get(cp.name) is not None
    }
    hits = pd.concat(
        [
            significant_hits({c.name: c.associations for c in cohorts}, meta, cfg.fdr.cohort, cfg.fdr.meta),
            significant_hits(
                {
                    f"{c.name} pathways": c.pathway_associations
                    for c in cohorts
                    if c.pathway_associations is not None
                },
                pathway_meta,
                cfg.fdr.cohort,
                cfg.fdr.meta,
            ).replace({"source": {"meta-analysis": "pathway meta-analysis"}}),
        ],
        ignore_index=True,
    )
    return mechanism_tables(inputs, hits, cfg.phenotypes)


# ---------------------------------------------------------------------- writing
def _write_tables(results: StudyResults, out: Path) -> None:
    for c in results.cohorts:
        folder = out / "cohorts" / c.name
        write_tsv(c.associations, folder / "associations.tsv")
        if c.alpha is not None:
            write_tsv(c.alpha, folder / "diversity" / "alpha.tsv", index=True)
        if c.alpha_associations is not None:
            write_tsv(c.alpha_associations, folder / "diversity" / "alpha_associations.tsv")
        for metric, table in c.permanova.items():
            write_tsv(table, folder / "diversity" / f"permanova_{metric}.tsv")
        for metric, (coords, explained) in c.pcoa.items():
            write_tsv(coords, folder / "diversity" / f"pcoa_{metric}.tsv", index=True)
            write_tsv(
                explained.rename("proportion_explained").to_frame(),
                folder / "diversity" / f"pcoa_{metric}_explained.tsv",
                index=True,
            )
        if c.pathway_associations is not None:
            write_tsv(c.pathway_associations, out / "pathways" / "cohorts" / c.name / "associations.tsv")
    if results.meta is not None:
        write_tsv(results.meta, out / "meta" / "meta_results.tsv")
    if results.pathway_meta is not None:
        write_tsv(results.pathway_meta, out / "pathways" / "meta" / "meta_results.tsv")
    for name, table in results.mechanisms.items():
        write_tsv(table, out / "mechanisms" / f"{name}.tsv")


def _mechanism_settings(mechanisms: dict[str, pd.DataFrame]) -> dict[str, str] | None:
    """Provenance of the knowledge table and the set-test method, when set-level results exist."""
    if "sets" not in mechanisms:
        return None
    from osteobiome.knowledge import knowledge_provenance

    compiled = knowledge_provenance().get("compiled", "n/a")
    combination = "weighted Stouffer (weights √N)" if "sets_by_cohort" in mechanisms else "none (one cohort)"
    return {"compiled": compiled, "method": "CAMERA, full residual correlation", "combination": combination}


def _settings(plan: StudyPlan, parts: list[_Part], mechanisms: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What was run, for the Methods paragraph and run.json."""
    cfg = plan.config
    options = next((p.value[1].get("options", {}) for p in parts if p.kind == "associations"), {})
    return {
        "rank": cfg.rank,
        "preset": cfg.association.preset,
        "association": options,
        "covariates_by_cohort": {cp.name: cp.covariates for cp in plan.cohorts},
        "reference": dict(cfg.reference),
        "random_effects": list(cfg.random_effects),
        "model": "LMM" if cfg.random_effects else "LM",
        "mechanisms": _mechanism_settings(mechanisms),
        "meta": cfg.meta_analysis.model_dump() if len(plan.cohorts) > 1 else None,
        "diversity": cfg.diversity.model_dump() if cfg.diversity is not None else None,
        "pathways": [cp.name for cp in plan.cohorts if cp.pathways is not None],
    }


def _write_run_json(out: Path, cfg: StudyConfig, plan: StudyPlan, results: StudyResults) -> None:
    inputs = {}
    for spec in cfg.cohorts:
        for key in ("features", "metadata", "taxonomy", "pathways"):
            path = getattr(spec, key)
            if path is not None:
                inputs[f"{spec.name}.{key}"] = {"path": str(path), "sha256": sha256(Path(path))}
    record = {
        "study": cfg.study,
        "study_file": str(cfg.source.resolve()) if cfg.source else None,
        "config": cfg.model_dump(mode="json"),
        "settings": results.settings,
        "versions": results.versions,
        "seeds": {"study": cfg.seed, "diversity": cfg.diversity.seed if cfg.diversity else None},
        "inputs": inputs,
        "cohorts": {c.name: {"summary": c.summary, "covariates": c.covariates} for c in results.cohorts},
        "hits": {"cohorts": results.cohort_hits(), "meta": results.meta_hits()},
        "timings_seconds": {k: round(v, 4) for k, v in results.timings.items()},
        "warnings": results.warnings,
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


# ---------------------------------------------------------------------- helpers
def _module(name: str) -> Any:
    """The module, or ``None`` when that part of osteobiome is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def _engine(module: str, function: str) -> Callable | None:
    mod = _module(module)
    return getattr(mod, function, None) if mod is not None else None


@dataclass
class _Warning:
    """A message recorded like a ``warnings.WarningMessage`` (for warnings raised in worker processes)."""

    message: str
    category: type[Warning] = UserWarning


def _messages(caught: list) -> list[str]:
    """Distinct user-facing warnings (``UserWarning``s, not library deprecations), one line each, in order."""
    return list(
        dict.fromkeys(" ".join(str(w.message).split()) for w in caught if issubclass(w.category, UserWarning))
    )


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """``progress(label, total)`` returns an ``advance()`` callable; a rich display on stderr unless ``quiet``."""
    if quiet:
        yield lambda label, total: lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def start(label: str, total: int) -> Callable[[], None]:
            task = bar.add_task(label, total=total)
            return lambda: bar.advance(task)

        yield start


class _RunLog:
    """The lines of ``run.log``: timestamped steps, then the run's warnings."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.lines.extend(f"{stamp}  {line}" for line in text.splitlines())

    def add_warnings(self, messages: list[str]) -> None:
        self.add(f"{len(messages)} warning(s)")
        self.lines.extend(f"  warning: {m}" for m in messages)

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


__all__ = ["StudyRun", "run_study", "association_options", "CohortPlan"]
