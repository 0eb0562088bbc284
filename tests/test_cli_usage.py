"""Every command-line usage mistake prints click's usage message and exits 2, never a traceback (issue 14)."""

from __future__ import annotations

import pytest

from osteobiome.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out + captured.err


@pytest.mark.parametrize(
    "argv, says",
    [
        ([], "Usage: "),
        (["bogus"], "No such command 'bogus'"),
        (["run"], "Missing argument 'study'"),
        (["run", "study.yaml", "--bogus", "x"], "No such option: --bogus"),
        (["associate", "t.tsv", "m.tsv", "--fixd", "bmd", "--out", "x"], "No such option: --fixd"),
        (["diversity", "t.tsv", "m.tsv", "--terms", "bmd", "--out", "x", "--permutations", "abc"], "--permutations"),
        (["run", "study.yaml", "--out", "x", "--workers", "0"], "--workers"),
        (["simulate", "--preset"], "--preset"),
    ],
)
def test_usage_mistakes_show_usage_and_exit_2(argv, says, capsys):
    code, text = run_cli(argv, capsys)
    assert code == 2, text
    assert says in text
    assert "Traceback" not in text and "typer._click" not in text
    assert "--help" in text or not argv
    if argv and argv[-1] != "--preset":  # a missing option value is found before the command's context exists
        assert "Usage: osteobiome" in text


def test_help_still_exits_0(capsys):
    try:
        main(["run", "--help"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "--out" in capsys.readouterr().out
