"""Check a study before running it: every file, sample id and column, and what would run.

:func:`validate_study` loads every cohort (so a run can reuse them) and raises a one-line
:class:`~osteobiome.errors.InputError` naming the study file's key and line for the first problem found:
a missing or unreadable file, a phenotype / covariate / random effect / reference level absent from a
cohort's metadata (with close names suggested), no sample shared by a feature table and its metadata, or too
few complete samples for the model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort
from osteobiome.study._mediation import load_mediators
from osteobiome.study._prediction import check_prediction
from osteobiome.study._strata import check_strata_columns, describe_strata
from osteobiome.study.config import StudyConfig

PHYLOGENETIC = ("faith_pd", "weighted_unifrac", "unweighted_unifrac")


@dataclass
class CohortPlan:
    """One cohort as it will be analysed: loaded data and the covariates its models will use.

    ``pathway_strata``: HUMAnN stratified pathway rows (raw row names × the pathway table's samples), when given.
    """

    name: str
    cohort: Cohort
    covariates: list[str]
    usable: dict[str, int]
    pathways: Cohort | None = None
    notes: list[str] = field(default_factory=list)
    pathway_strata: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None


@dataclass
class StudyPlan:
    """What :func:`run_study` would do with a validated study."""

    config: StudyConfig
    cohorts: list[CohortPlan]
    mediators: dict[str, pd.DataFrame] = field(default_factory=dict)  # cohort name → mediator table

    def describe(self) -> str:
        """A readable, multi-line account of the data and the analyses that would run."""
        cfg = self.config
        ref = ", ".join(f"{k}={v}" for k, v in cfg.reference.items())
        lines = [
            f"Study {cfg.study!r}: {len(self.cohorts)} cohort(s), {len(cfg.phenotypes)} phenotype(s), "
            f"covariates {', '.join(cfg.covariates) or 'none'}{f' (reference {ref})' if ref else ''}"
            + (f", random effects {', '.join(cfg.random_effects)}" if cfg.random_effects else ""),
        ]
        for plan in self.cohorts:
            c = plan.cohort
            usable = _usable_text(plan.usable)
            path = f"; {plan.pathways.n_features} pathways" if plan.pathways is not None else ""
            lines.append(
                f"  {plan.name}: {c.n_samples} samples × {c.n_features} features ({c.value_type}){path}"
            )
            lines.append(f"    complete samples per phenotype: {usable}")
            lines.extend(f"    note: {n}" for n in plan.notes)
        options = ", ".join(f"{k}={v}" for k, v in cfg.association.options().items())
        lines.append("Would run:")
        model = f"feature {cfg.formula}" if cfg.formula else "feature ~ phenotype + covariates"
        lines.append(
            f"  associations: per cohort and phenotype, {model} "
            f"(preset {cfg.association.preset}{'; ' + options if options else ''}; rank {cfg.rank or 'as given'}); "
            f"hits at q < {cfg.fdr.cohort}"
        )
        if cfg.diversity is not None:
            d = cfg.diversity
            lines.append(
                f"  diversity: alpha {', '.join(d.alpha)} vs each phenotype; PERMANOVA and PCoA on "
                f"{', '.join(d.beta)} ({d.permutations} permutations, seed {d.seed})"
            )
        if len(self.cohorts) > 1:
            lines.append(
                f"  meta-analysis: {cfg.meta_analysis.method} ({cfg.meta_analysis.test} test) across "
                f"{len(self.cohorts)} cohorts per phenotype; hits at q < {cfg.fdr.meta}"
            )
        with_pathways = [p.name for p in self.cohorts if p.pathways is not None]
        if with_pathways:
            lines.append(
                f"  pathways: the same associations (and meta-analysis) for {', '.join(with_pathways)}"
            )
        lines.extend(describe_strata(cfg))
        if cfg.prediction is not None:
            p = cfg.prediction
            external = " + leave-one-cohort-out" if p.external and len(self.cohorts) > 1 else ""
            lines.append(
                f"  prediction: {p.outcome} from covariates / microbiome / both ({', '.join(p.learners)}; "
                f"{p.folds} folds × {p.repeats} repeats, nested{external})"
            )
        if self.mediators:
            lines.append(
                f"  mediation: every feature × mediator to {cfg.mediation.outcome} ({cfg.mediation.test}) for "
                f"{', '.join(self.mediators)}"
            )
        if (spec := cfg.survival) is not None:
            model = "logistic" if spec.outcome_type == "binary" else f"Cox, time {spec.time}" + (f", entry {spec.entry}" if spec.entry else "")
            lines.append(f"  survival: {spec.event} ~ each feature (per SD) + covariates ({model}), per cohort then pooled")
        if cfg.report:
            lines.append("  report: report.html with figures")
        return "\n".join(lines)


def _usable_text(usable: dict[str, int]) -> str:
    """Complete samples per phenotype, short: one number when all agree, a range when there are many."""
    counts = set(usable.values())
    if len(counts) == 1:
        return f"{counts.pop()} for each of the {len(usable)} phenotype(s)"
    if len(usable) <= 6:
        return ", ".join(f"{p} {n}" for p, n in usable.items())
    fewest = min(usable, key=usable.get)
    return f"{min(counts)}–{max(counts)} (fewest: {fewest})"


def validate_study(cfg: StudyConfig) -> StudyPlan:
    """Check every file, id and column of ``cfg``; return the plan, or raise a one-line :class:`InputError`."""
    from osteobiome.io import read_metadata

    _check_reference_keys(cfg)
    _check_association_options(cfg)
    plans = []
    for i, spec in enumerate(cfg.cohorts):
        for key in ("features", "metadata", "taxonomy", "pathways", "mediators", "truth"):
            path = getattr(spec, key)
            if path is not None and not Path(path).is_file():
                what = "is a folder, not a file" if Path(path).is_dir() else "not found"
                raise InputError(
                    f"{cfg.where('cohorts', i, key)}: {path} {what}; paths are relative to the study file."
                )
        where = f"{cfg.where('cohorts', i)} ({spec.name})"
        try:
            metadata = read_metadata(spec.metadata)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        _check_columns(cfg, spec.name, spec.metadata, metadata)
        check_prediction(cfg, {spec.name: (spec.metadata, metadata)})
        notes: list[str] = []
        try:
            cohort = _load(
                spec.features, metadata, spec.taxonomy, spec.name, spec.samples_as, cfg.rank, notes
            )
            pathways, strata = None, None
            if spec.pathways is not None:
                pathways, strata = _load_pathways(spec.pathways, metadata, f"{spec.name} pathways")
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        plan = _cohort_plan(cfg, spec.name, cohort, pathways, notes, strata)
        if spec.truth is not None:
            plan.truth = _read_truth(spec.truth, cfg.where("cohorts", i, "truth"))
        plans.append(plan)
        _check_models(cfg, plan)
    _check_diversity(cfg, plans)
    mediators = load_mediators(cfg, {p.name: p.cohort.metadata for p in plans})
    return StudyPlan(cfg, plans, mediators)


def _load(
    path: Path,
    metadata: pd.DataFrame,
    taxonomy: Path | None,
    name: str,
    samples_as: str | None,
    rank: str | None,
    notes: list[str],
) -> Cohort:
    """Read one table and match it to the metadata; collapse to ``rank`` when a taxonomy is known.

    A table without taxonomy is taken to be at ``rank`` already (e.g. a genus table), with a note.
    """
    from osteobiome.io import load_cohort, read_features

    data = read_features(path, samples_as=samples_as, sample_ids=metadata.index, rank=rank)
    known = taxonomy is not None or data.taxonomy is not None or data.format == "metaphlan"
    if rank and not known:
        notes.append(
            f"{Path(path).name} has no taxonomy; its features are taken to be at rank {rank!r} as given"
        )
    return load_cohort(data, metadata, taxonomy, name=name, rank=rank if known else None)


def _load_pathways(path: Path, metadata: pd.DataFrame, name: str) -> tuple[Cohort, pd.DataFrame | None]:
    """A pathway table matched to the metadata, with its HUMAnN stratified rows (row names × samples) if any."""
    from osteobiome.io import load_cohort, read_features

    data = read_features(path, sample_ids=metadata.index)
    cohort = load_cohort(data, metadata, name=name)
    strata = data.extra.get("stratified")
    if not isinstance(strata, pd.DataFrame) or strata.shape[1] == 0:
        return cohort, None
    return cohort, strata.loc[list(cohort.samples)].T


def _check_reference_keys(cfg: StudyConfig) -> None:
    modelled = [*cfg.phenotypes, *cfg.covariates, *cfg.strata]
    for var in cfg.reference:
        if var not in modelled:
            raise InputError(
                f"{cfg.where('reference', var)}: {var!r} is neither a phenotype nor a covariate"
                f"{suggest(var, modelled)}; a reference level applies to a variable of the model."
            )


def _check_association_options(cfg: StudyConfig) -> None:
    """The preset and every association option are known to the engine (when it is installed)."""
    try:
        cfg.association.resolved()
    except InputError as exc:
        raise InputError(f"{cfg.where('association')}: {exc}") from None


def _check_diversity(cfg: StudyConfig, plans: list[CohortPlan]) -> None:
    """Alpha indices and beta distances are known, need no tree (the study file takes none), and Chao1 gets counts."""
    if cfg.diversity is None:
        return
    from osteobiome.diversity.alpha import alpha_metric
    from osteobiome.diversity.beta import beta_metric

    relative = [p.name for p in plans if p.cohort.value_type != "counts"]
    for kind, known in (("alpha", alpha_metric), ("beta", beta_metric)):
        for i, metric in enumerate(getattr(cfg.diversity, kind)):
            try:
                name = known(metric)
            except InputError as exc:
                raise InputError(f"{cfg.where('diversity', kind, i)}: {exc}") from None
            _no_tree_needed(cfg, ("diversity", kind, i), name)
            if name == "chao1" and relative:
                raise InputError(
                    f"{cfg.where('diversity', kind, i)}: Chao1 needs read counts, but cohort {relative[0]} holds "
                    "relative abundances; use observed, shannon, simpson or pielou."
                )


def _no_tree_needed(cfg: StudyConfig, key: tuple[str, str, int], name: str) -> None:
    if name in PHYLOGENETIC:
        raise InputError(
            f"{cfg.where(*key)}: {name} needs a phylogenetic tree, which the study file does not take; use "
            "`osteobiome diversity --tree` for it, or a non-phylogenetic index here."
        )


def _check_models(cfg: StudyConfig, plan: CohortPlan) -> None:
    """What the associations of ``run`` would refuse for this cohort (design, median comparison), per
    phenotype, found now (:func:`osteobiome.stats.fittable.check_model`); the blocked path has its own checks."""
    from osteobiome.stats.fittable import check_model
    from osteobiome.study._parts import reference_for

    options = cfg.association.resolved().fitted(bool(cfg.random_effects))
    cohort = plan.cohort
    for j, phenotype in enumerate(cfg.phenotypes):
        fixed = [phenotype, *plan.covariates]
        try:
            check_model(
                cohort.X, cohort.metadata, fixed, list(cfg.random_effects), reference_for(cfg, fixed), options,
            )
        except InputError as exc:
            raise InputError(f"{cfg.where('phenotypes', j)} in cohort {plan.name}: {exc}") from None


def _check_columns(cfg: StudyConfig, name: str, path: Path, metadata: pd.DataFrame) -> None:
    """Every phenotype, covariate and random effect is a column of this cohort's metadata."""
    columns = [str(c) for c in metadata.columns]
    for var in [*cfg.covariates] if cfg.formula else []:
        if var not in columns:
            raise InputError(
                f"{cfg.where('formula')}: {var!r} is not a column of cohort {name}'s metadata "
                f"({Path(path).name}){suggest(var, columns)}; fix the formula or add the column."
            )
    check_strata_columns(cfg, name, metadata)
    for key in ("phenotypes", "covariates", "random_effects"):
        for j, var in enumerate(getattr(cfg, key)):
            if var not in columns:
                kind = key.rstrip("s").replace("_", " ")
                raise InputError(
                    f"{cfg.where(key, j)}: {kind} {var!r} is not a column of cohort {name}'s metadata "
                    f"({Path(path).name}){suggest(var, columns)}; fix the name in the study file or add the column."
                )
    spec = cfg.survival
    outcome = {} if spec is None else {"event": spec.event, "time": spec.time, "entry": spec.entry}
    for key, var in outcome.items():
        if var is not None and var not in columns:
            raise InputError(
                f"{cfg.where('survival', key)}: {var!r} is not a column of cohort {name}'s metadata "
                f"({Path(path).name}){suggest(var, columns)}; fix the name in the study file or add the column."
            )


def _cohort_plan(
    cfg: StudyConfig,
    name: str,
    cohort: Cohort,
    pathways: Cohort | None,
    notes: list[str],
    strata: pd.DataFrame | None = None,
) -> CohortPlan:
    """Covariates usable in this cohort (constant ones dropped with a note) and complete samples per phenotype."""
    meta = cohort.metadata
    covariates = []
    for var in cfg.covariates:
        values = meta[var].dropna()
        if values.nunique() <= 1:
            level = f" (all {values.iloc[0]!r})" if len(values) else " (all missing)"
            note = f"covariate {var!r} is constant in cohort {name}{level}; left out of its models"
            notes.append(note)
            warnings.warn(f"{cfg.where('formula' if cfg.formula else 'covariates')}: {note}.", stacklevel=3)
            continue
        covariates.append(var)
    for var, level in cfg.reference.items():
        if var in covariates or var in cfg.phenotypes:
            levels = meta[var].dropna().astype(str).unique()
            if level not in levels:
                raise InputError(
                    f"{cfg.where('reference', var)}: level {level!r} of {var!r} does not occur in cohort {name} "
                    f"(levels {preview(sorted(levels))}){suggest(level, levels)}."
                )
    usable = {}
    n_params = 2 + len(covariates)
    for j, phenotype in enumerate(cfg.phenotypes):
        n = int(meta[[phenotype, *covariates, *cfg.random_effects]].notna().all(axis=1).sum())
        if n <= n_params:
            raise InputError(
                f"{cfg.where('phenotypes', j)}: only {n} sample(s) of cohort {name} have {phenotype!r} and every "
                f"covariate ({', '.join(covariates) or 'none'}) with a feature profile; the model needs more than "
                f"{n_params}. Check the sample ids and missing values."
            )
        usable[phenotype] = n
    return CohortPlan(name, cohort, covariates, usable, pathways, notes, strata)


def _read_truth(path: Path, where: str) -> pd.DataFrame:
    """The planted associations of a simulated cohort: ``feature phenotype log2fc`` (extra columns kept)."""
    try:
        truth = pd.read_csv(path, sep=None, engine="python")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: {path} could not be read as a table ({exc}); give a TSV file.") from None
    missing = [c for c in ("feature", "phenotype", "log2fc") if c not in truth.columns]
    if missing:
        raise InputError(
            f"{where}: {path} lacks column(s) {', '.join(missing)}; a truth table has feature, phenotype, log2fc."
        )
    return truth
