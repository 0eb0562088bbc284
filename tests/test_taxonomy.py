import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.io.taxonomy import make_names, parse_lineage, parse_lineages, rank_labels

SILVA = "d__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__Lachnospiraceae NK4A136 group"


@pytest.mark.parametrize(
    ("lineage", "expected"),
    [
        (SILVA, ["Bacteria", "Firmicutes", "Clostridia", "Lachnospirales", "Lachnospiraceae", "Lachnospiraceae NK4A136 group", None]),
        (
            "D_0__Bacteria;D_1__Firmicutes;D_2__Clostridia;D_3__Clostridiales;D_4__Ruminococcaceae;D_5__Faecalibacterium",
            ["Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Faecalibacterium", None],
        ),
        (
            "d__Bacteria;p__Firmicutes_A;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae;g__Blautia_A;s__Blautia_A wexlerae",
            ["Bacteria", "Firmicutes_A", "Clostridia", "Lachnospirales", "Lachnospiraceae", "Blautia_A", "Blautia_A wexlerae"],
        ),
        (
            "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; g__Faecalibacterium; s__prausnitzii",
            ["Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae", "Faecalibacterium", "Faecalibacterium prausnitzii"],
        ),
        ("k__Bacteria; p__Firmicutes; c__; o__; f__; g__; s__", ["Bacteria", "Firmicutes", None, None, None, None, None]),
        ("Bacteria;Bacteroidetes;Bacteroidia;Bacteroidales;Rikenellaceae;Alistipes", ["Bacteria", "Bacteroidetes", "Bacteroidia", "Bacteroidales", "Rikenellaceae", "Alistipes", None]),
        (
            "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia|s__Blautia_obeum|t__SGB4810",
            ["Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Lachnospiraceae", "Blautia", "Blautia_obeum"],
        ),
        ("d__Bacteria; p__Firmicutes; c__Clostridia; o__Oscillospirales; f__Oscillospiraceae; g__uncultured", ["Bacteria", "Firmicutes", "Clostridia", "Oscillospirales", "Oscillospiraceae", None, None]),
        ("Unassigned", [None] * 7),
        (None, [None] * 7),
    ],
)
def test_parse_lineage_styles(lineage, expected):
    assert parse_lineage(lineage) == expected


def test_special_silva_names_round_trip_through_collapse():
    names = ["Lachnospiraceae NK4A136 group", "[Eubacterium] coprostanoligenes group", "DTU089"]
    lineages = pd.Series([f"d__Bacteria; p__Firmicutes; f__Fam{i}; g__{n}" for i, n in enumerate(names)], index=["a", "b", "c"])
    # ranks by prefix: the plain positions of p__/f__/g__ do not matter
    tax = parse_lineages(lineages)
    cohort = Cohort.from_frames(pd.DataFrame([[1, 2, 3]], index=["s1"], columns=["a", "b", "c"]), taxonomy=tax)
    assert list(cohort.collapse("Genus").features) == names


def test_unclassified_labels_are_readable_and_never_merged_across_families():
    lineages = pd.Series(
        {
            "asv1": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__",
            "asv2": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Lachnospirales; f__Lachnospiraceae; g__uncultured",
            "asv3": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Oscillospirales; f__Ruminococcaceae; g__",
            "asv4": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Oscillospirales; f__Ruminococcaceae; g__Faecalibacterium",
            "asv5": "d__Bacteria; p__Firmicutes; c__Clostridia; o__Oscillospirales; f__Ruminococcaceae; g__Faecalibacterium",
            "asv6": "Unassigned",
        }
    )
    tax = parse_lineages(lineages)
    labels = rank_labels(tax, "Genus")
    assert list(labels) == [
        "Lachnospiraceae (unclassified genus)",
        "Lachnospiraceae (unclassified genus)",
        "Ruminococcaceae (unclassified genus)",
        "Faecalibacterium",
        "Faecalibacterium",
        "Unassigned",
    ]
    table = pd.DataFrame(np.arange(1, 13).reshape(2, 6), index=["s1", "s2"], columns=lineages.index)
    for sparse in (False, True):
        collapsed = Cohort.from_frames(table, taxonomy=tax, sparse=sparse).collapse("genus")
        assert collapsed.is_sparse is sparse
        got = collapsed.table
        assert list(got.columns) == ["Lachnospiraceae (unclassified genus)", "Ruminococcaceae (unclassified genus)", "Faecalibacterium", "Unassigned"]
        assert got.loc["s1"].tolist() == [1 + 2, 3, 4 + 5, 6]
        assert got.loc["s2"].tolist() == [7 + 8, 9, 10 + 11, 12]
        assert collapsed.taxonomy.loc["Faecalibacterium", "Family"] == "Ruminococcaceae"
        assert list(collapsed.taxonomy.columns) == ["Kingdom", "Phylum", "Class", "Order", "Family", "Genus"]
    family = Cohort.from_frames(table, taxonomy=tax).collapse("Family")
    assert family.table.loc["s1", "Lachnospiraceae"] == 3


def test_same_name_under_two_parents_is_kept_apart():
    tax = parse_lineages(
        pd.Series({"a": "k__B; p__P; c__C; o__O; f__Clostridiaceae; g__Clostridium", "b": "k__B; p__P; c__C; o__O; f__Peptostreptococcaceae; g__Clostridium"})
    )
    assert list(rank_labels(tax, "Genus")) == ["Clostridium (Clostridiaceae)", "Clostridium (Peptostreptococcaceae)"]


def test_collapse_errors():
    cohort = Cohort.from_frames(pd.DataFrame([[1, 2]], index=["s"], columns=["a", "b"]))
    with pytest.raises(InputError, match="without a taxonomy"):
        cohort.collapse("Genus")
    tax = parse_lineages(pd.Series({"a": "k__B; p__P", "b": "k__B; p__Q"}))
    cohort = Cohort.from_frames(pd.DataFrame([[1, 2]], index=["s"], columns=["a", "b"]), taxonomy=tax)
    with pytest.raises(InputError, match="did you mean 'Phylum'"):
        cohort.collapse("Phyla")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("[Eubacterium] coprostanoligenes group", "X.Eubacterium..coprostanoligenes.group"),
        ("Lachnospiraceae NK4A136 group", "Lachnospiraceae.NK4A136.group"),
        ("DTU089", "DTU089"),
        ("Escherichia-Shigella", "Escherichia.Shigella"),
        ("1CMET2-PWY", "X1CMET2.PWY"),
        ("PRPP-PWY: superpathway of histidine", "PRPP.PWY..superpathway.of.histidine"),
        (".5x", "X.5x"),
        (".x", ".x"),
        ("_a", "X_a"),
        ("", "X"),
        ("TRUE", "TRUE."),
        ("if", "if."),
        ("Bacteroides_dorei", "Bacteroides_dorei"),
    ],
)
def test_make_names_matches_r(name, expected):
    assert make_names(name) == expected


def test_make_names_vectorised():
    assert make_names(["a b", "c"]) == ["a.b", "c"]


def test_collapse_keeps_csr_from_arrays():
    X = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=float))
    tax = parse_lineages(pd.Series({"a": "k__B; g__G", "b": "k__B; g__G", "c": "k__B; g__H"}))
    cohort = Cohort.from_arrays(X, ["s1", "s2"], ["a", "b", "c"], taxonomy=tax)
    out = cohort.collapse("Genus")
    assert sp.issparse(out.X)
    np.testing.assert_array_equal(out.dense(), [[1, 2], [3, 0]])
