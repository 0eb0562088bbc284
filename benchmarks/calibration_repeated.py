"""Calibration with repeated samples (issue 16): the two-part mixed model against linear mixed models.

Twins template, :data:`osteobiome.evaluate.calibration.REPEATED` grid (60 subjects × 4 visits = 240 samples;
effects 0.25, 0.5, 1 log2 FC per SD; 30 seeds, 2 null phenotypes per seed; subject-level random intercepts in
presence and abundance, a subject-level phenotype component; every method fits ``(1 | subject)``). Methods:
``default`` (now the two-part mixed model), ``lmm`` (linear mixed models + median comparison + BH per variable:
what the default fitted with random effects before) and ``maaslin2`` (MaAsLin2's LMM). Writes
``benchmarks/results/calibration_repeated_summary.tsv`` and replaces the ``## calibration with repeated samples``
section of ``RESULTS.md`` (with a table of means ± standard errors over the seeds at q = 0.1, besides the SD tables).
The per-run rows go to ``benchmarks/results/calibration_repeated_runs.tsv``. Usage:
``python benchmarks/calibration_repeated.py [workers] [seeds]``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
from calibration import RESULTS, replace_section, seconds_per_fit, timed_run

from osteobiome.evaluate import calibration

HERE = Path(__file__).resolve().parent


def section(runs: pd.DataFrame, genera: int, workers: int, seeds: int, wall: float, load: float) -> str:
    """The ``## calibration with repeated samples`` section of ``RESULTS.md`` from the per-run rows ``runs``."""
    grid = replace(calibration.REPEATED, seeds=seeds)
    summary = calibration.summarize(runs)
    criteria = calibration.check_criteria(summary, method="default", baseline="lmm")
    per_fit = seconds_per_fit(runs)
    timing = ", ".join(
        f"{m} {per_fit[m]:.2f} s ({per_fit[m] / per_fit['lmm']:.1f}x lmm)" for m in per_fit.index
    )
    return (
        "Design (`evaluate.calibration`, `Grid.visits`): each subject is a Twins sample seen at 4 visits, every genus "
        f"scaled per visit by 2^N(0, {calibration.VISIT_SD:g}²) and re-drawn at the subject's depth (subject-level "
        "random intercepts in presence and abundance); age/BMI/sex per subject, implanted into 10% of genera each; the "
        f"phenotype adds a hidden subject-level trait (weight {calibration.SUBJECT_WEIGHT:g}, not adjusted for) to the "
        "per-visit noise; every method fits `(1 | subject)`. `default` = the two-part mixed model (issue 16); `lmm` = "
        "linear mixed models + median comparison + BH per variable (what the default fitted with random effects "
        "before); `maaslin2` = MaAsLin2's LMM.\n\n"
        f"`python benchmarks/calibration_repeated.py {workers} {seeds}` — Twins template, {grid.sizes[0] // grid.visits} "
        f"subjects × {grid.visits} visits, {seeds} seeds per cell, {grid.null_draws * seeds} null phenotypes: "
        f"**{wall:.0f} s wall on {workers} workers** (load average {load:.1f} at the end). Mean time per "
        f"fit of {genera} genera (before filtering): {timing}.\n\n"
        + calibration.standard_error_table(summary)
        + "\n\n"
        + calibration.markdown_tables(summary)
        + "\n\n"
        + calibration.criteria_text(criteria)
    )


def main(workers: int = 2, seeds: int = calibration.REPEATED.seeds) -> None:
    grid = replace(calibration.REPEATED, seeds=seeds)
    template, runs, wall = timed_run(grid, workers)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    calibration.summarize(runs).to_csv(out / "calibration_repeated_summary.tsv", sep="\t", index=False)
    runs.to_csv(out / "calibration_repeated_runs.tsv", sep="\t", index=False)
    body = section(runs, len(template.counts.columns), workers, seeds, wall, os.getloadavg()[0])
    RESULTS.write_text(replace_section(RESULTS.read_text(), "calibration with repeated samples", body))
    print(body.rsplit("\n\n", 1)[-1])
    print(f"{wall:.0f} s wall")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
