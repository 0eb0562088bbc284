"""Sample metadata TSV/CSV: one row per sample, an id column, then numeric and categorical columns.

The id column is the first column unless ``id_column`` names another. A column is numeric when every
non-missing value parses as a number, categorical otherwise (a pandas ``Categorical`` with levels sorted as R's
``factor`` sorts them); ``numeric=``/``categorical=`` override the inference. Missing values: empty, ``NA``,
``NaN``, ``NULL``, ``N/A``, ``None``. A QIIME 2 ``#q2:types`` row is honoured and removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError, preview, suggest
from osteobiome.io.base import MISSING, checked_path, read_delimited


def check_columns(metadata: pd.DataFrame, names: Iterable[str], where: str | Path = "metadata") -> None:
    """An :class:`InputError` with close-name suggestions for the first of ``names`` not in ``metadata``."""
    for name in names:
        if name not in metadata.columns:
            raise InputError(
                f"{where}: metadata column {name!r} not found{suggest(name, metadata.columns)}; columns are "
                f"{preview(metadata.columns, 8)}."
            )


def read_metadata(
    path: str | Path,
    id_column: str | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
) -> pd.DataFrame:
    """A metadata file → DataFrame indexed by sample id (``str``), columns typed as described above."""
    path = checked_path(path)
    raw = read_delimited(path, comment_lines=False)
    repeated = raw.columns[raw.columns.duplicated()].unique()
    if len(repeated):
        name = repeated[0]
        raise InputError(
            f"{path}: column {name!r} appears {list(raw.columns).count(name)} times in the header; "
            "give each column its own name."
        )
    raw = raw.reset_index(names=raw.index.name or "id")
    if id_column is None:
        id_column = raw.columns[0]
    check_columns(raw, [id_column], path)
    raw = raw.set_index(id_column)
    raw.index = pd.Index([str(i).strip() for i in raw.index], dtype=object, name="sample")
    q2_types: dict[str, str] = {}
    if len(raw) and raw.index[0].lower() == "#q2:types":
        q2_types = {c: str(v).strip().lower() for c, v in raw.iloc[0].items()}
        raw = raw.iloc[1:]
    if len(raw) == 0:
        raise InputError(f"{path}: the metadata has no sample rows.")
    empty = raw.index[raw.index.isin(MISSING)]
    if len(empty):
        raise InputError(f"{path}: {len(empty)} row(s) have no sample id in column {id_column!r}; fill them in.")
    if raw.index.has_duplicates:
        dup = raw.index[raw.index.duplicated()].unique()
        raise InputError(f"{path}: duplicate sample ids in column {id_column!r}: {preview(dup)}; make them unique.")
    check_columns(raw, categorical, path)
    check_columns(raw, numeric, path)
    both = set(categorical) & set(numeric)
    if both:
        raise InputError(f"{path}: column(s) {sorted(both)} asked to be both numeric and categorical; pick one.")
    forced_numeric = set(numeric) | {c for c, t in q2_types.items() if t == "numeric"}
    forced_categorical = set(categorical) | {c for c, t in q2_types.items() if t == "categorical"}
    forced_numeric -= set(categorical)
    columns = {}
    for name in raw.columns:
        text = raw[name].map(lambda v: None if pd.isna(v) or str(v).strip() in MISSING else str(v).strip())
        columns[name] = _typed(text, name, path, name in forced_numeric, name in forced_categorical)
    frame = pd.DataFrame(columns, index=raw.index)
    frame.attrs["source"] = str(path)  # model-check errors name the file (osteobiome.stats.fittable.model_design)
    return frame


def _typed(text: pd.Series, name: str, path: Path, force_numeric: bool, force_categorical: bool) -> pd.Series:
    as_number = pd.to_numeric(text, errors="coerce")
    unparsed = text.notna() & as_number.isna()
    if force_numeric and unparsed.any():
        raise InputError(
            f"{path}: column {name!r} was asked to be numeric but holds {preview(text[unparsed].unique())}; "
            "fix those values or treat the column as categorical."
        )
    if not force_categorical and text.notna().any() and not unparsed.any():
        return as_number.astype("float64")
    return pd.Series(pd.Categorical(text.astype(object)), index=text.index, name=name)
