"""Calibration benchmark of the association presets on the Twins template (issue 9).

Runs the standard grid (effects 0.1, 0.25, 0.5, 1 log2 FC per SD; n = 150, 278, 500; 100 seeds, 3 null
phenotypes per seed; q = 0.05, 0.1, 0.25; every method of :data:`osteobiome.evaluate.calibration.STANDARD_METHODS`), prints the wall time and each method's
fitting time relative to the ``maaslin2`` preset, writes ``benchmarks/results/calibration_summary.tsv`` and
``benchmarks/results/calibration.png`` and replaces the ``## calibration`` section of ``RESULTS.md``.
Same as ``osteobiome benchmark calibration ../shared/data/twins/Twins.csv --out DIR --workers 2``.
Usage: ``python benchmarks/calibration.py [workers] [seeds]``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from osteobiome.evaluate import calibration

HERE = Path(__file__).resolve().parent
TWINS = HERE.parent.parent / "shared" / "data" / "twins" / "Twins.csv"
RESULTS = HERE / "RESULTS.md"


KEPT = "<!-- written by hand: kept when a script rewrites this section -->"
"""Marker line in a generated section of RESULTS.md: what follows it (readings, decisions) survives a rerun."""


def replace_section(text: str, heading: str, body: str) -> str:
    """``text`` with the ``## heading`` section (up to the next ``## ``) replaced by ``body`` (or appended); the
    old section's lines from a :data:`KEPT` marker on are carried over after ``body``."""
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    kept = found.group(0).partition(KEPT)[2].strip() if found and KEPT in found.group(0) else ""
    section = f"## {heading}\n\n{body.strip()}\n\n" + (f"{KEPT}\n\n{kept}\n\n" if kept else "")
    return pattern.sub(lambda _: section, text) if found else text.rstrip() + "\n\n" + section


def _cell(summary: pd.DataFrame, method: str, metric: str, n: int, effect: float, q: float = 0.1) -> float:
    row = summary[
        (summary.method == method) & (summary.n == n) & (summary.effect == effect) & (summary.q == q)
    ]
    return float(row[f"{metric}_mean"].iloc[0])


def choice_text(summary: pd.DataFrame) -> str:
    """Why ``default`` is what it is, with the numbers of this run."""
    at = summary[(summary.q == 0.1) & (summary.effect >= 0.5)].pivot_table(
        index="method", values="recall_mean"
    )
    gain = at.loc["default", "recall_mean"] / at.loc["maaslin2", "recall_mean"]
    big = max(summary.n)
    fdr = {
        m: _cell(summary, m, "fdr", big, 1.0)
        for m in ("maaslin2", "per-variable", "twopart", "median", "default")
    }
    bias = {m: _cell(summary, m, "bias", big, 1.0) for m in ("maaslin2", "default")}
    signal = summary[(summary.q == 0.1) & (summary.effect > 0)].pivot_table(
        index=["n", "effect"], columns="method", values="recall_mean"
    )
    behind = signal[signal["default"] < signal["maaslin2"]]
    auprc = summary[(summary.q == 0.1) & (summary.effect > 0)].pivot_table(
        index=["n", "effect"], columns="method", values="auprc_mean"
    )
    cauchy_gain = (signal["default"] - signal["twopart-median-beta"]).mean()
    auprc_wins = int((auprc["default"] > auprc["maaslin2"]).sum())
    deficit = "; ".join(
        f"n = {n}, effect {e:g}: {row['default']:.3f} vs {row['maaslin2']:.3f}"
        for (n, e), row in behind.iterrows()
    )
    return f"""### Choice of the default

`default` = MaAsLin3-style **two-part model** (logistic prevalence with weighted augmentation + log2 abundance
on the samples where the genus is present; a genus present in every sample has no prevalence model and is
judged on its abundance p-value alone, as in MaAsLin3), the two p-values joined by a **presence-weighted Cauchy
combination** (weights 1/(2 − π) and (1 − π)/(2 − π) for a genus present in a fraction π of samples), the
**median comparison** of the abundance coefficient (analytic covariance, no Monte Carlo:
`models/compositional.py`) and **BH per variable**. Why:

1. *FDR under closure.* When markers move, every other genus moves in relative abundance. Without a
   compositional correction the phenotype's FDR exceeds q at large effects (n = {big}, 1 log2 FC per SD:
   maaslin2 {fdr["maaslin2"]:.3f}, BH per variable {fdr["per-variable"]:.3f}, two-part {fdr["twopart"]:.3f});
   the median comparison brings it back (linear model + median {fdr["median"]:.3f}, default {fdr["default"]:.3f}).
   LinDA's kernel mode of ~56 coefficients is too noisy to centre on here (worst FDR at small effects).
2. *Power and bias.* Fitting log abundance where the genus is present does not dilute the fold change with
   zeros replaced by half the minimum (MaAsLin2's LOG): recall at effects ≥ 0.5 is {gain:.1f}× MaAsLin2's at
   q = 0.1, and the effect bias at 1 log2 FC per SD is {bias["default"]:.2f} vs {bias["maaslin2"]:.2f}
   (negative = attenuated).
3. *The joint p-value.* MaAsLin3's 1 − (1 − min p)² (row twopart-median-beta) doubles the abundance p-value
   of a genus whose presence carries no information (present in nearly every sample). The Cauchy combination
   (Liu & Xie 2020) keeps its level in the tail whatever the dependence between the parts and, with weights that follow how much of
   the data each part rests on (π samples for abundance, binomial variance π(1 − π) for presence; they depend
   on presence, not on the phenotype), divides such a genus's p-value by ≈ 1 instead of multiplying it by 2.
   Mean recall gain over the min rule across the 12 cells: {cauchy_gain:+.4f}; AUPRC above MaAsLin2's in
   {auprc_wins} of 12 cells.
4. *BH per variable* keeps the phenotype's q-values apart from the covariates' (here 10% of genera per
   covariate); alone it is not enough (row per-variable).
5. *HC3* gave no gain on this template (the t test already tolerates the heteroscedasticity); it stays an
   option (`variance="HC3"`), as do the median-centred prevalence part and a read-depth covariate
   (`compositional_prevalence`, `depth_covariate`; run them with `--methods`).

Limits, read before quoting a cell: at effects ≤ 0.25 every method finds < 15% of the markers and the FDR of
a run is mostly 0 or 1 (one false, no true discovery), so those cells have standard errors ≈ 0.03 at 100
seeds (the grid had 40 until session 2; single markers then flipped cells). Recall below MaAsLin2's at q = 0.1
({deficit or "none"}), at effects where both find < 5% of the 400 markers implanted over the seeds (MaAsLin2's
FDR in those cells and what was tried: § calibration diagnosis). n = 500 uses all
278 samples plus 222 drawn again, counts re-drawn at implantation (pseudo-replicates). With random effects
the default is the two-part mixed model (issue 16; its calibration with repeated samples: § calibration with
repeated samples). `--preset maaslin2` gives MaAsLin2's behaviour exactly.

### Decisions on the two issues that ended blocked (issue 16)

- *Two-factor random-effect parity with MaAsLin2's run1/run2 files* (`(1|site) + (1|subject)`): accepted as it
  stands. We reach a lower REML deviance than the R build that wrote those files (§ associate, session 2); that is
  not a defect. `tests/test_associate_parity.py::test_lmm_two_factor_runs_agree_on_almost_all_rows` keeps
  pinning today's optimum (95% of rows within 1e-4, none off by more than 1% in coef/stderr) with the note on
  why; with one factor, where the optimum is unique, the 1e-4 parity on every row stays
  (`test_lmm_parity_subject`), and the two-part mixed model's abundance part is held to lmer/lmerTest at 1e-4
  (`tests/test_glmm_parity.py`).
- *Calibrated-default criteria*, restated: without signal, **at most 0.1 false discoveries per null run on
  average, or P(any false discovery) ≤ q, each within two standard errors over the seeds**; with signal, recall
  is judged at q **and at matched FDR (AUPRC)**. `evaluate.calibration.check_criteria` now computes both (columns
  `null_any`, `auprc_ok`; `criteria_text` prints them); no re-tuning was asked or done, and the standard grid
  was not rerun for this change (its numbers above are from the last full run).

"""


