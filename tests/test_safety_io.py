"""Hostile or damaged input files: one-line errors, never a traceback or an exhausted machine (issue 14)."""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path

import pytest

import osteobiome.compute.memory
from osteobiome.errors import InputError, ResourceError
from osteobiome.io import read_features, read_metadata
from osteobiome.io.convert import convert


def table_text(rows: int = 2000, samples: int = 20) -> str:
    rng = random.Random(0)
    header = "feature\t" + "\t".join(f"s{i}" for i in range(samples)) + "\n"
    return header + "".join(
        f"g{j}\t" + "\t".join(str(rng.randint(0, 999)) for _ in range(samples)) + "\n" for j in range(rows)
    )


@pytest.fixture
def damaged_gzip(tmp_path) -> Path:
    """A gzip whose first member is fine and whose second has an invalid deflate block: zlib.error mid-stream."""
    text = table_text()
    first = gzip.compress(text[: len(text) // 2].encode(), mtime=0)
    second = bytearray(gzip.compress(text[len(text) // 2 :].encode(), mtime=0))
    second[10] = 0xFF  # deflate block type 3 does not exist
    path = tmp_path / "table.tsv.gz"
    path.write_bytes(first + bytes(second))
    return path


@pytest.mark.parametrize("reader", [read_features, read_metadata, lambda p: convert(p, p.parent / "t.h5")])
def test_gzip_damaged_mid_stream_is_one_line(damaged_gzip, reader):
    with pytest.raises(InputError, match=r"table\.tsv\.gz: .*damaged gzip"):
        reader(damaged_gzip)


def test_repeated_metadata_column_is_named(tmp_path):
    path = tmp_path / "meta.tsv"
    path.write_text("sample\tage\tbmd\tage\ns1\t1\t2\t3\ns2\t3\t4\t5\n")
    with pytest.raises(InputError, match=r"meta\.tsv: column 'age' appears 2 times"):
        read_metadata(path)


def qza(path: Path, metadata: bytes | None, members: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if metadata is not None:
            archive.writestr("abc/metadata.yaml", metadata)
        for name, content in (members or {}).items():
            archive.writestr(f"abc/{name}", content)
    return path


@pytest.mark.parametrize(
    "metadata",
    [b"type: [unclosed", b"- a\n- b\n", b"type: !!python/object:os.system x", b"just a string", b"[" * 5000],
    ids=["parser", "list", "constructor", "scalar", "nested"],
)
def test_bad_metadata_yaml_inside_a_qza_is_one_line(tmp_path, metadata):
    path = qza(tmp_path / "table.qza", metadata, {"data/feature-table.biom": b"x"})
    with pytest.raises(InputError, match=r"table\.qza: .*metadata\.yaml"):
        read_features(path)


def test_an_empty_zip_named_qza_is_called_an_empty_archive(tmp_path):
    path = qza(tmp_path / "table.qza", None)
    with pytest.raises(InputError) as info:
        read_features(path)
    assert "binary" not in str(info.value) and "empty" in str(info.value) and "QIIME 2" in str(info.value)


def test_a_qza_member_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    big = b"\0" * 30_000_000  # compresses to ~30 KB: a zip bomb in miniature
    path = qza(tmp_path / "table.qza", b"type: FeatureTable[Frequency]\n", {"data/feature-table.biom": big})
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(osteobiome.compute.memory, "available_memory", lambda: 20_000_000)
    read, original = [], zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name, pwd=None: read.append(name) or original(self, name))
    with pytest.raises(ResourceError, match=r"table\.qza.*feature-table\.biom.*28\.6 MB"):
        read_features(path)
    assert read == ["abc/metadata.yaml"]


def test_a_huge_metadata_yaml_inside_a_qza_is_refused(tmp_path):
    path = qza(tmp_path / "table.qza", b"type: x\n" + b"#" * 5_000_000, {"data/feature-table.biom": b"x"})
    with pytest.raises(InputError, match=r"table\.qza: .*metadata\.yaml"):
        read_features(path)
