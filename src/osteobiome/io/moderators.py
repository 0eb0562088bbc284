"""Cohort-level traits for meta-regression (mean age, share of women, sequencing region, country …)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from osteobiome.errors import InputError


def read_moderators(path: str | Path) -> pd.DataFrame:
    """A TSV with one row per cohort, cohort names in the first column (the index, as text)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{path}: not found; give a TSV of cohort-level traits, cohort names in the first column."
        )
    try:
        table = pd.read_csv(path, sep="\t", index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a tab-separated table ({exc}); check the file.") from exc
    table.index = table.index.astype(str)
    return table
