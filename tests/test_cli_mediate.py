"""``osteobiome mediate`` on the golden data (tests/golden/mediation)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.mediation.pipeline import COLUMNS

GOLDEN = Path(__file__).parent / "golden" / "mediation"


def test_writes_mediation_tsv(tmp_path, capsys):
    out = tmp_path / "med"
    main([
        "mediate", str(GOLDEN / "counts.tsv"), str(GOLDEN / "metadata.tsv"), "--mediators", str(GOLDEN / "mediators.tsv"),
        "--outcome", "bmd", "--covariates", "age,sex,site", "--reference", "site=A", "--preset", "maaslin2",
        "--test", "maxp", "--n-boot", "50", "--out", str(out),
    ])
    table = pd.read_csv(out / "mediation.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert list(table.columns[: len(COLUMNS)]) == COLUMNS and len(table) == 24
    top = table.iloc[0]
    assert (top["feature"], top["mediator"], top["mechanism"], top["knowledge"]) == ("Faecalibacterium", "butyrate", "SCFA", "butyrate producer")
    assert (out / "significant_results.tsv").exists()
    assert "24 pairs (6 features × 4 mediators, test maxp)" in capsys.readouterr().out


def test_unknown_outcome_is_exit_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([
            "mediate", str(GOLDEN / "counts.tsv"), str(GOLDEN / "metadata.tsv"), "--mediators", str(GOLDEN / "mediators.tsv"),
            "--outcome", "bmdd", "--out", str(tmp_path / "x"),
        ])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "outcome 'bmdd' is not a metadata column" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_rank_uses_the_taxonomy_the_table_carries(tmp_path, capsys):
    counts = pd.read_csv(GOLDEN / "counts.tsv", sep="\t", index_col=0).T
    counts["taxonomy"] = [f"k__Bacteria; g__{'Blautia' if name == 'Roseburia' else name}" for name in counts.index]
    table = tmp_path / "table.tsv"
    counts.to_csv(table, sep="\t")
    main([
        "mediate", str(table), str(GOLDEN / "metadata.tsv"), "--mediators", str(GOLDEN / "mediators.tsv"),
        "--outcome", "bmd", "--rank", "genus", "--ci", "delta", "--out", str(tmp_path / "med"),
    ])
    features = pd.read_csv(tmp_path / "med" / "mediation.tsv", sep="\t")["feature"]
    assert "Blautia" in set(features) and "Roseburia" not in set(features)


def test_rank_without_any_taxonomy_is_exit_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([
            "mediate", str(GOLDEN / "counts.tsv"), str(GOLDEN / "metadata.tsv"), "--mediators", str(GOLDEN / "mediators.tsv"),
            "--outcome", "bmd", "--rank", "genus", "--out", str(tmp_path / "x"),
        ])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "cannot collapse to 'genus' without a taxonomy" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_malformed_reference_is_exit_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([
            "mediate", str(GOLDEN / "counts.tsv"), str(GOLDEN / "metadata.tsv"), "--mediators", str(GOLDEN / "mediators.tsv"),
            "--outcome", "bmd", "--covariates", "site", "--reference", "site", "--out", str(tmp_path / "x"),
        ])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--reference 'site': write it as variable=level" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()
