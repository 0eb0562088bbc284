"""Every reader on small files written here."""

import gzip
import json
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io import detect_format, load_cohort, read_features, read_metadata, read_taxonomy

GENERA = ["Blautia", "Lachnospiraceae NK4A136 group", "[Eubacterium] coprostanoligenes group", "DTU089"]


def write(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------- plain tables
def test_tsv_features_as_rows_with_taxonomy_column(tmp_path):
    path = write(
        tmp_path / "otus.tsv",
        "# Constructed from biom file\n#OTU ID\tS1\tS2\ttaxonomy\n"
        "o1\t1\t0\tk__Bacteria; p__Firmicutes; g__Blautia\n"
        "o2\t5\t7\tk__Bacteria; p__Firmicutes; g__\n",
    )
    data = read_features(path)
    assert data.format == "table"
    assert list(data.samples) == ["S1", "S2"] and list(data.features) == ["o1", "o2"]
    np.testing.assert_array_equal(data.X, [[1, 5], [0, 7]])
    assert data.taxonomy.loc["o1", "Genus"] == "Blautia"
    assert data.taxonomy.loc["o2", "Genus"] is None


def test_twins_style_corner_means_features_as_rows(tmp_path):
    path = write(tmp_path / "t.csv", "Taxa,TS1.2,TS10\nBlautia,1,2\nDTU089,0,4\n")
    data = read_features(path)
    assert list(data.samples) == ["TS1.2", "TS10"]
    assert list(data.features) == ["Blautia", "DTU089"]


def test_sampleid_corner_means_samples_as_rows(tmp_path):
    path = write(tmp_path / "t.csv", "SampleID,Blautia,DTU089\nA,1,2\nB,0,4\n")
    assert list(read_features(path).samples) == ["A", "B"]


def test_lineage_labels_mark_the_feature_axis(tmp_path):
    path = write(tmp_path / "t.tsv", "id\tk__B;p__F;g__Blautia\tk__B;p__F;g__Dorea\nA\t1\t2\nB\t0\t4\n")
    data = read_features(path)
    assert list(data.samples) == ["A", "B"]


def test_orientation_from_metadata_ids(tmp_path):
    path = write(tmp_path / "t.tsv", "x\tP1\tP2\nBlautia\t1\t2\nDorea\t3\t4\n")
    data = read_features(path, sample_ids=["P1", "P2", "P3"])
    assert list(data.samples) == ["P1", "P2"]
    data = read_features(path, samples_as="rows")
    assert list(data.samples) == ["Blautia", "Dorea"]


def test_ambiguous_orientation_asks_for_samples_as(tmp_path):
    path = write(tmp_path / "t.tsv", "x\tP1\tP2\nBlautia\t1\t2\nDorea\t3\t4\n")
    with pytest.raises(InputError, match="--samples-as rows\\|columns"):
        read_features(path)
    with pytest.raises(InputError, match="both as row and as column"):
        read_features(path, sample_ids=["P1", "Dorea"])


def test_r_write_table_short_header_and_gzip(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"Blautia\tDorea\nS1\t1\t2\nS2\t3\t4\n"))
    data = read_features(path, samples_as="rows")
    assert list(data.features) == ["Blautia", "Dorea"]
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])


# ---------------------------------------------------------------- BIOM and QIIME 2
def biom_table(taxonomy=True):
    import biom

    meta = [{"taxonomy": ["k__Bacteria", "p__Firmicutes", f"g__{g}"]} for g in GENERA] if taxonomy else None
    data = np.array([[0, 3, 1], [2, 0, 0], [5, 5, 0], [0, 0, 9]], dtype=float)
    return biom.Table(data, [f"f{i}" for i in range(4)], ["S1", "S2", "S3"], observation_metadata=meta)


def write_hdf5(table, path):
    with h5py.File(path, "w") as handle:
        table.to_hdf5(handle, "test")
    return path


