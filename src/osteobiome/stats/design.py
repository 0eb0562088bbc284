"""Design matrices for the per-feature models: fixed effects, reference levels, missing rows, rank checks.

Columns follow R's ``model.matrix(~ a + b + …)`` with treatment contrasts: ``(Intercept)``, then per variable
either the numeric column (named like the variable) or one indicator per non-reference level (named
``<variable><level>``). MaAsLin2 labels a row of its results by ``metadata`` (the variable) and ``value``
(the level, or the variable name for a numeric variable); :class:`Design` keeps both per column.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.stats.preprocess import zscore

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Design:
    """A model's fixed-effects design on the rows it uses.

    ``matrix`` (rows used × columns, first column the intercept), ``columns`` (R-style names), ``terms``
    (variable of each column), ``values`` (MaAsLin2's ``value`` label of each column), ``rows`` (boolean mask
    over the metadata rows: complete cases of every model variable), ``samples`` (ids of the rows used),
    ``groups`` (random-effect name → integer level code per used row), ``references`` (variable → reference
    level of each categorical variable).
    """

    matrix: np.ndarray
    columns: list[str]
    terms: list[str]
    values: list[str]
    rows: np.ndarray
    samples: pd.Index
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)

    @property
    def n_used(self) -> int:
        return int(self.rows.sum())


@dataclass(frozen=True)
class Variable:
    """One model variable as arrays over every metadata row: ``values`` (numeric: float, z-scored when asked;
    categorical: the column's values), ``levels`` (categorical: the present levels in R's order; empty for
    numeric) and the original ``column``."""

    name: str
    column: pd.Series
    values: np.ndarray
    categorical: bool
    levels: list[object]

    def indicator(self, rows: np.ndarray, level: object) -> np.ndarray:
        """1.0 where the variable equals ``level`` on ``rows`` (bool mask), else 0.0."""
        return (self.values[rows] == level).astype(float)


def _check_names(names: Sequence[str], metadata: pd.DataFrame, role: str) -> None:
    for name in names:
        if name not in metadata.columns:
            raise InputError(
                f"{role} variable {name!r} is not a metadata column{suggest(name, metadata.columns)}; "
                f"available: {preview(metadata.columns, 8)}."
            )


def _is_categorical(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _label(level: object) -> str:
    if isinstance(level, bool | np.bool_):
        return "TRUE" if level else "FALSE"
    return str(level)


def _may_be_numeric(text: str) -> bool:
    """False for text that no number parser reads as a finite or infinite number (no digit, no 'inf')."""
    return any(c.isdigit() for c in text) or "inf" in text.lower()


def _check_not_mostly_numeric(name: str, column: pd.Series, uniques: np.ndarray) -> None:
    """A text column whose values are mostly numbers is almost always a typo'd numeric variable
    (``uniques``: its distinct present values)."""
    if pd.api.types.is_bool_dtype(column):
        return
    levels = list(dict.fromkeys(str(v) for v in uniques))
    if not any(_may_be_numeric(level) for level in levels):  # the usual case: plain labels, nothing to parse
        return
    looks_numeric = pd.to_numeric(pd.Series(levels), errors="coerce").notna().to_numpy()
    if not looks_numeric.any() or looks_numeric.all():  # no counting needed
        return
    counts = column.dropna().astype(str).value_counts()
    numeric = pd.to_numeric(pd.Series(counts.index), errors="coerce").notna().to_numpy()
    bad = counts.index[~numeric]
    if len(bad) and counts.to_numpy()[numeric].sum() > 0.5 * counts.sum():
        raise InputError(
            f"metadata column {name!r} is numeric except for the values {preview(bad)}; "
            "make them numbers or leave them empty (missing)."
        )


def _check_finite(name: str, column: pd.Series, values: np.ndarray) -> None:
    """Infinite values, or values so large that their variance overflows, are errors (not "constant")."""
    infinite = np.isinf(values)
    if infinite.any():
        raise InputError(
            f"metadata column {name!r} has infinite values (samples {preview(column.index[infinite])}); "
            "fix them or leave them empty (missing)."
        )
    finite = values[np.isfinite(values)]
    with np.errstate(over="ignore", invalid="ignore"):
        overflow = finite.size > 1 and not np.isfinite(np.var(finite))
    if overflow:
        raise InputError(
            f"metadata column {name!r} has values too large to model (up to {np.abs(finite).max():.3g}); "
            "rescale it (other units) or fix those values."
        )


def _levels(column: pd.Series, uniques: np.ndarray) -> list[object]:
    """The present levels (``uniques``) in R's order: category order, else sorted (by type, then value)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(uniques)
        return [c for c in column.cat.categories if c in present]
    return sorted(uniques, key=lambda v: (str(type(v)), v))


