"""Result tables as HTML-ready rows: formatted text for the eye, raw values for sorting."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

P_COLUMNS = {"pval", "qval", "qval.fdr", "pval.bonf", "pval.tau2", "p", "q"}
COUNT_COLUMNS = {"N", "N.not.0", "N.used", "k", "Df", "n"}


@dataclass
class HtmlTable:
    """A table for the template: ``columns``; ``rows`` of (text, sort value) cells; how many rows exist in all."""

    id: str
    columns: list[str]
    rows: list[list[tuple[str, str | None]]]
    total: int
    note: str = ""


def html_table(frame: pd.DataFrame, table_id: str, max_rows: int = 2000, note: str = "") -> HtmlTable:
    """Format ``frame`` (first ``max_rows`` rows) for a sortable, searchable HTML table."""
    shown = frame.head(max_rows)
    rows = []
    for record in shown.itertuples(index=False, name=None):
        rows.append([_cell(col, value) for col, value in zip(shown.columns, record, strict=True)])
    if len(frame) > max_rows and not note:
        note = f"showing the first {max_rows:,} of {len(frame):,} rows (ordered by p-value)"
    return HtmlTable(table_id, [str(c) for c in shown.columns], rows, len(frame), note)


def _cell(column: str, value: object) -> tuple[str, str | None]:
    """(display text, numeric sort key): ``None`` for text (sorted as text), ``""`` for missing (sorted last)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA", ""
    if isinstance(value, bool | np.bool_):
        return ("yes" if value else "no"), str(int(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if column in COUNT_COLUMNS else str(int(value)), str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        return format_number(v, p_value=column in P_COLUMNS or column.startswith("pval")), repr(v)
    return str(value), None


def format_number(v: float, p_value: bool = False) -> str:
    """p-values: 2 significant digits (scientific below 0.001); other numbers: 3 significant digits."""
    if not math.isfinite(v):
        return "NA" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if p_value:
        return f"{v:.2g}" if v >= 1e-3 else f"{v:.1e}"
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
