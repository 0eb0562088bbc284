"""Parity of the two-part mixed model with lme4/lmerTest on MaAsLin2's HMP2 example, ``(1 | subject)``.

Golden output: ``tests/golden/glmm_hmp2/parts.tsv``, written once by ``make.R`` next to it (lme4 1.1-31,
lmerTest 3.1-3, R 4.2.2) from the data in ``../shared/reference/maaslin2_hmp2``. Parts: ``abundance`` (lmer,
REML, Satterthwaite), ``prevalence`` (glmer, Laplace) and ``prevalence_augmented`` (glmer on MaAsLin3's
augmented data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from osteobiome import associate
from osteobiome.stats.design import build_design
from osteobiome.stats.glmm import _Feature, _Grouping, fit_glmm
from osteobiome.stats.preprocess import filter_features, normalize

GOLDEN = Path(__file__).parent / "golden" / "glmm_hmp2" / "parts.tsv"
FIXED = ["diagnosis", "dysbiosis", "antibiotics", "age"]
REFERENCE = {"diagnosis": "nonIBD"}
KEY = ["feature", "metadata", "value"]


@pytest.fixture(scope="module")
def hmp2(shared):
    folder = shared / "reference" / "maaslin2_hmp2"
    taxonomy = pd.read_csv(folder / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    metadata = pd.read_csv(folder / "HMP2_metadata.tsv", sep="\t", index_col=0)
    return taxonomy, metadata


@pytest.fixture(scope="module")
def golden() -> pd.DataFrame:
    return pd.read_csv(GOLDEN, sep="\t", keep_default_na=False, na_values=["NA"])


@pytest.fixture(scope="module")
def ours(hmp2) -> pd.DataFrame:
    """The default preset with (1 | subject), no compositional correction and no augmentation: both parts raw."""
    taxonomy, metadata = hmp2
    return associate(
        taxonomy, metadata, FIXED, random=["subject"], reference=REFERENCE, compositional="none", augment=False
    )


def _part(golden: pd.DataFrame, part: str) -> pd.DataFrame:
    return golden[golden["part"] == part].drop(columns="part")


def _relative(ours: pd.Series, theirs: pd.Series) -> np.ndarray:
    return np.abs(ours.to_numpy() / theirs.to_numpy() - 1.0)


def test_golden_covers_every_feature_and_coefficient(ours, golden):
    assert ours.attrs["model"] == "TWOPART_MIXED"
    for part in ("abundance", "prevalence", "prevalence_augmented"):
        assert len(_part(golden, part)) == len(ours) == 87 * 5, part


def test_abundance_part_matches_lmer_and_lmertest(ours, golden):
    merged = _part(golden, "abundance").merge(ours, on=KEY, suffixes=("_r", ""), validate="one_to_one")
    for column in ("coef", "stderr"):
        share = np.mean(_relative(merged[column], merged[f"{column}_r"]) <= 1e-4)
        assert share >= 0.95, (column, share)
    assert np.mean(_relative(merged["df"], merged["df_r"]) <= 1e-3) >= 0.95
    strong = np.abs(merged["statistic"]) > 2
    assert strong.sum() > 50
    assert (np.sign(merged.loc[strong, "coef"]) == np.sign(merged.loc[strong, "coef_r"])).all()
    singular = merged["singular"].astype(str).str.upper() == "TRUE"
    noted = merged["note"].str.contains("abundance: singular")
    assert (noted == singular).mean() >= 0.95  # lme4's isSingular and our θ = 0 agree on (almost) every feature


def test_prevalence_part_without_augmentation_matches_glmer(ours, golden):
    merged = _part(golden, "prevalence").merge(ours, on=KEY, suffixes=("", "_ours"), validate="one_to_one")
    ours_coef, ours_se = merged["coef.prevalence"], merged["stderr.prevalence"]
    clean = merged["warning"].eq("") & ~(merged["singular"].astype(str).str.upper() == "TRUE")
    assert clean.sum() >= 0.5 * len(merged)
    rows = merged[clean]
    scale = np.maximum(np.abs(rows["coef"]), rows["stderr"])
    assert (np.abs(ours_coef[clean] - rows["coef"]) <= 1e-3 * scale).all()
    assert (np.abs(ours_se[clean] / rows["stderr"] - 1) <= 1e-3).all()
    strong = np.abs(merged["statistic"]) > 2
    assert (np.sign(ours_coef[strong]) == np.sign(merged.loc[strong, "coef"])).all()


def test_augmented_prevalence_part_reaches_glmer_optimum_on_maaslin3_augmented_data(hmp2, golden):
    """MaAsLin3's three-copy weighted augmentation fitted by glmer (nloptwrap, as MaAsLin3) against our
    fractional-response form, on 20 features. glmer's BOBYQA stops early where the deviance is flat in a large
    θ, so instead of 1e-3 everywhere: our Laplace deviance is never above the best deviance at glmer's θ
    (profiled over β: the two objectives are the same), coefficients agree within 5% of a standard error where
    glmer's θ is within 1e-3 of ours, and signs agree where |z| > 2."""
    taxonomy, metadata = hmp2
    metadata = metadata.loc[taxonomy.index]
    raw = taxonomy.to_numpy(dtype=float)
    kept = filter_features(raw, 0.0, 0.1, 0.0)
    names = taxonomy.columns[kept][::4][:20]
    design = build_design(metadata, FIXED, REFERENCE, True, "default", ["subject"])
    present = normalize(raw[:, kept], "TSS")[design.rows][:, ::4][:, :20] > 0
    groups = [design.groups["subject"]]
    fit = fit_glmm(present, design.matrix, groups, augment=True)
    golden = _part(golden, "prevalence_augmented").set_index("feature")
    n, p = design.matrix.shape
    weight = 1.0 + (p - 1) / n
    close = 0
    for j, name in enumerate(names):
        theirs = golden.loc[name]
        theta = float(theirs["theta"].iloc[0])
        feature = _Feature((present[:, j] + (p - 1) / (2 * n)) / weight, weight, design.matrix, _Grouping(groups))
        profile = optimize.minimize(
            lambda beta: (lambda d: (d[0], d[1][1:]))(feature.deviance_and_gradient(np.r_[theta, beta])),  # noqa: B023
            fit.coef[:, j], jac=True, method="BFGS", options={"gtol": 1e-7},
        )
        assert fit.deviance[j] <= profile.fun + 1e-6, name
        strong = np.abs(theirs["statistic"].to_numpy()) > 2
        assert (np.sign(fit.coef[1:, j][strong]) == np.sign(theirs["coef"].to_numpy()[strong])).all(), name
        if abs(fit.theta[0, j] / theta - 1) < 1e-3:
            close += 1
            assert np.all(np.abs(fit.coef[1:, j] - theirs["coef"].to_numpy()) <= 0.05 * theirs["stderr"].to_numpy()), name
    assert close >= 5
