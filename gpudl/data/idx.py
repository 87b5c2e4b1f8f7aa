"""The IDX file format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Layout, all integers big-endian:

    byte 0, 1   0x00 0x00                       (magic)
    byte 2      data type code (see CODES)
    byte 3      ndim
    4 * ndim    the dimensions, uint32 each
    then        prod(dims) * itemsize bytes of data, row-major

A file that starts with 1f 8b is gzip; it is decompressed first.
"""
import gzip
import os
import tempfile
import zlib

import numpy as np

CODES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}
_CODE_OF = {np.dtype(t): code for code, t in CODES.items()}
GZIP_MAGIC = b"\x1f\x8b"


def decompress(raw, source="<bytes>"):
    """The IDX bytes of `raw`: gunzipped when it starts with the gzip magic, else as is."""
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{source}: corrupt or truncated gzip data ({e})") from None


def parse(data, source="<bytes>"):
    """A native-endian NumPy array from uncompressed IDX bytes; ValueError saying what is wrong."""
    if len(data) < 4:
        raise ValueError(f"{source}: not an IDX file: only {len(data)} bytes, the header needs at least 4")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{source}: not an IDX file: magic bytes are {data[:2].hex(' ')}, expected 00 00")
    code, ndim = data[2], data[3]
    if code not in CODES:
        known = ", ".join(f"0x{c:02X}" for c in CODES)
        raise ValueError(f"{source}: unknown IDX data type code 0x{code:02X} (known: {known})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{source}: truncated IDX header: {ndim} dims need {header} bytes, file has {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(CODES[code]).newbyteorder(">")
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{source}: IDX data {what}: dims {dims} of {dtype.name} need {expected} bytes "
                         f"in all, the file has {len(data)}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path):
    """Read an IDX file (raw or .gz, told apart by the magic bytes) into a NumPy array."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    return parse(decompress(raw, path), path)


def encode(array):
    """The uncompressed IDX bytes of `array`."""
    array = np.asarray(array)
    code = _CODE_OF.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(np.dtype(t).name for t in CODES.values())
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code (supported: {names})")
    if not 1 <= array.ndim <= 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: shape {array.shape} cannot be stored (1..255 dims, each < 2**32)")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_atomic(path, data):
    """Write bytes to `path` through a temp file in the same folder and os.replace."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_idx(path, array, compress=None):
    """Write `array` as IDX, atomically; gzip when `compress` is True (default: path ends in .gz)."""
    data = encode(array)
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    write_atomic(path, gzip.compress(data, mtime=0) if compress else data)
