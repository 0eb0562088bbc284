"""``results/README.md``: every file of a finished results folder, what it holds and what its columns mean.

The README is written last, from the files actually present, so it never lists a file the run did not
write; each TSV's columns are read from its header and explained from :data:`COLUMNS`.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

#: (pattern relative to the results folder, description); the first match describes a file.
FILES: tuple[tuple[str, str], ...] = (
    ("README.md", "This file."),
    (".osteobiome-output", "Marks this folder as an osteobiome result, which a later run may replace (any "
     "other folder needs --overwrite)."),
    ("report.html", "The report: one self-contained HTML file (figures inline, works offline)."),
    ("run.json", "What was run: the configuration, resolved options, software versions, seeds, SHA-256 of "
     "every input and timings."),
    ("run.log", "The run's log: validation summary, each step with its time, and every warning."),
    ("inputs/*", "The demo's simulated inputs (feature tables, metadata, taxonomy, planted truth) and its "
     "study file."),
    ("cohorts/*/associations.tsv", "Per cohort, one row per feature × phenotype: the phenotype's coefficient "
     "in `feature ~ phenotype + covariates` (MaAsLin2 columns)."),
    ("cohorts/*/significant_results.tsv", "The rows of `associations.tsv` with q below the study's cohort "
     "threshold (`fdr.cohort`), as MaAsLin2's `significant_results.tsv`."),
    ("cohorts/*/all_results.tsv", "Every coefficient of every model, covariates included (MaAsLin2's "
     "`all_results.tsv`; `model` names the phenotype whose model the row comes from), sorted by q."),
    ("cohorts/*/diversity/alpha.tsv", "Alpha-diversity indices per sample (Shannon in nats)."),
    ("cohorts/*/diversity/alpha_associations.tsv", "Each alpha index ~ phenotype + covariates (associate's "
     "columns; `feature` is the index)."),
    ("cohorts/*/diversity/permanova_*.tsv", "PERMANOVA (vegan `adonis2`, sequential sums of squares, "
     "covariates first) of the distance on covariates + phenotype, stacked over phenotypes."),
    ("cohorts/*/diversity/pcoa_*_explained.tsv", "Proportion of variance of each PCoA axis (eigenvalue over "
     "the sum of positive eigenvalues)."),
    ("cohorts/*/diversity/pcoa_*.tsv", "PCoA coordinates of each sample (first 10 axes)."),
    ("meta/meta_results.tsv", "Per feature × phenotype, the random-effects meta-analysis of the cohorts' "
     "coefficients (MMUPHin `lm_meta` / metafor `rma.uni` columns) with replication checks."),
    ("pathways/cohorts/*/associations.tsv", "As `cohorts/*/associations.tsv`, for the pathway tables."),
    ("pathways/meta/meta_results.tsv", "As `meta/meta_results.tsv`, for the pathway tables."),
    ("mechanisms/sets.tsv", "Set-level (trait / mechanism group) tests: do a set's features move with the "
     "phenotype more than the rest (CAMERA; pooled across cohorts by weighted Stouffer)."),
    ("mechanisms/sets_by_cohort.tsv", "The set-level tests per cohort."),
    ("mechanisms/annotated_hits.tsv", "Significant features with their curated traits and literature "
     "references."),
    ("mechanisms/contributions.tsv", "Which genera carry the top pathways (HUMAnN stratified rows)."),
    ("meta/meta_regression.tsv", "Meta-regression of each feature's cohort coefficients on the cohort-level "
     "moderators (metafor `rma(mods = ...)`): one row per feature, phenotype and model term."),
    ("mediation/*/mediation.tsv", "Per cohort, each genus → mediator → phenotype pair: the exposure→mediator "
     "(alpha) and mediator→outcome (beta) paths, the indirect effect with its interval and the composite-null "
     "test of mediation."),
    ("pooled/associations.tsv", "The pooled, batch-corrected analysis of all cohorts' samples together "
     "(associate's columns)."),
    ("pooled/batch_permanova.tsv", "PERMANOVA R² of the batch before and after batch correction."),
    ("pooled/features_batch_corrected.tsv", "The pooled feature table after batch correction (samples × "
     "features)."),
    ("planted/planted_vs_found.tsv", "Simulated studies: each planted association next to the estimate and "
     "whether it was found."),
    ("planted/summary.tsv", "Simulated studies: planted, recovered, hits, hits not planted and the expected "
     "number of false hits (q × hits) per analysis."),
    ("prediction/performance.tsv", "Prediction: AUC (binary outcome) or R² and RMSE (continuous) of each model "
     "× learner, per cohort (nested cross-validation) and held-out cohort (external), with 95% CIs."),
    ("prediction/comparison.tsv", "Prediction: microbiome + covariates minus covariates (ΔAUC by DeLong; ΔR², "
     "ΔRMSE by paired bootstrap), with 95% CI and p."),
    ("prediction/calibration.tsv", "Prediction: calibration slope and intercept, Brier score."),
    ("prediction/importance.tsv", "Prediction: permutation importance of each feature of the microbiome + "
     "covariates model over the outer folds."),
    ("prediction/predictions.tsv", "Prediction: out-of-fold (or external) prediction of every sample."),
    ("prediction/decision.tsv", "Prediction: net benefit of each model by threshold probability (decision curve)."),
    ("survival/cohorts/*/survival_results.tsv", "Per cohort, the outcome (`survival:` event) modelled on each "
     "genus and community index per SD, adjusted for the covariates: Cox (Efron ties) or logistic."),
    ("survival/meta_results.tsv", "Per genus, the random-effects meta-analysis of the cohorts' log hazard (odds) "
     "ratios (columns as `meta/meta_results.tsv`; `exposure` is the event column)."),
    ("survival/km_top_genus.tsv", "Kaplan–Meier curves of the outcome by tertile of the top genus, per cohort."),
    ("figures/*.svg", "The report's figures as vector graphics (for papers)."),
    ("figures/*.png", "The report's figures as PNG (150 dpi)."),
)

#: Tables whose columns are features (samples × features): described as a whole, not column by column.
MATRICES: tuple[str, ...] = ("pooled/features_batch_corrected.tsv",)

#: Column → meaning, for every column the study's tables write.
COLUMNS: dict[str, str] = {
    "feature": "the genus (or pathway, or alpha index)",
    "metadata": "the variable of the coefficient (MaAsLin2 name)",
    "value": "the level of a categorical variable, or the variable's name when numeric (MaAsLin2)",
    "coef": "coefficient: change of the transformed abundance (log2 for LOG) per SD of a numeric variable, "
    "or vs the reference level; pooled estimate in meta tables",
    "stderr": "standard error of `coef`",
    "N": "samples in the cohort's table (MaAsLin2 counts all samples)",
    "N.not.0": "samples where the feature is non-zero",
    "pval": "p-value (two-part models: the joint p of the two parts)",
    "qval": "Benjamini–Hochberg q-value (scope as in the Methods: per phenotype, or the whole study)",
    "N.used": "samples the model used (complete cases)",
    "df": "residual degrees of freedom of the abundance model",
    "log10.pval": "log10 of `pval`, exact where `pval` underflows",
    "pval.abundance": "p-value of the abundance part (samples where the feature is present)",
    "coef.prevalence": "log odds ratio of presence per SD (prevalence part of the two-part model)",
    "stderr.prevalence": "standard error of `coef.prevalence`",
    "pval.prevalence": "p-value of the prevalence part",
    "N.present": "samples where the feature is present (abundance part)",
    "model": "the phenotype whose model the row comes from (prediction/: covariates, microbiome or "
    "microbiome+covariates)",
    "n": "samples used",
    "validation": "cross-validation (nested, within the cohort) or external (trained on the other cohorts)",
    "learner": "penalized (ridge, covariates unpenalized) or forest (random forest)",
    "metric": "the performance measure (AUC, R2, RMSE)",
    "ci.lower": "lower limit of the 95% confidence interval",
    "ci.upper": "upper limit of the 95% confidence interval",
    "comparison": "the two models compared (first minus second)",
    "slope": "calibration slope (1: predictions spread as the outcome)",
    "intercept": "calibration intercept / in the large (0: right on average)",
    "brier": "Brier score, mean (outcome − probability)²",
    "importance": "drop in AUC / R² when the feature is permuted in the held-out fold (mean over outer folds)",
    "importance.sd": "SD of the importance over outer folds",
    "folds": "outer folds whose prevalence filter kept the feature",
    "predicted": "predicted probability (binary) or value (continuous), out of fold, mean over repeats",
    "threshold": "threshold probability of the decision curve",
    "net_benefit": "true positives minus false positives weighted by threshold / (1 − threshold), per sample",
    "note": "why a feature could not be tested, when it could not",
    "exposure": "the phenotype (meta tables)",
    "k": "cohorts pooled",
    "tau2": "between-cohort variance τ²",
    "stderr.tau2": "standard error of τ²",
    "pval.tau2": "Cochran's Q test p-value of heterogeneity",
    "I2": "I² (%): share of variation due to heterogeneity",
    "H2": "H²: total over sampling variability",
    "pval.bonf": "Bonferroni-adjusted p-value",
    "qval.fdr": "Benjamini–Hochberg q-value of the pooled estimate",
    "Q": "Cochran's Q",
    "ci.lb": "lower 95% confidence limit",
    "ci.ub": "upper 95% confidence limit",
    "method": "τ² estimator",
    "converged": "whether the τ² estimator converged",
    "single_cohort": "only one cohort had the feature",
    "n_same_sign": "cohorts whose coefficient has the pooled sign",
    "sign_agreement": "share of cohorts with the pooled sign",
    "n_significant": "cohorts with q below the cohort threshold",
    "loo_max_rel_change": "largest relative change of the pooled estimate when one cohort is left out",
    "loo_max_pval": "largest pooled p-value when one cohort is left out",
    "loo_robust": "still significant whichever cohort is left out",
    "loo_flips": "cohorts whose removal flips the sign",
    "phenotype": "the phenotype",
    "source": "which analysis the hit comes from (cohort or meta-analysis)",
    "q": "q-value of the hit",
    "entity_type": "genus or pathway",
    "trait": "curated trait or mechanism group",
    "direction": "expected or observed direction (prediction/: sign of the feature's correlation with the "
    "prediction)",
    "reference": "literature (DOI / PMID)",
    "set": "trait or mechanism group",
    "effect": "mean coefficient of the set's features minus the rest (per SD of the phenotype)",
    "statistic": "the set test's statistic",
    "n_features": "features of the set present in the table",
    "correlation": "mean residual correlation within the set (CAMERA)",
    "vif": "variance inflation factor of the set (CAMERA)",
    "cohort": "the cohort",
    "sample": "the sample id",
    "term": "the model term (PERMANOVA)",
    "Df": "degrees of freedom",
    "SumOfSqs": "sum of squares",
    "R2": "R²: share of variation explained (PERMANOVA: of the total sum of squares; meta-regression: of τ²)",
    "estimate": "the meta-regression coefficient (prediction/: the performance measure or difference, mean over "
    "repeats of the outer folds)",
    "se": "its standard error",
    "zval": "its test statistic (z, or t with Knapp–Hartung)",
    "QE": "residual heterogeneity statistic QE",
    "QEp": "p-value of QE",
    "QM": "omnibus test statistic of the moderators",
    "QMp": "p-value of QM",
    "F": "pseudo-F",
    "proportion_explained": "proportion of variance of the axis",
    "analysis": "a cohort, or the meta-analysis",
    "planted_log2fc": "the planted log2 fold change per SD",
    "found": "q below the analysis' threshold",
    "planted": "planted associations",
    "recovered": "planted associations found",
    "hits": "associations at q below the threshold",
    "hits_not_planted": "hits that were not planted (false positives)",
    "expected_false_hits": "q × hits: the number of false hits BH allows on average",
    "log2fc": "the planted log2 fold change per SD",
    "pathway": "the pathway",
    "selected": "how the pathways were chosen (prediction/: share of outer folds that kept the feature)",
    "observed": "observed features (richness) in the sample (prediction/: the observed outcome, 0/1 or value)",
    "shannon": "Shannon index (nats)",
    "simpson": "Gini–Simpson index (1 − Σp²)",
    "chao1": "Chao1 richness estimate",
    "pielou": "Pielou's evenness (Shannon / log richness)",
    "faith_pd": "Faith's phylogenetic diversity",
    "pval.joint": "joint p-value of the pooled abundance and prevalence parts (the per-cohort rule)",
    "qval.joint": "Benjamini–Hochberg q-value of `pval.joint`",
    "mediator": "the mediator (metabolite, SCFA, serum marker)",
    "alpha": "exposure → mediator coefficient (per SD of each)",
    "alpha.se": "standard error of `alpha`",
    "pval.alpha": "p-value of `alpha`",
    "beta": "mediator → outcome coefficient, adjusted for the exposure (per SD)",
    "beta.se": "standard error of `beta`",
    "pval.beta": "p-value of `beta`",
    "indirect": "indirect effect alpha × beta (per SD)",
    "indirect.lower": "lower limit of the 95% interval of the indirect effect",
    "indirect.upper": "upper limit of the 95% interval of the indirect effect",
    "ci.method": "how the interval was computed (bootstrap or delta method)",
    "prop.mediated": "indirect / total effect",
    "direct": "direct effect of the exposure on the outcome (adjusted for the mediator)",
    "total": "total effect of the exposure on the outcome",
    "mechanism": "the mediator's mechanism group (SCFA, bile acid, tryptophan/serotonin)",
    "knowledge": "genus traits of the knowledge table linked to the mechanism",
    "HR": "hazard ratio per SD of the exposure, exp(`coef`)",
    "HR.lower": "lower 95% confidence limit of `HR`",
    "HR.upper": "upper 95% confidence limit of `HR`",
    "OR": "odds ratio per SD of the exposure, exp(`coef`)",
    "OR.lower": "lower 95% confidence limit of `OR`",
    "OR.upper": "upper 95% confidence limit of `OR`",
    "N.events": "events (fractures) or cases among the samples used",
    "kind": "feature (a genus) or community (alpha index, Aitchison principal coordinate); q-values per kind "
    "(prediction/: taxon, pathway, alpha diversity or covariate)",
    "ph.chisq": "proportional-hazards test statistic (scaled Schoenfeld residuals, R's cox.zph, 1 df)",
    "ph.pval": "p-value of the proportional-hazards test",
    "ph.flag": "proportional hazards doubtful (ph.pval < 0.05)",
    "time": "time (event or censoring scale of the outcome)",
    "n.risk": "samples at risk",
    "n.event": "events at that time",
    "surv": "Kaplan–Meier probability of no event by that time",
    "group": "tertile of the genus",
}
_PREFIXES = {
    "weight_": "the cohort's weight in the pooled estimate (%)",
    "effect_": "the set effect in that cohort",
    "pval_": "the set p-value in that cohort",
    "PC": "coordinate on that principal axis",
}


def describe_column(name: str) -> str | None:
    """What a column means (``None`` when unknown); ``X.prevalence`` is ``X`` of the two-part model's
    prevalence part."""
    if name in COLUMNS:
        return COLUMNS[name]
    base, dot, part = name.rpartition(".")
    if dot and part == "prevalence" and (text := describe_column(base)):
        return f"{text}, prevalence part (log odds ratio of presence)"
    if name.startswith("mods."):
        rest = name[len("mods."):]
        term, dot, kind = rest.rpartition(".")
        if dot and kind in ("coef", "pval"):
            what = "coefficient" if kind == "coef" else "p-value"
            return f"meta-regression {what} of the moderator {term}"
        if text := describe_column(rest):
            return f"meta-regression on the cohort moderators: {text}"
    for prefix, text in _PREFIXES.items():
        if name.startswith(prefix):
            return f"{text} ({name[len(prefix):]})"
    return None


def describe_file(relative: str) -> str | None:
    """What a results file holds (``None`` when no pattern matches)."""
    for pattern, text in FILES:
        if fnmatch.fnmatch(relative, pattern):
            return text
    return None


def is_matrix(relative: str) -> bool:
    """Whether a results file is a samples × features matrix (its columns are features)."""
    return any(fnmatch.fnmatch(relative, pattern) for pattern in MATRICES)


def results_readme(folder: Path, title: str) -> str:
    """The README of the results ``folder``: each file with its description and, for TSVs, its columns."""
    lines = [f"# Results: {title}", "", "Written by osteobiome. Every file of this folder, what it holds and "
             "what its columns mean. Missing values are written `NA`.", ""]
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith("inputs/")] + (["inputs/*"] if any(
        f.startswith("inputs/") for f in files) else [])
    for relative in [*files, "README.md"] if "README.md" not in files else files:
        text = describe_file(relative) or "(not described)"
        lines.append(f"- `{relative}`: {text}")
        path = folder / relative
        if relative.endswith(".tsv") and path.is_file() and not is_matrix(relative):
            header = path.open(encoding="utf-8").readline().rstrip("\n").split("\t")
            columns = [c for c in header if c]
            for column in dict.fromkeys(columns):
                lines.append(f"  - `{column}`: {describe_column(column) or '(not described)'}")
    lines.append("")
    return "\n".join(lines)
