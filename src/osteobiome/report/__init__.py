"""The study report: one self-contained HTML file (figures inline, tables sortable, no network) and figure files."""

from __future__ import annotations

from osteobiome.report.document import render

__all__ = ["render"]