def model_variables(
    metadata: pd.DataFrame, names: Sequence[str], random: Sequence[str], standardize: bool, where: str
) -> tuple[dict[str, Variable], np.ndarray]:
    """The checks every design shares, and its variables as arrays: text columns that are mostly numbers,
    variables with no values, infinite or constant numeric variables are :class:`InputError` (``where``: "model"
    or "formula", named in the message); numeric variables are z-scored over every row (sample sd, NaN
    ignored: R's ``scale()``, as MaAsLin2) when ``standardize``. Returns the variables by name and the complete
    cases of ``names`` and ``random`` (bool over the metadata rows)."""
    columns = {name: metadata[name] for name in names}
    categorical = {name: _is_categorical(column) for name, column in columns.items()}
    values, missing, uniques = {}, {}, {}
    for name, column in columns.items():
        if categorical[name]:
            values[name] = column.to_numpy()
            missing[name] = pd.isna(values[name])
            uniques[name] = pd.unique(values[name][~missing[name]])
            _check_not_mostly_numeric(name, column, uniques[name])
        else:
            values[name] = column.to_numpy(dtype=float, na_value=np.nan)
            missing[name] = np.isnan(values[name])
    for name in names:
        if missing[name].all():
            raise InputError(f"metadata column {name!r} has no values (all missing); drop it from the {where}.")
    for name in (n for n in names if not categorical[n]):
        x = values[name]
        _check_finite(name, columns[name], x)
        present = x[~missing[name]]
        if present.min() == present.max():
            raise InputError(f"metadata column {name!r} is constant; drop it from the {where}.")
        if standardize:
            values[name] = zscore(x, name, where)
    rows = np.ones(len(metadata), dtype=bool)
    for name in names:
        rows &= ~missing[name]
    for name in random:
        rows &= ~pd.isna(metadata[name].to_numpy())
    if not rows.any():
        raise InputError(f"no sample has values for all of {preview([*names, *random], 8)}; check missing values.")
    variables = {
        name: Variable(
            name, columns[name], values[name], categorical[name],
            _levels(columns[name], uniques[name]) if categorical[name] else [],
        )
        for name in names
    }
    return variables, rows


def _reference_level(
    name: str, column: pd.Series, levels: list[object], reference: Mapping[str, str], require: bool
) -> object:
    labels = [_label(level) for level in levels]
    if name in reference:
        wanted = str(reference[name])
        if wanted not in labels:
            raise InputError(
                f"reference level {wanted!r} of {name!r} is not one of its values{suggest(wanted, labels)}; "
                f"levels: {preview(labels, 8)}."
            )
        return levels[labels.index(wanted)]
    if len(levels) == 2:
        return levels[0]  # R: the first level (sorted) is the reference
    if require:
        raise InputError(
            f"variable {name!r} has {len(levels)} levels ({preview(labels, 8)}); give its reference level, "
            f"e.g. --reference {name}={labels[0]}."
        )
    counts = column.value_counts()
    most = max(levels, key=lambda level: counts.get(level, 0))  # ties: first level in sort order
    warnings.warn(
        f"{name!r}: no reference level given; using the most frequent level {_label(most)!r} "
        f"(set it with --reference {name}=LEVEL).",
        stacklevel=3,
    )
    return most


def constant_columns(matrix: np.ndarray, columns: list[str]) -> list[str]:
    """Names of the non-intercept columns of ``matrix`` that are constant."""
    flat = np.flatnonzero(np.ptp(matrix[:, 1:], axis=0) == 0) + 1
    return [columns[j] for j in flat]


