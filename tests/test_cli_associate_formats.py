"""``associate --rank genus`` gives the same results whatever format carries the table and its taxonomy.

Eight ways to hand over one cohort: a TSV with a taxonomy column, gzipped; a CSV with a QIIME 2 taxonomy.tsv;
BIOM JSON and BIOM HDF5 with their own observation taxonomy; a .qza pair; DADA2 seqtab + taxa; and a MetaPhlAn
profile (genus rows, percent). Tables that carry their taxonomy need no --taxonomy.
"""

import gzip
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main

N = 24
SAMPLES = [f"S{i}" for i in range(N)]
SEQS = [("ACGT" * 13)[i:] + "T" * i for i in range(8)]
GENERA = ["Blautia", "Blautia", "Roseburia", "Dorea", "Dorea", "Dorea", "Alistipes", "Bacteroides"]
FAMILIES = ["Lachnospiraceae"] * 6 + ["Rikenellaceae", "Bacteroidaceae"]
PHYLA = ["Firmicutes"] * 6 + ["Bacteroidota"] * 2
LINEAGES = [
    f"d__Bacteria; p__{p}; c__C; o__O; f__{f}; g__{g}" for p, f, g in zip(PHYLA, FAMILIES, GENERA, strict=True)
]


def _counts() -> np.ndarray:
    rng = np.random.default_rng(14)
    counts = rng.poisson(rng.gamma(1.0, 40.0, size=(N, len(SEQS))))
    counts[rng.random(counts.shape) < 0.2] = 0  # some absences, so the two-part model has both parts
    counts[:, 0] += 1  # no all-zero sample
    return counts


COUNTS = _counts()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(COUNTS.T, index=pd.Index(SEQS, name="#OTU ID"), columns=SAMPLES)


def tsv_gz(folder):
    frame = _frame()
    frame["taxonomy"] = LINEAGES
    path = folder / "table.tsv.gz"
    with gzip.open(path, "wt") as handle:
        frame.to_csv(handle, sep="\t")
    return path, None


def csv_with_taxonomy_file(folder):
    path, taxonomy = folder / "table.csv", folder / "taxonomy.tsv"
    _frame().T.rename_axis("sample").to_csv(path)  # samples as rows
    taxonomy.write_text("Feature ID\tTaxon\tConfidence\n" + "".join(f"{s}\t{t}\t0.9\n" for s, t in zip(SEQS, LINEAGES, strict=True)))
    return path, taxonomy


def _biom():
    import biom

    meta = [{"taxonomy": [p.strip() for p in lineage.split(";")]} for lineage in LINEAGES]
    return biom.Table(COUNTS.T.astype(float), SEQS, SAMPLES, observation_metadata=meta)


def biom_json(folder):
    path = folder / "table.json.biom"
    path.write_text(_biom().to_json("osteobiome tests"))
    return path, None


def biom_hdf5(folder, name="table.biom"):
    path = folder / name
    with h5py.File(path, "w") as handle:
        _biom().to_hdf5(handle, "osteobiome tests")
    return path, None


def qza(folder):
    inner, _ = biom_hdf5(folder, "inner.biom")
    path, taxonomy = folder / "table.qza", folder / "taxonomy.qza"
    for target, kind, name, content in (
        (path, "FeatureTable[Frequency]", "feature-table.biom", inner.read_bytes()),
        (
            taxonomy,
            "FeatureData[Taxonomy]",
            "taxonomy.tsv",
            "Feature ID\tTaxon\tConfidence\n" + "".join(f"{s}\t{t}\t0.99\n" for s, t in zip(SEQS, LINEAGES, strict=True)),
        ),
    ):
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("uuid-1/metadata.yaml", f"uuid: uuid-1\ntype: {kind}\nformat: F\n")
            archive.writestr(f"uuid-1/data/{name}", content)
    return path, taxonomy


