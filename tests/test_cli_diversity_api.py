"""``osteobiome diversity`` writes the same PERMANOVA table as the API (and ``run``): every term, then the
Residual and Total rows, for sequential and marginal tests, with and without strata."""

import numpy as np
import pandas as pd
import pytest

from osteobiome.cli import main
from osteobiome.diversity import beta_diversity, permanova
from osteobiome.io import load_cohort


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("div")
    rng = np.random.default_rng(4)
    n = 36
    samples = pd.Index([f"s{i}" for i in range(n)], name="sample")
    meta = pd.DataFrame(
        {"bmd": rng.normal(size=n), "sex": rng.choice(["F", "M"], n), "site": np.repeat(["a", "b", "c"], n // 3)},
        index=samples,
    )
    shift = np.where(meta["sex"] == "F", 1.0, 0.4)[:, None] * np.linspace(0.2, 3, 12)[None, :]
    counts = pd.DataFrame(rng.poisson(10 * np.exp(shift)), index=samples, columns=[f"g{j}" for j in range(12)])
    counts.to_csv(root / "features.tsv", sep="\t")
    meta.to_csv(root / "metadata.tsv", sep="\t")
    return root


@pytest.mark.parametrize(("by", "strata"), [("terms", None), ("margin", None), ("margin", "site")])
def test_cli_permanova_is_the_api_table_with_residual_and_total(files, tmp_path, by, strata):
    out = tmp_path / "out"
    argv = ["diversity", str(files / "features.tsv"), str(files / "metadata.tsv"), "--terms", "bmd,sex",
            "--by", by, "--permutations", "199", "--seed", "7", "--out", str(out)]
    main(argv + (["--strata", strata] if strata else []))
    written = pd.read_csv(out / "permanova.tsv", sep="\t")
    cohort = load_cohort(files / "features.tsv", files / "metadata.tsv")
    api = permanova(beta_diversity(cohort, "braycurtis"), cohort.metadata, ["bmd", "sex"], by=by,
                    permutations=199, strata=strata, seed=7)
    assert list(written["term"]) == ["bmd", "sex", "Residual", "Total"]
    pd.testing.assert_frame_equal(written, api.reset_index(drop=True), check_dtype=False)
    if by == "terms":  # sequential sums of squares add up to the total
        assert written["SumOfSqs"].iloc[:3].sum() == pytest.approx(written["SumOfSqs"].iloc[3], rel=1e-12)
    assert written["pval"].iloc[1] < 0.05  # sex shifts the composition