def timed_run(grid: calibration.Grid, workers: int) -> tuple[calibration.Template, pd.DataFrame, float]:
    """The Twins template, the per-run rows of ``grid`` on ``workers`` workers and their wall time (s)."""
    template = calibration.load_template(TWINS)
    start = time.perf_counter()
    runs = calibration.run(template, grid, workers=workers)
    return template, runs, time.perf_counter() - start


def seconds_per_fit(runs: pd.DataFrame) -> pd.Series:
    """Mean seconds of one fit per method (a fit has a row per q level: counted once)."""
    return runs.drop_duplicates(["method", "n", "effect", "seed", "draw"]).groupby("method")["seconds"].mean()


def main(workers: int = 2, seeds: int = calibration.STANDARD.seeds) -> None:
    grid = replace(calibration.STANDARD, seeds=seeds)
    template, runs, wall = timed_run(grid, workers)
    with tempfile.TemporaryDirectory() as tmp:
        summary = calibration.write_outputs(runs, tmp)
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        shutil.copy(Path(tmp) / "summary.tsv", out / "calibration_summary.tsv")
        shutil.copy(Path(tmp) / "calibration.png", out / "calibration.png")
        tables = (Path(tmp) / "calibration.md").read_text()
    per_fit = seconds_per_fit(runs)
    timing = ", ".join(
        f"{m} {per_fit[m] * 1000:.0f} ms ({per_fit[m] / per_fit['maaslin2']:.2f}x)" for m in per_fit.index
    )
    print(f"standard grid: {len(runs)} rows, {wall:.1f} s wall on {workers} workers")
    print(f"mean time per fit (ratio to the maaslin2 preset): {timing}")
    header = (
        f"`python benchmarks/calibration.py {workers} {seeds}` — Twins template ({template.counts.shape[0]} samples × "
        f"{template.counts.shape[1]} genera), standard grid, {seeds} seeds per cell and {grid.null_draws * seeds} null phenotypes per n: **{wall:.0f} s wall on "
        f"{workers} workers** (load average {os.getloadavg()[0]:.1f} at the end). Mean time per fit (ratio to maaslin2): {timing}.\n\n"
        "![calibration](results/calibration.png)\n\n"
    )
    RESULTS.write_text(
        replace_section(RESULTS.read_text(), "calibration", header + tables + "\n\n" + choice_text(summary))
    )
    print(calibration.check_criteria(summary).to_string())


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
