"""The same small cohort written in every count format (:mod:`_formats`) loads to identical tables."""

import numpy as np
import pandas as pd
import pytest
from _formats import WRITERS, CountTable

from osteobiome.io import load_cohort

SEQS = [("ACGT" * 13)[i:] + "T" * i for i in range(4)]
GENERA = ["Blautia", "Lachnospiraceae NK4A136 group", "", "DTU089"]
FAMILIES = ["Lachnospiraceae", "Lachnospiraceae", "Lachnospiraceae", "Oscillospiraceae"]
COUNTS = np.array([[10, 0, 3, 1], [0, 7, 0, 2], [5, 5, 5, 5], [1, 0, 0, 0], [0, 0, 9, 4]], dtype=float)
SAMPLES = ["S1", "S2", "S3", "S4", "S5"]
TABLE = CountTable(COUNTS, SAMPLES, SEQS, [("Firmicutes", "Clostridia", "X", f, g) for f, g in zip(FAMILIES, GENERA, strict=True)])
COUNT_FORMATS = [kind for kind in WRITERS if kind != "metaphlan"]  # MetaPhlAn holds percent of clades, not counts


@pytest.fixture
def metadata(tmp_path):
    path = tmp_path / "metadata.tsv"
    path.write_text("sample\tage\n" + "".join(f"{s}\t{60 + i}\n" for i, s in enumerate(reversed(SAMPLES))))
    return path


def test_every_format_loads_to_the_same_table(tmp_path, metadata):
    tables, genus_tables = {}, {}
    for kind in COUNT_FORMATS:
        folder = tmp_path / kind
        folder.mkdir()
        path, taxonomy = WRITERS[kind](TABLE, folder)
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
