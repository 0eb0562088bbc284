"""``osteobiome simulate`` and ``osteobiome simulate fit`` from the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.io.outputs import MARKER


def _run(argv):
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


def test_simulate_command_writes_four_tables(tmp_path, capsys):
    out = tmp_path / "mros"
    assert _run(["simulate", "--preset", "mros", "--n", "60", "--seed", "4", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir() if p.name != MARKER} == {"features.tsv", "taxonomy.tsv", "metadata.tsv", "truth.tsv"}
    meta = pd.read_csv(out / "metadata.tsv", sep="\t", index_col=0)
    assert len(meta) == 60 and (meta["sex"] == "male").all()
    assert "60 samples" in capsys.readouterr().out


def test_simulate_with_associations_file(tmp_path):
    assoc = tmp_path / "a.tsv"
    assoc.write_text("feature\tphenotype\tlog2fc\nBlautia\tfn_aBMD\t0.3\n")
    assert _run(["simulate", "--n", "30", "--associations", str(assoc), "--out", str(tmp_path / "o")]) == 0
    truth = pd.read_csv(tmp_path / "o" / "truth.tsv", sep="\t")
    assert truth.to_dict("records") == [
        {"feature": "Blautia", "phenotype": "fn_aBMD", "log2fc": 0.3, "cohort": "fhs"}
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "--preset", "fhs"], "--out is required"),
        (["simulate", "--preset", "mro", "--out", "x"], "did you mean 'mros'"),
    ],
)
def test_simulate_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_simulate_fit_subcommand(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        rng.poisson(rng.gamma(0.5, 20, 6) + 2, (30, 6)).T,
        index=[f"g{i}" for i in range(6)],
        columns=[f"s{j}" for j in range(30)],
    )
    table.index.name = "Taxa"
    (tmp_path / "t.csv").write_text(table.to_csv())
    out = tmp_path / "params.json"
    assert _run(["simulate", "fit", str(tmp_path / "t.csv"), "--out", str(out), "--factors", "2"]) == 0
    assert "fitted 6 features on 30 samples" in capsys.readouterr().out
    assert (
        _run(
            [
                "simulate",
                "--n",
                "10",
                "--params",
                str(out),
                "--associations",
                str(_empty(tmp_path)),
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 0
    )
    assert pd.read_csv(tmp_path / "s" / "features.tsv", sep="\t", index_col=0).shape == (10, 6)
    assert _run(["simulate", "fit", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2


def _empty(tmp_path):
    path = tmp_path / "none.tsv"
    path.write_text("feature\tphenotype\tlog2fc\n")
    return path
