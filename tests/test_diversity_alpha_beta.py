"""Alpha and beta diversity against scikit-bio on the Twins 16S counts; rarefaction; tree and count errors."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import linkage
from skbio import TreeNode
from skbio.diversity import alpha_diversity as sk_alpha
from skbio.diversity import beta_diversity as sk_beta

from osteobiome.diversity import alpha_diversity, beta_diversity, rarefy
from osteobiome.diversity.beta import robust_clr
from osteobiome.errors import InputError


@pytest.fixture(scope="module")
def twins(shared):
    table = pd.read_csv(shared / "data/twins/Twins.csv", index_col=0).T  # genera as rows in the file
    return table.loc[table.sum(axis=1) > 0].iloc[:120]


@pytest.fixture(scope="module")
def tree(twins):
    rng = np.random.default_rng(0)
    return TreeNode.from_linkage_matrix(linkage(rng.normal(size=(twins.shape[1], 3)), "average"), list(twins.columns))


SKBIO_NAMES = {"observed": "observed_features", "shannon": "shannon", "simpson": "simpson", "chao1": "chao1",
               "pielou": "pielou_e"}


def test_alpha_matches_skbio(twins, tree):
    ours = alpha_diversity(twins, [*SKBIO_NAMES, "faith_pd"], tree=tree)
    counts = twins.to_numpy().astype(int)
    for name, sk_name in SKBIO_NAMES.items():
        ref = sk_alpha(sk_name, counts, ids=twins.index)
        np.testing.assert_allclose(ours[name].to_numpy(), ref.to_numpy(), rtol=1e-12, err_msg=name)
    ref = sk_alpha("faith_pd", counts, ids=twins.index, taxa=list(twins.columns), tree=tree)
    np.testing.assert_allclose(ours["faith_pd"].to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_shannon_base(twins):
    nats = alpha_diversity(twins, ["shannon"])["shannon"]
    bits = alpha_diversity(twins, ["shannon"], base=2)["shannon"]
    np.testing.assert_allclose(bits, nats / math.log(2))
    ref = sk_alpha("shannon", twins.to_numpy().astype(int), ids=twins.index, base=2)
    np.testing.assert_allclose(bits.to_numpy(), ref.to_numpy(), rtol=1e-12)


def test_relative_abundances_give_the_same_evenness_indices(twins):
    rel = twins.div(twins.sum(axis=1), axis=0)
    cols = ["observed", "shannon", "simpson", "pielou"]
    pd.testing.assert_frame_equal(alpha_diversity(rel, cols), alpha_diversity(twins, cols))


def test_chao1_needs_counts(twins):
    with pytest.raises(InputError, match="chao1 needs integer counts"):
        alpha_diversity(twins / 3.0, ["chao1"])


def test_unknown_index_suggests(twins):
    with pytest.raises(InputError, match="did you mean 'shannon'"):
        alpha_diversity(twins, ["shanon"])


def test_tree_missing_tips_named(twins):
    partial = TreeNode.read(io.StringIO(f"(({twins.columns[0]}:1,{twins.columns[1]}:1):1,{twins.columns[2]}:2);"))
    with pytest.raises(InputError, match=rf"features '{twins.columns[3]}'.*127 in all.*not tips"):
        alpha_diversity(twins, ["faith_pd"], tree=partial)
    with pytest.raises(InputError, match="not tips"):
        beta_diversity(twins, "unweighted_unifrac", tree=partial)
    with pytest.raises(InputError, match="needs a phylogenetic tree"):
        beta_diversity(twins, "weighted_unifrac")


def test_rarefaction_seeded_and_reports_drops(twins):
    depth = int(np.quantile(twins.sum(axis=1), 0.1))
    with pytest.warns(UserWarning, match="dropped"):
        a, dropped = rarefy(twins, depth, seed=4)
    with pytest.warns(UserWarning):
        b, _ = rarefy(twins, depth, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert (a.sum(axis=1) == depth).all() and (a.to_numpy() <= twins.loc[a.index].to_numpy()).all()
    assert set(dropped) == set(twins.index[twins.sum(axis=1) < depth]) and len(dropped) > 0
    with pytest.warns(UserWarning):
        alpha = alpha_diversity(twins, ["observed"], rarefy_to=depth, seed=4)
    assert alpha.attrs["dropped"] == list(dropped)
    with pytest.raises(InputError, match="integer counts"):
        rarefy(twins / 2.5, 10)


@pytest.mark.parametrize("metric", ["weighted_unifrac", "unweighted_unifrac", "jaccard"])
def test_beta_matches_skbio(twins, tree, metric):
    ours = beta_diversity(twins, metric, tree=tree)
    counts = twins.to_numpy().astype(int)
    kwargs = {"taxa": list(twins.columns), "tree": tree} if "unifrac" in metric else {}
    ref = sk_beta(metric, counts > 0 if metric == "jaccard" else counts, ids=twins.index, **kwargs)
    np.testing.assert_allclose(ours.data, ref.data, atol=1e-12)


def test_braycurtis_on_closed_rows(twins):
    rel = twins.div(twins.sum(axis=1), axis=0).to_numpy()
    ours = beta_diversity(twins, "bray").data
    i, j = 3, 17
    assert ours[i, j] == pytest.approx(np.abs(rel[i] - rel[j]).sum() / (rel[i] + rel[j]).sum(), rel=1e-12)
    raw = beta_diversity(twins, "braycurtis", closure=False).data
    x, y = twins.to_numpy()[i], twins.to_numpy()[j]
    assert raw[i, j] == pytest.approx(np.abs(x - y).sum() / (x + y).sum(), rel=1e-12)


def test_robust_aitchison():
    X = np.array([[1.0, 2.0, 0.0, 4.0], [3.0, 0.0, 0.0, 1.0]])
    clr = robust_clr(X)
    expected0 = np.log([1, 2, 4]) - np.log([1, 2, 4]).mean()
    np.testing.assert_allclose(clr[0, [0, 1, 3]], expected0)
    assert clr[0, 2] == 0 and clr[1, 1] == 0
    d = beta_diversity(pd.DataFrame(X, index=["a", "b"]), "aitchison").data
    assert d[0, 1] == pytest.approx(np.linalg.norm(clr[0] - clr[1]))


def test_beta_errors(twins):
    with pytest.raises(InputError, match="did you mean 'braycurtis'"):
        beta_diversity(twins, "braycurtiss")
    empty = twins.copy()
    empty.iloc[2] = 0
    with pytest.raises(InputError, match="no reads"):
        beta_diversity(empty, "jaccard")
