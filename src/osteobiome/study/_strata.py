"""Stratified analyses (``strata: [sex]`` in the study file): each phenotype's model within every level of a
variable, side by side, and two tests of heterogeneity between the levels.

Per cohort, stratum variable ``s`` and level ``L`` with at least ``min_stratum_size`` samples, the cohort's model
of each phenotype runs on the samples with ``s = L``; ``s`` is dropped from the covariates (with a ``formula``,
every term containing ``s``) and a covariate constant within the stratum is dropped there, with a note. When the
preset standardizes, numeric model variables are z-scored once over the whole cohort (R's ``scale``, as
MaAsLin2) and the strata are fitted on that scale, so every stratum's coefficient is per cohort SD — the scale
of the interaction model. Rows of ``strata_results.tsv``: the phenotype's coefficient per stratum (``feature
phenotype value stratified_by stratum coef stderr pval qval N N.not.0 N.used``; q-values as the preset
computes them within each stratum's model).

Heterogeneity (``heterogeneity.tsv``, one row per feature × phenotype, on the strata analysed, at least two):

(a) Cochran's ``Q = Σ w_i (β_i − β̄)²`` of the stratum coefficients, fixed-effect weights ``w_i = 1/se_i²``,
    ``p = P(χ²_{k−1} > Q)`` (:func:`osteobiome.meta.pool` with method FE; features estimated in fewer than two
    strata have none);
(b) the interaction test of the whole-cohort model ``feature ~ phenotype * s + covariates`` (the study's
    formula plus ``phenotype:s``) on the samples of the strata analysed: for two levels the interaction
    coefficient's p; for more, the F test of all interaction columns (``group``, as R's ``anova``) when the
    preset is the linear model with classical variance, else the Bonferroni-adjusted smallest p of the level
    rows, ``min(1, m · min p)`` (column ``interaction_test`` says which).

q-values: BH over features per phenotype and variable, for each test. A level that is too small, a phenotype or
term constant within a stratum, or a model that cannot be fitted there is skipped with a note (a warning naming
cohort, variable and level), never an error.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from osteobiome.association._omnibus import GROUP_VALUE, check_supported
from osteobiome.association.options import AssociationOptions
from osteobiome.association.pipeline import run_association
from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.cohort import Cohort
from osteobiome.meta import pool
from osteobiome.stats.multitest import adjust
from osteobiome.stats.preprocess import standardize
from osteobiome.study._formula import PHENOTYPE, Term, cohort_formula, formula_terms, interaction_labels
from osteobiome.study.config import StudyConfig

MAX_LEVELS = 10
RESULT_COLUMNS = [
    "feature",
    "phenotype",
    "value",
    "stratified_by",
    "stratum",
    "coef",
    "stderr",
    "pval",
    "qval",
    "N",
    "N.not.0",
    "N.used",
]
HETEROGENEITY_COLUMNS = [
    "feature",
    "phenotype",
    "value",
    "stratified_by",
    "strata",
    "k.strata",
    "Q",
    "Q.df",
    "pval.Q",
    "qval.Q",
    "interaction",
    "coef.interaction",
    "stderr.interaction",
    "pval.interaction",
    "qval.interaction",
    "interaction_test",
    "N.used",
]
F_TEST = "F test of all interaction columns"
SINGLE = "interaction coefficient"


@dataclass
class StrataTables:
    """One cohort's stratified results: per-stratum rows and heterogeneity tests (what was skipped is warned)."""

    results: pd.DataFrame
    heterogeneity: pd.DataFrame


def check_strata_columns(cfg: StudyConfig, name: str, metadata: pd.DataFrame) -> None:
    """Every stratum variable is a column of the cohort's metadata with at most :data:`MAX_LEVELS` levels."""
    columns = [str(c) for c in metadata.columns]
    for i, var in enumerate(cfg.strata):
        if var not in columns:
            raise InputError(
                f"{cfg.where('strata', i)}: stratum variable {var!r} is not a column of cohort {name}'s metadata"
                f"{suggest(var, columns)}; fix the name in the study file or add the column."
            )
        levels = metadata[var].nunique(dropna=True)
        if levels > MAX_LEVELS:
            raise InputError(
                f"{cfg.where('strata', i)}: {var!r} has {levels} distinct values in cohort {name}; stratify by a "
                f"categorical variable with at most {MAX_LEVELS} levels (e.g. tertiles of a numeric one)."
            )


def describe_strata(cfg: StudyConfig) -> list[str]:
    """The plan's line for the stratified analyses (none without ``strata``)."""
    if not cfg.strata:
        return []
    return [
        f"  strata: per cohort, the models within each level of {', '.join(cfg.strata)} (levels with fewer than "
        f"{cfg.min_stratum_size} samples skipped); heterogeneity by Cochran's Q and the phenotype × stratum interaction"
    ]


