"""``osteobiome diversity``: files written atomically, vegan columns, one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.io.outputs import MARKER


@pytest.fixture(scope="module")
def inputs(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("div")
    twins = pd.read_csv(shared / "data/twins/Twins.csv", index_col=0)  # genera × samples, as users get it
    twins = twins.loc[:, twins.sum() > 0].iloc[:, :60]
    rng = np.random.default_rng(2)
    meta = pd.DataFrame(
        {
            "bmd": rng.normal(size=60),
            "age": rng.integers(40, 80, size=60),
            "sex": rng.choice(["F", "M"], size=60),
            "site": np.repeat(["s1", "s2", "s3"], 20),
            "family": [f"f{i}" for i in range(60)],
            "grade": np.tile([1, 2, 3], 20),
        },
        index=pd.Index(twins.columns, name="sample"),
    )
    twins.to_csv(root / "twins.csv")
    meta.to_csv(root / "meta.tsv", sep="\t")
    return root


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["diversity", *map(str, args)])
    return exc.value.code, capsys.readouterr()


def test_diversity_writes_all_files(inputs, tmp_path, capsys):
    out = tmp_path / "res"
    args = [inputs / "twins.csv", inputs / "meta.tsv", "--terms", "bmd,age,sex", "--by", "margin",
            "--strata", "site", "--permutations", "99", "--alpha", "shannon,observed,chao1", "--out", out]
    try:
        main(["diversity", *map(str, args)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == [
        "alpha.tsv", "alpha_associations.tsv", "pcoa.tsv", "pcoa_explained.tsv", "permanova.tsv", "permdisp.tsv"]
    assoc = pd.read_csv(out / "alpha_associations.tsv", sep="\t")
    assert list(assoc.columns[:9]) == ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]
    assert set(assoc.metadata) == {"bmd"} and sorted(assoc.feature) == ["chao1", "observed", "shannon"]
    perm = pd.read_csv(out / "permanova.tsv", sep="\t")
    assert list(perm.columns) == ["term", "Df", "SumOfSqs", "R2", "F", "pval"]
    assert list(perm.term) == ["bmd", "age", "sex", "Residual", "Total"]
    assert perm.R2.iloc[-1] == pytest.approx(1.0)
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert list(alpha.columns) == ["shannon", "observed", "chao1"] and len(alpha) == 60
    assert list(pd.read_csv(out / "permdisp.tsv", sep="\t").term) == ["sex", "Residual"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".res")]  # no temp folders left


def test_rarefy_and_rerun_replaces_folder(inputs, tmp_path, capsys):
    out = tmp_path / "res"
    base = [inputs / "twins.csv", inputs / "meta.tsv", "--terms", "sex", "--permutations", "9", "--out", out]
    for extra in ([], ["--rarefy", "500", "--metric", "jaccard"]):
        try:
            main(["diversity", *map(str, base + extra)])
        except SystemExit as exc:
            assert exc.code in (0, None)
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t")
    assert len(alpha) < 60  # rarefaction dropped shallow samples, and said so
    assert f"rarefaction to 500 reads dropped {60 - len(alpha)} samples" in capsys.readouterr().err


def test_phenotypes_option(inputs, tmp_path, capsys):
    out = tmp_path / "res"
    try:
        main(["diversity", *map(str, [inputs / "twins.csv", inputs / "meta.tsv", "--terms", "bmd,age,sex",
                                      "--phenotypes", "sex,age", "--permutations", "9", "--out", out])])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assoc = pd.read_csv(out / "alpha_associations.tsv", sep="\t")
    assert set(zip(assoc.metadata, assoc.value, strict=True)) == {("sex", "M"), ("age", "age")}
    assert (assoc["N.used"] == 60).all()


def test_categorical_codes(inputs, tmp_path, capsys):
    dfs = []
    for extra in ([], ["--categorical", "grade"]):
        out = tmp_path / f"res{len(extra)}"
        try:
            main(["diversity", *map(str, [inputs / "twins.csv", inputs / "meta.tsv", "--terms", "grade",
                                          "--permutations", "9", "--out", out, *extra])])
        except SystemExit as exc:
            assert exc.code in (0, None)
        dfs.append(pd.read_csv(out / "permanova.tsv", sep="\t").Df.iloc[0])
    assert dfs == [1, 2]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--terms", "bmd,agee"], "did you mean 'age'"),
        (["--terms", "bmd", "--phenotypes", "bmdd"], "did you mean 'bmd'"),
        (["--terms", ",", "--strata", "site"], "none given"),
        (["--terms", "bmd", "--strata", "family"], "hold one sample each"),
        (["--terms", "bmd", "--alpha", "chao1", "--rarefy", "0"], "positive whole number"),
        (["--terms", "bmd", "--metric", "unweighted_unifrac"], "needs a phylogenetic tree"),
        (["--terms", "bmd", "--metric", "weighted_unifrac", "--tree", "missing.nwk"], "tree file not found"),
        (["--terms", "bmd", "--by", "margins"], "did you mean 'margin'"),
    ],
)
def test_cli_errors_one_line(inputs, tmp_path, capsys, extra, message):
    code, captured = run([inputs / "twins.csv", inputs / "meta.tsv", "--out", tmp_path / "x", *extra], capsys)
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in " ".join(lines[0].split())
    assert not (tmp_path / "x").exists()


def test_chao1_on_relative_abundances_fails_in_cli(inputs, tmp_path, capsys):
    rel = pd.read_csv(inputs / "twins.csv", index_col=0)
    (rel / rel.sum()).to_csv(tmp_path / "rel.csv")
    code, captured = run([tmp_path / "rel.csv", inputs / "meta.tsv", "--terms", "bmd", "--alpha", "chao1",
                          "--out", tmp_path / "x"], capsys)
    assert code == 2 and "needs integer counts" in captured.err
