"""Batch correction (issue 21): MMUPHin-style zero-inflated empirical Bayes, covariates protected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osteobiome.batch import adjust_batch, batch_diagnostics
from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.io.outputs import MARKER


def _batched(n: int = 160, m: int = 40, seed: int = 0, shift: float = 1.0, phenotype_effect: float = 0.0):
    """Counts with a per-feature × batch multiplicative batch effect; batch b2 has phenotype values 1.5 SD higher."""
    rng = np.random.default_rng(seed)
    batch = np.repeat(["b1", "b2"], n // 2)
    phenotype = rng.normal(0, 1, n) + (batch == "b2") * 1.5
    base = rng.normal(0, 1.5, m)
    log_abundance = (
        base + rng.normal(0, 0.7, (n, m)) + phenotype_effect * phenotype[:, None] * (np.arange(m) < 5)
    )
    effect = {b: rng.normal(0, shift, m) for b in ("b1", "b2")}
    log_abundance = log_abundance + np.vstack([effect[b] for b in batch])
    rel = np.exp(log_abundance)
    rel /= rel.sum(axis=1, keepdims=True)
    counts = rng.poisson(rel * 20000)
    counts[rng.random((n, m)) < 0.2] = 0
    samples = [f"s{i}" for i in range(n)]
    table = pd.DataFrame(counts.astype(float), index=samples, columns=[f"g{j}" for j in range(m)])
    metadata = pd.DataFrame({"batch": batch, "phenotype": phenotype}, index=samples)
    return table, metadata


def _log_rel(table: pd.DataFrame) -> pd.DataFrame:
    rel = table.div(table.sum(axis=1), axis=0)
    return np.log2(rel.where(rel > 0))


def test_zeros_stay_zero_totals_kept_and_batch_means_aligned() -> None:
    table, metadata = _batched()
    result = adjust_batch(table, metadata, "batch")
    assert ((result.table > 0) == (table > 0)).all().all()
    assert (result.table == result.table.round()).all().all()  # counts in, counts out
    np.testing.assert_allclose(result.table.sum(axis=1), table.sum(axis=1), rtol=0.01)
    before = _log_rel(table).groupby(metadata["batch"]).mean()
    after = _log_rel(result.table).groupby(metadata["batch"]).mean()
    gap_before = (before.loc["b1"] - before.loc["b2"]).abs().mean()
    gap_after = (after.loc["b1"] - after.loc["b2"]).abs().mean()
    assert gap_after < 0.25 * gap_before
    assert result.adjusted.all().all()
    shrunk = (result.gamma_star - result.gamma_star.mean()).abs().sum().sum()
    assert shrunk <= (result.gamma_hat - result.gamma_hat.mean()).abs().sum().sum()


def test_permanova_r2_of_the_batch_drops() -> None:
    table, metadata = _batched(shift=1.0)
    result = adjust_batch(table, metadata, "batch")
    diag = batch_diagnostics(table, result.table, metadata, "batch", permutations=49, seed=2)
    assert diag.r2.loc["before", "R2"] > 0.1
    assert diag.r2.loc["after", "R2"] < 0.02
    assert set(diag.coords["table"]) == {"before", "after"} and list(diag.proportion.columns) == [
        "PC1",
        "PC2",
    ]


def _phenotype_slope(table: pd.DataFrame, metadata: pd.DataFrame, features: list[str]) -> float:
    log = _log_rel(table)
    slopes = []
    for f in features:
        ok = log[f].notna()
        x = metadata.loc[ok, "phenotype"] - metadata.loc[ok, "phenotype"].mean()
        slopes.append(float((x * (log.loc[ok, f] - log.loc[ok, f].mean())).sum() / (x**2).sum()))
    return float(np.mean(slopes))


def test_protected_covariate_keeps_its_effect() -> None:
    table, metadata = _batched(
        shift=0.0, phenotype_effect=1.0, seed=3
    )  # no batch effect, phenotype differs by batch
    signal = [f"g{j}" for j in range(5)]
    original = _phenotype_slope(table, metadata, signal)
    protected = _phenotype_slope(
        adjust_batch(table, metadata, "batch", ["phenotype"]).table, metadata, signal
    )
    unprotected = _phenotype_slope(adjust_batch(table, metadata, "batch").table, metadata, signal)
    assert original > 1.0
    assert abs(protected - original) < 0.1 * original
    assert unprotected < protected - 0.15  # without protection the batch-correlated signal is partly removed


def test_errors_are_one_line() -> None:
    table, metadata = _batched(n=40, m=10)
    with pytest.raises(InputError, match="'site' not found"):
        adjust_batch(table, metadata, "site")
    with pytest.raises(InputError, match="one level"):
        adjust_batch(table, metadata.assign(batch="b1"), "batch")
    with pytest.raises(InputError, match="confounded"):
        adjust_batch(table, metadata.assign(center=metadata["batch"]), "batch", ["center"])
    with pytest.raises(InputError, match="missing values"):
        adjust_batch(table, metadata.assign(phenotype=np.nan), "batch", ["phenotype"])
    with pytest.raises(InputError, match="no row for sample"):
        adjust_batch(table, metadata.iloc[1:], "batch")
    with pytest.raises(InputError, match="duplicate sample ids"):
        adjust_batch(table, pd.concat([metadata, metadata.iloc[:1]]), "batch")


def test_sample_ids_are_compared_as_strings() -> None:
    table, metadata = _batched(n=40, m=10)
    table, metadata = table.set_axis(range(40), axis=0), metadata.set_axis([str(i) for i in range(40)], axis=0)
    adjusted = adjust_batch(table, metadata, "batch")
    expected = adjust_batch(table.set_axis(metadata.index, axis=0), metadata, "batch")
    np.testing.assert_array_equal(adjusted.table.to_numpy(), expected.table.to_numpy())


def test_cli_writes_table_parameters_and_diagnostics(tmp_path: Path, capsys) -> None:
    table, metadata = _batched(n=60, m=15)
    table.rename_axis("sample").to_csv(tmp_path / "features.tsv", sep="\t")
    metadata.rename_axis("sample").to_csv(tmp_path / "metadata.tsv", sep="\t")
    out = tmp_path / "out"
    args = [
        "batch-correct",
        str(tmp_path / "features.tsv"),
        str(tmp_path / "metadata.tsv"),
        "--batch",
        "batch",
    ]
    main(
        [
            *args,
            "--covariates",
            "phenotype",
            "--phenotype",
            "phenotype",
            "--permutations",
            "9",
            "--out",
            str(out),
        ]
    )
    assert {p.name for p in out.iterdir() if p.name != MARKER} == {
        "features.tsv",
        "batch_parameters.tsv",
        "diagnostics.tsv",
        "pcoa.tsv",
        "pcoa.svg",
        "pcoa.png",
    }
    adjusted = pd.read_csv(out / "features.tsv", sep="\t", index_col=0)
    assert adjusted.shape == table.shape and ((adjusted > 0) == (table > 0)).all().all()
    assert "PERMANOVA R² of batch" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([*args[:-1], "sitex", "--out", str(tmp_path / "bad")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "sitex" in err and len(err.strip().splitlines()) == 1


def test_a_one_sample_batch_shrinks_locations_only_and_keeps_finite_values() -> None:
    table, metadata = _batched(n=60, m=12, seed=5)
    metadata = metadata.copy()
    metadata.iloc[0, metadata.columns.get_loc("batch")] = "b3"  # one sample: every δ̂² of b3 is 1 (no spread)
    result = adjust_batch(table, metadata, "batch")
    assert np.isfinite(result.table.to_numpy()).all()
    assert ((result.table > 0) == (table > 0)).all().all()
    adjusted = result.adjusted["b3"]
    assert adjusted.any()
    np.testing.assert_array_equal(result.delta_star.loc[adjusted, "b3"], 1.0)
    g_hat, g_star = result.gamma_hat.loc[adjusted, "b3"], result.gamma_star.loc[adjusted, "b3"]
    assert ((g_star - g_hat.mean()).abs() < (g_hat - g_hat.mean()).abs()).all()  # shrunk towards the prior mean
