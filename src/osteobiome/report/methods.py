"""The generated Methods paragraph: what was run, in words a paper can use as is.

Built only from the run's recorded settings (``StudyResults.settings``), so it states exactly what ran.
Recognised keys: ``rank``, ``preset``, ``association`` (resolved options of ``associate``:
``normalization``, ``transform``, ``analysis_method``/``model``, ``min_prevalence``, ``min_abundance``,
``min_variance``, ``standardize``, ``correction``, ``fdr_scope``), ``covariates_by_cohort``, ``reference``,
``random_effects``, ``meta`` (``method``, ``test``), ``diversity`` (``alpha``, ``beta``, ``permutations``,
``seed``), ``pathways`` (cohort names), ``formula`` (a study formula), ``strata`` (``variables``,
``min_stratum_size``), ``mediation`` (``outcome``, ``test``, ``log``, ``n_boot``, ``seed``), ``survival``
(``event``, ``time``, ``entry``, ``covariates``, ``outcome_type``, ``community_pcs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from osteobiome.io.taxonomy import RANK_PLURAL
from osteobiome.report._strata import strata_sentence

NORMALIZATION = {
    "TSS": "total-sum scaled (relative abundances over the retained features)",
    "CLR": "centred log-ratio transformed",
    "CSS": "cumulative-sum scaled",
    "TMM": "normalized by trimmed mean of M-values",
    "NONE": "not normalized",
}
TRANSFORM = {
    "LOG": "log2-transformed (zeros replaced by half of each feature's smallest non-zero value)",
    "AST": "arcsine square-root transformed",
    "LOGIT": "logit-transformed",
    "NONE": "not further transformed",
}
MODEL = {
    "LM": "ordinary least squares with t tests on the residual degrees of freedom",
    "LMM": "linear mixed models with random intercepts (REML, Satterthwaite degrees of freedom)",
    "TWOPART": (
        "a two-part model per feature (as in MaAsLin3): a logistic model of presence (with weighted augmentation "
        "against separation) and a linear model of log2 abundance on the samples where the feature is present, "
        "the reported coefficient being the abundance part's and the p-value the joint p-value of both parts "
        "(a feature present in every sample has no presence model and is tested on its abundance alone, as in "
        "MaAsLin3)"
    ),
    "TWOPART_MIXED": (
        "a two-part mixed model per feature (as in MaAsLin3 with random effects): a logistic mixed model of "
        "presence with random intercepts, fitted by the Laplace approximation (as lme4's glmer) with weighted "
        "augmentation against separation, and a linear mixed model of log2 abundance with random intercepts on the "
        "samples where the feature is present (REML, Satterthwaite degrees of freedom), the reported coefficient "
        "being the abundance part's and the p-value the joint p-value of both parts; singular or non-converged "
        "fits are flagged in the note column, and a presence model that did not converge is left out"
    ),
}
COMPOSITIONAL = {
    "median": (
        "each abundance coefficient was tested against the median coefficient of the same variable across "
        "features (compositional correction, analytic covariance)"
    ),
    "linda": "abundance coefficients were corrected for compositional bias by the mode of their distribution (LinDA)",
}
JOINT = {
    "cauchy": (
        "the two parts' p-values were joined by a Cauchy combination test weighted by the fraction π of samples in "
        "which the feature is present (1/(2 − π) for abundance, (1 − π)/(2 − π) for presence)"
    ),
    "beta": "the two parts' p-values were joined as 1 − (1 − min p)² (MaAsLin3)",
}
DEPTH = {
    "prevalence": "log read depth was added as a covariate of the prevalence part",
    "both": "log read depth was added as a covariate of both parts",
}
CORRECTION = {
    "BH": "Benjamini–Hochberg",
    "BY": "Benjamini–Yekutieli",
    "bonferroni": "Bonferroni",
    "holm": "Holm",
}
META = {
    "REML": "random-effects meta-analysis with the restricted maximum-likelihood (REML) estimator of τ²",
    "ML": "random-effects meta-analysis with the maximum-likelihood (ML) estimator of τ²",
    "DL": "random-effects meta-analysis with the DerSimonian–Laird (DL) estimator of τ²",
    "PM": "random-effects meta-analysis with the Paule–Mandel (PM) estimator of τ²",
    "HE": "random-effects meta-analysis with the Hedges (HE) estimator of τ²",
    "SJ": "random-effects meta-analysis with the Sidik–Jonkman (SJ) estimator of τ²",
    "FE": "fixed-effect (FE, inverse-variance) meta-analysis",
}
ALPHA = {
    "shannon": "Shannon index",
    "observed": "observed richness",
    "simpson": "Simpson index",
    "chao1": "Chao1",
    "pielou": "Pielou's evenness",
    "faith_pd": "Faith's phylogenetic diversity",
}
BETA = {
    "braycurtis": "Bray–Curtis",
    "jaccard": "binary Jaccard",
    "aitchison": "Aitchison",
    "weighted_unifrac": "weighted UniFrac",
    "unweighted_unifrac": "unweighted UniFrac",
}
PERMANOVA_NOTE = "sums of squares entered sequentially with the covariates first, so the phenotype term is covariate-adjusted"


def _consortium_sentences(settings: dict) -> list[str]:
    """Two-part pooling, meta-regression and batch correction (issue 21), when they ran."""
    out = []
    assoc = settings.get("association") or {}
    if assoc.get("model") == "twopart":
        rule = (
            "a presence-weighted Cauchy combination (weight 1/(2 − π), π the pooled fraction of samples where the "
            "feature is present)"
            if assoc.get("joint") == "cauchy"
            else "MaAsLin3's rule 1 − (1 − min p)²"
        )
        out.append(
            "The prevalence (logistic) coefficients of the two-part models were pooled the same way, and the pooled "
            f"abundance and prevalence p-values were combined by {rule}, the rule of the per-cohort joint p-values."
        )
    if (settings.get("meta") or {}).get("moderators"):
        out.append(
            "Between-cohort heterogeneity was explored by mixed-effects meta-regression on cohort-level moderators "
            "(metafor's rma with mods; omnibus QM test, residual heterogeneity QE, pseudo-R²)."
        )
    batch = settings.get("batch_correction")
    if batch:
        out.append(
            "For the pooled analysis, the cohorts' tables were pooled and batch-corrected by zero-inflated "
            f"empirical-Bayes location/scale adjustment of log relative abundances (MMUPHin-style; batch "
            f"{batch.get('batch', 'cohort')}, phenotypes and covariates protected, zeros kept), checked by PERMANOVA "
            "R² of the batch before and after, and associated once like a cohort."
        )
    return out


def methods_paragraph(
    settings: Mapping[str, Any],
    cohorts: Mapping[str, int],
    phenotypes: Sequence[str],
    fdr_cohort: float,
    fdr_meta: float,
    versions: Mapping[str, str],
    contributions: int = 0,
) -> str:
    """The Methods paragraph for a run: cohorts (name → n), phenotypes, thresholds and software versions;
    ``contributions``: how many top HUMAnN pathways have a table of contributing genera (0: none)."""
    rank = settings.get("rank") or "feature"
    assoc = dict(settings.get("association", {}))
    preset = settings.get("preset", "default")
    parts = [
        f"{rank.capitalize()}-level abundances of {_join(f'{name} (n = {n:,})' for name, n in cohorts.items())} "
        f"were analysed with osteobiome {versions.get('osteobiome', '')}.".replace("  ", " "),
        _models_sentence(settings, phenotypes, rank),
        _preprocessing_sentence(assoc, preset, settings.get("model")),
        _testing_sentence(assoc, fdr_cohort),
    ]
    meta = settings.get("meta")
    if meta and len(cohorts) > 1:
        test = "Knapp–Hartung t tests" if meta.get("test") == "knha" else "z tests"
        parts.append(
            f"For each {rank} × phenotype, the per-cohort coefficients were pooled by "
            f"{META.get(meta.get('method', 'REML'), meta.get('method'))} with {test}; heterogeneity is given as "
            f"Cochran's Q, I² and τ², and pooled p-values were adjusted with Benjamini–Hochberg across {RANK_PLURAL.get(rank, rank + 's')} within "
            f"each phenotype (q < {fdr_meta:g} called significant)."
        )
        parts.extend(_consortium_sentences(settings))
    div = settings.get("diversity")
    if div:
        parts.append(
            f"Alpha diversity ({_join(ALPHA.get(a, a) for a in div.get('alpha', []))}) was regressed on each "
            f"phenotype with the same covariates; beta diversity ({_join(BETA.get(b, b) for b in div.get('beta', []))}"
            ") was tested with PERMANOVA "
            f"({div.get('permutations', 999)} permutations, seed {div.get('seed', 1)}; {PERMANOVA_NOTE}) and "
            f"ordinated by principal coordinates analysis."
        )
    sets = settings.get("mechanisms")
    if sets:
        combination = sets.get("combination")
        parts.append(
            f"Genera and pathways were annotated with bone-relevant traits and mechanism groups from the curated "
            f"knowledge table shipped with osteobiome (compiled {sets.get('compiled', 'n/a')}); for each trait set × "
            f"phenotype, a competitive set test ({sets.get('method', 'CAMERA')}) compared the set's features with all "
            f"others in each cohort{f', and cohorts were combined by {combination}' if combination else ''}."
        )
    if settings.get("pathways"):
        parts.append(
            f"Predicted pathway abundances of {_join(settings['pathways'])} went through the same models"
            f"{' and meta-analysis' if meta and len(settings['pathways']) > 1 else ''}."
        )
    if contributions:
        parts.append(
            f"For the {contributions} most significant pathway{'s' if contributions > 1 else ''} (by q-value, or by "
            "p-value when none passed the threshold), HUMAnN's genus-stratified rows gave each genus's share of the "
            "pathway's abundance."
        )
    parts.append(strata_sentence(settings))
    parts.append(_mediation_sentence(settings.get("mediation"), rank))
    parts.append(_survival_sentence(settings.get("survival"), rank, fdr_cohort, bool(meta) and len(cohorts) > 1))
    software = _join(f"{k} {v}" for k, v in versions.items() if k not in ("osteobiome", "python"))
    if software:
        parts.append(f"Software: Python {versions.get('python', '')} with {software}.")
    return " ".join(p for p in parts if p)


MEDIATION_TEST = {
    "hdmt": "the HDMT composite-null test (the mixture of null cases estimated from all pairs)",
    "dact": "the DACT composite-null test",
    "maxp": "the conservative max-p test of the composite null",
}


def _mediation_sentence(mediation: Mapping[str, Any] | None, rank: str) -> str:
    if not mediation:
        return ""
    return (
        f"Mediation of {mediation.get('outcome')} by the measured mediators{' (log2)' if mediation.get('log') else ''} "
        f"was tested per {rank} × mediator pair: α ({rank} → mediator) and β (mediator → outcome, adjusted for the "
        f"{rank}) from linear models with the same covariates, the indirect effect α·β on standardized variables "
        f"with a 95% CI (percentile bootstrap, {mediation.get('n_boot', 1000)} resamples, seed "
        f"{mediation.get('seed', 1)}, for pairs with p ≤ 0.05; the delta method for the rest), its p-value from {MEDIATION_TEST.get(mediation.get('test', 'hdmt'), mediation.get('test'))} "
        "of α = 0 or β = 0, and Benjamini–Hochberg q-values over all pairs."
    )


def _survival_sentence(survival: Mapping[str, Any] | None, rank: str, fdr: float, pooled: bool) -> str:
    if not survival:
        return ""
    event = survival.get("event")
    covariates = survival.get("covariates")
    adjusted = f"adjusted for {_join(covariates)}" if covariates else "adjusted for the study's covariates"
    exposures = (
        f"Each {rank}, after the same filtering, normalization and transformation as the associations and "
        "standardized to unit SD, was the exposure"
    )
    if survival.get("outcome_type") == "binary":
        model = f"{exposures} in a logistic regression of {event} {adjusted} (odds ratio per SD, Wald test)"
    else:
        scale = (
            f"age as the time scale ({survival.get('time')}) with delayed entry at {survival.get('entry')}"
            if survival.get("entry") else f"follow-up time ({survival.get('time')})"
        )
        model = (
            f"Incident {event} was modelled by Cox proportional-hazards regression (Efron ties; {scale}) {adjusted}. "
            f"{exposures} (hazard ratio per SD, Wald test), and proportional hazards were checked per {rank} with "
            "the scaled Schoenfeld residual test (as R's cox.zph)"
        )
    pcs = survival.get("community_pcs", 0)
    community = f" and the first {pcs} Aitchison principal components" if pcs else ""
    return (
        f"{model}; the alpha-diversity indices{community} were tested the same way. Benjamini–Hochberg q-values "
        f"were computed within {RANK_PLURAL.get(rank, rank + 's')} and within community exposures "
        f"(q < {fdr:g} called significant)"
        + ("; log ratios were pooled across cohorts as the associations were." if pooled else ".")
    )


def _models_sentence(settings: Mapping[str, Any], phenotypes: Sequence[str], rank: str) -> str:
    by_cohort: Mapping[str, Sequence[str]] = settings.get("covariates_by_cohort", {})
    distinct = {tuple(v) for v in by_cohort.values()}
    if len(distinct) <= 1:
        covs = next(iter(distinct), ())
        where = f"{rank} ~ phenotype{''.join(f' + {c}' for c in covs)}"
    else:
        where = "; ".join(
            f"{name}: {rank} ~ phenotype{''.join(f' + {c}' for c in covs)}"
            for name, covs in by_cohort.items()
        )
    if settings.get("formula"):
        where = f"{rank} {settings['formula']}, 'phenotype' standing for each phenotype in turn"
    random = settings.get("random_effects") or []
    ref = settings.get("reference") or {}
    extra = ""
    if random:
        extra += f", with random intercepts for {_join(random)}"
    if ref:
        extra += f", with reference level{'s' if len(ref) > 1 else ''} {_join(f'{k} = {v}' for k, v in ref.items())}"
    return (
        f"In each cohort separately, every {rank} was tested against each phenotype "
        f"({_join(phenotypes)}) in its own multivariable model ({where}){extra}."
    )


def _preprocessing_sentence(assoc: Mapping[str, Any], preset: str, settings_model: str | None) -> str:
    filters = []
    if assoc.get("min_prevalence") is not None:
        filters.append(f"non-zero in more than {100 * float(assoc['min_prevalence']):g}% of samples")
    if assoc.get("min_abundance"):
        filters.append(f"above an abundance of {assoc['min_abundance']:g}")
    if assoc.get("min_variance") is not None:
        filters.append(f"with variance above {assoc['min_variance']:g}")
    text = f"Settings followed the `{preset}` preset"
    text += f": features {_join(filters)} were kept" if filters else ""
    norm, transform = assoc.get("normalization"), str(assoc.get("transform") or "").upper()
    two_part = str(assoc.get("model", "")).lower() == "twopart"
    if norm:
        text += f"; abundances were {NORMALIZATION.get(str(norm).upper(), str(norm))}"
        if two_part and transform == "LOG":
            text += " and log2-transformed where non-zero"
        elif transform:
            text += f" and {TRANSFORM.get(transform, transform)}"
    if assoc.get("standardize") is not None:
        text += (
            "; continuous variables were z-scored"
            if assoc["standardize"]
            else "; variables were not standardized"
        )
    model = str(assoc.get("analysis_method") or assoc.get("model") or settings_model or "").upper()
    if model == "LM" and settings_model == "LMM":
        model = "LMM"
    if model == "TWOPART" and settings_model in ("LMM", "TWOPART_MIXED"):
        model = "TWOPART_MIXED"
    if model:
        text += f"; coefficients were estimated by {MODEL.get(model, model)}"
    if str(assoc.get("variance", "")).upper() == "HC3":
        text += " with heteroscedasticity-consistent (HC3) standard errors"
    if assoc.get("compositional") in COMPOSITIONAL:
        text += f"; {COMPOSITIONAL[assoc['compositional']]}"
        if assoc.get("compositional_prevalence"):
            text += ", for the prevalence part too"
    if assoc.get("depth_covariate") in DEPTH:
        text += f"; {DEPTH[assoc['depth_covariate']]}"
    if model.startswith("TWOPART") and assoc.get("augment") is False:
        text = text.replace(" with weighted augmentation against separation", " without augmentation")
    if model.startswith("TWOPART") and assoc.get("joint") in JOINT:
        text += f"; {JOINT[assoc['joint']]}"
    return text + "."


def _testing_sentence(assoc: Mapping[str, Any], fdr: float) -> str:
    method = CORRECTION.get(str(assoc.get("correction", "BH")), str(assoc.get("correction", "BH")))
    scope = assoc.get("fdr_scope")
    if scope == "all":
        over = "over all feature × coefficient p-values of each model call together (as MaAsLin2 does)"
    else:
        over = "per phenotype, over that phenotype's coefficients across features"
    return (
        f"P-values were adjusted with {method} {over}; associations with q < {fdr:g} were called significant."
    )


def _join(items: object) -> str:
    items = [str(i) for i in items]  # type: ignore[union-attr]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
