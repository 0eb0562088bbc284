import pytest

from osteobiome.errors import InputError
from osteobiome.io.outputs import MARKER, atomic_output_dir
from osteobiome.study._outputs import sha256, versions


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_new_folder_appears_complete(tmp_path):
    out = tmp_path / "res"
    with atomic_output_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".res.tmp-") and not out.exists()
        (tmp / "a.txt").write_text("a")
    assert (out / "a.txt").read_text() == "a" and siblings(out) == []


def test_existing_folder_replaced_keeping_named_entries(tmp_path):
    out = tmp_path / "res"
    (out / "inputs").mkdir(parents=True)
    (out / "inputs" / "study.yaml").write_text("x")
    (out / "old.txt").write_text("old")
    (out / MARKER).write_text("")  # a previous result
    with atomic_output_dir(out, keep=("inputs",)) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "inputs", "new.txt"]
    assert (out / "inputs" / "study.yaml").read_text() == "x" and siblings(out) == []


def test_error_removes_the_temporary_folder_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / MARKER).write_text("")  # a previous result
    with pytest.raises(KeyboardInterrupt), atomic_output_dir(out) as tmp:
        (tmp / "half.txt").write_text("half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "old.txt"] and siblings(out) == []


def test_out_that_is_a_file_is_a_one_line_error(tmp_path):
    out = tmp_path / "res"
    out.write_text("not a folder")
    with pytest.raises(InputError, match="exists and is not a folder"), atomic_output_dir(out):
        pass


def test_checksum_and_versions(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"abc")
    assert sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    found = versions()
    assert {"osteobiome", "python", "numpy", "scipy", "pandas"} <= set(found)