def _rank_problem(matrix: np.ndarray, columns: list[str]) -> str | None:
    """Names of columns that are linear combinations of earlier columns, or None when X has full rank."""
    if np.linalg.matrix_rank(matrix) == matrix.shape[1]:
        return None
    dependent = []
    basis = np.empty((matrix.shape[0], 0))
    scale = max(1.0, float(np.abs(matrix).max(initial=0.0)))
    for j, name in enumerate(columns):
        x = matrix[:, j]
        if basis.shape[1]:
            coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
            residual = x - basis @ coef
        else:
            residual = x
        if np.linalg.norm(residual) <= 1e-9 * scale * np.sqrt(matrix.shape[0]):
            dependent.append(name)
        else:
            basis = np.column_stack([basis, x])
    return ", ".join(dependent) if dependent else None


def build_design(
    metadata: pd.DataFrame,
    fixed: Sequence[str],
    reference: Mapping[str, str] | None = None,
    standardize: bool = True,
    require_reference: bool = False,
    random: Sequence[str] = (),
) -> Design:
    """Design matrix of ``~ fixed…`` on the complete cases of ``fixed`` and ``random`` variables.

    Numeric variables are z-scored over all rows of ``metadata`` (sample sd, before dropping incomplete rows,
    as MaAsLin2) when ``standardize``. Categorical variables (text, category, bool) get treatment contrasts
    against ``reference[var]``; without one, a 2-level variable uses its first level (sorted) and a variable
    with more levels uses its most frequent level with a warning — or, with ``require_reference`` (the
    ``maaslin2`` preset), is an error as in MaAsLin2. Unknown names, constant or single-level variables, text columns that are mostly
    numbers and rank-deficient designs raise :class:`InputError`.
    """
    fixed, random = list(fixed), list(random)
    reference = dict(reference or {})
    if not fixed:
        raise InputError("no fixed effects given; name at least one metadata column (--fixed age,sex).")
    _check_names(fixed, metadata, "fixed-effect")
    _check_names(random, metadata, "random-effect")
    if duplicated := sorted({name for name in fixed if fixed.count(name) > 1}):
        raise InputError(f"fixed effects {preview(duplicated)} are listed twice; name each variable once.")
    for name in reference:
        if name not in fixed:
            raise InputError(f"reference given for {name!r}, which is not a fixed effect{suggest(name, fixed)}.")
        if not _is_categorical(metadata[name]):
            raise InputError(f"reference given for {name!r}, but it is numeric; references apply to categorical variables.")

    variables, rows = model_variables(metadata, fixed, random, standardize, "model")
    blocks, columns, terms, values, references = [np.ones(int(rows.sum()))], [INTERCEPT], [INTERCEPT], [INTERCEPT], {}
    for name in fixed:
        variable = variables[name]
        if not variable.categorical:
            blocks.append(variable.values[rows])
            columns.append(name)
            terms.append(name)
            values.append(name)
            continue
        levels = variable.levels
        if len(levels) < 2:
            raise InputError(
                f"categorical variable {name!r} has {'only the level ' + repr(_label(levels[0])) if levels else 'no values'}; "
                "drop it from the model."
            )
        ref = _reference_level(name, variable.column, levels, reference, require=require_reference)
        references[name] = _label(ref)
        for level in (lv for lv in levels if lv != ref):
            blocks.append(variable.indicator(rows, level))
            columns.append(f"{name}{_label(level)}")
            terms.append(name)
            values.append(_label(level))
    matrix = np.column_stack(blocks)

    if constant := constant_columns(matrix, columns):
        raise InputError(
            f"design column(s) {', '.join(constant)} are constant on the {matrix.shape[0]} complete samples; "
            "drop the variable or merge rare levels."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise InputError(
            f"only {matrix.shape[0]} complete samples for {matrix.shape[1]} model coefficients; use fewer variables."
        )
    if problem := _rank_problem(matrix, columns):
        raise InputError(f"design is rank deficient: {problem} duplicate(s) earlier columns; drop one of the collinear variables.")

    return Design(matrix, columns, terms, values, rows, metadata.index[rows], group_codes(metadata, rows, random), references)


def group_codes(metadata: pd.DataFrame, rows: np.ndarray, random: Sequence[str]) -> dict[str, np.ndarray]:
    """Random-effect name → integer level code per used row (levels compared as text)."""
    return {
        name: np.unique(metadata.loc[rows, name].astype(str).to_numpy(), return_inverse=True)[1] for name in random
    }
