"""edi_analysis.io: locating table files, hashing inputs, atomic writes, the Dataset bundle."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat

import pandas as pd
import pytest

from edi_analysis.io import (
    AmbiguousTableError, Dataset, atomic_write_bytes, atomic_write_text, find_table_file,
    sha256_file,
)


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one 1 MiB read
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sha256_of_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    # The SHA-256 of no bytes (FIPS 180-4 test vector).
    assert sha256_file(path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_find_table_file(tmp_path):
    assert find_table_file(tmp_path, "workforce") is None
    (tmp_path / "workforce.csv").write_text("a\n")
    assert find_table_file(tmp_path, "workforce") == tmp_path / "workforce.csv"
    (tmp_path / "board.parquet").write_bytes(b"")
    assert find_table_file(tmp_path, "board") == tmp_path / "board.parquet"
    (tmp_path / "workforce.parquet").write_bytes(b"")
    with pytest.raises(AmbiguousTableError) as err:
        find_table_file(tmp_path, "workforce")
    assert str(err.value) == ("table 'workforce' is stored twice "
                              "(workforce.csv, workforce.parquet); keep one")


def test_atomic_write_bytes_creates_folders_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out" / "deep" / "metrics.csv"
    assert atomic_write_bytes(target, b"a,b\n1,2\n") == target
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert os.listdir(target.parent) == ["metrics.csv"]


def test_atomic_write_replaces_an_existing_file(tmp_path):
    target = tmp_path / "f.txt"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"


def test_atomic_write_gives_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "f.txt", b"x")
    finally:
        os.umask(old)
    # 0666 less umask 022 = 0644 (not mkstemp's private 0600).
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "f.txt"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_text_is_utf8_without_newline_translation(tmp_path):
    path = atomic_write_text(tmp_path / "t.txt", "Gaël\r\nline 2\n")
    assert path.read_bytes() == "Gaël\r\nline 2\n".encode("utf-8")


def test_dataset_is_frozen_and_summarises_itself(tmp_path):
    ds = Dataset(path=tmp_path, tables={"board": pd.DataFrame({"a": [1, 2]})})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.path = tmp_path / "other"  # type: ignore[misc]
    assert repr(ds) == f"Dataset({str(tmp_path)!r}: board=2 rows)"