@pytest.mark.parametrize("kind", ["biom-json", "biom-hdf5"])
def test_biom_reads_sparse_with_taxonomy(tmp_path, kind):
    table = biom_table()
    path = tmp_path / "t.biom"
    if kind == "biom-json":
        path.write_text(table.to_json("test"))
    else:
        write_hdf5(table, path)
    data = read_features(path)
    assert data.format == kind
    assert sp.issparse(data.X) and data.X.format == "csr"
    np.testing.assert_array_equal(data.X.toarray(), table.matrix_data.toarray().T)
    assert list(data.taxonomy["Genus"]) == GENERA
    cohort = load_cohort(path, rank="Genus")
    assert cohort.is_sparse and list(cohort.features) == GENERA


def write_qza(path, semantic_type, inner_name, content):
    with zipfile.ZipFile(path, "w") as archive:
        root = "0b5c6f1e-0000-4000-8000-000000000000"
        archive.writestr(f"{root}/metadata.yaml", f"uuid: {root}\ntype: {semantic_type}\nformat: X\n")
        archive.writestr(f"{root}/VERSION", "QIIME 2\narchive: 5\n")
        archive.writestr(f"{root}/provenance/metadata.yaml", "uuid: other\ntype: Other\n")
        archive.writestr(f"{root}/data/{inner_name}", content)
    return path


def test_qza_table_and_taxonomy(tmp_path):
    h5 = write_hdf5(biom_table(taxonomy=False), tmp_path / "inner.biom")
    qza = write_qza(tmp_path / "table.qza", "FeatureTable[Frequency]", "feature-table.biom", h5.read_bytes())
    tax_text = "Feature ID\tTaxon\tConfidence\n#q2:types\tcategorical\tnumeric\n" + "".join(
        f"f{i}\td__Bacteria; p__Firmicutes; g__{g}\t0.9\n" for i, g in enumerate(GENERA)
    )
    tax_qza = write_qza(tmp_path / "taxonomy.qza", "FeatureData[Taxonomy]", "taxonomy.tsv", tax_text)
    data = read_features(qza)
    assert data.format == "qiime2" and sp.issparse(data.X)
    taxonomy = read_taxonomy(tax_qza)
    assert list(taxonomy["Genus"]) == GENERA
    cohort = load_cohort(qza, taxonomy=tax_qza, rank="Genus")
    assert list(cohort.features) == GENERA
    with pytest.raises(InputError, match="not a feature table .*--taxonomy"):
        read_features(tax_qza)
    with pytest.raises(InputError, match="not FeatureData\\[Taxonomy\\]"):
        read_taxonomy(qza)


# ---------------------------------------------------------------- DADA2
SEQS = ["TACG" + "GAGGGTGCAAGCGTTAATCGGAATTACTGGGCGTAAAGCGCACGCAGGCGG"[:i] + "ACGT" * 12 for i in range(3)]


def test_dada2_seqtab_csv_and_taxa(tmp_path):
    seqtab = tmp_path / "seqtab.nochim.csv"
    seqtab.write_text('"",' + ",".join(f'"{s}"' for s in SEQS) + '\n"S1",10,0,3\n"S2",0,4,4\n')
    taxa = tmp_path / "taxa.csv"
    taxa.write_text(
        '"","Kingdom","Phylum","Class","Order","Family","Genus","Species"\n'
        f'"{SEQS[0]}","Bacteria","Firmicutes","Clostridia","Oscillospirales","Ruminococcaceae","Faecalibacterium","prausnitzii"\n'
        f'"{SEQS[1]}","Bacteria","Firmicutes","Clostridia","Lachnospirales","Lachnospiraceae",NA,NA\n'
        f'"{SEQS[2]}","Bacteria","Firmicutes","Clostridia","Lachnospirales","Lachnospiraceae","Lachnospiraceae NK4A136 group",NA\n'
    )
    assert detect_format(seqtab) == "dada2"
    data = read_features(seqtab)
    assert list(data.samples) == ["S1", "S2"] and list(data.features) == SEQS
    tax = read_taxonomy(taxa)
    assert tax.loc[SEQS[0], "Species"] == "Faecalibacterium prausnitzii"
    cohort = load_cohort(seqtab, taxonomy=taxa, rank="Genus")
    assert list(cohort.features) == ["Faecalibacterium", "Lachnospiraceae (unclassified genus)", "Lachnospiraceae NK4A136 group"]


