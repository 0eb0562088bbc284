"""osteobiome.meta_analyze, the replication summary and the ``osteobiome meta`` command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from osteobiome import meta_analyze
from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.meta import blocks, pool

COHORTS = ("Cedars-Sinai", "Cincinnati", "Emory", "MGH", "MGH Pediatrics")


def _result_table(
    coef: pd.Series, stderr: pd.Series, metadata="dysbiosis", value="dysbiosis"
) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "feature": coef.index,
            "metadata": metadata,
            "value": value,
            "coef": coef.to_numpy(),
            "stderr": stderr.to_numpy(),
        }
    )
    table["N"], table["N.not.0"] = 100, 50
    table["pval"] = 2 * stats.norm.sf(np.abs(table.coef / table.stderr))
    table["qval"] = np.minimum(1, table.pval * len(table))
    table["N.used"] = 100
    return table.dropna(subset=["coef"])


@pytest.fixture(scope="module")
def site_tables(shared):
    base = shared / "reference" / "mmuphin_hmp2_sites"
    coef = pd.read_csv(base / "per_site_coef.tsv", sep="\t", index_col=0)
    stderr = pd.read_csv(base / "per_site_stderr.tsv", sep="\t", index_col=0)
    return {site: _result_table(coef[site], stderr[site]) for site in COHORTS}


def test_columns_order_and_mmuphin_numbers(site_tables, shared):
    out = meta_analyze(site_tables, preset="mmuphin")
    head = [
        "feature",
        "exposure",
        "coef",
        "stderr",
        "pval",
        "k",
        "tau2",
        "stderr.tau2",
        "pval.tau2",
        "I2",
        "H2",
    ]
    weights = [f"weight_{c}" for c in COHORTS]
    assert list(out.columns[: len(head) + len(weights) + 6]) == [
        *head,
        *weights,
        "pval.bonf",
        "qval.fdr",
        "Q",
        "ci.lb",
        "ci.ub",
        "method",
    ]
    expected = pd.read_csv(
        shared / "reference" / "mmuphin_hmp2_sites" / "expected_lm_meta_reml_1e-4.tsv", sep="\t", index_col=0
    )
    got = out.set_index("feature").loc[expected.index]
    for ours, theirs in [
        ("coef", "coef"),
        ("pval", "pval"),
        ("tau2", "tau2"),
        ("stderr.tau2", "se.tau2"),
        ("pval.tau2", "QEp"),
        ("qval.fdr", "qval.fdr"),
    ]:
        np.testing.assert_allclose(got[ours], expected[theirs], rtol=1e-8, err_msg=ours)
    assert got.loc["Eubacterium.sp.3.1.31", "k"] == 4 and np.isnan(
        got.loc["Eubacterium.sp.3.1.31", "weight_Emory"]
    )
    np.testing.assert_allclose(out[weights].sum(axis=1), 100)
    np.testing.assert_allclose(out["pval.bonf"], np.minimum(1, out.pval * len(out)))
    assert (out.method == "REML, z, mmuphin").all() and out.converged.all()


def _toy_tables():
    a = pd.DataFrame(
        {
            "feature": ["g1", "g2", "g3", "g1", "g2"],
            "metadata": ["bmd"] * 3 + ["sex"] * 2,
            "value": ["bmd"] * 3 + ["M"] * 2,
            "coef": [0.5, -0.2, 0.3, 0.1, 0.2],
            "stderr": [0.1, 0.1, 0.1, 0.2, 0.2],
            "pval": [1e-6, 0.05, 0.002, 0.6, 0.3],
            "qval": [1e-5, 0.1, 0.01, 0.6, 0.4],
        }
    )
    b = a.iloc[[0, 1, 3]].assign(coef=[0.45, 0.1, 0.15], qval=[0.001, 0.5, 0.7])
    c = a.iloc[[0, 1]].assign(coef=[0.55, -0.3], qval=[1e-4, 0.01])
    return {"FHS": a, "MrOS": b, "Third": c}


def test_partial_features_single_cohort_and_categorical_exposure():
    out = meta_analyze(_toy_tables()).set_index(["exposure", "feature"])
    assert set(out.index.get_level_values(0)) == {"bmd", "sexM"}
    assert out.loc[("bmd", "g1"), "k"] == 3 and out.loc[("sexM", "g1"), "k"] == 2
    g3 = out.loc[("bmd", "g3")]  # present in one cohort: carried as is, flagged
    assert g3.k == 1 and g3.single_cohort and g3.coef == 0.3 and g3.pval == 0.002 and g3["weight_FHS"] == 100
    assert np.isnan(g3.tau2) and np.isnan(g3["pval.tau2"]) and pd.isna(g3.loo_robust)
    g2 = out.loc[("bmd", "g2")]
    assert g2.n_same_sign == 2 and g2.sign_agreement == pytest.approx(2 / 3) and g2.n_significant == 2
    strict = meta_analyze(_toy_tables(), exposure="bmd", cohort_q={"Third": 0.001}).set_index("feature")
    assert strict.loc["g2", "n_significant"] == 1 and strict.loc["g1", "n_significant"] == 3
    with pytest.raises(InputError, match="unknown cohort"):
        meta_analyze(_toy_tables(), cohort_q={"Thrid": 0.1})
    only = meta_analyze(_toy_tables(), exposure="sex")
    assert set(only.exposure) == {"sexM"} and len(only) == 2


def test_leave_one_out_against_direct_pooling():
    tables = _toy_tables()
    out = meta_analyze(tables, exposure="bmd", method="DL").set_index("feature")
    y = np.array([[0.5, 0.45, 0.55]])
    full = pool(y, np.full((1, 3), 0.1), "DL").coef[0]
    loo = [pool(np.delete(y, c, axis=1), np.full((1, 2), 0.1), "DL").coef[0] for c in range(3)]
    assert out.loc["g1", "loo_max_rel_change"] == pytest.approx(max(abs(v - full) / abs(full) for v in loo))
    assert out.loc["g1", "loo_robust"] and out.loc["g1", "loo_flips"] == ""


def test_loo_flags_a_cohort_that_carries_the_signal():
    rng = np.random.default_rng(3)
    features = [f"f{i}" for i in range(40)]
    tables = {}
    for name, shift in [("A", 0.0), ("B", 0.0), ("C", 0.0), ("D", 1.0)]:
        coef = rng.normal(0, 0.05, 40)
        coef[0] += shift
        se = np.full(40, 0.1)
        se[0] = 0.02 if name == "D" else 0.5
        tables[name] = _result_table(pd.Series(coef, index=features), pd.Series(se, index=features))
    out = meta_analyze(tables, method="FE").set_index("feature")
    assert (
        out.loc["f0", "qval.fdr"] < 0.25
        and not out.loc["f0", "loo_robust"]
        and out.loc["f0", "loo_flips"] == "D"
    )


def test_loo_pooling_runs_through_the_scheduler(monkeypatch):
    rng = np.random.default_rng(5)
    features = [f"f{i}" for i in range(30)]
    tables = {
        name: _result_table(
            pd.Series(rng.normal(0, 0.2, 30), index=features), pd.Series(rng.uniform(0.05, 0.3, 30), index=features)
        )
        for name in ("A", "B", "C", "D")
    }
    expected = meta_analyze(tables, method="PM", test="knha")
    calls = []
    run_blocks = blocks.run_blocks
    monkeypatch.setattr(blocks, "run_blocks", lambda *args: calls.append(args[-1]) or run_blocks(*args))
    got = meta_analyze(tables, method="PM", test="knha", scheduler="threads")
    pd.testing.assert_frame_equal(got, expected)
    assert calls == ["threads"] * 5  # the full pooling and one leave-one-out pooling per cohort


def test_table_errors():
    tables = _toy_tables()
    with pytest.raises(InputError, match="MrOS: result table lacks column"):
        meta_analyze({**tables, "MrOS": tables["MrOS"].drop(columns="stderr")})
    with pytest.raises(InputError, match="did you mean 'bmd'"):
        meta_analyze(tables, exposure="bdm")
    with pytest.raises(InputError, match="repeated"):
        meta_analyze({"FHS": pd.concat([tables["FHS"], tables["FHS"]])})
    with pytest.raises(InputError, match="no cohort tables"):
        meta_analyze({})
    with pytest.raises(InputError, match="method"):
        meta_analyze(tables, method="EB")


def _write_dirs(tmp_path, tables):
    dirs = []
    for name, table in tables.items():
        folder = tmp_path / name
        folder.mkdir()
        table.to_csv(folder / "all_results.tsv", sep="\t", index=False)
        dirs.append(str(folder))
    return dirs


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr()


def test_cli_writes_meta_results(tmp_path, capsys):
    dirs = _write_dirs(tmp_path, _toy_tables())
    out = tmp_path / "meta"
    main(["meta", *dirs, "--names", "a,b,c", "--method", "PM", "--test", "knha", "--out", str(out)])
    table = pd.read_csv(out / "meta_results.tsv", sep="\t")
    assert {"weight_a", "weight_b", "weight_c"} <= set(table.columns) and (table.method == "PM, knha").all()
    assert len(table) == 5 and "pooled over 3 cohorts" in capsys.readouterr().out
    main(
        ["meta", *dirs, "--exposure", "bmd", "--preset", "mmuphin", "--out", str(out)]
    )  # replaces the folder
    table = pd.read_csv(out / "meta_results.tsv", sep="\t")
    assert set(table.exposure) == {"bmd"} and "weight_FHS" in table.columns
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_errors_are_one_line(tmp_path, capsys):
    dirs = _write_dirs(tmp_path, _toy_tables())
    out = str(tmp_path / "meta")
    cases = [
        (["meta", dirs[0], str(tmp_path / "nowhere"), "--out", out], "all_results.tsv: not found"),
        (["meta", *dirs, "--names", "a,b", "--out", out], "2 name(s) for 3 results folder(s)"),
        (["meta", *dirs, "--names", "a,a,b", "--out", out], "repeated"),
        (["meta", *dirs, "--exposure", "sx", "--out", out], "did you mean 'sex'"),
        (["meta", *dirs, "--method", "XX", "--out", out], "method 'XX' is unknown"),
    ]
    for argv, message in cases:
        code, captured = _run(argv, capsys)
        assert code == 2 and message in captured.err and len(captured.err.strip().splitlines()) == 1, message
    pd.DataFrame({"feature": ["g1"], "coef": [1.0]}).to_csv(
        tmp_path / "FHS" / "all_results.tsv", sep="\t", index=False
    )
    code, captured = _run(["meta", *dirs, "--out", out], capsys)
    assert (
        code == 2 and "FHS: result table lacks column(s) metadata, value, stderr, pval, qval" in captured.err
    )
    assert not (tmp_path / "meta").exists()
