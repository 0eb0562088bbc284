import re

import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.mechanisms.knowledge import (
    COLUMNS,
    DIRECTIONS,
    annotate,
    knowledge_provenance,
    load_knowledge,
    normalize_genus_name,
    pathway_key,
    trait_sets,
)

REFERENCE = re.compile(r"^(doi:10\.\d{4,9}/\S+|PMID:\d{6,9})$")


def test_schema_and_references():
    table = load_knowledge()
    assert list(table.columns) == COLUMNS
    assert set(table["entity_type"]) == {"genus", "pathway"}
    assert set(table["direction"]) <= set(DIRECTIONS)
    for column in ("entity", "trait", "reference", "note"):
        assert (table[column].str.strip() != "").all(), column
    for refs in table["reference"]:
        parts = refs.split("; ")
        assert parts and all(REFERENCE.match(p) for p in parts), refs
    assert not table.duplicated(["entity_type", "entity", "trait"]).any()
    counts = table.groupby("entity_type")["entity"].nunique()
    assert counts["genus"] >= 60 and counts["pathway"] >= 40
    pathways = table.loc[table["entity_type"] == "pathway", "entity"]
    assert pathways.str.match(r"^[A-Z0-9][A-Z0-9+\-]*$").all()


#: Traits (genera) and groups (pathways) the mechanisms section relies on.
REQUIRED_TRAITS = {
    "genus": (
        "butyrate producer",
        "propionate producer",
        "acetate producer",
        "lactate producer",
        "mucin degrader",
        "methanogen",
        "equol producer",
        "bile-acid transformer",
        "LPS-rich / pro-inflammatory",
        "Th17-inducing",
        "Treg-inducing",
        "serotonin (5-HT) modulating",
        "reported bone association",
    ),
    "pathway": (
        "SCFA fermentation",
        "amino-acid biosynthesis",
        "nucleotide biosynthesis",
        "vitamin K2 (menaquinone) biosynthesis",
        "B-vitamin biosynthesis",
        "tryptophan metabolism",
        "LPS biosynthesis",
    ),
}


def test_provenance():
    info = knowledge_provenance()
    assert info["compiled"] == "2026-11-21"
    assert "written by the osteobiome authors" in info["source"]


@pytest.mark.parametrize("entity_type", sorted(REQUIRED_TRAITS))
def test_required_traits(entity_type):
    missing = set(REQUIRED_TRAITS[entity_type]) - set(load_knowledge(entity_type)["trait"])
    assert not missing, sorted(missing)


def test_model_study_associations_present():
    bone = load_knowledge("genus").query("trait == 'reported bone association'").set_index("entity")
    assert bone.loc["DTU089", "direction"] == "negative"
    assert bone.loc["Lachnospiraceae NK4A136 group", "direction"] == "positive"
    assert "10.3389/fendo.2023.1237727" in bone.loc["Akkermansia", "reference"]
    assert "10.3389/fendo.2023.1237727" in bone.loc["Faecalibacterium", "reference"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Blautia", "Blautia"),
        ("g__Blautia_A", "Blautia"),
        ("Ruminococcus_B", "Ruminococcus"),
        ("[Eubacterium]_hallii_group", "Eubacterium hallii group"),
        ("g__[Ruminococcus] gnavus group", "Ruminococcus gnavus group"),
        ("Lachnospiraceae_NK4A136_group", "Lachnospiraceae NK4A136 group"),
        ("Lachnospiraceae NK4A136 group", "Lachnospiraceae NK4A136 group"),
        (
            "d__Bacteria;p__Firmicutes_A;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae;g__Blautia_A;s__",
            "Blautia",
        ),
        (
            "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Prevotellaceae|g__Prevotella_9",
            "Prevotella",
        ),
        ("D_0__Bacteria;D_1__Verrucomicrobia;D_5__Akkermansia", "Akkermansia"),
        ("Clostridium sensu stricto 1", "Clostridium"),
        ("Escherichia/Shigella", "Escherichia-Shigella"),
        ("Lachnospiraceae_UCG-004", "Lachnospiraceae UCG-004"),
        ("g__", ""),
        ("uncultured", ""),
    ],
)
def test_normalize_genus_name(raw, expected):
    assert normalize_genus_name(raw) == expected


def test_annotate_survives_spelling_variants():
    variants = ["Blautia", "g__Blautia_A", "d__Bacteria;f__Lachnospiraceae;g__Blautia_A;s__", "BLAUTIA"]
    hits = annotate(variants)
    per_feature = hits.groupby("feature")["trait"].apply(frozenset)
    assert per_feature.nunique() == 1 and len(per_feature) == 4
    nk = annotate(["Lachnospiraceae_NK4A136_group", "g__Lachnospiraceae NK4A136 group"])
    assert set(nk["entity"]) == {"Lachnospiraceae NK4A136 group"} and nk["feature"].nunique() == 2
    eh = annotate(["[Eubacterium]_hallii_group"])
    assert set(eh["entity"]) == {"Eubacterium hallii group"}


def test_annotate_pathways_and_unmatched():
    names = [
        "PWY-5676: acetyl-CoA fermentation to butanoate II",
        "prpp-pwy",
        "CENTFERM-PWY|g__Faecalibacterium.s__x",
        "NOT-A-PWY",
        "Nonexistentia",
    ]
    hits = annotate(names)
    assert set(hits["feature"]) == set(names[:3])
    assert set(hits.loc[hits["feature"] == "prpp-pwy", "trait"]) == {
        "amino-acid biosynthesis",
        "nucleotide biosynthesis",
    }
    assert (hits["entity_type"] == "pathway").all()
    assert list(annotate(["Nonexistentia"]).columns) == ["feature", *COLUMNS]
    assert annotate(["Faecalibacterium"], entity_type="pathway").empty
    assert pathway_key("PWY-5676: x|g__A.s__b") == "PWY-5676"
    with pytest.raises(InputError, match="entity type"):
        annotate(["Blautia"], entity_type="species")


def test_trait_sets_split_bone_direction():
    sets = trait_sets(
        ["DTU089", "Lachnospiraceae_NK4A136_group", "g__Akkermansia", "Roseburia", "Faecalibacterium"]
    )
    assert sets["reported bone association (negative)"] == ["DTU089"]
    assert set(sets["reported bone association (positive)"]) == {"Lachnospiraceae_NK4A136_group", "Roseburia"}
    assert set(sets["butyrate producer"]) == {"Roseburia", "Faecalibacterium"}
    assert "reported bone association" not in sets  # 'conflicting' rows join no set
    assert "methanogen" not in trait_sets(["Roseburia"], min_size=1)
    assert trait_sets(["Roseburia", "Faecalibacterium"], min_size=3) == {}


def test_cli_export(tmp_path):
    out = tmp_path / "knowledge.tsv"
    main(["knowledge", "export", "--out", str(out)])
    written = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(written, load_knowledge())
    with pytest.raises(SystemExit) as exc:
        main(["knowledge", "export", "--out", str(tmp_path / "missing" / "k.tsv")])
    assert exc.value.code == 2
