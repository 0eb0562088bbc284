"""Design matrices from model formulas: main effects, two-way interactions, ordered factors.

``~ bmd * sex + age`` is parsed by `formulaic <https://matthewwardrop.github.io/formulaic/>`_ into terms; the
columns are then coded as R's ``model.matrix`` does on MaAsLin2-preprocessed metadata:

- numeric variables z-scored (sample SD over every metadata row, as MaAsLin2) *before* interaction columns
  are formed, so ``bmd:sexM`` is the product of the standardized ``bmd`` and the ``sexM`` indicator;
- categorical variables in treatment contrasts against their reference level (``reference``, else R's first
  level for two levels; more levels need a reference when ``require_reference``);
- ``ordered`` variables in successive-difference coding: column ``k`` is the indicator of ``level >= k``, so its
  coefficient is the difference between level ``k`` and the level before it (each level against the previous),
  whatever the model fitted.

A column's ``terms`` entry is the term as written (``bmd:sex``) and its ``values`` entry R's coefficient name
for interactions (``bmd:sexM``), the level for a categorical main effect, the variable for a numeric one — the
``metadata`` / ``value`` pair of MaAsLin2's result rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.stats.design import (
    INTERCEPT,
    Design,
    _is_categorical,
    _label,
    _rank_problem,
    _reference_level,
    constant_columns,
    group_codes,
    model_variables,
)


def parse_terms(formula: str) -> list[tuple[str, ...]]:
    """The terms of a right-hand-side formula as tuples of variable names, in formula order, without the
    intercept: ``"~ bmd * sex + age"`` → ``[("bmd",), ("sex",), ("age",), ("bmd", "sex")]``.

    Only metadata column names, ``+``, ``*`` and ``:`` (at most two-way interactions) are accepted; anything
    else (functions, a removed intercept, three-way terms, a left-hand side) is an :class:`InputError` that
    names the term."""
    from formulaic import Formula
    from formulaic.errors import FormulaParsingError

    text = formula.strip()
    if "~" in text and text.split("~", 1)[0].strip():
        raise InputError(f"formula {formula!r}: give the right-hand side only (e.g. '~ bmd * sex + age'); "
                         "the features are the outcome.")
    text = text.split("~", 1)[-1]
    if "|" in text:
        raise InputError(f"formula {formula!r}: random effects go in --random (e.g. --random subject), not in the formula.")
    try:
        parsed = Formula(text)
    except (FormulaParsingError, ValueError, SyntaxError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"formula {formula!r} could not be read ({first}); write e.g. '~ bmd * sex + age'.") from None
    terms: list[tuple[str, ...]] = []
    intercept = False
    for term in parsed:
        names = tuple(str(factor.expr) for factor in term.factors)
        if names == ("1",):
            intercept = True
            continue
        label = ":".join(names)
        for factor in term.factors:
            if str(factor.eval_method) != "EvalMethod.LOOKUP":
                raise InputError(
                    f"formula term {label!r}: only metadata column names are allowed (no functions or "
                    "transformations); add a transformed column to the metadata instead."
                )
        if len(names) > 2:
            raise InputError(
                f"formula term {label!r}: three-way and higher interactions are not supported; use two-way terms."
            )
        terms.append(names)
    if not intercept:
        raise InputError(f"formula {formula!r} removes the intercept; per-feature models need it, drop '- 1' / '0 +'.")
    if not terms:
        raise InputError(f"formula {formula!r} has no variables; name at least one metadata column.")
    return terms


def term_label(term: tuple[str, ...]) -> str:
    """``("bmd", "sex")`` → ``"bmd:sex"``."""
    return ":".join(term)


def build_formula_design(
    metadata: pd.DataFrame,
    formula: str,
    reference: Mapping[str, str] | None = None,
    standardize: bool = True,
    require_reference: bool = False,
    random: Sequence[str] = (),
    ordered: Sequence[str] = (),
) -> Design:
    """The :class:`~osteobiome.stats.design.Design` of ``formula`` on the complete cases of its variables and
    of ``random``; see the module docstring for the coding. Unknown columns, a term constant on the complete
    samples, an interaction without its main effects and rank-deficient designs raise :class:`InputError`
    naming the term."""
    terms = parse_terms(formula)
    reference = dict(reference or {})
    variables = list(dict.fromkeys(v for term in terms for v in term))
    for term in terms:
        for name in term:
            if name not in metadata.columns:
                raise InputError(
                    f"formula term {term_label(term)!r}: {name!r} is not a metadata column"
                    f"{suggest(name, metadata.columns)}; available: {preview(metadata.columns, 8)}."
                )
        if len(term) == 2 and not all((name,) in terms for name in term):
            raise InputError(
                f"formula term {term_label(term)!r}: include its main effects too (write {term[0]} * {term[1]})."
            )
    for name in random:
        if name not in metadata.columns:
            raise InputError(f"random-effect variable {name!r} is not a metadata column{suggest(name, metadata.columns)}.")
    for name in (*reference, *ordered):
        if name not in variables:
            raise InputError(f"{name!r} is given a reference or order but is not in the formula{suggest(name, variables)}.")
    if bad := [name for name in ordered if not _is_categorical(metadata[name])]:
        raise InputError(f"--ordered {bad[0]}: the variable is numeric; ordered coding applies to categorical variables.")
    prepared, rows = model_variables(metadata, variables, random, standardize, "formula")

    coded: dict[str, list[tuple[str, str, np.ndarray]]] = {}  # variable -> (column name, value label, values)
    references: dict[str, str] = {}
    for name in variables:
        variable = prepared[name]
        if not variable.categorical:
            coded[name] = [(name, name, variable.values[rows])]
            continue
        levels = variable.levels
        if len(levels) < 2:
            raise InputError(f"formula term {name!r}: categorical variable with {len(levels)} level(s); drop it.")
        if name in ordered:
            references[name] = _label(levels[0])
            position = {level: i for i, level in enumerate(levels)}
            rank = np.array([position[value] for value in variable.values[rows]], dtype=float)
            coded[name] = [
                (f"{name}{_label(level)}", _label(level), (rank >= i).astype(float))
                for i, level in enumerate(levels)
                if i > 0
            ]
            continue
        ref = _reference_level(name, variable.column, levels, reference, require=require_reference)
        references[name] = _label(ref)
        coded[name] = [
            (f"{name}{_label(level)}", _label(level), variable.indicator(rows, level)) for level in levels if level != ref
        ]

    blocks = [np.ones(int(rows.sum()))]
    columns, term_names, values = [INTERCEPT], [INTERCEPT], [INTERCEPT]
    for term in terms:
        label = term_label(term)
        if len(term) == 1:
            for col, value, x in coded[term[0]]:
                blocks.append(x)
                columns.append(col)
                term_names.append(label)
                values.append(value)
            continue
        for col_a, _, xa in coded[term[0]]:
            for col_b, _, xb in coded[term[1]]:
                blocks.append(xa * xb)
                columns.append(f"{col_a}:{col_b}")
                term_names.append(label)
                values.append(f"{col_a}:{col_b}")
    matrix = np.column_stack(blocks)
    if constant := constant_columns(matrix, columns):
        column = constant[0]
        term = term_names[columns.index(column)]
        raise InputError(
            f"formula term {term!r}: column {column} is constant on the {matrix.shape[0]} complete samples "
            "(e.g. a level absent from this cohort or stratum); drop the term or merge rare levels."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise InputError(f"only {matrix.shape[0]} complete samples for {matrix.shape[1]} model coefficients; use fewer terms.")
    if problem := _rank_problem(matrix, columns):
        raise InputError(f"formula design is rank deficient: {problem} duplicate(s) earlier columns; drop a collinear term.")
    return Design(
        matrix, columns, term_names, values, rows, metadata.index[rows], group_codes(metadata, rows, random), references
    )
