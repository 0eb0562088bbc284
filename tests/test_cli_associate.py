import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(2)
    n, m = 40, 8
    samples = [f"s{i}" for i in range(n)]
    metadata = pd.DataFrame(
        {"age": rng.normal(50, 10, n), "sex": rng.choice(["F", "M"], n), "subject": np.repeat(np.arange(20), 2)},
        index=pd.Index(samples, name="sample"),
    )
    counts = pd.DataFrame(rng.poisson(30, (m, n)), index=[f"otu{j}" for j in range(m)], columns=samples)  # features as rows
    taxonomy = pd.DataFrame({"Genus": ["A", "A", "B", "B", "C", "C", "D", "D"]}, index=counts.index)
    paths = {"features": tmp_path / "counts.tsv", "metadata": tmp_path / "meta.tsv", "taxonomy": tmp_path / "tax.tsv"}
    counts.to_csv(paths["features"], sep="\t")
    metadata.to_csv(paths["metadata"], sep="\t")
    taxonomy.to_csv(paths["taxonomy"], sep="\t")
    return paths


def run(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_writes_maaslin2_layout(files, tmp_path, capsys):
    out = tmp_path / "res"
    main(["associate", str(files["features"]), str(files["metadata"]), "--fixed", "age,sex", "--out", str(out), "--max-significance", "1"])
    results = pd.read_csv(out / "all_results.tsv", sep="\t")
    assert list(results.columns[:9]) == ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]
    assert len(results) == 16 and len(pd.read_csv(out / "significant_results.tsv", sep="\t")) == 16
    transformed = pd.read_csv(out / "features" / "filtered_data_norm_transformed.tsv", sep="\t", index_col="feature")
    assert transformed.shape == (8, 40)
    assert "16 associations" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".res")]  # no staging folder left behind


def test_rank_random_and_reference(files, tmp_path):
    out = tmp_path / "genus"
    main([
        "associate", str(files["features"]), str(files["metadata"]), "--fixed", "age,sex", "--random", "subject",
        "--reference", "sex=M", "--taxonomy", str(files["taxonomy"]), "--rank", "genus", "--preset", "maaslin2", "--workers", "2", "--out", str(out),
    ])
    results = pd.read_csv(out / "all_results.tsv", sep="\t")
    assert set(results["feature"]) == {"A", "B", "C", "D"} and set(results["value"]) == {"age", "F"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fixed", "agee"], "did you mean 'age'"),
        (["--fixed", "age", "--min-prevalence", "1"], "filtered out"),
        (["--fixed", "age", "--reference", "sex"], "variable=level"),
        (["--fixed", "age", "--rank", "genus"], "cannot collapse to 'genus' without a taxonomy"),
        (["--fixed", "age", "--normalization", "CLR"], "cannot follow normalization CLR"),
        (["--fixed", "age", "--model", "glm"], "option model='glm' is not known"),
        (["--fixed", "age", "--joint", "fisher"], "option joint='fisher' is not known"),
    ],
)
def test_errors_are_one_line_exit_2(files, tmp_path, capsys, extra, message):
    code = run(["associate", str(files["features"]), str(files["metadata"]), "--out", str(tmp_path / "x"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_constant_and_text_exposure_through_cli(files, tmp_path, capsys):
    meta = pd.read_csv(files["metadata"], sep="\t", index_col=0)
    meta["const"] = 1.0
    meta["age"] = meta["age"].round(1).astype(str)
    meta.iloc[3, meta.columns.get_loc("age")] = "unknown"
    meta.to_csv(files["metadata"], sep="\t")
    for fixed, message in (("const", "constant"), ("age", "numeric except")):
        code = run(["associate", str(files["features"]), str(files["metadata"]), "--fixed", fixed, "--out", str(tmp_path / "y")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1


def test_model_options_override_the_preset(files, tmp_path):
    """``--model lm --compositional none`` on the default preset is MaAsLin2's LM with BH per variable."""
    common = [str(files["features"]), str(files["metadata"]), "--fixed", "age,sex", "--max-significance", "1"]
    main(["associate", *common, "--model", "lm", "--compositional", "none", "--out", str(tmp_path / "a")])
    main(["associate", *common, "--preset", "maaslin2", "--fdr-scope", "per-variable", "--out", str(tmp_path / "b")])
    overridden = pd.read_csv(tmp_path / "a" / "all_results.tsv", sep="\t")
    maaslin2 = pd.read_csv(tmp_path / "b" / "all_results.tsv", sep="\t")
    pd.testing.assert_frame_equal(overridden, maaslin2)
    main(["associate", *common, "--out", str(tmp_path / "c")])
    default = pd.read_csv(tmp_path / "c" / "all_results.tsv", sep="\t")
    assert "pval.prevalence" in default.columns and "pval.prevalence" not in overridden.columns
