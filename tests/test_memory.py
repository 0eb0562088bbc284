"""The memory guard: a one-line ResourceError naming the option to use, before a dense allocation."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.association.blocked import associate_blocked, auto_block_size
from osteobiome.association.pipeline import associate
from osteobiome.compute import memory
from osteobiome.errors import ResourceError
from osteobiome.io.cohort import Cohort


@pytest.fixture
def cohort() -> Cohort:
    rng = np.random.default_rng(1)
    n, m = 40, 30
    X = sp.hstack([sp.csr_matrix(np.ones((n, 1))), sp.random(n, m - 1, density=0.3, format="csr", random_state=1)], format="csr")
    meta = pd.DataFrame({"age": rng.normal(60, 8, n)}, index=[f"s{i}" for i in range(n)])
    return Cohort.from_arrays(X * 100, meta.index, [f"g{j}" for j in range(m)], meta)


def test_available_memory_from_psutil_and_meminfo(monkeypatch, tmp_path):
    assert memory.available_memory() > 0
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now raises ImportError
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    1000 kB\n")
    monkeypatch.setattr(memory, "_MEMINFO", meminfo)
    assert memory.available_memory() == 1000 * 1024
    monkeypatch.setattr(memory, "_MEMINFO", tmp_path / "absent")
    assert memory.available_memory() is None
    memory.check_memory(1e15, "anything", "--x")  # unknown memory: let it run


def test_check_memory_message(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1024**3)
    memory.check_memory(0.5 * 1024**3, "a small thing", "--x")
    with pytest.raises(ResourceError) as exc:
        memory.check_memory(memory.dense_bytes(100_000, 10_000), "a dense 100000 × 10000 table", "--block-size 500")
    message = str(exc.value)
    assert message == "a dense 100000 × 10000 table needs about 7.5 GB but only 1.0 GB of memory is available; use --block-size 500 instead."
    assert "\n" not in message


def test_dense_association_refused(monkeypatch, cohort):
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    with pytest.raises(ResourceError, match=r"dense association of 40 samples × 30 features .* use the blocked sparse path \(--block-size N"):
        associate(cohort, None, ["age"], model="lm", compositional="none")


def test_block_too_large_refused(monkeypatch, cohort):
    expected = associate(cohort, None, ["age"], preset="maaslin2")
    monkeypatch.setattr(memory, "available_memory", lambda: 50_000)
    with pytest.raises(ResourceError, match=r"a dense block of 40 samples × 30 features .* use a smaller --block-size"):
        associate_blocked(cohort, None, ["age"], preset="maaslin2", block_size=1_000_000)
    results = associate_blocked(cohort, None, ["age"], preset="maaslin2", block_size=5)  # 40 × 5 × 8 copies fits
    assert len(results) == len(expected)


def test_auto_block_size():
    assert auto_block_size(10_000) == 256 * 1024**2 // (10_000 * 8 * 8)
    assert auto_block_size(10**9) == 1


def test_cli_associate_memory_error_is_one_line(monkeypatch, tmp_path, capsys, cohort):
    from osteobiome.cli import main

    counts, meta = tmp_path / "counts.tsv", tmp_path / "meta.tsv"
    cohort.table.T.rename_axis("feature").to_csv(counts, sep="\t")
    cohort.metadata.rename_axis("sample").to_csv(meta, sep="\t")
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    with pytest.raises(SystemExit) as exc:
        main(["associate", str(counts), str(meta), "--fixed", "age", "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the dense association of 40 samples × 30 features needs about")
    assert "--block-size N" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
