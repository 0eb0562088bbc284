"""Reading and collapsing a feature table: osteobiome vs plain pandas baselines in the same process.

A synthetic 2,000 samples × 4,000 ASVs count table (≈95% zeros, 400 genera in 80 families), written as a
features-as-rows TSV with a taxonomy column and as BIOM 2.1 HDF5. Times are the best of 3 runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp
from _timing import timed

from osteobiome.io import load_cohort, read_features

N_SAMPLES, N_FEATURES, N_GENERA, SEED = 2000, 4000, 400, 7


def synthetic(folder: Path) -> tuple[Path, Path]:
    import biom

    rng = np.random.default_rng(SEED)
    X = sp.random(N_FEATURES, N_SAMPLES, density=0.05, format="csr", random_state=SEED, data_rvs=lambda k: rng.integers(1, 500, k))
    features = [f"ASV{i}" for i in range(N_FEATURES)]
    samples = [f"S{i}" for i in range(N_SAMPLES)]
    genus = rng.integers(0, N_GENERA, N_FEATURES)
    lineages = [f"d__Bacteria; p__Firmicutes; c__C; o__O; f__Fam{g % 80}; g__Genus{g}" for g in genus]
    tsv = folder / "table.tsv"
    frame = pd.DataFrame(X.toarray().astype(int), index=pd.Index(features, name="#OTU ID"), columns=samples)
    frame["taxonomy"] = lineages
    frame.to_csv(tsv, sep="\t")
    hdf5 = folder / "table.biom"
    meta = [{"taxonomy": [p.strip() for p in lineage.split(";")]} for lineage in lineages]
    with h5py.File(hdf5, "w") as handle:
        biom.Table(X, features, samples, observation_metadata=meta).to_hdf5(handle, "bench")
    return tsv, hdf5


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tsv, hdf5 = synthetic(Path(tmp))
        t_pandas, raw = timed(lambda: pd.read_csv(tsv, sep="\t", index_col=0))
        t_tsv, tsv_data = timed(lambda: read_features(tsv))
        t_hdf5, data = timed(lambda: read_features(hdf5))
        print(f"read {N_SAMPLES}x{N_FEATURES} TSV: pandas.read_csv {t_pandas:.3f} s, read_features {t_tsv:.3f} s "
              f"(ratio {t_tsv / t_pandas:.2f}x, includes type checks and taxonomy parsing)")
        print(f"read BIOM HDF5 (CSR, {data.X.nnz:,} non-zeros): {t_hdf5:.3f} s ({t_pandas / t_hdf5:.1f}x faster than pandas on the TSV)")

        sparse_cohort = load_cohort(data)
        dense_cohort = load_cohort(tsv_data)
        labels = raw["taxonomy"].str.rsplit("g__", n=1).str[-1]
        counts = raw.drop(columns="taxonomy")
        t_base, _ = timed(lambda: counts.groupby(labels.to_numpy()).sum().T)
        t_sparse, genus_sparse = timed(lambda: sparse_cohort.collapse("Genus"))
        t_dense, genus_dense = timed(lambda: dense_cohort.collapse("Genus"))
        assert np.array_equal(genus_sparse.dense(), genus_dense.dense())
        print(f"collapse to {genus_dense.n_features} genera: pandas groupby {t_base:.3f} s, Cohort.collapse dense "
              f"{t_dense:.3f} s (ratio {t_dense / t_base:.2f}x), sparse CSR {t_sparse:.3f} s (ratio {t_sparse / t_base:.2f}x)")


if __name__ == "__main__":
    main()
