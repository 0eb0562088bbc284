"""The HDF5 feature store and ``osteobiome convert``: round trips, block reads, streamed TSV/HUMAnN, errors."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from osteobiome.cli import main
from osteobiome.errors import InputError
from osteobiome.io import detect_format, read_features
from osteobiome.io.convert import convert
from osteobiome.io.store import FeatureStore, feature_blocks, is_store, write_store


def _table(n: int = 12, m: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 50, (n, m)) * (rng.random((n, m)) < 0.2)
    values[:, 0] += 1
    return pd.DataFrame(values.astype(float), index=[f"S{i}" for i in range(n)], columns=[f"UniRef90_{j}" for j in range(m)])


def test_write_and_read_blocks(tmp_path):
    table = _table()
    path = write_store(tmp_path / "t.h5", table.index, feature_blocks(sp.csr_matrix(table.to_numpy()), table.columns, 7))
    store = FeatureStore.open(path)
    assert store.shape == table.shape and store.nnz == int((table.to_numpy() != 0).sum())
    assert list(store.samples) == list(table.index) and list(store.features) == list(table.columns)
    np.testing.assert_array_equal(store.columns(5, 19).toarray(), table.to_numpy()[:, 5:19])
    assert [b for b in store.blocks(20)] == [(0, 20), (20, 40), (40, 50)]
    np.testing.assert_array_equal(store.to_csr().toarray(), table.to_numpy())
    assert is_store(path) and detect_format(path) == "store"
    data = read_features(path)
    assert data.format == "store" and sp.issparse(data.X)
    np.testing.assert_array_equal(data.table.to_numpy(), table.to_numpy())
    assert list(data.table.index) == list(table.index)
    assert not list(tmp_path.glob(".*tmp"))


def test_open_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        FeatureStore.open(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle.attrs["format"] = "something"
    assert not is_store(other)
    with pytest.raises(InputError, match="not an osteobiome feature store; create one with 'osteobiome convert"):
        FeatureStore.open(other)
    newer = write_store(tmp_path / "new.h5", ["a"], [(["f"], np.ones((1, 1)))])
    with h5py.File(newer, "a") as handle:
        handle.attrs["version"] = 99
    with pytest.raises(InputError, match="newer than this osteobiome reads"):
        FeatureStore.open(newer)


def test_failed_write_leaves_nothing(tmp_path):
    def blocks():
        yield ["f1"], np.ones((2, 1))
        raise InputError("bad block")

    with pytest.raises(InputError, match="bad block"):
        write_store(tmp_path / "t.h5", ["a", "b"], blocks())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("gzipped", [False, True])
def test_convert_streams_features_as_rows(tmp_path, gzipped):
    table = _table(m=45)
    text = "# written by a tool\n" + table.T.rename_axis("#OTU ID").to_csv(sep="\t")
    path = tmp_path / ("t.tsv.gz" if gzipped else "t.tsv")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    out = convert(path, tmp_path / "t.h5", block_size=8)
    pd.testing.assert_frame_equal(read_features(out).table, read_features(path).table)


def test_convert_streams_a_quoted_r_csv_like_read_features(tmp_path):
    # R's write.csv quotes every cell and, with row names, leaves the corner cell empty
    import csv

    table = _table(m=30)
    path = tmp_path / "t.csv"
    table.T.to_csv(path, quoting=csv.QUOTE_ALL, index_label="")
    out = convert(path, tmp_path / "t.h5", samples_as="columns", block_size=7)
    assert list(FeatureStore(out).samples[:2]) == ["S0", "S1"]
    pd.testing.assert_frame_equal(read_features(out).table, read_features(path, samples_as="columns").table)


def test_convert_humann_genefamilies(tmp_path):
    lines = [
        "# Gene Family\tS1_Abundance-RPKs\tS2_Abundance-RPKs",
        "UNMAPPED\t100\t200",
        "UniRef90_A\t5\t0",
        "UniRef90_A|g__Bacteroides.s__Bacteroides_ovatus\t5\t0",
        "UniRef90_B\t0\t3.5",
        "UniRef90_C\t1\t2",
    ]
    path = tmp_path / "genefamilies.tsv"
    path.write_text("\n".join(lines) + "\n")
    out = convert(path, tmp_path / "g.h5", block_size=2)
    store = read_features(out)
    expected = read_features(path)
    assert list(store.samples) == ["S1", "S2"] == list(expected.samples)
    pd.testing.assert_frame_equal(store.table, expected.table)


def test_convert_samples_as_rows_and_biom(tmp_path):
    table = _table(m=9)
    path = tmp_path / "t.tsv"
    table.rename_axis("SampleID").to_csv(path, sep="\t")
    out = convert(path, tmp_path / "t.h5", block_size=4)
    pd.testing.assert_frame_equal(read_features(out).table, read_features(path).table)


def test_convert_errors(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("#OTU ID\tS1\tS2\nf1\t1\t2\nf2\t0\tx\n")
    with pytest.raises(InputError, match="non-numeric abundance 'x' for feature 'f2', sample 'S2'"):
        convert(path, tmp_path / "t.h5")
    path.write_text("#OTU ID\tS1\tS2\nf1\t1\t2\nf2\t0\t1\nf1\t3\t1\n")
    with pytest.raises(InputError, match="duplicate feature ids: 'f1'"):
        convert(path, tmp_path / "t.h5", block_size=2)
    path.write_text("#OTU ID\tS1\tS1\nf1\t1\t2\n")
    with pytest.raises(InputError, match="duplicate sample ids"):
        convert(path, tmp_path / "t.h5")
    path.write_text("#OTU ID\tS1\tS2\nf1\t1\t-2\n")
    with pytest.raises(InputError, match="negative abundances"):
        convert(path, tmp_path / "t.h5")
    with pytest.raises(InputError, match="--block-size 0"):
        convert(path, tmp_path / "t.h5", block_size=0)
    assert not (tmp_path / "t.h5").exists() and not list(tmp_path.glob(".*"))


def test_cli_convert(tmp_path, capsys):
    table = _table(m=30)
    path = tmp_path / "t.tsv"
    table.T.rename_axis("#OTU ID").to_csv(path, sep="\t")
    main(["convert", str(path), "--out", str(tmp_path / "t.h5"), "--block-size", "7"])
    assert "12 samples × 30 features" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(path), "--out", str(tmp_path / "u.h5"), "--samples-as", "both"])
    assert exc.value.code == 2
    assert "--samples-as must be 'rows' or 'columns'" in capsys.readouterr().err
