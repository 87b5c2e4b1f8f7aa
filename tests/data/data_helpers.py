"""Helpers for the data tests: IDX bytes written by hand and tiny MNIST-style files."""
import gzip
import hashlib
import os

import numpy as np


def idx_bytes(array):
    """IDX bytes written out by hand (independent of gpudl.data.idx)."""
    codes = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def fake_split(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def make_split_files(n=12, seed=0):
    """{file name: gz bytes} for a train (n images) and a test (n // 2) split, plus the arrays."""
    files, arrays = {}, {}
    for split, prefix, count in (("train", "train", n), ("test", "t10k", max(n // 2, 1))):
        images, labels = fake_split(count, seed + (split == "test"))
        arrays[split] = (images, labels)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    return files, arrays


def write_files(folder, files):
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return str(folder)


def md5s(files):
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