def stratified(cohort: Cohort, cfg: StudyConfig, covariates: Sequence[str], name: str) -> StrataTables:
    """The stratified analyses of one cohort (see the module docstring); what is skipped is raised as a warning."""
    options = cfg.association.resolved()
    terms = formula_terms(cfg.formula) if cfg.formula else None
    model_vars = [v for v in [*cfg.phenotypes, *covariates] if v not in cfg.strata]
    metadata = _scaled(cohort.metadata, model_vars) if options.standardize else cohort.metadata
    options = dataclasses.replace(options, standardize=False)
    rows, tests = [], []

    def note(text: str) -> None:
        warnings.warn(f"cohort {name}, strata: {text}.", stacklevel=2)

    for var in cfg.strata:
        analysed = []
        for level in _levels(metadata[var]):
            sub = metadata[metadata[var] == level]
            where = f"{var} = {level}"
            if len(sub) < cfg.min_stratum_size:
                note(
                    f"{where}: {len(sub)} sample(s), fewer than min_stratum_size {cfg.min_stratum_size}; stratum skipped"
                )
                continue
            kept = [c for c in covariates if c != var]
            constant = [c for c in kept if sub[c].nunique(dropna=True) <= 1]
            if constant:
                note(
                    f"{where}: covariate(s) {', '.join(constant)} constant in the stratum; left out of its models"
                )
                kept = [c for c in kept if c not in constant]
            fitted, part = False, cohort.subset(samples=sub.index, reason=f"stratum {where}")
            for phenotype in cfg.phenotypes:
                try:
                    result = _fit(part, sub, cfg, options, phenotype, kept, terms)
                except InputError as exc:
                    note(f"{where}, {phenotype}: not fitted in the stratum ({str(exc).rstrip('.')}); skipped")
                    continue
                main = result[result["metadata"] == phenotype]
                if not len(main):
                    note(f"{where}, {phenotype}: no feature could be fitted in the stratum; skipped")
                    continue
                rows.append(main.assign(phenotype=phenotype, stratified_by=var, stratum=str(level)))
                fitted = True
            if fitted:
                analysed.append(level)
        if len(analysed) < 2:
            note(
                f"{var}: {len(analysed)} stratum analysed ({preview([str(a) for a in analysed]) or 'none'}); "
                "the heterogeneity tests need two or more"
            )
            continue
        for phenotype in cfg.phenotypes:
            per_stratum = [
                r for r in rows if (r["stratified_by"].iat[0], r["phenotype"].iat[0]) == (var, phenotype)
            ]
            table = pd.concat(per_stratum, ignore_index=True) if per_stratum else None
            if table is None or table["stratum"].nunique() < 2:
                continue
            q_test = _cochran_q(table)
            try:
                interaction = _interaction(
                    cohort, metadata, cfg, options, var, analysed, phenotype, covariates, terms
                )
            except InputError as exc:
                note(f"{var}, {phenotype}: interaction model not fitted ({str(exc).rstrip('.')})")
                interaction = pd.DataFrame(columns=["feature"])
            merged = q_test.merge(interaction, on="feature", how="outer")
            merged.insert(1, "phenotype", phenotype)
            merged.insert(2, "stratified_by", var)
            tests.append(merged)
    results = (
        pd.concat(rows, ignore_index=True)[RESULT_COLUMNS] if rows else pd.DataFrame(columns=RESULT_COLUMNS)
    )
    return StrataTables(results, _with_q(tests))


