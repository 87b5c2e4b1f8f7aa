"""IDX reading and writing, checked against bytes written out by hand."""
import gzip
import os
import re

import numpy as np
import pytest

from data_helpers import idx_bytes
from gpudl.data import idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compressed", [False, True])
def test_round_trip(tmp_path, dtype, compressed):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    write_idx(path, a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compressed
    assert (gzip.decompress(raw) if compressed else raw) == idx_bytes(a)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
    back[0, 0, 0] = 1  # a writable array, not a view of the file bytes


@pytest.mark.parametrize("shape", [(7,), (2, 3), (1, 2, 3, 2)])
def test_reads_hand_written_files(tmp_path, shape):
    a = np.arange(np.prod(shape), dtype=np.int16).reshape(shape) - 5
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "x", idx_bytes(a))), a)


def test_gzip_is_told_by_magic_bytes_not_name(tmp_path):
    a = np.arange(6, dtype=np.uint8)
    path = _write(tmp_path / "plain-name", gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(read_idx(path), a)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "a.gz"
    write_idx(path, np.zeros(3, np.uint8))
    good = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.ones(5, np.uint8))
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["a.gz"]


def test_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "a", np.zeros(3, np.int64))
    assert not (tmp_path / "a").exists()


def _bad(tmp_path, data, *patterns):
    path = _write(tmp_path / "bad.idx", data)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for p in patterns:
        assert re.search(p, message), message


def test_bad_magic(tmp_path):
    _bad(tmp_path, b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "magic", "01 00")


def test_unknown_dtype_code(tmp_path):
    _bad(tmp_path, b"\x00\x00\x0a\x01" + (3).to_bytes(4, "big") + b"abc", "type code 0x0A")


def test_too_short_for_a_header(tmp_path):
    _bad(tmp_path, b"\x00\x00", "not an IDX file")
    _bad(tmp_path, b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"), "truncated IDX header")


def test_wrong_dims_and_truncated_raw(tmp_path):
    data = idx_bytes(np.zeros((4, 5), np.int32))
    _bad(tmp_path, data[:-1], "truncated", r"\(4, 5\)", "int32")
    _bad(tmp_path, data + b"\0", "trailing")
    wrong_dims = data[:4] + (5).to_bytes(4, "big") + data[8:]
    _bad(tmp_path, wrong_dims, "truncated", r"\(5, 5\)")


def test_truncated_or_corrupt_gzip(tmp_path):
    gz = gzip.compress(idx_bytes(np.arange(1000, dtype=np.float32)))
    _bad(tmp_path, gz[: len(gz) // 2], "corrupt or truncated")
    flipped = bytearray(gz)
    flipped[-6] ^= 0xFF  # the CRC32 no longer matches
    _bad(tmp_path, bytes(flipped), "corrupt or truncated")


def test_decompress_passes_raw_bytes_through():
    data = idx_bytes(np.ones(2, np.uint8))
    assert idx.decompress(data) is data
