"""Two-part pooling and meta-regression inside meta_analyze / `osteobiome meta` (issue 21)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.meta import meta_analyze, pool
from osteobiome.meta.regression import meta_regression
from osteobiome.stats.twopart import joint_pvalue

GOLDEN = Path(__file__).parent / "golden" / "meta_twopart"
COHORTS = ("fhs", "mros")


def _inputs() -> dict[str, pd.DataFrame]:
    return {c: pd.read_csv(GOLDEN / c / "all_results.tsv", sep="\t", dtype={"feature": str}) for c in COHORTS}


def test_associate_output_carries_the_prevalence_part() -> None:
    for table in _inputs().values():
        assert {"coef.prevalence", "stderr.prevalence", "pval.prevalence", "N.present", "N.used"} <= set(
            table.columns
        )


def test_cli_pooled_prevalence_equals_metafor_reml(tmp_path: Path) -> None:
    out = tmp_path / "meta"
    main(["meta", *(str(GOLDEN / c) for c in COHORTS), "--out", str(out)])
    table = pd.read_csv(out / "meta_results.tsv", sep="\t", dtype={"feature": str}).set_index("feature")
    expected = pd.read_csv(GOLDEN / "expected_prevalence_reml.tsv", sep="\t", dtype={"feature": str})
    expected = expected.set_index("feature")
    assert len(expected) > 50
    ours = table.loc[expected.index]
    assert (ours["k.prevalence"] == 2).all()
    for column, theirs in (
        ("coef", "coef"),
        ("stderr", "stderr"),
        ("pval", "pval"),
        ("tau2", "tau2"),
        ("I2", "I2"),
        ("pval.tau2", "QEp"),
    ):
        got = ours[f"{column}.prevalence"].to_numpy(float)
        want = expected[theirs].to_numpy(float)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12, err_msg=column)
    assert np.isfinite(table["qval.prevalence"]).sum() == np.isfinite(table["pval.prevalence"]).sum()


@pytest.mark.parametrize("rule", ["cauchy", "beta"])
def test_joint_pvalue_uses_the_per_cohort_rule_on_the_pooled_parts(rule: str) -> None:
    tables = _inputs()
    table = meta_analyze(tables, joint=rule).set_index("feature")
    both = pd.concat(tables, names=["cohort"]).reset_index(level=0)
    present = both.groupby("feature")["N.present"].sum() / both.groupby("feature")["N.used"].sum()
    want = joint_pvalue(table["pval"], table["pval.prevalence"], rule, present.loc[table.index])
    np.testing.assert_allclose(table["pval.joint"], want, rtol=1e-12)
    one_part = table["pval.prevalence"].isna() & table["pval"].notna()
    np.testing.assert_array_equal(table.loc[one_part, "pval.joint"], table.loc[one_part, "pval"])
    other = meta_analyze(tables, joint="beta" if rule == "cauchy" else "cauchy").set_index("feature")
    assert not np.allclose(other["pval.joint"], table["pval.joint"], equal_nan=True)


def test_prevalence_uses_the_same_estimator_and_test() -> None:
    tables = _inputs()
    table = meta_analyze(tables, method="DL", test="knha").set_index("feature")
    feature = table.index[np.argmax(table["k.prevalence"].to_numpy() == 2)]
    yi = [tables[c].set_index("feature").loc[feature, "coef.prevalence"] for c in COHORTS]
    sei = [tables[c].set_index("feature").loc[feature, "stderr.prevalence"] for c in COHORTS]
    direct = pool(yi, sei, method="DL", test="knha")
    assert table.loc[feature, "coef.prevalence"] == pytest.approx(direct.coef[0], rel=1e-12)
    assert table.loc[feature, "pval.prevalence"] == pytest.approx(direct.pval[0], rel=1e-12)


def _consortium(k: int = 8, n: int = 12, seed: int = 5) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cohorts = [f"c{i}" for i in range(k)]
    traits = pd.DataFrame(
        {"mean_age": rng.normal(65, 6, k), "region": ["V4", "V3V4"] * (k // 2)},
        index=pd.Index(cohorts, name="cohort"),
    )
    tables = {}
    for i, cohort in enumerate(cohorts):
        coef = 0.1 + 0.03 * (traits["mean_age"].iloc[i] - 65) + rng.normal(0, 0.1, n)
        tables[cohort] = pd.DataFrame(
            {
                "feature": [f"g{j}" for j in range(n)],
                "metadata": "bmd",
                "value": "bmd",
                "coef": coef,
                "stderr": rng.uniform(0.05, 0.2, n),
                "pval": rng.uniform(0, 1, n),
                "qval": rng.uniform(0, 1, n),
            }
        )
    return tables, traits


def test_moderators_give_per_feature_meta_regressions(tmp_path: Path) -> None:
    tables, traits = _consortium()
    table = meta_analyze(tables, moderators=traits, method="REML", test="knha")
    long = table.attrs["meta_regression"]
    assert list(long["term"].unique()) == ["intrcpt", "mean_age", "regionV4"]
    assert {"mods.QM", "mods.QMp", "mods.R2", "mods.mean_age.coef", "mods.regionV4.pval"} <= set(
        table.columns
    )
    assert "coef.prevalence" not in table.columns  # one-part tables: no prevalence columns
    for feature in ("g0", "g7"):
        yi = [tables[c].set_index("feature").loc[feature, "coef"] for c in traits.index]
        sei = [tables[c].set_index("feature").loc[feature, "stderr"] for c in traits.index]
        one = meta_regression(yi, sei, traits.reset_index(drop=True), test="knha")
        rows = long[long["feature"] == feature]
        np.testing.assert_allclose(rows["estimate"], one["estimate"], rtol=1e-9)
        np.testing.assert_allclose(rows["pval"], one["pval"], rtol=1e-8)
        row = table.set_index("feature").loc[feature]
        assert row["mods.QM"] == pytest.approx(one.attrs["QM"], rel=1e-8)
    # the age effect built into the estimates is found in most features
    assert (table["mods.mean_age.pval"] < 0.05).mean() > 0.5

    dirs = []
    for name, t in tables.items():
        (tmp_path / name).mkdir()
        t.to_csv(tmp_path / name / "all_results.tsv", sep="\t", index=False)
        dirs.append(str(tmp_path / name))
    traits.to_csv(tmp_path / "traits.tsv", sep="\t")
    main(["meta", *dirs, "--moderators", str(tmp_path / "traits.tsv"), "--out", str(tmp_path / "out")])
    written = pd.read_csv(tmp_path / "out" / "meta_regression.tsv", sep="\t")
    assert len(written) == 12 * 3 and set(written.columns) >= {"feature", "term", "estimate", "QM"}


def test_moderator_errors() -> None:
    tables, traits = _consortium()
    with pytest.raises(InputError, match="no row for cohort"):
        meta_analyze(tables, moderators=traits.iloc[1:])
    with pytest.raises(InputError, match="joint="):
        meta_analyze(_inputs(), joint="min")