def test_dada2_seqtab_tsv_from_write_table(tmp_path):
    seqtab = write(tmp_path / "seqtab.tsv", "\t".join(SEQS) + "\nS1\t1\t2\t3\n")
    data = read_features(seqtab)
    assert data.format == "dada2" and list(data.samples) == ["S1"]


# ---------------------------------------------------------------- MetaPhlAn
MPA = """#mpa_v30_CHOCOPhlAn_201901
clade_name\tNCBI_tax_id\tS1_profile\tS2_profile
k__Bacteria\t2\t100.0\t90.0
k__Bacteria|p__Firmicutes\t2|1239\t60.0\t50.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia\t2|1\t40.0\t50.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia|s__Blautia_obeum\t2|1\t25.0\t50.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia|s__Blautia_wexlerae\t2|1\t15.0\t0.0
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia|s__Blautia_wexlerae|t__SGB4837\t2|1\t15.0\t0.0
k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_dorei\t2|1\t60.0\t40.0
UNKNOWN\t-1\t0.0\t10.0
"""


def test_metaphlan_species_default_and_other_rank(tmp_path):
    path = write(tmp_path / "merged_abundance_table.txt", MPA)
    assert detect_format(path) == "metaphlan"
    data = read_features(path)
    assert list(data.samples) == ["S1", "S2"]
    assert list(data.features) == ["Blautia_obeum", "Blautia_wexlerae", "Bacteroides_dorei"]
    np.testing.assert_allclose(data.X, [[25, 15, 60], [50, 0, 40]])
    assert data.taxonomy.loc["Blautia_obeum", "Family"] == "Lachnospiraceae"
    assert data.extra["clades"]["Bacteroides_dorei"].endswith("|s__Bacteroides_dorei")
    assert data.extra["unclassified"]["UNKNOWN"].tolist() == [0.0, 10.0]
    genus = read_features(path, rank="genus")
    assert list(genus.features) == ["Blautia"]
    assert load_cohort(path, rank="Genus").value_type == "relative"
    with pytest.raises(InputError, match="no MetaPhlAn clade at rank 'Order'"):
        read_features(path, rank="Order")


# ---------------------------------------------------------------- PICRUSt2 and HUMAnN
def test_picrust2_unstrat_gz_and_descriptions(tmp_path):
    path = tmp_path / "path_abun_unstrat.tsv.gz"
    path.write_bytes(gzip.compress(b"pathway\tS1\tS2\n1CMET2-PWY\t1510.5\t20.25\nPRPP-PWY\t300.0\t0.5\n"))
    data = read_features(path)
    assert data.format == "picrust2"
    assert list(data.features) == ["1CMET2-PWY", "PRPP-PWY"]
    np.testing.assert_allclose(data.X, [[1510.5, 300.0], [20.25, 0.5]])
    described = write(
        tmp_path / "described.tsv",
        "pathway\tdescription\tS1\nPRPP-PWY\tsuperpathway of histidine, purine, and pyrimidine biosynthesis\t3.5\n",
    )
    assert list(read_features(described).features) == [
        "PRPP-PWY: superpathway of histidine, purine, and pyrimidine biosynthesis"
    ]


