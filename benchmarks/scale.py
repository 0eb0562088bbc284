"""Scale benchmark: the blocked sparse LM path on synthetic gene-family-like tables.

``python benchmarks/scale.py [--big] [--out DIR]`` runs every configuration (features × samples, 2% non-zero,
5 covariates, LM with BH per variable, min_prevalence 0 so that every feature is fitted) in its own
subprocess, so that peak RSS (``ru_maxrss``) does not accumulate, in four modes:

- ``single``: :func:`osteobiome.association.pipeline.associate` (blocks of features) in this process, table in memory (CSR);
- ``store``: the same reading blocks from the HDF5 feature store (the table is never in memory);
- ``threads``: ``single`` through dask's threaded scheduler (2 threads);
- ``cluster``: a ``LocalCluster`` of 2 worker processes × 1 thread reading blocks from the HDF5 feature store
  (peak RSS = client + the largest worker).

The smallest configuration also runs the dense :func:`osteobiome.association.pipeline.associate` as the in-process
baseline (ratio printed). Tables are generated once per configuration into ``DIR`` as feature stores
(``osteobiome.io.store``). Prints a Markdown table with time, peak RSS and the load average, then the scaling
exponent b of ``time ∝ (features × samples)^b`` (least squares on logs of wall and CPU time, ``single`` and
``store`` modes; CPU time is less sensitive to other jobs on a shared machine). ``--big`` adds 10^6 × 10,000
(2×10^8 non-zeros, ~2.4 GB as CSR) in the ``--big-modes`` (default ``store`` only); ``--only-big`` runs just it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DENSITY = 0.02
SEED = 20261121
CONFIGS = [(10_000, 2_000), (10_000, 10_000), (100_000, 2_000), (100_000, 10_000), (1_000_000, 2_000)]
BIG = [(1_000_000, 10_000)]
COVARIATES = ["age", "bmi", "sex", "height", "calcium"]
OPTIONS = {"min_prevalence": 0.0, "correction": "BH", "model": "lm", "compositional": "none"}  # the LM path


def metadata(n_samples: int):
    import pandas as pd

    rng = np.random.default_rng(SEED)
    return pd.DataFrame(
        {
            "age": rng.normal(65, 8, n_samples),
            "bmi": rng.normal(27, 4, n_samples),
            "sex": rng.choice(["F", "M"], n_samples),
            "height": rng.normal(168, 9, n_samples),
            "calcium": rng.gamma(4, 250, n_samples),
        },
        index=[f"S{i:06d}" for i in range(n_samples)],
    )


def generate(path: Path, n_features: int, n_samples: int) -> None:
    """A store of counts: each feature non-zero in Binomial(n, 2%) random samples, geometric counts."""
    import scipy.sparse as sp

    from osteobiome.io.store import write_store

    rng = np.random.default_rng(SEED)

    def blocks(size: int = 20_000):
        for j0 in range(0, n_features, size):
            b = min(size, n_features - j0)
            per_column = rng.binomial(n_samples, DENSITY, b)
            cols = np.repeat(np.arange(b), per_column)
            rows = rng.integers(0, n_samples, cols.size)
            counts = rng.geometric(0.05, cols.size).astype(float)
            block = sp.csc_matrix((counts, (rows, cols)), shape=(n_samples, b))
            block.sum_duplicates()
            yield [f"UniRef90_{j:07d}" for j in range(j0, j0 + b)], block

    write_store(path, metadata(n_samples).index, blocks(), source="benchmarks/scale.py")


def run_one(store: Path, n_features: int, n_samples: int, mode: str) -> dict:
    """One measured run (in a fresh subprocess)."""
    from osteobiome.association.pipeline import associate as associate_blocked
    from osteobiome.io.cohort import Cohort
    from osteobiome.io.store import FeatureStore

    meta = metadata(n_samples)
    start = time.perf_counter()
    cpu0 = _cpu()
    workers_peak = 0.0
    if mode == "cluster":
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            with Client(cluster) as client:
                t0 = time.perf_counter()
                results = associate_blocked(str(store), meta, COVARIATES, scheduler=client, **OPTIONS)
                elapsed = time.perf_counter() - t0
                peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
                workers_peak = max(peaks.values()) / 1024**2
        load_s = 0.0
    elif mode == "store":
        t0 = time.perf_counter()
        results = associate_blocked(str(store), meta, COVARIATES, **OPTIONS)
        elapsed, load_s = time.perf_counter() - t0, 0.0
    else:
        t0 = time.perf_counter()
        st = FeatureStore.open(store)
        cohort = Cohort.from_arrays(st.to_csr(), st.samples, st.features, meta, name="bench")
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if mode == "dense":
            from osteobiome.association.pipeline import associate

            results = associate(cohort, None, COVARIATES, **OPTIONS)
        else:
            results = associate_blocked(cohort, None, COVARIATES, scheduler=None if mode == "single" else "threads", **OPTIONS)
        elapsed = time.perf_counter() - t0
    return {
        "cpu_seconds": _cpu() - cpu0,
        "features": n_features,
        "samples": n_samples,
        "mode": mode,
        "seconds": elapsed,
        "load_seconds": load_s,
        "total_seconds": time.perf_counter() - start,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "workers_peak_rss_gb": workers_peak,
        "rows": len(results),
        "load_average": os.getloadavg()[0],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(store: Path, n_features: int, n_samples: int, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--one", str(store), str(n_features), str(n_samples), mode]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline(out: Path, repeats: int, load, spread) -> None:  # noqa: ANN001
    """Blocked ``single`` vs dense ``associate()`` on the smallest table, ``repeats`` subprocess runs of each,
    interleaved; prints every run, each mode's median and range, and the ratio (blocked / dense) of medians with
    the range of the per-pair ratios."""
    import statistics

    n_features, n_samples = CONFIGS[0]
    store = out / f"f{n_features}_s{n_samples}.h5"
    if not store.exists():
        generate(store, n_features, n_samples)
    times: dict[str, list[float]] = {"single": [], "dense": []}
    cpu: dict[str, list[float]] = {"single": [], "dense": []}
    for run in range(repeats):
        for mode in times:
            r = measure(store, n_features, n_samples, mode)
            times[mode].append(r["seconds"])
            cpu[mode].append(r["cpu_seconds"])
            print(f"run {run + 1} {mode}: {r['seconds']:.2f} s, CPU {r['cpu_seconds']:.2f} s, "
                  f"peak {r['peak_rss_gb']:.2f} GB ({load()})", flush=True)
    ratios = [b / d for b, d in zip(times["single"], times["dense"], strict=True)]
    print(f"blocked single: {spread(times['single'])}\ndense associate(): {spread(times['dense'])}")
    print(f"{n_features:,} × {n_samples:,}: blocked / dense time, ratio of medians "
          f"{statistics.median(times['single']) / statistics.median(times['dense']):.2f}x; per pair "
          f"{min(ratios):.2f}–{max(ratios):.2f}x; {load()}")
    print(f"CPU seconds (less sensitive to load; include reading the table): blocked {spread(cpu['single'])}, "
          f"dense {spread(cpu['dense'])}, ratio of medians "
          f"{statistics.median(cpu['single']) / statistics.median(cpu['dense']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 10^6 features × 10,000 samples")
    parser.add_argument("--out", type=Path, default=Path("/tmp/osteobiome-scale"), help="folder for the generated stores")
    parser.add_argument("--modes", default="single,store,threads,cluster")
    parser.add_argument("--big-modes", default="store")
    parser.add_argument("--only-big", action="store_true", help="run only the --big configuration")
    parser.add_argument(
        "--baseline", type=int, metavar="REPEATS", default=0,
        help="only the blocked (single) vs dense ratio on the smallest table, REPEATS times each, interleaved",
    )
    parser.add_argument("--one", nargs=4, metavar=("STORE", "FEATURES", "SAMPLES", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), int(args.one[1]), int(args.one[2]), args.one[3])))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import load, machine, spread

    print(machine(), flush=True)
    if args.baseline:
        baseline(args.out, args.baseline, load, spread)
        return
    rows = []
    print("| features | samples | non-zeros | mode | time (s) | CPU (s) | load table (s) | peak RSS (GB) | workers' peak RSS (GB) | load avg |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    configs = BIG if args.only_big else CONFIGS + (BIG if args.big else [])
    for n_features, n_samples in configs:
        store = args.out / f"f{n_features}_s{n_samples}.h5"
        if not store.exists():
            t0 = time.perf_counter()
            generate(store, n_features, n_samples)
            print(f"<!-- generated {store} in {time.perf_counter() - t0:.1f} s -->", flush=True)
        from osteobiome.io.store import FeatureStore

        nnz = FeatureStore.open(store).nnz
        modes = args.modes.split(",") + (["dense"] if (n_features, n_samples) == CONFIGS[0] else [])
        if (n_features, n_samples) in BIG:  # the table alone is ~2.4 GB as CSR: only the streaming modes
            modes = args.big_modes.split(",")
        for mode in modes:
            r = measure(store, n_features, n_samples, mode) | {"nnz": nnz}
            rows.append(r)
            print(
                f"| {n_features:,} | {n_samples:,} | {nnz:,} | {mode} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['load_seconds']:.1f} | "
                f"{r['peak_rss_gb']:.2f} | {r['workers_peak_rss_gb']:.2f} | {r['load_average']:.1f} |",
                flush=True,
            )
    for mode in ("single", "store"):
        runs = [r for r in rows if r["mode"] == mode]
        if len(runs) >= 2:
            size = np.log([r["features"] * r["samples"] for r in runs])
            wall, cpu = (np.polyfit(size, np.log([r[k] for r in runs]), 1)[0] for k in ("seconds", "cpu_seconds"))
            print(f"\nscaling exponent ({mode}, time ∝ (features × samples)^b): b = {wall:.2f} (wall), {cpu:.2f} (CPU)")
    single = [r for r in rows if r["mode"] == "single"]
    dense = next((r for r in rows if r["mode"] == "dense"), None)
    if dense:
        base = next(r for r in single if (r["features"], r["samples"]) == (dense["features"], dense["samples"]))
        print(
            f"baseline {dense['features']:,} × {dense['samples']:,}: dense associate() {dense['seconds']:.1f} s, "
            f"{dense['peak_rss_gb']:.2f} GB; blocked single {base['seconds']:.1f} s, {base['peak_rss_gb']:.2f} GB "
            f"(time ratio blocked/dense {base['seconds'] / dense['seconds']:.2f}x)"
        )
    (args.out / ("results_big.json" if args.only_big else "results.json")).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
