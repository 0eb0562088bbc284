"""Run a whole study: per cohort associations and diversity, meta-analysis across cohorts, pathways, report.

Steps (each cohort's parts run in parallel with ``workers`` > 1):

1. :func:`~osteobiome.study.validate.validate_study` loads and checks every cohort (nothing is written before);
2. per cohort and phenotype, ``associate(feature ~ phenotype + covariates)``; the phenotype's rows are kept,
   with q-values over that phenotype's coefficients (the ``maaslin2`` preset keeps MaAsLin2's correction pooled
   over every coefficient of the model instead);
3. diversity: alpha indices and their association with each phenotype, beta distances, PERMANOVA of
   ``distance ~ covariates + phenotype`` (sequential, so the phenotype is covariate-adjusted) and PCoA;
4. per phenotype, random-effects meta-analysis of the per-cohort coefficients;
5. pathway tables through the same models; 6. mediation (cohorts with a ``mediators:`` table; see
   :mod:`osteobiome.study._mediation`); 7. the ``survival:`` section (incident fracture ~ each feature, per cohort
   then pooled; :mod:`osteobiome.study._survival`); 8. ``prediction:`` (when asked): nested cross-validation
   per cohort and leave-one-cohort-out validation (:mod:`osteobiome.study._prediction`); 9. the HTML report,
   ``run.json`` and ``run.log``.
With ``batch_correction:``, also the pooled analysis of :mod:`osteobiome.study._pooled` (``pooled/``); with
``meta_analysis: {moderators: FILE}``, meta-regressions of every pooled feature (``meta/meta_regression.tsv``).

With ``formula:`` the models of step 2 are the study's formula (:mod:`osteobiome.study._formula`; interaction
coefficients pooled into ``meta/interaction_results.tsv``); with ``strata:`` the stratified analyses and their
heterogeneity tests run per cohort (:mod:`osteobiome.study._strata`; ``strata/<cohort>/``).

The numbers order the analyses, not their timing: with ``workers`` > 1 the workers run every cohort's
associations first, then pathways, the joint ordination of all cohorts, PERMANOVA and diversity, while this
process computes, as soon as the associations and pathways are in, the meta-analyses, mechanisms, mediation and survival
(steps 4–7; :func:`~osteobiome.study._parts.run_jobs`);
the result tables are written while the workers draw the report's figures.

Everything is written into a temporary folder beside ``out`` that replaces it only when complete.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from osteobiome.association.variants import fitted_model
from osteobiome.io import read_metadata
from osteobiome.io.outputs import atomic_output_dir
from osteobiome.io.tsv import write_tsv
from osteobiome.mechanisms.knowledge import knowledge_provenance
from osteobiome.mechanisms.pathways import (
    has_set_tests,
    mechanism_tables,
    pathway_contributions,
    significant_hits,
    top_pathways,
)
from osteobiome.meta import meta_analyze
from osteobiome.report.results import CohortResults, StudyResults
from osteobiome.stats.multitest import adjust
from osteobiome.study import _report_inputs as inputs
from osteobiome.study._formula import interaction_tables
from osteobiome.study._mediation import mediation_tables
from osteobiome.study._outputs import sha256, versions
from osteobiome.study._parts import Blocked, Part, Wait, plan_jobs, reference_for, run_jobs
from osteobiome.study._prediction import run_prediction
from osteobiome.study._readme import results_readme
from osteobiome.study._summary import cohort_summary
from osteobiome.study._survival import survival_step, write_survival
from osteobiome.study._workers import start_workers, worker_count
from osteobiome.study.config import StudyConfig
from osteobiome.study.validate import StudyPlan, validate_study


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


def run_study(
    cfg: StudyConfig,
    out: str | Path,
    workers: int | None = None,
    quiet: bool = False,
    keep: tuple[str, ...] = (),
    block_size: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
) -> StudyRun:
    """Run the study described by ``cfg`` into the folder ``out``; see the module docstring for the steps.

    ``workers``: processes for the cohort jobs and the report's figures (default 1; with more, call this from a script guarded
    by ``if __name__ == "__main__":``, as for any multiprocessing code); ``quiet``: no progress display;
    ``keep``: entries of an existing ``out`` folder carried into the new one (the demo keeps ``inputs``);
    ``block_size`` / ``scheduler``: associations in blocks of features (any preset; see
    :mod:`osteobiome.association.pipeline`) and meta-analyses in blocks, on dask with ``scheduler``; no set-level
    tests then; ``overwrite``: replace an ``out`` that is not an earlier result (never one that holds the study's
    inputs).
    """
    start = time.perf_counter()
    start_workers(workers)  # their imports overlap with validating the inputs
    log = _RunLog()
    timings: dict[str, float] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _timed(timings, "validate"):
            plan = validate_study(cfg)
        log.add(f"validated {cfg.source or 'study'}:\n{plan.describe()}")
        kinds = ("features", "metadata", "taxonomy", "pathways", "mediators", "truth")
        input_paths = [cfg.source, *(getattr(c, k, None) for c in cfg.cohorts for k in kinds)]
        with atomic_output_dir(out, keep, overwrite, input_paths) as tmp, _progress(quiet) as progress:
            blocked = Blocked(block_size, scheduler)
            results = _analyse(plan, worker_count(workers), blocked, progress, log, timings, caught)
            if cfg.prediction is not None:
                with _timed(timings, "prediction"):
                    results.prediction = run_prediction(plan, worker_count(workers), progress)
                results.settings["prediction"] = results.prediction.settings
                log.add(f"prediction done in {timings['prediction']:.2f} s")
            report = None
            if cfg.report:  # the tables are written while the workers draw the last figures
                results.warnings = _messages(caught)
                tables = ("write tables", lambda: _write_tables(results, tmp))
                _render(results, tmp, progress, log, timings, worker_count(workers), meanwhile=tables)
                report = Path(out).resolve() / "report.html"
            else:
                with _timed(timings, "write tables"):
                    _write_tables(results, tmp)
            timings["total"] = time.perf_counter() - start
            results.warnings = _messages(caught)
            log.add_warnings(results.warnings)
            _write_run_json(tmp, cfg, results)
            log.write(tmp / "run.log")
            (tmp / "README.md").write_text(results_readme(tmp, results.title), encoding="utf-8")
    for message in results.warnings:
        warnings.warn(message, stacklevel=2)
    return StudyRun(Path(out).resolve(), report, results, time.perf_counter() - start)


def _analyse(
    plan: StudyPlan,
    workers: int,
    blocked: Blocked,
    progress: Callable,
    log: _RunLog,
    timings: dict[str, float],
    caught: list,
) -> StudyResults:
    """Per-cohort jobs, meta-analyses and mechanisms; warnings of worker processes go to ``caught``."""
    cfg = plan.config
    jobs = plan_jobs(plan, workers)
    advance = progress("cohort analyses", len(jobs))

    def finished(part: Part) -> None:
        key = f"{part.cohort} {part.kind}"
        timings[key] = timings.get(key, 0.0) + part.seconds
        log.add(f"{part.label} done in {part.seconds:.2f} s")
        advance()

    across: list[_AcrossCohorts] = []  # filled by meanwhile

    def meanwhile(wait: Wait) -> None:  # in this process while the workers run the other jobs
        across.append(_across_cohorts(plan, wait({"associations", "pathways"}), blocked, progress, log, timings))

    before = len(caught)  # the jobs' warnings go before this process's own of the same time, in the jobs' order
    parts = run_jobs(cfg, jobs, workers, finished, blocked, meanwhile=meanwhile)
    caught[before:before] = [_Warning(w) for p in parts for w in p.warnings]
    cohorts = _cohort_results(plan, parts)
    combined = across[0]
    with _timed(timings, "report inputs"):
        ordination = next((p.value for p in parts if p.kind == "ordination"), {})
        extras = _report_inputs(plan, parts, cohorts, combined.meta) | {"ordination": ordination}
    return StudyResults(
        title=cfg.study,
        phenotypes=list(cfg.phenotypes),
        covariates=list(cfg.covariates),
        cohorts=cohorts,
        settings=_settings(plan, parts, combined.mechanisms),
        fdr_cohort=cfg.fdr.cohort,
        fdr_meta=cfg.fdr.meta,
        versions=versions(),
        timings=timings,
        pooled=_pooled(plan, timings, log),
        fdr_scope=cfg.fdr.scope,
        **combined._asdict(),
        **extras,
    )


class _AcrossCohorts(NamedTuple):
    """What :func:`_across_cohorts` computes (the :class:`StudyResults` fields of the same names)."""

    meta: pd.DataFrame | None
    pathway_meta: pd.DataFrame | None
    interaction_meta: pd.DataFrame | None
    mechanisms: dict[str, pd.DataFrame]
    mediation: dict[str, pd.DataFrame]
    survival: Any


def _across_cohorts(
    plan: StudyPlan,
    parts: list[Part],
    blocked: Blocked,
    progress: Callable,
    log: _RunLog,
    timings: dict[str, float],
) -> _AcrossCohorts:
    """Meta-analyses, mechanisms, mediation and survival: what needs only the association and pathway ``parts``
    of every cohort (study-scope q-values are set on their tables here)."""
    cfg = plan.config
    associations = {p.cohort: p.value[0] for p in parts if p.kind == "associations"}
    associations = {cp.name: associations[cp.name] for cp in plan.cohorts}  # in the study's cohort order
    if cfg.fdr.scope == "study":
        for table in associations.values():
            table["qval"] = adjust(table["pval"].to_numpy(float))
    with _timed(timings, "meta-analysis"):
        pathway_tables = {p.cohort: p.value[0] for p in parts if p.kind == "pathways"}
        pathway_tables = {cp.name: pathway_tables[cp.name] for cp in plan.cohorts if cp.name in pathway_tables}
        moderators = _moderators(cfg) if len(associations) > 1 else None  # read once for the three meta-analyses
        meta = _meta_analysis(associations, cfg, progress, scheduler=blocked.scheduler, moderators=moderators)
        if meta is not None and cfg.fdr.scope == "study":
            meta["qval.fdr"] = adjust(meta["pval"].to_numpy(float))
        interactions = interaction_tables(associations)
        exposures = list(dict.fromkeys(e for t in interactions.values() for e in t["metadata"]))
        interaction_meta = _meta_analysis(interactions, cfg, progress, exposures, blocked.scheduler, moderators)
        pathway_meta = (
            _meta_analysis(pathway_tables, cfg, progress, scheduler=blocked.scheduler, moderators=moderators)
            if len(pathway_tables) > 1
            else None
        )
    log.add(f"meta-analysis done in {timings['meta-analysis']:.2f} s")
    with _timed(timings, "mechanisms"):
        tested = (f for table in associations.values() for f in table["feature"])
        if blocked.on and has_set_tests(tested, (cp.cohort.metadata for cp in plan.cohorts), cfg.phenotypes):
            warnings.warn(
                "set-level tests skipped: the --block-size/--scheduler path does not keep the transformed "
                "abundance tables they need; run without these options for the Mechanisms set tests.",
                stacklevel=2,
            )
        mechanisms = _mechanisms(plan, parts, associations, pathway_tables, meta, pathway_meta)
    log.add(f"mechanisms: {', '.join(mechanisms) or 'none'} in {timings['mechanisms']:.2f} s")
    with _timed(timings, "mediation"):
        mediation = mediation_tables(
            cfg, {cp.name: cp.cohort for cp in plan.cohorts}, {cp.name: cp.covariates for cp in plan.cohorts}, plan.mediators
        )
    with _timed(timings, "survival"):
        spec = cfg.meta_analysis
        survival = survival_step(plan, spec.method, spec.test, cfg.fdr.meta, cfg.fdr.cohort)
    return _AcrossCohorts(meta, pathway_meta, interaction_meta, mechanisms, mediation, survival)


def _pooled(plan: StudyPlan, timings: dict[str, float], log: _RunLog):  # noqa: ANN202
    """The batch-corrected pooled analysis when the study asks for it (imported here: it is optional)."""
    if plan.config.batch_correction is None:
        return None
    from osteobiome.study._pooled import pooled_analysis

    with _timed(timings, "pooled analysis"):
        pooled = pooled_analysis(plan)
    log.add(f"pooled analysis (batch correction) done in {timings['pooled analysis']:.2f} s")
    return pooled


def _report_inputs(
    plan: StudyPlan, parts: list[Part], cohorts: list[CohortResults], meta: pd.DataFrame | None
) -> dict[str, Any]:
    """Partial residuals of the top pairs (set on ``cohorts``), the power curves and, for simulated cohorts,
    planted vs found (see :mod:`osteobiome.study._report_inputs`)."""
    cfg = plan.config
    tables = {c.name: c.associations for c in cohorts}
    pairs = inputs.top_pairs(tables, meta)
    transformed = _transformed(parts)
    two_part = _association_options(parts).get("model") == "twopart"
    for c, cp in zip(cohorts, plan.cohorts, strict=True):
        if c.name in transformed:
            c.added_variable = inputs.added_variable_points(
                transformed[c.name],
                cp.cohort.metadata,
                pairs,
                cp.covariates,
                reference_for(cfg, cp.covariates),
                present=cp.cohort if two_part else None,
            )
    truth = {cp.name: cp.truth for cp in plan.cohorts if cp.truth is not None}
    planted, summary = (
        inputs.planted_vs_found(truth, tables, meta, cfg.fdr.cohort, cfg.fdr.meta) if truth else (None, None)
    )
    return {
        "power": inputs.power_curves(tables, meta, cfg.fdr.cohort),
        "planted": planted,
        "planted_summary": summary,
    }


def _association_options(parts: list[Part]) -> dict[str, Any]:
    """The association options the run resolved (the same for every cohort)."""
    return next((p.value[1].get("options", {}) for p in parts if p.kind == "associations"), {})


def _transformed(parts: list[Part]) -> dict[str, pd.DataFrame]:
    """Cohort name → the transformed abundance table its associations kept (cohorts whose table ran as one
    in-memory block)."""
    return {
        p.cohort: p.value[1]["transformed"]
        for p in parts
        if p.kind == "associations" and "transformed" in p.value[1]
    }


def _render(
    results: StudyResults,
    out: Path,
    progress: Callable,
    log: _RunLog,
    timings: dict[str, float],
    workers: int = 1,
    meanwhile: tuple[str, Callable[[], None]] | None = None,
) -> None:
    """The HTML report and its figures, drawn by ``workers`` processes; ``meanwhile = (stage, work)``: ``work()``
    is done as they draw (see :func:`~osteobiome.report.document.render`) and timed as its own stage, not the
    report's, so that the stages add up to the total (imported here: the report imports matplotlib)."""
    from osteobiome.report import render

    aside_seconds: dict[str, float] = {}

    def aside() -> None:
        stage, work = meanwhile
        with _timed(aside_seconds, stage):
            work()

    task = progress("report", 1)
    with _timed(timings, "report"):
        render(results, out, workers, aside if meanwhile is not None else None)
    for stage, seconds in aside_seconds.items():
        timings[stage] = timings.get(stage, 0.0) + seconds
        timings["report"] -= seconds
    task()
    log.add(f"report written in {timings['report']:.2f} s")


