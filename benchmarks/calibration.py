"""Calibration benchmark of the association presets on the Twins template (issue 9).

Runs the standard grid (effects 0.1, 0.25, 0.5, 1 log2 FC per SD; n = 150, 278, 500; 40 seeds, 3 null
phenotypes per seed; q = 0.05, 0.1, 0.25; every candidate of :data:`osteobiome.calibration.CANDIDATES`), prints the wall time and each method's
fitting time relative to the ``maaslin2`` preset, writes ``benchmarks/results/calibration_summary.tsv`` and
``benchmarks/results/calibration.png`` and replaces the ``## calibration`` section of ``RESULTS.md``.
Same as ``osteobiome benchmark calibration ../shared/data/twins/Twins.csv --out DIR --workers 2``.
Usage: ``python benchmarks/calibration.py [workers] [seeds]``.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from osteobiome import calibration

HERE = Path(__file__).resolve().parent
TWINS = HERE.parent.parent / "shared" / "data" / "twins" / "Twins.csv"
RESULTS = HERE / "RESULTS.md"


def replace_section(text: str, heading: str, body: str) -> str:
    """``text`` with the ``## heading`` section (up to the next ``## ``) replaced by ``body`` (or appended)."""
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"## {heading}\n\n{body.strip()}\n\n"
    return pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section


def main(workers: int = 2, seeds: int = 40) -> None:
    grid = replace(calibration.STANDARD, seeds=seeds)
    template = calibration.load_template(TWINS)
    start = time.perf_counter()
    runs = calibration.run(template, grid, workers=workers)
    wall = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        summary = calibration.write_outputs(runs, tmp)
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        shutil.copy(Path(tmp) / "summary.tsv", out / "calibration_summary.tsv")
        shutil.copy(Path(tmp) / "calibration.png", out / "calibration.png")
        tables = (Path(tmp) / "calibration.md").read_text()
    per_fit = (
        runs.drop_duplicates(["method", "n", "effect", "seed", "draw"]).groupby("method")["seconds"].mean()
    )
    timing = ", ".join(
        f"{m} {per_fit[m] * 1000:.0f} ms ({per_fit[m] / per_fit['maaslin2']:.2f}x)" for m in per_fit.index
    )
    print(f"standard grid: {len(runs)} rows, {wall:.1f} s wall on {workers} workers")
    print(f"mean time per fit (ratio to the maaslin2 preset): {timing}")
    header = (
        f"`python benchmarks/calibration.py {workers} {seeds}` — Twins template ({template.counts.shape[0]} samples × "
        f"{template.counts.shape[1]} genera), standard grid, {seeds} seeds per cell and {3 * seeds} null phenotypes per n: **{wall:.0f} s wall on "
        f"{workers} workers**. Mean time per fit (ratio to maaslin2): {timing}.\n\n"
        "![calibration](results/calibration.png)\n\n"
    )
    RESULTS.write_text(replace_section(RESULTS.read_text(), "calibration", header + tables))
    print(calibration.check_criteria(summary).to_string())


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
