"""The same small cohort written as TSV, BIOM JSON, BIOM HDF5, .qza and DADA2 CSV loads to identical tables."""

import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest

from osteobiome.io import load_cohort

SEQS = [("ACGT" * 13)[i:] + "T" * i for i in range(4)]
GENERA = ["Blautia", "Lachnospiraceae NK4A136 group", "", "DTU089"]
FAMILIES = ["Lachnospiraceae", "Lachnospiraceae", "Lachnospiraceae", "Oscillospiraceae"]
COUNTS = np.array([[10, 0, 3, 1], [0, 7, 0, 2], [5, 5, 5, 5], [1, 0, 0, 0], [0, 0, 9, 4]], dtype=float)
SAMPLES = ["S1", "S2", "S3", "S4", "S5"]
LINEAGES = [f"d__Bacteria; p__Firmicutes; c__Clostridia; o__X; f__{f}; g__{g}" for f, g in zip(FAMILIES, GENERA, strict=True)]


def write_tsv(folder):
    frame = pd.DataFrame(COUNTS.T, index=pd.Index(SEQS, name="#OTU ID"), columns=SAMPLES).astype(int)
    frame["taxonomy"] = LINEAGES
    path = folder / "table.tsv"
    frame.to_csv(path, sep="\t")
    return path, None


def biom_table():
    import biom

    meta = [{"taxonomy": [p.strip() for p in lineage.split(";")]} for lineage in LINEAGES]
    return biom.Table(COUNTS.T, SEQS, SAMPLES, observation_metadata=meta)


def write_biom_json(folder):
    path = folder / "table.json.biom"
    path.write_text(biom_table().to_json("roundtrip"))
    return path, None


def write_biom_hdf5(folder, name="table.biom"):
    path = folder / name
    with h5py.File(path, "w") as handle:
        biom_table().to_hdf5(handle, "roundtrip")
    return path, None


def write_qza(folder):
    inner, _ = write_biom_hdf5(folder, "inner.biom")
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


def write_dada2(folder):
    path, taxa = folder / "seqtab.nochim.csv", folder / "taxa.csv"
    rows = "".join(f'"{s}",' + ",".join(str(int(v)) for v in row) + "\n" for s, row in zip(SAMPLES, COUNTS, strict=True))
    path.write_text('"",' + ",".join(f'"{s}"' for s in SEQS) + "\n" + rows)
    taxa.write_text(
        '"","Kingdom","Phylum","Class","Order","Family","Genus"\n'
        + "".join(
            f'"{s}","Bacteria","Firmicutes","Clostridia","X","{f}",{f"{chr(34)}{g}{chr(34)}" if g else "NA"}\n'
            for s, f, g in zip(SEQS, FAMILIES, GENERA, strict=True)
        )
    )
    return path, taxa


WRITERS = {"tsv": write_tsv, "biom-json": write_biom_json, "biom-hdf5": write_biom_hdf5, "qza": write_qza, "dada2": write_dada2}


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "metadata.tsv"
    path.write_text("sample\tage\n" + "".join(f"{s}\t{60 + i}\n" for i, s in enumerate(reversed(SAMPLES))))
    return path


def test_every_format_loads_to_the_same_table(tmp_path, metadata):
    tables, genus_tables = {}, {}
    for kind, writer in WRITERS.items():
        folder = tmp_path / kind
        folder.mkdir()
        path, taxonomy = writer(folder)
        cohort = load_cohort(path, metadata, taxonomy=taxonomy)
        tables[kind] = cohort.table
        assert cohort.value_type == "counts"
        assert list(cohort.metadata["age"]) == [64.0, 63.0, 62.0, 61.0, 60.0]
        genus_tables[kind] = load_cohort(path, metadata, taxonomy=taxonomy, rank="Genus").table
    expected = pd.DataFrame(COUNTS, index=pd.Index(SAMPLES, dtype=object), columns=pd.Index(SEQS, dtype=object))
    for kind, table in tables.items():
        pd.testing.assert_frame_equal(table, expected, check_names=False, obj=kind)
    reference = genus_tables["tsv"]
    assert list(reference.columns) == ["Blautia", "Lachnospiraceae NK4A136 group", "Lachnospiraceae (unclassified genus)", "DTU089"]
    for kind, table in genus_tables.items():
        pd.testing.assert_frame_equal(table, reference, obj=kind)
