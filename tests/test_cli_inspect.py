"""``osteobiome inspect`` on the Twins template, the shipped example and a partial metadata match."""

from pathlib import Path

import pytest

from osteobiome.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "osteobiome" / "data" / "example"


def inspect_output(args, capsys):
    main(["inspect", *map(str, args)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return " ".join(captured.out.split())


def row(text, label):
    """The value printed after ``label`` in a rich key/value table (matched as a whole cell, not in a path)."""
    after = text.split(f"│ {label} │", 1)[1]
    return after.split("│")[0].strip()


def test_inspect_twins_features_as_rows(shared, capsys):
    out = inspect_output([shared / "data" / "twins" / "Twins.csv"], capsys)
    assert row(out, "samples") == "278"
    assert row(out, "features") == "130"
    assert row(out, "format") == "table"
    assert row(out, "values") == "counts"
    assert row(out, "taxonomy") == "none"
    assert "% zeros" in row(out, "sparsity")


def test_inspect_example_with_metadata(capsys):
    out = inspect_output([EXAMPLE / "counts.tsv", "--metadata", EXAMPLE / "metadata.tsv"], capsys)
    assert row(out, "samples") == "30" and row(out, "features") == "12"
    assert row(out, "matched") == "30"
    assert "Genus 10/12" in out and "11 genera after collapsing" in out
    assert "│ bmi │ numeric │ 1 (3%) │" in out
    assert "│ smoking │ categorical │ 0 (0%) │ 3 levels" in out


def test_inspect_reports_unmatched_ids(tmp_path, capsys):
    table = tmp_path / "t.tsv"
    table.write_text("Taxa\tA\tB\tC\nBlautia\t1\t2\t3\n")
    meta = tmp_path / "m.tsv"
    meta.write_text("id\tgroup\nB\tx\nC\ty\nD\tz\n")
    out = inspect_output([table, "-m", meta], capsys)
    assert row(out, "matched") == "2"
    assert row(out, "only in the table") == "1: 'A'"
    assert row(out, "only in the metadata") == "1: 'D'"
    assert row(out, "analysable") == "2"


def test_inspect_humann_shows_what_is_kept_aside(tmp_path, capsys):
    path = tmp_path / "pathabundance.tsv"
    path.write_text("# Pathway\tS1_Abundance\nUNMAPPED\t5.0\nPWY-1: a\t1.5\nPWY-1: a|unclassified\t1.5\n")
    out = inspect_output([path], capsys)
    assert row(out, "format") == "humann"
    assert row(out, "stratified").startswith("1 column(s) kept aside")
    assert row(out, "unmapped").startswith("per-sample totals")


def test_help_lists_inspect(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "inspect" in out and "--samples-as" not in out


def test_inspect_taxonomy_missing_a_feature_names_the_file(tmp_path, capsys):
    table = tmp_path / "t.tsv"
    table.write_text("#OTU ID\tS1\no1\t3\no9\t4\n")
    tax = tmp_path / "taxonomy.tsv"
    tax.write_text("Feature ID\tTaxon\no1\tk__B; g__G\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", str(table), "--taxonomy", str(tax)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert f"{tax}: 1 feature(s)" in err and "no taxonomy row: 'o9'" in err and "same run" in err
