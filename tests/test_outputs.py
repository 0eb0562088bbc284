import pytest

from osteobiome.errors import InputError
from osteobiome.io.outputs import MARKER, atomic_output_dir, atomic_output_file


def test_dir_replaces_and_keeps(tmp_path):
    out = tmp_path / "res"
    with atomic_output_dir(out) as tmp:
        (tmp / "a.tsv").write_text("1")
        (tmp / "inputs").mkdir()
    with atomic_output_dir(out, keep=("inputs",)) as tmp:
        (tmp / "b.tsv").write_text("2")
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == ["b.tsv", "inputs"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_dir_failure_leaves_old_results(tmp_path):
    out = tmp_path / "res"
    with atomic_output_dir(out) as tmp:
        (tmp / "a.tsv").write_text("1")
    with pytest.raises(RuntimeError), atomic_output_dir(out) as tmp:
        (tmp / "b.tsv").write_text("2")
        raise RuntimeError("boom")
    assert [p.name for p in out.iterdir() if p.name != MARKER] == ["a.tsv"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_dir_refuses_a_file(tmp_path):
    (tmp_path / "res").write_text("x")
    with pytest.raises(InputError, match="not a folder"), atomic_output_dir(tmp_path / "res"):
        pass


def test_file_replaces_and_cleans_up(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_output_file(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    with atomic_output_file(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"), atomic_output_file(tmp_path / "no" / "t.tsv"):
        pass
    with pytest.raises(InputError, match="is a folder"), atomic_output_file(tmp_path):
        pass