def _cohort_results(plan: StudyPlan, parts: list[Part]) -> list[CohortResults]:
    by_key = {(p.cohort, p.kind): p.value for p in parts if p.kind != "permanova"}
    out = []
    for cp in plan.cohorts:
        assoc, info = by_key[(cp.name, "associations")]
        div = by_key.get((cp.name, "diversity")) or {}
        pathways = by_key.get((cp.name, "pathways"))
        strata = by_key.get((cp.name, "strata"))
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
                strata=strata.results if strata is not None else None,
                heterogeneity=strata.heterogeneity if strata is not None else None,
                all_associations=info.get("all_results"),
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
    tables: dict[str, pd.DataFrame],
    cfg: StudyConfig,
    progress: Callable,
    exposures: list[str] | None = None,
    scheduler: str | None = None,
    moderators: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """Per phenotype (or each of ``exposures``), pool the cohorts'
    coefficients (``None`` with fewer than two cohorts); ``scheduler``: pool in blocks (see
    :mod:`osteobiome.compute.executors`); ``moderators``: the study's cohort-level table (:func:`_moderators`)."""
    tables = {k: v for k, v in tables.items() if len(v)}
    if len(tables) < 2:
        return None
    spec = cfg.meta_analysis
    advance = progress("meta-analysis", 1)
    meta = meta_analyze(
        tables,
        exposure=list(cfg.phenotypes) if exposures is None else exposures,
        method=spec.method,
        test=spec.test,
        preset=spec.preset,
        q_threshold=cfg.fdr.meta,
        cohort_q=cfg.fdr.cohort,
        scheduler=scheduler,
        moderators=moderators,
        joint=cfg.association.resolved().joint,
    )
    advance()
    return meta


