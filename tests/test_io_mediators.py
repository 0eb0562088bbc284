"""osteobiome.io.read_mediators: samples × mediators tables."""

from __future__ import annotations

import numpy as np
import pytest

from osteobiome.errors import InputError
from osteobiome.io import read_mediators


def write(tmp_path, text, name="mediators.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_numbers_and_missing_values(tmp_path):
    path = write(tmp_path, "sample\tbutyrate\tDCA\ns1\t1.5\tNA\ns2\t2.5\t0.3\ns3\t\t0.1\ns4\t4\t0.2\n")
    table = read_mediators(path)
    assert list(table.index) == ["s1", "s2", "s3", "s4"] and list(table.columns) == ["butyrate", "DCA"]
    assert np.isnan(table.loc["s1", "DCA"]) and np.isnan(table.loc["s3", "butyrate"])
    assert table.dtypes.eq(float).all()


def test_log2_with_half_minimum_zeros(tmp_path):
    path = write(tmp_path, "id,butyrate\na,0\nb,2\nc,8\nd,NA\n", "m.csv")
    table = read_mediators(path, log=True)
    np.testing.assert_allclose(table["butyrate"].to_numpy()[:3], [0.0, 1.0, 3.0])  # 0 -> half of 2 -> log2 1 = 0
    assert np.isnan(table.loc["d", "butyrate"])


def test_transposed_table_is_recognised_from_sample_ids(tmp_path):
    path = write(tmp_path, "mediator\ts1\ts2\ts3\ts4\nbutyrate\t1\t2\t3\t5\nDCA\t0.1\t0.4\t0.2\t0.3\n")
    table = read_mediators(path, sample_ids=["s1", "s2", "s3", "s4", "s5"])
    assert list(table.index) == ["s1", "s2", "s3", "s4"] and list(table.columns) == ["butyrate", "DCA"]
    assert table.loc["s4", "butyrate"] == 5


@pytest.mark.parametrize(
    ("text", "log", "message"),
    [
        ("sample\tbutyrate\ns1\t1\ns2\thigh\ns3\t2\ns4\t3\n", False, "mediator 'butyrate' holds text values 'high'"),
        ("sample\tbutyrate\ns1\t1\ns2\t1\ns3\t1\ns4\t1\n", False, "'butyrate' is constant"),
        ("sample\tbutyrate\ns1\t1\ns2\tNA\ns3\tNA\ns4\t3\n", False, "fewer than 3 values"),
        ("sample\tbutyrate\ns1\t-1\ns2\t2\ns3\t1\ns4\t3\n", True, "negative values"),
        ("sample\tbutyrate\ns1\t1\ns1\t2\ns3\t1\ns4\t3\n", False, "duplicate sample ids"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, text, log, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        read_mediators(path, log=log)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
