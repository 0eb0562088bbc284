"""Power analysis: checks, a tiny grid end to end (association engine and meta-analysis), recovery of strong
planted effects with empirical FDR at the nominal level, and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.evaluate import power
from osteobiome.evaluate.power import POWER_COLUMNS
from osteobiome.io.outputs import MARKER
from osteobiome.simulate import simulate_cohort


@pytest.fixture
def engine():
    """The association engine (issue 3); until it is merged from main these tests are skipped, loudly."""
    return pytest.importorskip(
        "osteobiome.association.pipeline", reason="needs the association engine (issue 3) merged from main"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"replicates": 1}, "at least 2"),
        ({"q": 1.5}, "between 0 and 1"),
        ({"ns": [5]}, "at least 10"),
        ({"effects": [0.0]}, "positive effects"),
        ({"cohorts": 0}, "at least one cohort"),
        ({"workers": 0}, "at least 1"),
        ({"phenotype": "tibia_vBMD"}, "did you mean"),
        ({"n_markers": 200}, "plant fewer markers"),
        ({"table": pd.DataFrame({"a": [1, 2]})}, "needs the metadata"),
        ({"table": pd.DataFrame({"a": [1.5, 2]}), "metadata": pd.DataFrame({"age": [70, 71]})}, "raw counts"),
        (
            {
                "table": pd.DataFrame({"a": [1, 2]}, index=["x", "y"]),
                "metadata": pd.DataFrame({"age": [70]}, index=["x"]),
            },
            "no row for sample",
        ),
    ],
)
def test_power_checks(kwargs, message):
    with pytest.raises(InputError, match=message):
        power(**({"ns": [50], "effects": [0.5], "replicates": 2} | kwargs))


def test_tiny_grid_preset_and_workers_do_not_change_results(engine):
    kwargs = {"ns": [100, 800], "effects": [0.8], "replicates": 3, "n_markers": 5, "seed": 4}
    one = power(**kwargs)
    assert list(one.summary.columns) == POWER_COLUMNS
    assert len(one.summary) == 2 and (one.summary.replicates == 3).all()
    assert one.summary.power.iloc[1] > one.summary.power.iloc[0]  # more samples, more power
    assert ((one.replicates.power >= 0) & (one.replicates.power <= 1)).all()
    two = power(**kwargs, workers=2)
    pd.testing.assert_frame_equal(one.summary, two.summary)


def test_meta_analysis_over_two_cohorts(engine, monkeypatch):
    """Each replicate's discoveries are the pooled (REML) q-values of two different simulated cohorts."""
    import osteobiome.association.pipeline as pipeline
    import osteobiome.meta as meta

    fits, pooled = [], []
    associate, meta_analyze = pipeline.associate, meta.meta_analyze
    monkeypatch.setattr(pipeline, "associate", lambda *a, **k: fits.append(associate(*a, **k)) or fits[-1])
    monkeypatch.setattr(meta, "meta_analyze", lambda r, **k: pooled.append((r, meta_analyze(r, **k))) or pooled[-1][1])
    res = power(ns=[300], effects=[0.8], replicates=2, cohorts=2, n_markers=5, seed=1, preset="fhs")
    assert res.summary.cohorts.iloc[0] == 2 and len(fits) == 4 and len(pooled) == 2
    for (tables, table), (_, row) in zip(pooled, res.replicates.iterrows(), strict=True):
        assert list(tables) == ["cohort1", "cohort2"]
        one, two = (t[t["metadata"] == "tibia_Ct_vBMD"].set_index("feature")["coef"] for t in tables.values())
        assert not np.allclose(one, two.reindex(one.index))  # two cohorts, two draws
        hits = table[table["qval.fdr"] <= 0.1]
        assert row["discoveries"] == len(hits) > 0 and (hits["k"] == 2).all()
        assert row["power"] == row["true_positives"] / row["planted"] and row["true_positives"] <= len(hits)
        # each pooled coefficient is a weighted mean of the two cohorts' coefficients
        both = table.loc[table["k"] == 2].set_index("feature")["coef"]
        assert len(both) > 20
        low, high = np.minimum(one[both.index], two[both.index]), np.maximum(one[both.index], two[both.index])
        assert ((both >= low - 1e-12) & (both <= high + 1e-12)).all()


def test_template_mode_implants_into_a_real_table(engine):
    sim = simulate_cohort(
        "mros", n=400, seed=2, associations=pd.DataFrame(columns=["feature", "phenotype", "log2fc"])
    )
    res = power(
        ns=[300],
        effects=[0.1, 1.0],
        table=sim.features,
        metadata=sim.metadata[["age", "BMI"]],
        replicates=3,
        n_markers=4,
    )
    weak, strong = res.summary.power
    assert strong > weak and strong > 0.2
    with pytest.raises(InputError, match="did you mean 'age'"):
        power(
            ns=[50],
            effects=[1.0],
            table=sim.features,
            metadata=sim.metadata,
            covariates=["agee"],
            replicates=2,
        )


def test_recovery_of_strong_effects_with_fdr_at_nominal_level(engine):
    """40 replicates, each with its own seed (n = 600, 5 planted genera, |log2FC| = 1 per SD, adjusted for age
    and BMI): the engine recovers most markers and the mean false discovery proportion is at or below q = 0.1
    (measured 0.047 ± 0.108 SD over replicates; seeds 12 and 13 give 0.094 and 0.039). Markers are genera of mean
    relative abundance ≤ 0.2 % so that closure (a genuine compositional effect on the other genera) stays small."""
    res = power(ns=[600], effects=[1.0], replicates=40, n_markers=5, max_abundance=0.002, q=0.1, seed=11, workers=2)
    row = res.summary.iloc[0]
    assert row.power >= 0.7
    assert row.fdr <= 0.1, row.to_dict()


def test_cli_tiny_grid(tmp_path, engine):
    out = tmp_path / "power"
    try:
        main(
            [
                "power",
                "--preset",
                "mros",
                "--n",
                "60,120",
                "--effect",
                "0.9",
                "--replicates",
                "2",
                "--markers",
                "3",
                "--out",
                str(out),
            ]
        )
    except SystemExit as exc:
        assert exc.code == 0
    table = pd.read_csv(out / "power.tsv", sep="\t")
    assert list(table.columns) == POWER_COLUMNS and len(table) == 2
    assert {p.name for p in out.iterdir() if p.name != MARKER} == {
        "power.tsv",
        "replicates.tsv",
        "power_curve.png",
        "power_curve.svg",
    }


def test_cli_errors(tmp_path, capsys):
    for argv, message in (
        (["power", "--preset", "mros", "--template", "t.tsv", "--out", str(tmp_path / "x")], "not both"),
        (["power", "--template", "t.tsv", "--out", str(tmp_path / "x")], "needs --metadata"),
        (["power", "--n", "1e3x", "--out", str(tmp_path / "x")], "comma-separated numbers"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
