"""The counter-based random generator, Philox-4x32-10 (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3"), in vectorised NumPy: bit for bit the streams of kernels/random.cu.

One round on the counter (c0, c1, c2, c3) under key (k0, k1), with (hi, lo) = the 64-bit product:

    (L0, R0) = M0 c0,  (L1, R1) = M1 c2,    c' = (L1 ^ c1 ^ k0,  R1,  L0 ^ c3 ^ k1,  R0)

10 rounds, the key bumped by (W0, W1) between rounds.  The state is a uint64 array
[seed, offset]; key = (seed & 0xffffffff, seed >> 32); counter c is (c lo, c hi, 0, 0).

    uniform   u_i = (w >> 8) 2^-24,  w = word i % 4 of Philox(key, offset + i // 4);  offset += ceil(n / 4)
    normal    u1 = ((w0 >> 8) + 1) 2^-24,  u2 = (w1 >> 8) 2^-24 of Philox(key, offset + i // 2),
              r = sqrt(-2 ln u1):  even i -> r cos(2 pi u2), odd i -> r sin(2 pi u2);  offset += ceil(n / 2)
    dropout   mask_i = [u_i >= p] / (1 - p),  y = x mask    (p = 1: u < 1 always, so every mask_i = 0)
"""
import numpy as np

from .. import checks
from . import parallel

__all__ = ["rng_uniform", "rng_normal", "dropout_forward"]

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
_LOW = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
_MULTIPLIERS = np.array([[M0], [M1]], dtype=np.uint64)  # (M0, M1) against (c0, c2)
TWO_POW_M24 = np.float32(2.0 ** -24)
TWO_PI = np.float32(2 * np.pi)


def philox4x32(device, counters, key):
    """Philox4x32-10 of counters (m, 4) uint32 under key (k0, k1) -> (m, 4) uint32, by pieces of the
    counters on the cpu threads (each counter's words depend on it alone)."""
    check_counters("philox_words", counters)
    words = np.empty_like(counters)
    parallel.over(len(counters), 25 * counters.size, lambda lo, hi: _philox_rows(counters[lo:hi], key, words[lo:hi]))
    return words


def _philox_rows(counters, key, words):
    """words <- Philox4x32-10 of counters, each round five in-place ops on the lane pairs
    a = (c0, c2), b = (c1, c3):  p = (M0, M1) a,  a' = swap(hi p) ^ b ^ (k0, k1),  b' = swap(lo p)."""
    lanes = np.ascontiguousarray(counters.T, dtype=np.uint64)  # rows c0, c1, c2, c3
    a, b = lanes[0::2].copy(), lanes[1::2].copy()
    p = np.empty_like(a)
    k0, k1 = (int(k) & 0xFFFFFFFF for k in key)
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        np.multiply(a, _MULTIPLIERS, out=p)  # 32 x 32 -> 64 bits: exact in uint64
        np.right_shift(p[::-1], _32, out=a)
        a ^= b
        a ^= np.array([[k0], [k1]], dtype=np.uint64)
        np.bitwise_and(p[::-1], _LOW, out=b)
    for i, lane in enumerate((a[0], b[0], a[1], b[1])):
        np.copyto(words[:, i], lane, casting="unsafe")  # every value is below 2^32


def check_counters(op, counters):
    """ValueError unless counters is an (m, 4) uint32 array."""
    if counters.dtype != np.uint32 or counters.ndim != 2 or counters.shape[1] != 4:
        raise ValueError(f"{op}: counters must be an (m, 4) uint32 array, got {counters.dtype} {tuple(counters.shape)}")


def check_state(op, state):
    """TypeError / ValueError unless state is the uint64 array [seed, offset]."""
    if state.dtype != np.uint64:
        raise TypeError(f"{op}: state must be a uint64 array [seed, offset], got dtype {state.dtype}")
    if tuple(state.shape) != (2,):
        raise ValueError(f"{op}: state must have shape (2,) = [seed, offset], got shape {tuple(state.shape)}")


def draw_shape(shape):
    """A shape tuple from an int or a sequence of ints."""
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)


def keep_scale(p):
    """1 / (1 - p), the survivors' scale; 0 at p = 1, where no element survives (no division by 0)."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)


def _blocks(state, count):
    """Philox words (count, 4) of counters offset .. offset + count - 1, then offset += count."""
    seed, offset = (int(v) for v in state)
    c = np.uint64(offset) + np.arange(count, dtype=np.uint64)  # wraps mod 2^64 like the kernels
    counters = np.zeros((count, 4), np.uint32)
    counters[:, 0], counters[:, 1] = c & _LOW, c >> _32
    state[1:] += np.uint64(count)
    return philox4x32(None, counters, (seed & 0xFFFFFFFF, seed >> 32))


def uniform_of(words):
    """u = (w >> 8) 2^-24 in [0, 1) of uint32 words, as float32."""
    return (words >> np.uint32(8)).astype(np.float32) * TWO_POW_M24


def _uniform_flat(state, n):
    return uniform_of(_blocks(state, -(-n // 4)).reshape(-1)[:n])


def rng_uniform(device, state, shape):
    """float32 u in [0, 1) of `shape`; advances state's offset by ceil(n / 4)."""
    check_state("rng_uniform", state)
    shape = draw_shape(shape)
    return _uniform_flat(state, int(np.prod(shape, dtype=np.int64))).reshape(shape)


def rng_normal(device, state, shape):
    """float32 N(0, 1) of `shape` (Box-Muller); advances state's offset by ceil(n / 2)."""
    check_state("rng_normal", state)
    shape = draw_shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    words = _blocks(state, -(-n // 2))
    u1 = ((words[:, 0] >> np.uint32(8)) + np.uint32(1)).astype(np.float32) * TWO_POW_M24
    u2 = (words[:, 1] >> np.uint32(8)).astype(np.float32) * TWO_POW_M24
    r = np.sqrt(np.float32(-2) * np.log(u1))
    theta = TWO_PI * u2
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).reshape(-1)[:n].reshape(shape)


def dropout_forward(device, x, p, state):
    """(y, mask): mask = [u >= p] / (1 - p) in x's dtype, y = x mask; advances state like rng_uniform."""
    op = "dropout_forward"
    check_state(op, state)
    checks.probability(op, "p", p)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: x must be float32 or float64, got dtype {x.dtype}")
    u = _uniform_flat(state, x.size).reshape(x.shape)
    mask = np.where(u >= np.float32(p), x.dtype.type(keep_scale(p)), x.dtype.type(0))
    return x * mask, mask
