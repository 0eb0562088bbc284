"""PERMANOVA: parity with vegan 2.6-4 adonis2 and with a plain refit-per-permutation implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from naive_permanova import F_values, design, gower, permuted_F, statistics

from osteobiome.diversity import beta_diversity, permanova
from osteobiome.diversity.permutations import permutation_batches
from osteobiome.errors import InputError

TERMS = ["dysbiosis", "age", "antibiotics", "diagnosis"]
METRICS = {"bray": "braycurtis", "jaccard": "jaccard"}


@pytest.fixture(scope="module")
def hmp2_subjects(shared):
    meta = pd.read_csv(shared / "reference/vegan/hmp2_subjects_metadata.tsv", sep="\t", index_col=0)
    table = pd.read_csv(shared / "reference/maaslin2_hmp2/HMP2_taxonomy.tsv", sep="\t", index_col=0)
    expected = pd.read_csv(shared / "reference/vegan/adonis2_expected.tsv", sep="\t")
    return table.loc[meta.index], meta, expected


@pytest.fixture(scope="module")
def distances(hmp2_subjects):
    table, _, _ = hmp2_subjects
    return {name: beta_diversity(table, metric) for name, metric in METRICS.items()}


@pytest.mark.parametrize("distance", ["bray", "jaccard"])
@pytest.mark.parametrize("by", ["terms", "margin"])
def test_adonis2_parity(hmp2_subjects, distances, distance, by):
    _, meta, expected = hmp2_subjects
    ref = expected[(expected.distance == distance) & (expected.by == by)].reset_index(drop=True)
    n_ours = 9999
    res = permanova(distances[distance], meta, TERMS, by=by, permutations=n_ours, seed=7)
    assert list(res.columns) == ["term", "Df", "SumOfSqs", "R2", "F", "pval"]
    assert list(res.term) == list(ref.term)
    assert (res.Df.to_numpy() == ref.Df.to_numpy()).all()
    for col in ["SumOfSqs", "R2", "F"]:
        ours, theirs = res[col].to_numpy(float), ref[col].to_numpy(float)
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-8)
        assert np.isnan(ours[~finite]).all()
    # p-values: both are Monte Carlo estimates (9,999 permutations each); allow 4 binomial standard errors.
    p_ref = ref.p_9999_perm.to_numpy(float)[:-2]
    p = res.pval.to_numpy(float)[:-2]
    se = np.sqrt(p_ref * (1 - p_ref) * (1 / 9999 + 1 / n_ours))
    assert np.all(np.abs(p - p_ref) <= 4 * se + 2 / n_ours), (p, p_ref)


@pytest.mark.parametrize("by", ["terms", "margin"])
def test_matches_refit_per_permutation(hmp2_subjects, distances, by):
    """Same permutations → same pseudo-F null as refitting every model from the permuted distances."""
    _, meta, _ = hmp2_subjects
    dm = distances["bray"]
    G = gower(dm.data)
    blocks = design(meta, TERMS)
    perms = next(permutation_batches(len(meta), 40, seed=3))
    F0 = F_values(G, blocks, by)
    null = permuted_F(G, blocks, by, perms)
    res = permanova(dm, meta, TERMS, by=by, permutations=perms)
    np.testing.assert_allclose(res.F.to_numpy()[: len(TERMS)], F0, rtol=1e-10)
    reached = (null >= F0 - np.sqrt(np.finfo(float).eps)).sum(axis=0)  # vegan's count, the observed F included below
    np.testing.assert_allclose(res.pval.to_numpy()[: len(TERMS)], (reached + 1) / (len(perms) + 1))
    ss, df, resid, df_resid = statistics(G, blocks, by)
    np.testing.assert_allclose(res.SumOfSqs.to_numpy()[: len(TERMS) + 1], np.r_[ss, resid], rtol=1e-10)
    assert list(res.Df[: len(TERMS) + 1]) == [*df, df_resid]


def test_seed_reproducible_and_strata_respected(hmp2_subjects, distances):
    _, meta, _ = hmp2_subjects
    a = permanova(distances["bray"], meta, ["age"], permutations=199, seed=11, strata="diagnosis")
    b = permanova(distances["bray"], meta, ["age"], permutations=199, seed=11, strata="diagnosis")
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(next(permutation_batches(50, 5, seed=11)), next(permutation_batches(50, 5, seed=12)))
    strata = pd.factorize(meta.diagnosis)[0]
    for batch in permutation_batches(len(meta), 300, seed=1, strata=strata):
        assert (strata[batch] == strata).all()
        assert (np.sort(batch, axis=1) == np.arange(len(meta))).all()


def test_aliased_term_gets_zero_df(hmp2_subjects, distances):
    _, meta, _ = hmp2_subjects
    meta = meta.assign(age2=meta.age * 2.0)
    with pytest.warns(UserWarning, match="aliased"):
        res = permanova(distances["bray"], meta, ["age", "age2"], permutations=9)
    assert res.Df.iloc[1] == 0 and np.isnan(res.pval.iloc[1])


def test_missing_values_dropped_with_warning(hmp2_subjects, distances):
    _, meta, _ = hmp2_subjects
    meta = meta.copy()
    meta.iloc[:3, meta.columns.get_loc("age")] = np.nan
    with pytest.warns(UserWarning, match="3 samples dropped"):
        res = permanova(distances["bray"], meta, ["age"], permutations=9)
    assert res.Df.iloc[-1] == len(meta) - 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"terms": ["agee"]}, "did you mean 'age'"),
        ({"terms": ["age"], "strata": "subject"}, "hold one sample each"),
        ({"terms": ["age"], "strata": "diagnosiss"}, "did you mean 'diagnosis'"),
        ({"terms": ["age"], "by": "marginal"}, "did you mean 'margin'"),
        ({"terms": []}, "none given"),
    ],
)
def test_errors(hmp2_subjects, distances, kwargs, message):
    _, meta, _ = hmp2_subjects
    with pytest.raises(InputError, match=message):
        permanova(distances["bray"], meta, permutations=9, **kwargs)


def test_explicit_permutations_checked(hmp2_subjects, distances):
    _, meta, _ = hmp2_subjects
    with pytest.raises(InputError, match="must be a permutation"):
        permanova(distances["bray"], meta, ["age"], permutations=np.zeros((3, len(meta)), dtype=int))


def test_metadata_must_cover_samples(hmp2_subjects, distances):
    _, meta, _ = hmp2_subjects
    with pytest.raises(InputError, match="no metadata row"):
        permanova(distances["bray"], meta.iloc[5:], ["age"], permutations=9)
