"""One TSV writer everywhere: NA for missing values, floats in full precision (repr), in every table the CLI and
a study run write."""

import math

import numpy as np
import pandas as pd
import pytest
from study_data import write_study

from osteobiome.cli import main
from osteobiome.io.tsv import write_tsv
from osteobiome.study import load_study, run_study


def test_writer_na_and_full_precision_round_trip(tmp_path):
    frame = pd.DataFrame(
        {"x": [0.1, 1 / 3, 1e-300, np.nan, 0.1 + 0.2], "label": ["a", None, "c", "d", "e"], "n": [1, 2, 3, 4, 5]}
    )
    path = write_tsv(frame, tmp_path / "sub" / "t.tsv")
    lines = path.read_text().splitlines()
    assert lines[0] == "x\tlabel\tn"
    assert lines[1:] == ["0.1\ta\t1", "0.3333333333333333\tNA\t2", "1e-300\tc\t3", "NA\td\t4", "0.30000000000000004\te\t5"]
    back = pd.read_csv(path, sep="\t")
    pd.testing.assert_frame_equal(back, frame)  # exact: no digit lost


def check_cells(path):
    """No empty cell in a numeric column (a missing number is NA); every non-integer number is written as its
    shortest round-trip repr. (Text columns may hold empty text: ``loo_flips`` with no cohort.)"""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for name, column in frame.items():
        values = pd.to_numeric(column[~column.isin(["", "NA"])], errors="coerce")
        numeric = len(values) > 0 and values.notna().all()
        assert not (numeric and (column == "").any()), f"{path.name}: empty cells in {name} (write NA)"
    numbers = 0
    for cell in frame.to_numpy().ravel():
        try:
            value = float(cell)
        except ValueError:
            continue
        if math.isfinite(value) and not cell.lstrip("-").isdigit():
            assert cell == repr(value), f"{path.name}: {cell!r} is not the full-precision {value!r}"
            numbers += 1
    return frame, numbers


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    path = write_study(folder, n=(40, 30), diversity=False)
    with pytest.warns(UserWarning):
        run_study(load_study(path), folder / "out", quiet=True)
    return folder / "out"


def test_study_and_cli_meta_write_the_same_table(study, tmp_path, capsys):
    """`osteobiome meta` on the study's own per-cohort results writes the study's meta table byte for byte."""
    folders = []
    for name in ("A", "B"):
        folder = tmp_path / name
        folder.mkdir()
        associations = pd.read_csv(study / "cohorts" / name / "associations.tsv", sep="\t")
        write_tsv(associations, folder / "all_results.tsv")
        folders.append(str(folder))
    main(["meta", *folders, "--out", str(tmp_path / "meta"), "--q-threshold", "0.25"])  # the study's fdr.meta
    cli_path, study_path = tmp_path / "meta" / "meta_results.tsv", study / "meta" / "meta_results.tsv"
    cli, numbers = check_cells(cli_path)
    assert numbers > 100 and (cli == "NA").any().any()  # missing values: heterogeneity of one-cohort rows
    ours, _ = check_cells(study_path)
    # same text cell for cell, but n_significant: the study counts cohorts at its fdr.cohort (0.1), the CLI at 0.25
    pd.testing.assert_frame_equal(cli.drop(columns="n_significant"), ours.drop(columns="n_significant"))


def test_every_study_table_follows_the_conventions(study):
    tables = sorted(study.rglob("*.tsv"))
    assert len(tables) >= 5
    for path in tables:
        check_cells(path)
