"""Result tables as HTML-ready rows: formatted text for the eye, raw values for sorting, references as links."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

COUNT_COLUMNS = {"N", "N.not.0", "N.used", "k", "Df", "n"}
_REFERENCE = re.compile(r"\b(?:doi:\s*(10\.\d{4,9}/[^\s;,]+)|PMID:\s*(\d{1,9}))", re.IGNORECASE)


@dataclass
class HtmlTable:
    """A table for the template: ``columns``; ``rows`` of (text, sort value) cells; how many rows exist in all;
    ``note`` says how the rows were chosen (and that some were left out, when they were)."""

    id: str
    columns: list[str]
    rows: list[list[tuple[str, str | None]]]
    total: int
    note: str = ""


def html_table(
    frame: pd.DataFrame, table_id: str, max_rows: int = 2000, note: str = "", source: str = ""
) -> HtmlTable:
    """Format ``frame`` (first ``max_rows`` rows) for a sortable, searchable HTML table.

    When rows are left out the note says how many of how many are shown and, given ``source`` (the TSV in
    the results folder), where the rest are.
    """
    shown = frame.head(max_rows)
    rows = []
    for record in shown.itertuples(index=False, name=None):
        rows.append([_cell(col, value) for col, value in zip(shown.columns, record, strict=True)])
    if len(frame) > max_rows:
        cut = f"{max_rows:,} of {len(frame):,} rows shown (smallest p first)"
        if source:
            cut += f"; all rows in {source}"
        note = f"{note}; {cut}" if note else cut
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
        return format_number(v), f"{v:.8g}"
    return linked_references(str(value)), None


def linked_references(text: str) -> str:
    """``text`` HTML-escaped, with each ``doi:10.…`` and ``PMID:n`` turned into a link the reader can click
    (https://doi.org/…, https://pubmed.ncbi.nlm.nih.gov/…): the only external addresses a report contains."""
    if not _REFERENCE.search(text):
        return text
    out, last = [], 0
    for match in _REFERENCE.finditer(text):
        out.append(escape(text[last : match.start()]))
        doi, pmid = match.groups()
        url = f"https://doi.org/{doi}" if doi else f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
        out.append(Markup('<a href="{}" rel="noreferrer" target="_blank">{}</a>').format(url, match.group(0)))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def format_number(v: float) -> str:
    """One rule for every number in the report: 3 significant digits, scientific notation below 1e-3 (and
    from 1e5 up); thousands separated; NA for missing, ∞ for infinite values."""
    if not math.isfinite(v):
        return "NA" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{v:.2e}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