def _scaled(metadata: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """``metadata`` with the numeric, non-constant ``variables`` z-scored over all its rows."""
    numeric = [
        v
        for v in variables
        if pd.api.types.is_numeric_dtype(metadata[v])
        and not pd.api.types.is_bool_dtype(metadata[v])
        and metadata[v].nunique(dropna=True) > 1
    ]
    return standardize(metadata, numeric)


def _levels(column: pd.Series) -> list[object]:
    """The levels of a stratum variable, in category order (sorted otherwise)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [c for c in column.cat.categories if (column == c).any()]
    return sorted(column.dropna().unique().tolist(), key=str)


def _fit(
    cohort: Cohort,
    metadata: pd.DataFrame,
    cfg: StudyConfig,
    options: AssociationOptions,
    phenotype: str,
    covariates: Sequence[str],
    terms: Sequence[Term] | None,
    group: Sequence[str] = (),
    reference: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One phenotype's model (the study's formula or ``phenotype + covariates``) on ``metadata``'s samples."""
    from osteobiome.study._parts import reference_for  # parts imports this module

    fixed = [phenotype, *covariates]
    formula = cohort_formula(terms, phenotype, covariates) if terms else None
    return run_association(
        cohort,
        metadata,
        [] if formula else fixed,
        list(cfg.random_effects),
        {**(reference_for(cfg, fixed) or {}), **(reference or {})} or None,
        options,
        formula=formula,
        group=group,
    ).results


def _cochran_q(table: pd.DataFrame) -> pd.DataFrame:
    """Per feature (and phenotype level), Cochran's Q of the stratum coefficients (pool, method FE)."""
    frames = []
    for value, rows in table.groupby("value", sort=False):
        wide = rows.pivot(index="feature", columns="stratum", values=["coef", "stderr"])
        coef, se = wide["coef"].to_numpy(float), wide["stderr"].to_numpy(float)
        estimated = (np.isfinite(coef) & np.isfinite(se) & (se > 0)).sum(axis=1)
        Q, p = np.full(len(wide), np.nan), np.full(len(wide), np.nan)
        several = estimated >= 2
        if several.any():
            fe = pool(coef[several], se[several], method="FE")
            Q[several], p[several] = fe.Q, fe.Qp
        frames.append(
            pd.DataFrame(
                {
                    "feature": wide.index,
                    "value": value,
                    "strata": " | ".join(map(str, wide["coef"].columns)),
                    "k.strata": estimated,
                    "Q": Q,
                    "Q.df": np.where(several, estimated - 1, np.nan),
                    "pval.Q": p,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _interaction(
    cohort: Cohort,
    metadata: pd.DataFrame,
    cfg: StudyConfig,
    options: AssociationOptions,
    var: str,
    levels: Sequence[object],
    phenotype: str,
    covariates: Sequence[str],
    terms: Sequence[Term] | None,
) -> pd.DataFrame:
    """The phenotype × ``var`` interaction test of the whole-cohort model on the samples of ``levels``."""
    sub = metadata[metadata[var].isin(levels)].copy()
    if len(sub) < len(metadata):
        cohort = cohort.subset(samples=sub.index, reason=f"strata of {var} analysed")
    sub[var] = sub[var].astype(str)  # a stratum variable is a factor, whatever its type
    kept = [c for c in covariates if c != var]
    base: list[Term] = list(terms) if terms else [(PHENOTYPE,), *((c,) for c in kept)]
    model = [t for t in base if set(t) <= {PHENOTYPE, var, *kept}]
    model += [t for t in ((var,), (PHENOTYPE, var)) if t not in model and t[::-1] not in model]
    label = next(lab for lab in interaction_labels(model, phenotype) if var in lab.split(":"))
    reference = {
        var: cfg.reference.get(var) if cfg.reference.get(var) in map(str, levels) else str(levels[0])
    }
    f_test = len(levels) > 2 and _linear(options, cfg.random_effects)
    result = _fit(
        cohort, sub, cfg, options, phenotype, [*kept, var], model, [label] if f_test else (), reference
    )
    rows = result[result["metadata"] == label]
    if f_test:
        rows = rows[rows["value"] == GROUP_VALUE]
        return pd.DataFrame(
            {
                "feature": rows["feature"],
                "interaction": label,
                "coef.interaction": np.nan,
                "stderr.interaction": np.nan,
                "pval.interaction": rows["pval"],
                "interaction_test": F_TEST,
                "N.used": rows["N.used"],
            }
        )
    rows = rows[rows["value"] != GROUP_VALUE]
    grouped = rows.groupby("feature", sort=False)
    m = grouped["pval"].transform("size")
    single = m.eq(1)
    out = pd.DataFrame(
        {
            "feature": rows["feature"],
            "interaction": rows["value"].where(single, label),
            "coef.interaction": rows["coef"].where(single),
            "stderr.interaction": rows["stderr"].where(single),
            "pval.interaction": np.minimum(1.0, grouped["pval"].transform("min") * m),
            "interaction_test": np.where(single, SINGLE, [f"Bonferroni min of {k} level rows" for k in m]),
            "N.used": rows["N.used"],
        }
    )
    return out.drop_duplicates("feature")


def _linear(options: AssociationOptions, random: Sequence[str]) -> bool:
    """The F test of several columns applies (linear model, classical variance, no correction, no random)."""
    try:
        check_supported(options.fitted(bool(random)), random, "group")
    except InputError:
        return False
    return True


def _with_q(tests: list[pd.DataFrame]) -> pd.DataFrame:
    """The heterogeneity rows with BH q-values per phenotype × level × variable, for each test."""
    if not tests:
        return pd.DataFrame(columns=HETEROGENEITY_COLUMNS)
    table = pd.concat(tests, ignore_index=True)
    keys = [table["phenotype"], table["value"].fillna(""), table["stratified_by"]]
    for test in ("Q", "interaction"):
        table[f"qval.{test}"] = table.groupby(keys, sort=False)[f"pval.{test}"].transform(
            lambda p: adjust(p.to_numpy())
        )
    return (
        table[HETEROGENEITY_COLUMNS]
        .sort_values(["stratified_by", "phenotype", "pval.Q"], kind="stable")
        .reset_index(drop=True)
    )
