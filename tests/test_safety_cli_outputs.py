"""The commands refuse an --out that would cost the user's files (issue 14, data loss 1-2)."""

from __future__ import annotations

import pytest
from study_data import write_study

from osteobiome.cli import app, main

FOLDER_COMMANDS = [
    ["run"], ["demo"], ["associate"], ["meta"], ["diversity"], ["simulate"], ["power"], ["benchmark", "calibration"],
    ["mediate"], ["batch-correct"], ["survival"], ["predict"],
]


def exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


@pytest.mark.parametrize("command", FOLDER_COMMANDS, ids=" ".join)
def test_every_command_that_writes_a_folder_has_overwrite(command, capsys):
    try:
        main([*command, "--help"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "--overwrite" in capsys.readouterr().out


def test_every_folder_command_is_listed():
    import typer.main

    group = typer.main.get_command(app)
    writers = {
        name for name, cmd in group.commands.items() if any(p.name == "out" for p in getattr(cmd, "params", []))
    }
    assert writers - {"knowledge", "convert"} <= {c[0] for c in FOLDER_COMMANDS}  # those two write one file


def test_run_with_out_dot_inside_the_study_folder_deletes_nothing(tmp_path, capsys, monkeypatch):
    study = write_study(tmp_path / "study", n=(20, 20))
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "study").rglob("*"))
    monkeypatch.chdir(tmp_path / "study")
    for extra in ([], ["--overwrite"]):
        assert exit_code(["run", str(study), "--out", ".", "--quiet", *extra]) == 2
        assert "holds the input" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "study").rglob("*")) == before


def test_run_refuses_a_foreign_folder_unless_overwrite(tmp_path, capsys):
    study = write_study(tmp_path / "study", n=(20, 20), diversity=False, report=False)
    out = tmp_path / "notes"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert exit_code(["run", str(study), "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "notes.txt").exists()
    main(["run", str(study), "--out", str(out), "--quiet", "--overwrite"])
    assert not (out / "notes.txt").exists() and (out / "run.json").exists()
    main(["run", str(study), "--out", str(out), "--quiet"])  # now ours: replaced without --overwrite


def test_associate_refuses_a_foreign_folder_before_fitting(tmp_path, capsys):
    write_study(tmp_path / "study", n=(20, 20))
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_text("x")
    a = tmp_path / "study" / "a"
    argv = ["associate", str(a / "features.tsv"), str(a / "metadata.tsv"), "--fixed", "vbmd", "--out", str(out)]
    assert exit_code(argv) == 2
    assert "not an osteobiome result" in capsys.readouterr().err and (out / "holiday.jpg").exists()
    main([*argv, "--overwrite"])
    assert (out / "all_results.tsv").exists() and not (out / "holiday.jpg").exists()
    assert exit_code([*argv[:-1], str(a), "--overwrite"]) == 2  # --out is the folder of the inputs
    assert (a / "features.tsv").exists()
