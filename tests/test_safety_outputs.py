"""--out never costs the user's files: foreign folders, folders holding the inputs, concurrent runs, stale
temporaries, a full disk (issue 14)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from osteobiome.errors import InputError
from osteobiome.io.outputs import MARKER, atomic_output_dir, atomic_output_file, check_output_dir


def write_result(out: Path, name: str = "a.tsv", **kwargs) -> None:
    with atomic_output_dir(out, **kwargs) as tmp:
        (tmp / name).write_text("1")


def test_a_foreign_non_empty_folder_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_text("years of work")
    with pytest.raises(InputError, match="not an osteobiome result.*--overwrite"):
        write_result(out)
    assert (out / "chapter1.docx").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]


def test_overwrite_replaces_a_foreign_folder(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "x.txt").write_text("x")
    write_result(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.tsv"]


def test_a_previous_result_and_an_empty_folder_are_replaced_without_overwrite(tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    write_result(out, "a.tsv")  # empty folder
    write_result(out, "b.tsv")  # our own previous result
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.tsv"]
    legacy = tmp_path / "legacy"  # a result of a version without the marker: its run.json names osteobiome
    legacy.mkdir()
    (legacy / "run.json").write_text('{"versions": {"osteobiome": "0.1"}}')
    write_result(legacy)
    assert (legacy / "a.tsv").exists()


def test_the_folder_holding_the_inputs_is_never_replaced(tmp_path):
    study = tmp_path / "study"
    (study / "data").mkdir(parents=True)
    (study / "study.yaml").write_text("cohorts: []")
    (study / "data" / "counts.tsv").write_text("x")
    (study / MARKER).write_text("")  # even a folder that looks like ours
    for inputs in ([study / "study.yaml"], [study / "data" / "counts.tsv"], [study]):
        with pytest.raises(InputError, match="holds the input"):
            write_result(study, inputs=inputs, overwrite=True)
    assert (study / "study.yaml").exists() and (study / "data" / "counts.tsv").exists()
    with pytest.raises(InputError, match="holds the input"):  # an ancestor of the inputs too
        write_result(tmp_path, inputs=[study / "study.yaml"], overwrite=True)


def test_inputs_inside_a_kept_entry_are_carried_over(tmp_path):
    out = tmp_path / "demo"
    write_result(out / "inputs", "study.yaml")
    write_result(out, "report.html", keep=("inputs",), inputs=[out / "inputs" / "study.yaml"])
    assert (out / "inputs" / "study.yaml").exists() and (out / "report.html").exists()


def test_a_second_writer_of_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "res"
    with atomic_output_dir(out) as tmp:
        (tmp / "first.tsv").write_text("1")
        with pytest.raises(InputError, match="another osteobiome run is writing"):
            write_result(out, "second.tsv")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "first.tsv"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # lock file removed


RACER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from osteobiome.errors import InputError
    from osteobiome.io.outputs import atomic_output_dir
    out, tag = Path(sys.argv[1]), sys.argv[2]
    done = refused = 0
    for i in range(15):
        try:
            with atomic_output_dir(out) as tmp:
                for k in range(10):
                    (tmp / f"part{k}.tsv").write_text(tag)
            done += 1
        except InputError as exc:
            assert "another osteobiome run" in str(exc), exc
            refused += 1
    print(done, refused)
    """
)


def test_two_processes_writing_the_same_folder_never_race(tmp_path):
    out = tmp_path / "res"
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, str(out), tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("A", "B")
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
    assert sum(int(stdout.split()[0]) for stdout, _ in results) >= 1  # a refusal means the other run finished
    contents = {p.read_text() for p in out.glob("part*.tsv")}
    assert len(list(out.glob("part*.tsv"))) == 10 and len(contents) == 1  # one whole result, not a mix
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "res"
    pid = dead_pid()
    stale = [tmp_path / f".res.tmp-{pid}-abcd1234", tmp_path / f".res.old-{pid}-efgh5678"]
    live = tmp_path / f".res.tmp-{os.getppid()}-live0000"  # a running process's: left alone
    other = tmp_path / f".results.tmp-{pid}-zzzz0000"  # another folder's
    for folder in [*stale, live, other]:
        folder.mkdir()
        (folder / "half.tsv").write_text("x")
    write_result(out)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([live.name, other.name, "res"])


def test_a_full_disk_names_the_folder_and_the_space(tmp_path):
    out = tmp_path / "res"
    with pytest.raises(InputError) as info, atomic_output_dir(out) as tmp:
        (tmp / "big.tsv").write_bytes(b"x" * 2_500_000)
        raise OSError(errno.ENOSPC, "No space left on device")
    message = str(info.value)
    assert str(out) in message and "2.5 MB" in message and "free" in message
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_full_disk_while_writing_one_file_names_it(tmp_path):
    path = tmp_path / "store.h5"
    with pytest.raises(InputError) as info, atomic_output_file(path) as tmp:
        tmp.write_bytes(b"x" * 1_500_000)
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(path) in str(info.value) and "1.5 MB" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_result_being_swapped_into_place_is_never_taken_for_a_user_folder(tmp_path):
    """The check before the lock looks at one listing: a run moving its result into place is seen before or after."""
    out = tmp_path / "res"

    def result(folder):
        folder.mkdir()
        (folder / MARKER).write_text("")
        (folder / "a.tsv").write_text("")

    result(out)
    stop = threading.Event()

    def swapper():
        i = 0
        while not stop.is_set():
            new, old = tmp_path / f"new{i}", tmp_path / f"old{i}"
            result(new)
            out.rename(old)
            new.rename(out)
            shutil.rmtree(old)
            i += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    errors = []
    try:
        for _ in range(20000):
            try:
                check_output_dir(out)
            except InputError as exc:
                errors.append(str(exc))
    finally:
        stop.set()
        thread.join()
    assert errors == []
