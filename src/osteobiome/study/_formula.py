"""The study file's ``formula:``: one model formula in which the word ``phenotype`` stands for each phenotype.

``formula: "~ phenotype * sex + age + BMI"`` runs, per cohort and phenotype, ``feature ~ vbmd * sex + age +
BMI`` (and so on for every phenotype) instead of ``feature ~ phenotype + covariates``. The formula's other
variables are the study's covariates (diversity, PERMANOVA and set tests adjust for them); a covariate constant
in a cohort is left out of that cohort's models with every term that contains it.

Rows kept per model: the phenotype's main effect (meta-analysed across cohorts as without a formula) and its
interactions (``metadata`` = the term as written, e.g. ``vbmd:sex``; ``value`` = R's coefficient name,
``vbmd:sexM``), written in the cohort tables. Each interaction coefficient is also meta-analysed as an exposure
of its own, named by R's coefficient name (``vbmd:sexM``), into ``meta/interaction_results.tsv`` — a separate
table, so that ``meta_results.tsv`` keeps one row per feature × phenotype.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from osteobiome.errors import InputError
from osteobiome.stats.formula import parse_terms, term_label

PHENOTYPE = "phenotype"

Term = tuple[str, ...]


def formula_terms(formula: str) -> list[Term]:
    """The terms of a study formula (:func:`~osteobiome.stats.formula.parse_terms`); it must contain the word
    ``phenotype`` as a main effect. Raises :class:`InputError` (without the key, which the caller adds)."""
    terms = parse_terms(formula)
    if (PHENOTYPE,) not in terms:
        raise InputError(
            f"formula {formula!r} does not contain the word {PHENOTYPE!r}, which stands for each phenotype in "
            f"turn; write e.g. '~ {PHENOTYPE} * sex + age'"
        )
    return terms


def formula_covariates(terms: Sequence[Term]) -> list[str]:
    """The formula's variables other than ``phenotype`` (the study's covariates), in formula order."""
    return [v for v in dict.fromkeys(v for term in terms for v in term) if v != PHENOTYPE]


def cohort_formula(terms: Sequence[Term], phenotype: str, covariates: Sequence[str]) -> str:
    """The formula of one cohort and phenotype: ``phenotype`` replaced, terms with a variable not among this
    cohort's ``covariates`` (left out as constant there) dropped."""
    usable = {PHENOTYPE, *covariates}
    return "~ " + " + ".join(_label(term, phenotype) for term in terms if set(term) <= usable)


def interaction_labels(terms: Sequence[Term], phenotype: str) -> list[str]:
    """The ``metadata`` labels of the phenotype's interaction terms (``vbmd:sex``, ``age:vbmd``)."""
    return [_label(term, phenotype) for term in terms if len(term) == 2 and PHENOTYPE in term]


def _label(term: Term, phenotype: str) -> str:
    """The term as written in a model formula, with the word ``phenotype`` replaced by ``phenotype``."""
    return term_label(tuple(phenotype if v == PHENOTYPE else v for v in term))


def kept_rows(results: pd.DataFrame, phenotype: str, terms: Sequence[Term] | None) -> pd.DataFrame:
    """The phenotype's main-effect rows of one model's results, and its interaction rows with a formula."""
    labels = [phenotype, *(interaction_labels(terms, phenotype) if terms else [])]
    return results[results["metadata"].isin(labels)]


def interaction_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The interaction rows of each cohort table with ``metadata`` set to R's coefficient name (``vbmd:sexM``),
    so that :func:`~osteobiome.meta.meta_analyze` pools each interaction coefficient as an exposure of its own;
    cohorts without interaction rows are left out."""
    out = {}
    for name, table in tables.items():
        rows = table[table["metadata"].astype(str).str.contains(":", regex=False)]
        if len(rows):
            out[name] = rows.assign(metadata=rows["value"])
    return out


def formula_covariates_of(data: object) -> object:
    """The raw study mapping with ``covariates`` filled from ``formula`` when only the formula is given
    (``covariates`` absent or null; a formula that cannot be read is left for :func:`checked_formula` to report)."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("formula"), str)
        or data.get("covariates") is not None
    ):
        return data
    try:
        return {**data, "covariates": formula_covariates(formula_terms(data["formula"]))}
    except InputError:
        return data


def checked_formula(formula: str | None, covariates: Sequence[str]) -> str | None:
    """``formula`` when it is readable, contains ``phenotype`` and agrees with ``covariates``; else ValueError
    (one line, which the study file's validation prefixes with the key ``formula``)."""
    if formula is None:
        return None
    derived = formula_covariates(formula_terms(formula))
    if set(covariates) != set(derived):
        raise ValueError(
            f"the formula's variables other than {PHENOTYPE!r} are the covariates ({', '.join(derived) or 'none'}); "
            "drop the 'covariates' list or make it the same"
        )
    return formula
