import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.mechanisms.contributions import (
    CONTRIBUTION_COLUMNS,
    contribution_table,
    parse_stratified,
    pathway_id,
)

BUT = "PWY-5676: acetyl-CoA fermentation to butanoate II"
PRPP = "PRPP-PWY: superpathway of histidine, purine, and pyrimidine biosynthesis"


def humann_frame():
    rows = {
        BUT: [10.0, 8.0, 0.0],
        f"{BUT}|g__Faecalibacterium.s__Faecalibacterium_prausnitzii": [6.0, 2.0, 0.0],
        f"{BUT}|g__Roseburia.s__Roseburia_intestinalis": [2.0, 4.0, 0.0],
        f"{BUT}|g__Roseburia.s__Roseburia_hominis": [1.0, 0.0, 0.0],
        f"{BUT}|unclassified": [1.0, 2.0, 0.0],
        PRPP: [5.0, 5.0, 5.0],
        f"{PRPP}|g__Bacteroides.s__Bacteroides_vulgatus": [5.0, 0.0, 2.0],
        f"{PRPP}|g__Escherichia.s__Escherichia_coli": [0.0, 5.0, 3.0],
        "UNINTEGRATED|g__Roseburia.s__Roseburia_hominis": [50.0, 50.0, 50.0],
        "UNGROUPED|g__Roseburia.s__Roseburia_hominis": [20.0, 20.0, 20.0],
    }
    return pd.DataFrame(rows, index=["s1", "s2", "s3"]).T


def test_contribution_shares_by_hand():
    table = contribution_table(humann_frame())
    assert list(table.columns) == CONTRIBUTION_COLUMNS
    but = table[table["pathway_id"] == "PWY-5676"].set_index("genus")
    # s1 total 10: F 0.6, R 0.3, u 0.1; s2 total 8: F 0.25, R 0.5, u 0.25; s3 carries no butyrate pathway
    assert but.loc["Faecalibacterium", "mean_share"] == pytest.approx((0.6 + 0.25) / 2)
    assert but.loc["Roseburia", "mean_share"] == pytest.approx((0.3 + 0.5) / 2)
    assert but.loc["unclassified", "mean_share"] == pytest.approx((0.1 + 0.25) / 2)
    assert but.loc["Roseburia", "mean_abundance"] == pytest.approx(7.0 / 3)
    assert (but["n_samples"] == 2).all()
    assert list(but.index) == ["Faecalibacterium", "Roseburia", "unclassified"]  # sorted by share
    prpp = table[table["pathway_id"] == "PRPP-PWY"].set_index("genus")
    assert prpp.loc["Escherichia", "prevalence"] == pytest.approx(2 / 3)
    assert table.groupby("pathway")["mean_share"].sum().to_numpy() == pytest.approx(np.ones(2))
    assert not {"UNINTEGRATED", "UNGROUPED"} & set(table["pathway"])


def test_contribution_filters_and_min_share():
    by_id = contribution_table(humann_frame(), pathways=["PRPP-PWY"])
    by_name = contribution_table(humann_frame(), pathways=[PRPP])
    pd.testing.assert_frame_equal(by_id, by_name)
    assert set(by_id["genus"]) == {"Bacteroides", "Escherichia"}
    assert set(contribution_table(humann_frame(), min_share=0.3)["genus"]) == {
        "Roseburia",
        "Faecalibacterium",
        "Bacteroides",
        "Escherichia",
    }


def test_contribution_errors_and_parsing():
    with pytest.raises(InputError, match="no stratified rows"):
        contribution_table(humann_frame().loc[[BUT, PRPP]])
    with pytest.raises(InputError, match="none of the pathways"):
        contribution_table(humann_frame(), pathways=["PWY-0000"])
    negative = humann_frame()
    negative.iloc[1, 0] = -1.0
    with pytest.raises(InputError, match="negative"):
        contribution_table(negative)
    with pytest.raises(InputError, match="DataFrame"):
        contribution_table(np.zeros((2, 2)))
    parsed = parse_stratified([f"{BUT}|g__Blautia.s__Blautia_obeum", f"{BUT}|unclassified", BUT])
    assert list(parsed["genus"][:2]) == ["Blautia", "unclassified"] and pd.isna(parsed["genus"][2])
    assert pathway_id(BUT) == "PWY-5676"
