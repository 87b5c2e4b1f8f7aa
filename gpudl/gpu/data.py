"""Launch wrappers for kernels/data.cu: epoch order, batch gather and augmentations (math there and
in gpudl/cpu/data.py, which gives the same results element for element).

Everything but `to_float` only moves elements, so the kernels come per element size (`w1`..`w8`)
and take any dtype, uint8 images included.  Inputs must be C-contiguous (the DataLoader's are).
Seeds, call numbers, epoch keys and positions are by-value arguments: these launches belong to
the loader, outside a captured step (inside one, gd.capture reports them as frozen).
"""
import numpy as np

from .. import checks
from ..cpu.data import check_count, check_crop, check_images, check_rows, check_to_float, feistel_bits, split64
from .loader import SUFFIX, THREADS, blocks, check_device, empty, ints, launch

__all__ = ["permutation", "gather_rows", "random_crop", "random_hflip", "to_float"]

FAMILY = "data"
_WORDS = {1: ("w1", np.uint8), 2: ("w2", np.uint16), 4: ("w4", np.uint32), 8: ("w8", np.uint64)}
_TO_FLOAT = {np.dtype(np.uint8): "u8", **SUFFIX}


def _u32(*values):
    return tuple(np.uint32(int(v) & 0xFFFFFFFF) for v in values)


def _words(v):
    """(lo, hi) of a 64-bit seed or call number as kernel arguments."""
    return _u32(*split64(v))


def _moving(device, op, x, shape):
    """(kernel, x viewed as unsigned words, out of `shape` in x's dtype, out viewed as words):
    after checking x is on `device`, contiguous and of a movable element size."""
    check_device(device, op, "x", x)
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: x {tuple(x.shape)} must be C-contiguous")
    if x.dtype.itemsize not in _WORDS or x.dtype.kind == "O":
        raise TypeError(f"{op}: moves elements of 1, 2, 4 or 8 bytes, got dtype {x.dtype}")
    name, word = _WORDS[x.dtype.itemsize]
    out = empty(device, shape, x.dtype)
    return f"{op}_{name}", x.view(word), out, out.view(word)


def permutation(device, n, keys, start=0, count=None):
    """int64 positions start .. start+count-1 of the order of [0, n) under the round keys `keys`
    (keys None: the identity order 0 .. n-1)."""
    count = n - start if count is None else count
    check_count("permutation", n, start, count)
    out = empty(device, (count,), np.int64)
    h, keys = (0, (0, 0, 0, 0)) if keys is None else (feistel_bits(n), keys)
    launch(device, FAMILY, "permutation", (blocks(count),), (THREADS,),
           (out, np.int64(n), np.int64(start)) + ints(count, h) + _u32(*keys),
           f"positions {start}..{start + count} of {n}")
    return out


def gather_rows(device, src, rows):
    """out[i] = src[rows[i]] (rows in range; the loader makes them)."""
    op = "gather_rows"
    check_rows(op, src, rows)
    check_device(device, op, "rows", rows)
    kernel, words, out, out_words = _moving(device, op, src, rows.shape + src.shape[1:])
    width = int(np.prod(src.shape[1:], dtype=np.int64))
    launch(device, FAMILY, kernel, (blocks(out.size),), (THREADS,), (words, rows, out_words) + ints(rows.size, width),
           f"src {tuple(src.shape)}, {rows.size} rows")
    return out


def random_crop(device, x, size, padding, seed, call):
    """out[n, ..., i, j] = x_padded[n, ..., top_n + i, left_n + j] for the Philox-drawn (top_n, left_n)."""
    op = "random_crop"
    check_images(op, x)
    check_crop(op, x.shape, size, padding)
    (h, w), (ph, pw) = size, padding
    kernel, words, out, out_words = _moving(device, op, x, x.shape[:-2] + (h, w))
    n, (H, W) = x.shape[0], x.shape[-2:]
    channels = x.size // max(n * H * W, 1)
    launch(device, FAMILY, kernel, (blocks(out.size),), (THREADS,),
           (words, out_words) + ints(out.size, channels, H, W, h, w, ph, pw) + _words(seed) + _words(call),
           f"x {tuple(x.shape)}, crop {h}x{w}, padding {ph}x{pw}")
    return out


def random_hflip(device, x, p, seed, call):
    """out[n] = x[n, ..., ::-1] where u_n < p (u_n the Philox-drawn uniform of sample n), else x[n]."""
    op = "random_hflip"
    check_images(op, x)
    checks.probability(op, "p", p)
    kernel, words, out, out_words = _moving(device, op, x, x.shape)
    rows = x.size // max(x.shape[0] * x.shape[-1], 1)
    launch(device, FAMILY, kernel, (blocks(out.size),), (THREADS,),
           (words, out_words) + ints(out.size, rows, x.shape[-1]) + (np.float32(p),) + _words(seed) + _words(call),
           f"x {tuple(x.shape)}, p {p}")
    return out


def to_float(device, x, scale, dtype):
    """y = dtype(x) * scale (x uint8, int32, int64, float32 or float64)."""
    op = "to_float"
    check_to_float(op, x, dtype)
    check_device(device, op, "x", x)
    if not x.flags.c_contiguous:
        raise ValueError(f"{op}: x {tuple(x.shape)} must be C-contiguous")
    dtype = np.dtype(dtype)
    y = empty(device, x.shape, dtype)
    launch(device, FAMILY, f"to_float_{_TO_FLOAT[x.dtype]}_{SUFFIX[dtype]}", (blocks(y.size),), (THREADS,),
           (x, y) + ints(y.size) + (dtype.type(scale),), f"x {x.dtype} {tuple(x.shape)}")
    return y
