"""Power on the mros preset: 3 sizes × 3 effects × 20 replicates, timed; baseline = the same replicates of one
setting run serially (workers=1) in the same process.

Run: ``.venv/bin/python benchmarks/bench_simulate_power.py`` — prints a Markdown section for RESULTS.md and
writes benchmarks/figures/power_mros.png (+ .svg).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from osteobiome.evaluate import power
from osteobiome.evaluate.power_plot import plot_power

FIGURE = Path(__file__).resolve().parent / "figures" / "power_mros"
NS, EFFECTS, REPLICATES, Q = (300, 1000, 3000), (0.1, 0.2, 0.35), 20, 0.1


def main() -> None:
    workers = max(1, min(4, os.cpu_count() or 1))
    t = time.perf_counter()
    result = power(ns=NS, effects=EFFECTS, preset="mros", replicates=REPLICATES, q=Q, workers=workers, seed=0)
    t_grid = time.perf_counter() - t

    t = time.perf_counter()
    power(ns=[1000], effects=[0.2], preset="mros", replicates=REPLICATES, q=Q, workers=1, seed=0)
    t_serial = time.perf_counter() - t
    t = time.perf_counter()
    power(ns=[1000], effects=[0.2], preset="mros", replicates=REPLICATES, q=Q, workers=workers, seed=0)
    t_parallel = time.perf_counter() - t

    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    plot_power(
        result.summary, Q, FIGURE, title=f"mros preset, 10 planted genera, {REPLICATES} replicates, q = {Q:g}"
    )

    print("## simulate: power (mros preset)\n")
    print(
        f"`osteobiome power --preset mros --n 300,1000,3000 --effect 0.1,0.2,0.35 --replicates {REPLICATES} "
        f"--workers {workers}` (10 planted genera per replicate on tibia Ct.vBMD, adjusted for age and BMI; "
        "`osteobiome.association.pipeline` with its default preset: two-part model (logistic prevalence + log2 abundance "
        "where present), abundance coefficient compared with the median coefficient, presence-weighted Cauchy "
        f"joint p-value, BH per variable; q = {Q}).\n"
    )
    print("| n | effect | power | power_sd | fdr | fdr_sd |")
    print("|---|---|---|---|---|---|")
    for r in result.summary.itertuples(index=False):
        print(f"| {r.n} | {r.effect:g} | {r.power:.3f} | {r.power_sd:.3f} | {r.fdr:.3f} | {r.fdr_sd:.3f} |")
    print(f"\n![power](figures/{FIGURE.name}.png)\n")
    print(
        f"Whole grid ({len(NS) * len(EFFECTS) * REPLICATES} replicates, {workers} workers): {t_grid:.1f} s."
    )
    print(
        f"One setting (n=1000, effect 0.2, {REPLICATES} replicates): serial {t_serial:.1f} s, {workers} workers "
        f"{t_parallel:.1f} s (speed-up {t_serial / t_parallel:.1f}×; process start-up included)."
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Machine load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
