"""Reusable buffers for the large temporaries of convolution (col, dcol, dY as rows, ...).

A NumPy array of more than a few MB often comes from a fresh mmap: the kernel zero-fills
each page on first touch and unmaps it again on free, which can cost as much as the copy
that fills the array.  A temporary that never leaves its function can live in one buffer
per (name, thread) instead: `scratch(name, shape, dtype)` returns an uninitialised array
that stays valid until the next `scratch` call with the same name in the same thread.
Buffers only grow, up to MAX_BYTES each (a request above it gets a plain new array), and
live as long as their thread: LeNet-5 at batch 128 keeps about 30 MB.
"""
import threading

import numpy as np

MAX_BYTES = 64 << 20

_local = threading.local()


def scratch(name, shape, dtype):
    """An uninitialised array of `shape` and `dtype` backed by the reusable buffer `name`."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > MAX_BYTES:
        return np.empty(shape, dtype)
    pool = _local.__dict__.setdefault("pool", {})
    buf = pool.get(name)
    if buf is None or buf.nbytes < nbytes:
        buf = pool[name] = np.empty(nbytes, np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)