def dada2(folder):
    path, taxa = folder / "seqtab.nochim.csv", folder / "taxa.csv"
    rows = "".join(f'"{s}",' + ",".join(str(int(v)) for v in row) + "\n" for s, row in zip(SAMPLES, COUNTS, strict=True))
    path.write_text('"",' + ",".join(f'"{s}"' for s in SEQS) + "\n" + rows)
    taxa.write_text(
        '"","Kingdom","Phylum","Class","Order","Family","Genus"\n'
        + "".join(f'"{s}","Bacteria","{p}","C","O","{f}","{g}"\n' for s, p, f, g in zip(SEQS, PHYLA, FAMILIES, GENERA, strict=True))
    )
    return path, taxa


def metaphlan(folder):
    """Kingdom … genus rows in percent, as merge_metaphlan_tables.py writes them (genus = sum of its ASVs)."""
    counts = pd.DataFrame(COUNTS, index=SAMPLES, columns=SEQS)
    percent = counts.div(counts.sum(axis=1), axis=0) * 100
    clades = {}
    for seq, phylum, family, genus in zip(SEQS, PHYLA, FAMILIES, GENERA, strict=True):
        parts = ["k__Bacteria", f"p__{phylum}", "c__C", "o__O", f"f__{family}", f"g__{genus}"]
        for depth in range(1, len(parts) + 1):
            clade = "|".join(parts[:depth])
            clades[clade] = clades.get(clade, 0) + percent[seq]
    lines = ["#mpa_vJan21_CHOCOPhlAnSGB_202103", "clade_name\t" + "\t".join(SAMPLES)]
    lines += [f"{clade}\t" + "\t".join(repr(float(v)) for v in values) for clade, values in clades.items()]
    path = folder / "merged_abundance_table.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, None


FORMATS = {
    "tsv-gz": tsv_gz,
    "csv+taxonomy": csv_with_taxonomy_file,
    "biom-json": biom_json,
    "biom-hdf5": biom_hdf5,
    "qza": qza,
    "dada2": dada2,
    "metaphlan": metaphlan,
}


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("meta") / "metadata.tsv"
    frame = pd.DataFrame({"age": rng.normal(60, 8, N).round(1), "sex": rng.choice(["F", "M"], N)}, index=pd.Index(SAMPLES, name="sample"))
    frame.iloc[::-1].to_csv(path, sep="\t")  # another sample order than the tables
    return path


def associate(writer, folder, metadata, *extra):
    folder.mkdir()
    path, taxonomy = writer(folder)
    argv = ["associate", str(path), str(metadata), "--fixed", "age,sex", "--rank", "genus", "--out", str(folder / "out"), *extra]
    if taxonomy is not None:
        argv += ["--taxonomy", str(taxonomy)]
    main(argv)
    results = pd.read_csv(folder / "out" / "all_results.tsv", sep="\t")
    return results.sort_values(["feature", "metadata", "value"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, metadata):
    """The plain TSV with a taxonomy column, the format every other one is compared with."""

    def tsv(folder):
        frame = _frame()
        frame["taxonomy"] = LINEAGES
        frame.to_csv(folder / "table.tsv", sep="\t")
        return folder / "table.tsv", None

    results = associate(tsv, tmp_path_factory.mktemp("reference") / "tsv", metadata)
    assert sorted(results["feature"].unique()) == ["Alistipes", "Bacteroides", "Blautia", "Dorea", "Roseburia"]
    assert results["pval"].notna().all()
    return results


@pytest.mark.parametrize("kind", list(FORMATS))
def test_rank_genus_gives_the_same_results_in_every_format(kind, tmp_path, metadata, reference):
    results = associate(FORMATS[kind], tmp_path / kind, metadata)
    # MetaPhlAn carries percentages of the same counts: equal after TSS up to float rounding
    pd.testing.assert_frame_equal(results, reference, check_exact=False, rtol=1e-9, obj=kind)
