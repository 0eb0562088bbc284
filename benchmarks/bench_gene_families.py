"""The default preset on a gene-family-sized table through the command line (issue 15's target).

``python benchmarks/bench_gene_families.py [--features 100000] [--samples 10000] [--out DIR]`` writes a BIOM
(HDF5) table of ``features × samples`` counts with 2% of the cells non-zero, and a metadata file with 5
covariates, then runs ``osteobiome associate TABLE META --fixed age,bmi,sex,height,calcium`` with the DEFAULT
preset (two-part model, median comparison, BH per variable; min_prevalence 0.1) in a subprocess, once in this
process's scheduler (one block at a time) and once with ``--scheduler threads`` (2 cores), and reports wall
time, CPU time (user + system: robust to other jobs on a shared machine) and peak RSS (``ru_maxrss`` of the
child), with the load average before each run. The table is written once into ``--out`` and reused. Baseline in the same process: the same command on
``--preset maaslin2`` (linear models).

Table. Gene families are mostly rare: each feature's prevalence is drawn from Beta(0.1, 4.9) (mean 2%), so
that 2% of all cells are non-zero and a realistic minority of features passes the 10% prevalence filter;
counts are geometric (mean 20). Uniform 2% prevalence would leave no feature to fit under the default filter.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = 15
COVARIATES = "age,bmi,sex,height,calcium"


def generate(folder: Path, n_features: int, n_samples: int) -> tuple[Path, Path, int]:
    import biom
    import h5py
    import pandas as pd
    import scipy.sparse as sp

    path = folder / f"genefamilies_{n_features}x{n_samples}.biom"
    meta_path = folder / "metadata.tsv"
    if path.exists() and meta_path.exists():  # same seed, same table: reuse it
        with h5py.File(path) as handle:
            return path, meta_path, int(handle.attrs["nnz"])
    rng = np.random.default_rng(SEED)
    samples = [f"S{i:06d}" for i in range(n_samples)]
    meta = pd.DataFrame(
        {
            "age": rng.normal(65, 8, n_samples),
            "bmi": rng.normal(27, 4, n_samples),
            "sex": rng.choice(["F", "M"], n_samples),
            "height": rng.normal(168, 9, n_samples),
            "calcium": rng.gamma(4, 250, n_samples),
        },
        index=pd.Index(samples, name="sample"),
    )
    prevalence = rng.beta(0.1, 4.9, n_features)
    per_feature = rng.binomial(n_samples, prevalence)
    rows = np.repeat(np.arange(n_features), per_feature)
    cols = np.concatenate([rng.choice(n_samples, k, replace=False) for k in per_feature])
    counts = rng.geometric(0.05, rows.size).astype(float)
    matrix = sp.csr_matrix((counts, (rows, cols)), shape=(n_features, n_samples))
    table = biom.Table(matrix, [f"UniRef90_{j:07d}" for j in range(n_features)], samples)
    with h5py.File(path, "w") as handle:
        table.to_hdf5(handle, "benchmarks/bench_gene_families.py")
    meta.to_csv(meta_path, sep="\t")
    return path, meta_path, int(matrix.nnz)


def run_cli(table: Path, meta: Path, out: Path, extra: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system, all threads), peak RSS (GB) of the child, its summary line."""
    code = (
        "import resource, sys, time; from osteobiome.cli import main; t = time.perf_counter()\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print('SECONDS', time.perf_counter() - t); print('RSS', u.ru_maxrss); print('CPU', u.ru_utime + u.ru_stime)"
    )
    args = [sys.executable, "-c", code, "associate", str(table), str(meta), "--fixed", COVARIATES, "--out", str(out), *extra]
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"osteobiome associate failed:\n{done.stderr[-2000:]}")
    wall = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    rss_kb = float(next(line for line in lines if line.startswith("RSS")).split()[1])
    cpu = float(next(line for line in lines if line.startswith("CPU")).split()[1])
    summary = next(line for line in lines if "associations" in line)
    return wall, cpu, rss_kb / 1024**2, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/osteobiome_gene_families"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table, meta, nnz = generate(args.out, args.features, args.samples)
    print(f"table: {args.features} features × {args.samples} samples, {nnz} non-zeros "
          f"({nnz / args.features / args.samples:.2%}), {table.stat().st_size / 1e6:.0f} MB BIOM; "
          f"written in {time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("| preset | scheduler | wall (s) | CPU (s) | peak RSS (GB) | load before | output |")
    print("|---|---|---|---|---|---|---|")
    for preset, scheduler in (("default", None), ("default", "threads"), ("maaslin2", None)):
        extra = ["--preset", preset] + (["--scheduler", scheduler] if scheduler else [])
        out = args.out / f"out_{preset}_{scheduler or 'inprocess'}"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        load = os.getloadavg()[0]
        wall, cpu, rss, summary = run_cli(table, meta, out, extra)
        print(f"| {preset} | {scheduler or 'this process'} | {wall:.1f} | {cpu:.1f} | {rss:.2f} | {load:.1f} | {summary} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}; children's CPU "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime:.0f} s user")


if __name__ == "__main__":
    main()
