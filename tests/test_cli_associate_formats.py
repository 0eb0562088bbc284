"""``associate --rank genus`` gives the same results whatever format carries the table and its taxonomy.

Eight ways to hand over one cohort: a TSV with a taxonomy column, gzipped; a CSV with a QIIME 2 taxonomy.tsv;
BIOM JSON and BIOM HDF5 with their own observation taxonomy; a .qza pair; DADA2 seqtab + taxa; and a MetaPhlAn
profile (genus rows, percent). Tables that carry their taxonomy need no --taxonomy.
"""

import numpy as np
import pandas as pd
import pytest
from _formats import WRITERS, CountTable, write_tsv

from osteobiome.cli import main

N = 24
SAMPLES = [f"S{i}" for i in range(N)]
SEQS = [("ACGT" * 13)[i:] + "T" * i for i in range(8)]
GENERA = ["Blautia", "Blautia", "Roseburia", "Dorea", "Dorea", "Dorea", "Alistipes", "Bacteroides"]
FAMILIES = ["Lachnospiraceae"] * 6 + ["Rikenellaceae", "Bacteroidaceae"]
PHYLA = ["Firmicutes"] * 6 + ["Bacteroidota"] * 2


def _counts() -> np.ndarray:
    rng = np.random.default_rng(14)
    counts = rng.poisson(rng.gamma(1.0, 40.0, size=(N, len(SEQS))))
    counts[rng.random(counts.shape) < 0.2] = 0  # some absences, so the two-part model has both parts
    counts[:, 0] += 1  # no all-zero sample
    return counts


TABLE = CountTable(_counts(), SAMPLES, SEQS, [(p, "C", "O", f, g) for p, f, g in zip(PHYLA, FAMILIES, GENERA, strict=True)])
FORMATS = [kind for kind in WRITERS if kind != "tsv"]  # the plain TSV is the reference


@pytest.fixture(scope="module")
def metadata(tmp_path_factory):
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("meta") / "metadata.tsv"
    frame = pd.DataFrame({"age": rng.normal(60, 8, N).round(1), "sex": rng.choice(["F", "M"], N)}, index=pd.Index(SAMPLES, name="sample"))
    frame.iloc[::-1].to_csv(path, sep="\t")  # another sample order than the tables
    return path


def associate(writer, folder, metadata, *extra):
    folder.mkdir()
    path, taxonomy = writer(TABLE, folder)
    argv = ["associate", str(path), str(metadata), "--fixed", "age,sex", "--rank", "genus", "--out", str(folder / "out"), *extra]
    if taxonomy is not None:
        argv += ["--taxonomy", str(taxonomy)]
    main(argv)
    results = pd.read_csv(folder / "out" / "all_results.tsv", sep="\t")
    return results.sort_values(["feature", "metadata", "value"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, metadata):
    """The plain TSV with a taxonomy column, the format every other one is compared with."""
    results = associate(write_tsv, tmp_path_factory.mktemp("reference") / "tsv", metadata)
    assert sorted(results["feature"].unique()) == ["Alistipes", "Bacteroides", "Blautia", "Dorea", "Roseburia"]
    assert results["pval"].notna().all()
    return results


@pytest.mark.parametrize("kind", FORMATS)
def test_rank_genus_gives_the_same_results_in_every_format(kind, tmp_path, metadata, reference):
    results = associate(WRITERS[kind], tmp_path / kind, metadata)
    # MetaPhlAn carries percentages of the same counts: equal after TSS up to float rounding
    pd.testing.assert_frame_equal(results, reference, check_exact=False, rtol=1e-9, obj=kind)