def _moderators(cfg: StudyConfig) -> pd.DataFrame | None:
    """The cohort-level moderators of ``meta_analysis: {moderators: FILE}`` (meta-regressions), or ``None``."""
    path = cfg.meta_analysis.moderators
    return None if path is None else read_metadata(path)


def _mechanisms(
    plan: StudyPlan,
    parts: list[Part],
    associations: dict[str, pd.DataFrame],
    pathway_tables: dict[str, pd.DataFrame],
    meta: pd.DataFrame | None,
    pathway_meta: pd.DataFrame | None,
) -> dict[str, pd.DataFrame]:
    """Set-level tests of the curated traits, the significant features annotated, and the genera contributing to
    the top pathways (cohorts with HUMAnN stratified pathway rows); ``associations`` / ``pathway_tables``: cohort
    name → its (pathway) association table."""
    cfg = plan.config
    transformed = _transformed(parts)
    inputs = {
        cp.name: (transformed[cp.name], cp.cohort.metadata, cp.covariates)
        for cp in plan.cohorts
        if transformed.get(cp.name) is not None
    }
    hits = pd.concat(
        [
            significant_hits(associations, meta, cfg.fdr.cohort, cfg.fdr.meta),
            significant_hits(
                {f"{name} pathways": table for name, table in pathway_tables.items()},
                pathway_meta,
                cfg.fdr.cohort,
                cfg.fdr.meta,
            ).replace({"source": {"meta-analysis": "pathway meta-analysis"}}),
        ],
        ignore_index=True,
    )
    out = mechanism_tables(inputs, hits, cfg.phenotypes)
    strata = {cp.name: cp.pathway_strata for cp in plan.cohorts if cp.pathway_strata is not None}
    if strata:
        top, label = top_pathways(pathway_tables, pathway_meta, cfg.fdr.cohort, cfg.fdr.meta)
        contributions = pathway_contributions(strata, top, label)
        if len(contributions):
            out["contributions"] = contributions
    return out


