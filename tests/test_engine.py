"""The dask engine: scheduler parsing, threads/processes/LocalCluster equal the single-process path."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.association.blocked import associate_blocked
from osteobiome.compute import blocks as engine
from osteobiome.errors import InputError
from osteobiome.io.cohort import Cohort
from osteobiome.io.store import feature_blocks, write_store
from osteobiome.meta import meta_analyze, pool
from osteobiome.meta.blocks import pool_blocked

LM = {"model": "lm", "compositional": "none"}


def _square(offset: int, item: int) -> int:
    return item * item + offset


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    rng = np.random.default_rng(11)
    n, m = 80, 60
    X = sp.random(n, m, density=0.2, format="csr", random_state=11, data_rvs=lambda k: rng.integers(1, 90, k))
    X = sp.hstack([sp.csr_matrix(np.ones((n, 1))), X], format="csr")
    meta = pd.DataFrame({"age": rng.normal(60, 8, n), "sex": rng.choice(["F", "M"], n)}, index=[f"s{i}" for i in range(n)])
    return Cohort.from_arrays(X, meta.index, [f"g{j}" for j in range(m + 1)], meta)


@pytest.mark.parametrize(
    "value,expected",
    [(None, None), ("sync", None), ("Threads", "threads"), ("processes", "processes"), ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"), ("node7:8786", "node7:8786"), ("inproc://1.2.3.4/5/1", "inproc://1.2.3.4/5/1")],
)
def test_parse_scheduler(value, expected):
    assert engine.parse_scheduler(value) == expected


@pytest.mark.parametrize("value", ["fast", "node7", "tcp:8786x", 3])
def test_parse_scheduler_errors(value):
    with pytest.raises(InputError, match="threads"):
        engine.parse_scheduler(value)


@pytest.mark.parametrize("scheduler", [None, "threads"])
def test_run_blocks_in_order(scheduler):
    assert engine.run_blocks(_square, iter(range(6)), 1, scheduler) == [1, 2, 5, 10, 17, 26]


def test_missing_dask_names_the_extra(monkeypatch):
    real = importlib.import_module

    def without_dask(name, *args):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(engine.importlib, "import_module", without_dask)
    with pytest.raises(InputError, match=r"--scheduler threads needs dask.*pip install osteobiome\[dask\]"):
        engine.run_blocks(_square, [1], 0, "threads")
    with pytest.raises(InputError, match=r"pip install osteobiome\[dask\]"):
        engine.run_blocks(_square, [1], 0, "tcp://127.0.0.1:1")


def test_unreachable_scheduler(monkeypatch):
    distributed = pytest.importorskip("distributed")

    def refuse(address, timeout):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(InputError, match="cannot connect to a dask scheduler there"):
        engine.run_blocks(_square, [1], 0, "tcp://127.0.0.1:1")


def test_threads_and_processes_equal_single(cohort):
    dask = pytest.importorskip("dask")
    single = associate_blocked(cohort, None, ["age", "sex"], block_size=9, **LM)
    pd.testing.assert_frame_equal(associate_blocked(cohort, None, ["age", "sex"], block_size=9, scheduler="threads", **LM), single)
    with dask.config.set({"multiprocessing.context": "fork"}):  # spawn would re-import everything: slow in CI
        pd.testing.assert_frame_equal(associate_blocked(cohort, None, ["age", "sex"], block_size=20, scheduler="processes", **LM), single)


def test_local_cluster_equals_single(cohort, tmp_path):
    distributed = pytest.importorskip("distributed")
    single = associate_blocked(cohort, None, ["age", "sex"], block_size=9, **LM)
    store = write_store(tmp_path / "t.h5", cohort.samples, feature_blocks(cohort.X, cohort.features, 13))
    yi = np.random.default_rng(2).normal(size=(50, 4))
    sei = np.full((50, 4), 0.3)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            pd.testing.assert_frame_equal(associate_blocked(cohort, None, ["age", "sex"], block_size=9, scheduler=client, **LM), single)
            by_address = associate_blocked(store, cohort.metadata, ["age", "sex"], block_size=9, scheduler=cluster.scheduler_address, **LM)
            pooled = pool_blocked(yi, sei, "REML", scheduler=client, block_size=7)
    pd.testing.assert_frame_equal(by_address, single)
    expected = pool(yi, sei, "REML")
    for name in ("coef", "stderr", "pval", "tau2", "I2", "weights"):
        np.testing.assert_array_equal(getattr(pooled, name), getattr(expected, name))


def test_pool_and_meta_analyze_blocked_equal():
    rng = np.random.default_rng(4)
    yi = rng.normal(size=(230, 5))
    sei = rng.uniform(0.1, 0.5, (230, 5))
    yi[rng.random(yi.shape) < 0.1] = np.nan
    for method in ("REML", "PM", "DL"):
        expected, got = pool(yi, sei, method, "knha"), pool_blocked(yi, sei, method, "knha", scheduler="threads", block_size=40)
        for name in ("coef", "stderr", "pval", "tau2", "k", "converged", "weights"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
    tables = {
        f"c{c}": pd.DataFrame(
            {"feature": [f"f{i}" for i in range(230)], "metadata": "age", "value": "age", "coef": yi[:, c], "stderr": sei[:, c], "pval": 0.5, "qval": 0.5}
        )
        for c in range(5)
    }
    pd.testing.assert_frame_equal(meta_analyze(tables, scheduler="threads"), meta_analyze(tables))
    with pytest.raises(InputError, match="--block-size 0"):
        pool_blocked(yi, sei, scheduler="threads", block_size=0)


def test_cli_meta_scheduler(tmp_path):
    from osteobiome.cli import main

    rng = np.random.default_rng(5)
    folders = []
    for c in range(3):
        folder = tmp_path / f"cohort{c}"
        folder.mkdir()
        pd.DataFrame(
            {"feature": [f"f{i}" for i in range(20)], "metadata": "age", "value": "age", "coef": rng.normal(size=20), "stderr": 0.2, "pval": 0.5, "qval": 0.5}
        ).to_csv(folder / "all_results.tsv", sep="\t", index=False)
        folders.append(str(folder))
    main(["meta", *folders, "--out", str(tmp_path / "a")])
    main(["meta", *folders, "--out", str(tmp_path / "b"), "--scheduler", "threads"])
    a, b = (pd.read_csv(tmp_path / x / "meta_results.tsv", sep="\t") for x in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)


def test_cli_associate_blocked_equals_dense(tmp_path, cohort):
    from osteobiome.cli import main

    counts, meta = tmp_path / "counts.tsv", tmp_path / "meta.tsv"
    cohort.table.T.rename_axis("feature").to_csv(counts, sep="\t")
    cohort.metadata.rename_axis("sample").to_csv(meta, sep="\t")
    store = write_store(tmp_path / "t.h5", cohort.samples, feature_blocks(cohort.X, cohort.features, 17))
    common = ["--fixed", "age,sex", "--max-significance", "1", "--preset", "maaslin2"]
    main(["associate", str(counts), str(meta), *common, "--out", str(tmp_path / "dense")])
    main(["associate", str(counts), str(meta), *common, "--out", str(tmp_path / "blocked"), "--block-size", "7", "--scheduler", "threads"])
    main(["associate", str(store), str(meta), *common, "--out", str(tmp_path / "store")])
    dense = pd.read_csv(tmp_path / "dense" / "all_results.tsv", sep="\t")
    for name in ("blocked", "store"):
        got = pd.read_csv(tmp_path / name / "all_results.tsv", sep="\t")
        merged = dense.merge(got, on=["feature", "metadata", "value"], suffixes=("", "_b"))
        assert len(merged) == len(dense) == len(got)
        for column in ("coef", "stderr", "pval", "qval"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_b"], rtol=1e-12, atol=1e-15)
        assert len(pd.read_csv(tmp_path / name / "significant_results.tsv", sep="\t")) == len(got)
        assert not (tmp_path / name / "features").exists()  # no dense intermediate tables in the blocked path
    with pytest.raises(SystemExit) as exc:
        main(["associate", str(store), str(meta), *common, "--out", str(tmp_path / "x"), "--random", "sex"])
    assert exc.value.code == 2
