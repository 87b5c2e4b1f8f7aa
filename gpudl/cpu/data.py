"""The data kernels in NumPy (math in kernels/data.cu), element for element the same results.

    permutation   order(i) of [0, n): a 4-round Feistel network on 2h-bit values (2^(2h) >= n),
                  round r: (L, R) <- (R, L ^ (mix32(R ^ k_r) & (2^h - 1))), repeated while >= n
    gather_rows   out[i] = src[rows[i]] (whole rows)
    random_crop   a (h, w) window of each zero-padded image at a Philox-drawn offset
    random_hflip  each image mirrored left-right with probability p (Philox-drawn)
    to_float      y = T(x) * scale

The round keys of epoch e are the four words of Philox(counter = (e lo, e hi, 0, 0), key =
(seed lo, seed hi)): `feistel_keys(seed, epoch)`, computed on the host for every device.
The augmentations' per-sample draws are Philox(counter = (call lo, call hi, n, 0), key = (seed lo, seed hi)).
"""
import numpy as np

from .. import checks
from .random import philox4x32, uniform_of

__all__ = ["permutation", "gather_rows", "random_crop", "random_hflip", "to_float"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
TO_FLOAT_INPUTS = (np.dtype(np.uint8), np.dtype(np.int32), np.dtype(np.int64)) + FLOATS
_MASK32 = 0xFFFFFFFF


def split64(v):
    """(lo, hi) 32-bit words of a non-negative int below 2^64."""
    v = int(v)
    if not 0 <= v < 2 ** 64:
        raise ValueError(f"expected an integer in [0, 2^64), got {v}")
    return v & _MASK32, v >> 32


def feistel_keys(seed, epoch):
    """The four round keys (uint32) of `epoch`'s order under `seed`."""
    counters = np.array([[*split64(epoch), 0, 0]], np.uint32)
    return tuple(int(k) for k in philox4x32(None, counters, split64(seed))[0])


def feistel_bits(n):
    """h: half the bits of the Feistel domain, the smallest h >= 1 with 4^h >= n."""
    h = 1
    while 4 ** h < n:
        h += 1
    return h


def check_count(op, n, start, count):
    """ValueError unless 0 <= start and start + count <= n."""
    if start < 0 or count < 0 or start + count > n:
        raise ValueError(f"{op}: positions {start}..{start + count} are not inside [0, {n})")


def _mix32(x):
    """lowbias32 on uint64 arrays holding 32-bit values."""
    x = x ^ (x >> np.uint64(16))
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(_MASK32)
    x = x ^ (x >> np.uint64(15))
    x = (x * np.uint64(0x846CA68B)) & np.uint64(_MASK32)
    return x ^ (x >> np.uint64(16))


def _feistel(v, h, keys):
    mask, shift = np.uint64((1 << h) - 1), np.uint64(h)
    left, right = v >> shift, v & mask
    for k in keys:
        left, right = right, left ^ (_mix32((right ^ np.uint64(k)) & np.uint64(_MASK32)) & mask)
    return (left << shift) | right


def permutation(device, n, keys, start=0, count=None):
    """int64 positions start .. start+count-1 of the order of [0, n) under the round keys `keys`
    (keys None: the identity order 0 .. n-1)."""
    count = n - start if count is None else count
    check_count("permutation", n, start, count)
    v = np.arange(start, start + count, dtype=np.uint64)
    if keys is None:
        return v.astype(np.int64)
    h = feistel_bits(n)
    v = _feistel(v, h, keys)
    outside = v >= np.uint64(n)
    while outside.any():  # cycle walking
        v[outside] = _feistel(v[outside], h, keys)
        outside = v >= np.uint64(n)
    return v.astype(np.int64)


def check_rows(op, src, rows):
    """ValueError unless rows is a 1-D int64 array and src has a leading axis."""
    if src.ndim < 1 or rows.ndim != 1 or rows.dtype != np.int64:
        raise ValueError(f"{op}: expected src with a leading axis and 1-D int64 rows, got src {tuple(src.shape)} "
                         f"and rows {rows.dtype} {tuple(rows.shape)}")


def gather_rows(device, src, rows):
    """out[i] = src[rows[i]] (rows in range; the loader makes them)."""
    check_rows("gather_rows", src, rows)
    return src[rows]


def check_images(op, x):
    """ValueError unless x is a batch of images (N, ..., H, W)."""
    if x.ndim < 3:
        raise ValueError(f"{op}: expected a batch of images (N, ..., H, W), got shape {tuple(x.shape)}")


def check_crop(op, shape, size, padding):
    """ValueError unless the (h, w) window fits the padded image."""
    (h, w), (ph, pw) = size, padding
    H, W = shape[-2] + 2 * ph, shape[-1] + 2 * pw
    if h > H or w > W:
        raise ValueError(f"{op}: crop {h}x{w} is larger than the padded image {H}x{W}")


def draws(seed, call, n):
    """The (n, 4) Philox words that fix the per-sample choices of one augmentation call."""
    counters = np.zeros((n, 4), np.uint32)
    counters[:, 0], counters[:, 1] = split64(call)
    counters[:, 2] = np.arange(n, dtype=np.uint32)
    return philox4x32(None, counters, split64(seed)).astype(np.uint64)


def random_crop(device, x, size, padding, seed, call):
    """out[n, ..., i, j] = x_padded[n, ..., top_n + i, left_n + j] for the Philox-drawn (top_n, left_n)."""
    op = "random_crop"
    check_images(op, x)
    check_crop(op, x.shape, size, padding)
    (h, w), (ph, pw) = size, padding
    n = x.shape[0]
    words = draws(seed, call, n)
    top = ((words[:, 0] * np.uint64(x.shape[-2] + 2 * ph - h + 1)) >> np.uint64(32)).astype(np.int64)
    left = ((words[:, 1] * np.uint64(x.shape[-1] + 2 * pw - w + 1)) >> np.uint64(32)).astype(np.int64)
    flat = x.reshape(n, -1, *x.shape[-2:])
    padded = np.pad(flat, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    rows = (top[:, None] + np.arange(h))[:, None, :, None]
    cols = (left[:, None] + np.arange(w))[:, None, None, :]
    out = padded[np.arange(n)[:, None, None, None], np.arange(flat.shape[1])[None, :, None, None], rows, cols]
    return out.reshape(*x.shape[:-2], h, w)


def random_hflip(device, x, p, seed, call):
    """out[n] = x[n, ..., ::-1] where u_n < p (u_n the Philox-drawn uniform of sample n), else x[n]."""
    op = "random_hflip"
    check_images(op, x)
    checks.probability(op, "p", p)
    u = uniform_of(draws(seed, call, x.shape[0])[:, 0].astype(np.uint32))
    mask = (u < np.float32(p)).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(mask, x[..., ::-1], x)


def check_to_float(op, x, dtype):
    """TypeError unless x is uint8, int32, int64, float32 or float64 and dtype float32 or float64."""
    if np.dtype(dtype) not in FLOATS or x.dtype not in TO_FLOAT_INPUTS:
        raise TypeError(f"{op}: converts uint8, int32, int64, float32 or float64 arrays to float32 or float64, "
                        f"got {x.dtype} -> {np.dtype(dtype)}")


def to_float(device, x, scale, dtype):
    """y = dtype(x) * scale."""
    check_to_float("to_float", x, dtype)
    dtype = np.dtype(dtype)
    return x.astype(dtype) * dtype.type(scale)