# ---------------------------------------------------------------------- writing
def _write_tables(results: StudyResults, out: Path) -> None:
    for c in results.cohorts:
        folder = out / "cohorts" / c.name
        write_tsv(c.associations, folder / "associations.tsv")
        write_tsv(c.associations[c.associations["qval"] < results.fdr_cohort], folder / "significant_results.tsv")
        if c.all_associations is not None:
            write_tsv(c.all_associations.sort_values(["qval", "pval"], kind="stable"), folder / "all_results.tsv")
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
        if "meta_regression" in results.meta.attrs:
            write_tsv(results.meta.attrs["meta_regression"], out / "meta" / "meta_regression.tsv")
    if results.interaction_meta is not None:
        write_tsv(results.interaction_meta, out / "meta" / "interaction_results.tsv")
    for c in results.cohorts:
        if c.strata is not None:
            write_tsv(c.strata, out / "strata" / c.name / "strata_results.tsv")
            write_tsv(c.heterogeneity, out / "strata" / c.name / "heterogeneity.tsv")
    if results.pooled is not None:
        write_tsv(results.pooled.associations, out / "pooled" / "associations.tsv")
        write_tsv(results.pooled.r2, out / "pooled" / "batch_permanova.tsv", index=True)
        write_tsv(results.pooled.adjusted, out / "pooled" / "features_batch_corrected.tsv", index=True)
    if results.pathway_meta is not None:
        write_tsv(results.pathway_meta, out / "pathways" / "meta" / "meta_results.tsv")
    for name, table in results.mechanisms.items():
        write_tsv(table, out / "mechanisms" / f"{name}.tsv")
    if results.prediction is not None:
        results.prediction.write(out / "prediction")
    for name, table in results.mediation.items():
        write_tsv(table, out / "mediation" / name / "mediation.tsv")
    write_survival(results.survival, out)
    if results.planted is not None:
        write_tsv(results.planted, out / "planted" / "planted_vs_found.tsv")
        write_tsv(results.planted_summary, out / "planted" / "summary.tsv")


