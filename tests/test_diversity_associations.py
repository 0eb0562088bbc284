"""alpha_associations: each index ~ phenotype + covariates through the association engine (design + OLS)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from osteobiome.diversity import alpha_associations, alpha_diversity
from osteobiome.errors import InputError

COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval", "N.used", "df",
           "log10.pval"]


@pytest.fixture(scope="module")
def hmp2_subjects(shared):
    meta = pd.read_csv(shared / "reference/vegan/hmp2_subjects_metadata.tsv", sep="\t", index_col=0)
    table = pd.read_csv(shared / "reference/maaslin2_hmp2/HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = meta.copy()
    meta.loc[meta.index[:4], "age"] = np.nan  # rows with a missing covariate are left out of the models
    return alpha_diversity(table.loc[meta.index], ["observed", "shannon", "simpson"]), meta


def test_matches_ols_with_standardized_metadata(hmp2_subjects):
    alpha, meta = hmp2_subjects
    res = alpha_associations(alpha, meta, ["dysbiosis", "diagnosis"], ["age", "antibiotics"],
                             reference={"diagnosis": "nonIBD"})
    assert list(res.columns) == COLUMNS
    assert len(res) == 3 * (1 + 2) and set(res.metadata) == {"dysbiosis", "diagnosis"}
    z = meta.assign(**{c: (meta[c] - meta[c].mean()) / meta[c].std() for c in ["dysbiosis", "age"]})
    for index in alpha.columns:
        fit = smf.ols("y ~ dysbiosis + age + antibiotics", z.assign(y=alpha[index])).fit()
        row = res[(res.feature == index) & (res.metadata == "dysbiosis")].iloc[0]
        assert row.coef == pytest.approx(fit.params["dysbiosis"], rel=1e-10)
        assert row.stderr == pytest.approx(fit.bse["dysbiosis"], rel=1e-10)
        assert row.pval == pytest.approx(fit.pvalues["dysbiosis"], rel=1e-8)
        assert row["N.used"] == len(meta) - 4 and row["N"] == len(meta)
        fit = smf.ols("y ~ C(diagnosis, Treatment('nonIBD')) + age + antibiotics", z.assign(y=alpha[index])).fit()
        row = res[(res.feature == index) & (res.value == "UC")].iloc[0]
        assert row.coef == pytest.approx(fit.params["C(diagnosis, Treatment('nonIBD'))[T.UC]"], rel=1e-10)
    assert res.qval.is_monotonic_increasing
    dys = res[res.metadata == "dysbiosis"].sort_values("pval")
    m = len(dys)
    bh = np.minimum.accumulate((dys.pval.to_numpy() * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(dys.qval.to_numpy(), np.minimum(bh, 1))


def test_errors(hmp2_subjects):
    alpha, meta = hmp2_subjects
    with pytest.raises(InputError, match="did you mean 'dysbiosis'"):
        alpha_associations(alpha, meta, ["dysbiosiss"], ["age"])
    with pytest.raises(InputError, match="no phenotype"):
        alpha_associations(alpha, meta, [], ["age"])
    with pytest.raises(InputError, match="no metadata row"):
        alpha_associations(alpha, meta.iloc[3:], ["dysbiosis"])
