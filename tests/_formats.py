"""One small count table written in each of the eight ways a user may hand it over, for the tests that read them all.

A plain TSV with a taxonomy column (also gzipped); a CSV (samples as rows) with a QIIME 2 ``taxonomy.tsv``; BIOM
JSON and BIOM HDF5 with their observation taxonomy; a ``.qza`` pair; a DADA2 ``seqtab.nochim`` + ``taxa`` pair; a
MetaPhlAn merged profile (clade rows down to genus, percent). Every writer takes ``(table, folder)`` and returns
``(path of the feature table, path of the taxonomy table or None)``.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CountTable:
    """``counts`` (samples × features, whole numbers) of ``features`` (ASV sequences) in ``samples``; ``taxa``:
    per feature (phylum, class, order, family, genus), genus ``""`` when unassigned."""

    counts: np.ndarray
    samples: list[str]
    features: list[str]
    taxa: list[tuple[str, str, str, str, str]]

    @property
    def lineages(self) -> list[str]:
        return [f"d__Bacteria; p__{p}; c__{c}; o__{o}; f__{f}; g__{g}" for p, c, o, f, g in self.taxa]

    def frame(self) -> pd.DataFrame:
        """Features × samples, as QIIME 2's ``biom convert --to-tsv`` writes it."""
        return pd.DataFrame(self.counts.T.astype(int), index=pd.Index(self.features, name="#OTU ID"), columns=self.samples)

    def biom(self):  # noqa: ANN201 - biom.Table, imported here as the readers import it
        import biom

        meta = [{"taxonomy": [p.strip() for p in lineage.split(";")]} for lineage in self.lineages]
        return biom.Table(self.counts.T.astype(float), self.features, self.samples, observation_metadata=meta)

    def taxonomy_tsv(self, confidence: float) -> str:
        rows = "".join(f"{s}\t{t}\t{confidence}\n" for s, t in zip(self.features, self.lineages, strict=True))
        return "Feature ID\tTaxon\tConfidence\n" + rows


Written = tuple[Path, Path | None]


def write_tsv(table: CountTable, folder: Path) -> Written:
    frame = table.frame()
    frame["taxonomy"] = table.lineages
    frame.to_csv(folder / "table.tsv", sep="\t")
    return folder / "table.tsv", None


def write_tsv_gz(table: CountTable, folder: Path) -> Written:
    frame = table.frame()
    frame["taxonomy"] = table.lineages
    path = folder / "table.tsv.gz"
    with gzip.open(path, "wt") as handle:
        frame.to_csv(handle, sep="\t")
    return path, None


def write_csv_with_taxonomy_file(table: CountTable, folder: Path) -> Written:
    path, taxonomy = folder / "table.csv", folder / "taxonomy.tsv"
    table.frame().T.rename_axis("sample").to_csv(path)  # samples as rows
    taxonomy.write_text(table.taxonomy_tsv(0.9))
    return path, taxonomy


def write_biom_json(table: CountTable, folder: Path) -> Written:
    path = folder / "table.json.biom"
    path.write_text(table.biom().to_json("osteobiome tests"))
    return path, None


def write_biom_hdf5(table: CountTable, folder: Path, name: str = "table.biom") -> Written:
    path = folder / name
    with h5py.File(path, "w") as handle:
        table.biom().to_hdf5(handle, "osteobiome tests")
    return path, None


def write_qza(table: CountTable, folder: Path) -> Written:
    inner, _ = write_biom_hdf5(table, folder, "inner.biom")
    path, taxonomy = folder / "table.qza", folder / "taxonomy.qza"
    for target, kind, name, content in (
        (path, "FeatureTable[Frequency]", "feature-table.biom", inner.read_bytes()),
        (taxonomy, "FeatureData[Taxonomy]", "taxonomy.tsv", table.taxonomy_tsv(0.99)),
    ):
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("uuid-1/metadata.yaml", f"uuid: uuid-1\ntype: {kind}\nformat: F\n")
            archive.writestr(f"uuid-1/data/{name}", content)
    return path, taxonomy


def write_dada2(table: CountTable, folder: Path) -> Written:
    """``write.csv(seqtab.nochim)`` and ``write.csv(taxa)``: unassigned genera are ``NA``."""
    path, taxa = folder / "seqtab.nochim.csv", folder / "taxa.csv"
    rows = "".join(f'"{s}",' + ",".join(str(int(v)) for v in row) + "\n" for s, row in zip(table.samples, table.counts, strict=True))
    path.write_text('"",' + ",".join(f'"{s}"' for s in table.features) + "\n" + rows)
    taxa.write_text(
        '"","Kingdom","Phylum","Class","Order","Family","Genus"\n'
        + "".join(
            f'"{s}","Bacteria","{p}","{c}","{o}","{f}",' + (f'"{g}"' if g else "NA") + "\n"
            for s, (p, c, o, f, g) in zip(table.features, table.taxa, strict=True)
        )
    )
    return path, taxa


def write_metaphlan(table: CountTable, folder: Path) -> Written:
    """Kingdom … genus rows in percent, as merge_metaphlan_tables.py writes them (genus = sum of its ASVs)."""
    counts = pd.DataFrame(table.counts, index=table.samples, columns=table.features)
    percent = counts.div(counts.sum(axis=1), axis=0) * 100
    clades: dict[str, pd.Series] = {}
    for feature, (p, c, o, f, g) in zip(table.features, table.taxa, strict=True):
        parts = ["k__Bacteria", f"p__{p}", f"c__{c}", f"o__{o}", f"f__{f}", f"g__{g}"]
        for depth in range(1, len(parts) + 1):
            clade = "|".join(parts[:depth])
            clades[clade] = clades.get(clade, 0) + percent[feature]
    lines = ["#mpa_vJan21_CHOCOPhlAnSGB_202103", "clade_name\t" + "\t".join(table.samples)]
    lines += [f"{clade}\t" + "\t".join(repr(float(v)) for v in values) for clade, values in clades.items()]
    path = folder / "merged_abundance_table.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, None


WRITERS: dict[str, Callable[[CountTable, Path], Written]] = {
    "tsv": write_tsv,
    "tsv-gz": write_tsv_gz,
    "csv+taxonomy": write_csv_with_taxonomy_file,
    "biom-json": write_biom_json,
    "biom-hdf5": write_biom_hdf5,
    "qza": write_qza,
    "dada2": write_dada2,
    "metaphlan": write_metaphlan,
}
