"""Every bad input: one-line InputError from the library, and through the CLI exit code 2, one line, no traceback."""

from pathlib import Path

import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.errors import InputError, unique_ids
from osteobiome.io import load_cohort, read_features, read_metadata
from osteobiome.io.base import unique_ids as base_unique_ids


def run_cli(args, capsys):
    """(exit code, stdout, stderr) of ``osteobiome ARGS``; main() returns normally on success."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_cli_error(args, capsys, *fragments):
    code, _, err = run_cli([str(a) for a in args], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def table(tmp_path, text, name="t.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


META = "sample\tage\nS1\t50\nS2\t60\nS3\t70\n"


@pytest.fixture
def meta(tmp_path):
    return table(tmp_path, META, "meta.tsv")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p / "missing.tsv", "no such file"),
        (lambda p: p, "is a folder"),
        (lambda p: table(p, "", "empty.tsv"), "the file is empty"),
        (lambda p: table(p, "\n\n  \n", "blank.tsv"), "holds no data"),
        (lambda p: table(p, "Taxa\tS1\tS2\n", "header.tsv"), "only a header line"),
    ],
)
def test_unreadable_or_empty_files(tmp_path, capsys, make, fragment):
    path = make(tmp_path)
    with pytest.raises(InputError, match=fragment):
        read_features(path)
    assert_cli_error(["inspect", path], capsys, str(path), fragment)


def test_unreadable_permissions(tmp_path, capsys, monkeypatch):
    path = table(tmp_path, "Taxa\tS1\nA\t1\n")
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)  # chmod 000 does not stop root, so simulate it
    assert_cli_error(["inspect", path], capsys, "cannot be read (Permission denied)")


def test_binary_file(tmp_path, capsys):
    path = tmp_path / "x.tsv"
    path.write_bytes(b"\x00\x01\x02binary\x00" * 20)
    assert_cli_error(["inspect", path], capsys, "binary content")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("Taxa\tS1\tS1\nBlautia\t1\t2\n", ["duplicate sample ids", "'S1'"]),
        ("Taxa\tS1\tS2\nBlautia\t1\t2\nBlautia\t3\t4\n", ["duplicate feature ids", "'Blautia'"]),
        ("Taxa\tS1\tS2\nBlautia\t1\t-2\n", ["negative abundance -2", "feature 'Blautia', sample 'S2'"]),
        ("Taxa\tS1\tS2\nBlautia\t1\tabc\n", ["non-numeric abundance 'abc'", "feature 'Blautia', sample 'S2'"]),
        ("Taxa\tS1\tS2\nBlautia\t1\tNA\n", ["missing abundance", "use 0 for absent"]),
        ("Taxa\tS1\tS2\nBlautia\t120\t0.5\nDorea\t300\t0.25\n", ["mixes counts and proportions", "'S1'", "'S2'"]),
    ],
)
def test_bad_values_and_ids(tmp_path, capsys, text, fragments):
    path = table(tmp_path, text)
    with pytest.raises(InputError):
        load_cohort(path)
    assert_cli_error(["inspect", path], capsys, str(path), *fragments)


def test_duplicate_metadata_ids(tmp_path, capsys):
    features = table(tmp_path, "Taxa\tS1\tS2\nBlautia\t1\t2\n")
    meta = table(tmp_path, "sample\tage\nS1\t1\nS1\t2\n", "m.tsv")
    assert_cli_error(["inspect", features, "--metadata", meta], capsys, "duplicate sample ids", "'S1'")


def test_no_overlapping_sample_ids(tmp_path, capsys, meta):
    features = table(tmp_path, "Taxa\tX1\tX2\nBlautia\t1\t2\n")
    line = assert_cli_error(["inspect", features, "--metadata", meta], capsys, "no sample id is in both")
    assert "'X1', 'X2'" in line and "'S1', 'S2', 'S3'" in line


def test_metadata_column_not_found_suggests(tmp_path, capsys, meta):
    with pytest.raises(InputError, match="did you mean 'sample'"):
        read_metadata(meta, id_column="Sample")
    with pytest.raises(InputError, match="'agee' not found .*did you mean 'age'"):
        read_metadata(meta, numeric=["agee"])
    features = table(tmp_path, "Taxa\tS1\tS2\nBlautia\t1\t2\n")
    assert_cli_error(["inspect", features, "-m", meta, "--id-column", "sampel"], capsys, "did you mean 'sample'")


def test_all_zero_samples_dropped_with_warning(tmp_path, capsys, meta):
    features = table(tmp_path, "Taxa\tS1\tS2\tS3\nBlautia\t1\t0\t0\nDorea\t3\t0\t2\n")
    with pytest.warns(UserWarning, match="dropped 1 all-zero sample\\(s\\): 'S2'"):
        cohort = load_cohort(features, meta)
    assert list(cohort.samples) == ["S1", "S3"]
    assert cohort.drop_report().loc[0, "reason"] == "all-zero sample"
    code, out, err = run_cli(["inspect", str(features), "-m", str(meta)], capsys)
    assert code == 0 and "Traceback" not in err
    assert "dropped 1 all-zero sample(s): 'S2'" in " ".join((out + err).split())


def test_every_sample_all_zero(tmp_path, capsys):
    features = table(tmp_path, "Taxa\tS1\tS2\nBlautia\t0\t0\n")
    assert_cli_error(["inspect", features], capsys, "every sample is all-zero")


def test_orientation_needs_samples_as(tmp_path, capsys, meta):
    features = table(tmp_path, "name\tA\tB\nBlautia\t1\t2\n")
    assert_cli_error(["inspect", features], capsys, "--samples-as rows|columns")
    assert_cli_error(["inspect", features, "--samples-as", "sideways"], capsys, "'rows' or 'columns'")
    assert_cli_error(["inspect", features, "--format", "biom"], capsys, "unknown format 'biom'", "did you mean")


def test_damaged_biom_and_qza(tmp_path, capsys):
    biom = tmp_path / "t.biom"
    biom.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    assert_cli_error(["inspect", biom], capsys, "damaged or unsupported BIOM file")
    qza = tmp_path / "t.qza"
    qza.write_bytes(b"PK\x03\x04 not really a zip")
    assert_cli_error(["inspect", qza], capsys, "not a QIIME 2 artifact")


def test_unique_ids_within_and_across_blocks():
    assert base_unique_ids is unique_ids  # re-exported for the readers
    unique_ids(pd.Index(["a", "b"]), "feature", "t.tsv", seen={"c"})
    with pytest.raises(InputError, match="t.tsv: duplicate feature ids: 'a'; make them unique"):
        unique_ids(pd.Index(["a", "b", "a"]), "feature", "t.tsv")
    with pytest.raises(InputError, match="duplicate feature ids: 'b';"):
        unique_ids(pd.Index(["a", "b"]), "feature", "t.tsv", seen={"b", "z"})