def _mechanism_settings(mechanisms: dict[str, pd.DataFrame]) -> dict[str, str | None] | None:
    """Provenance of the knowledge table, the set-test method and how cohorts were combined (``None`` with
    one cohort), when set-level results exist."""
    if "sets" not in mechanisms:
        return None
    compiled = knowledge_provenance().get("compiled", "n/a")
    combination = "weighted Stouffer (weights √N)" if "sets_by_cohort" in mechanisms else None
    return {"compiled": compiled, "method": "CAMERA, full residual correlation", "combination": combination}


def _settings(plan: StudyPlan, parts: list[Part], mechanisms: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """What was run, for the Methods paragraph and run.json."""
    cfg = plan.config
    options = _association_options(parts)
    return {
        "rank": cfg.rank,
        "preset": cfg.association.preset,
        "association": options,
        "covariates_by_cohort": {cp.name: cp.covariates for cp in plan.cohorts},
        "reference": dict(cfg.reference),
        "random_effects": list(cfg.random_effects),
        "model": fitted_model(options.get("model") or "lm", cfg.random_effects),
        "mechanisms": _mechanism_settings(mechanisms),
        "meta": cfg.meta_analysis.model_dump() if len(plan.cohorts) > 1 else None,
        "diversity": cfg.diversity.model_dump() if cfg.diversity is not None else None,
        "pathways": [cp.name for cp in plan.cohorts if cp.pathways is not None],
        "formula": cfg.formula,
        "strata": {"variables": list(cfg.strata), "min_stratum_size": cfg.min_stratum_size} if cfg.strata else None,
        "batch_correction": cfg.batch_correction.model_dump() if cfg.batch_correction is not None else None,
        "mediation": cfg.mediation.model_dump() if plan.mediators else None,
        "survival": cfg.survival.model_dump() if cfg.survival is not None else None,
    }


def _write_run_json(out: Path, cfg: StudyConfig, results: StudyResults) -> None:
    inputs = {}
    for spec in cfg.cohorts:
        for key in ("features", "metadata", "taxonomy", "pathways", "mediators"):
            path = getattr(spec, key)
            if path is not None:
                inputs[f"{spec.name}.{key}"] = {"path": str(path), "sha256": sha256(Path(path))}
    record = {
        "study": cfg.study,
        "study_file": str(cfg.source.resolve()) if cfg.source else None,
        "config": cfg.model_dump(mode="json"),
        "settings": results.settings,
        "versions": results.versions,
        "seeds": {
            "study": cfg.seed,
            "diversity": cfg.diversity.seed if cfg.diversity else None,
            **({"prediction": cfg.prediction.seed} if cfg.prediction else {}),
        },
        "inputs": inputs,
        "cohorts": {c.name: {"summary": c.summary, "covariates": c.covariates} for c in results.cohorts},
        "hits": {"cohorts": results.cohort_hits(), "meta": results.meta_hits()},
        "timings_seconds": {k: round(v, 4) for k, v in results.timings.items()},
        "warnings": results.warnings,
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")


# ---------------------------------------------------------------------- helpers
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


__all__ = ["StudyRun", "run_study"]