def test_humann_pathabundance_separates_strata(tmp_path):
    prpp = "PRPP-PWY: superpathway of histidine, purine, and pyrimidine biosynthesis"
    path = write(
        tmp_path / "humann_pathabundance.tsv",
        "# Pathway\tS1_Abundance\tS2_Abundance\n"
        "UNMAPPED\t100.0\t200.0\n"
        "UNINTEGRATED\t50.0\t60.0\n"
        "UNINTEGRATED|g__Bacteroides.s__Bacteroides_dorei\t10.0\t20.0\n"
        f"{prpp}\t30.5\t12.0\n"
        f"{prpp}|g__Blautia.s__Blautia_obeum\t20.5\t2.0\n"
        f"{prpp}|unclassified\t10.0\t10.0\n"
        "PWY-6305: putrescine biosynthesis IV\t1.0\t0.0\n",
    )
    data = read_features(path)
    assert data.format == "humann"
    assert list(data.samples) == ["S1", "S2"]
    assert list(data.features) == [prpp, "PWY-6305: putrescine biosynthesis IV"]
    np.testing.assert_allclose(data.X, [[30.5, 1.0], [12.0, 0.0]])
    strat = data.extra["stratified"]
    assert f"{prpp}|g__Blautia.s__Blautia_obeum" in strat.columns and strat.shape == (2, 3)
    assert data.extra["unmapped"].tolist() == [100.0, 200.0]
    assert data.extra["unintegrated"].tolist() == [50.0, 60.0]


# ---------------------------------------------------------------- metadata
def test_metadata_types_overrides_and_id_column(tmp_path):
    path = write(
        tmp_path / "meta.csv",
        "row,sample,age,sex,site_code,bmd\n1,A,60,F,1,0.9\n2,B,NA,M,2,\n3,C,71,F,2,1.1\n",
    )
    meta = read_metadata(path, id_column="sample", categorical=["site_code"])
    assert list(meta.index) == ["A", "B", "C"]
    assert meta["age"].dtype == "float64" and np.isnan(meta.loc["B", "age"])
    assert isinstance(meta["sex"].dtype, pd.CategoricalDtype) and list(meta["sex"].cat.categories) == ["F", "M"]
    assert isinstance(meta["site_code"].dtype, pd.CategoricalDtype)
    assert meta["bmd"].isna().sum() == 1
    first = read_metadata(path)
    assert first.index.name == "sample" and list(first.index) == ["1", "2", "3"]


def test_metadata_q2_types_row_and_numeric_override(tmp_path):
    path = write(tmp_path / "m.tsv", "sample-id\tcode\tgroup\n#q2:types\tcategorical\tcategorical\nA\t1\tx\nB\t2\ty\n")
    meta = read_metadata(path)
    assert list(meta.index) == ["A", "B"] and isinstance(meta["code"].dtype, pd.CategoricalDtype)
    with pytest.raises(InputError, match="asked to be numeric but holds 'x', 'y'"):
        read_metadata(path, numeric=["group"])


def test_biom_json_dense_matrix_type(tmp_path):
    doc = json.loads(biom_table().to_json("t"))
    assert doc["matrix_type"] == "sparse"
    path = write(tmp_path / "x.json", json.dumps(doc))
    assert detect_format(path) == "biom-json"


def test_taxonomy_files_plain_and_qiime2_tsv(tmp_path):
    q2 = write(
        tmp_path / "taxonomy.tsv",
        "Feature ID\tTaxon\tConfidence\no1\td__Bacteria; p__Firmicutes; g__DTU089\t0.9\no2\tUnassigned\t0.5\n",
    )
    tax = read_taxonomy(q2)
    assert tax.loc["o1", "Genus"] == "DTU089" and tax.loc["o2"].isna().all()
    plain = write(tmp_path / "lineages.txt", "o1\tBacteria;Firmicutes;Clostridia\no2\tBacteria;Bacteroidota\n")
    assert list(read_taxonomy(plain).columns) == ["Kingdom", "Phylum", "Class"]
    with pytest.raises(InputError, match="no taxonomy column"):
        read_taxonomy(write(tmp_path / "bad.tsv", "id\ta\tb\nx\t1\t2\n"))


def test_separate_taxonomy_must_cover_every_feature(tmp_path):
    table = write(tmp_path / "t.tsv", "#OTU ID\tS1\no1\t3\no9\t4\n")
    tax = write(tmp_path / "taxonomy.tsv", "Feature ID\tTaxon\no1\tk__B; g__G\n")
    with pytest.raises(InputError, match="1 feature\\(s\\) .* no taxonomy row: 'o9'"):
        load_cohort(table, taxonomy=tax)
