"""Launch wrappers for kernels/random.cu: the Philox-4x32-10 streams (math in that file and in
gpudl/cpu/random.py, which gives bit-identical uniforms and masks).

The state is a uint64 device array [seed, offset] owned by the caller.  Each draw is two
launches on one stream: the draw kernel reads the offset from device memory, then a one-thread
`philox_advance` moves it past the counters used.  The offset never travels as a scalar
argument (a captured CUDA graph would freeze it) and is never read back to the host.
"""
import numpy as np

from .. import checks
from ..cpu.random import check_counters, check_state, draw_shape, keep_scale
from ..emu.params import Strided
from .loader import blocks, check_device, empty, ints, launch, suffix
from .strides import element_strides, layout, layout_array

__all__ = ["rng_uniform", "rng_normal", "dropout_forward"]

FAMILY = "random"
THREADS = 256  # RNG_THREADS in kernels/random.cu: a block stages exactly this many counters in shared memory
FLOATS = (np.float32, np.float64)


def _check_state(device, op, state):
    check_device(device, op, "state", state)
    check_state(op, state)


def _advance(device, state, step, shapes):
    """offset += step (counters per draw), on the device after the draw."""
    launch(device, FAMILY, "philox_advance", (1,), (1,), (state,) + ints(step), shapes)


def _draw(device, op, kernel, state, shape, per_counter):
    """A float32 array of `shape` from `kernel` (per_counter elements per Philox counter)."""
    _check_state(device, op, state)
    shape = draw_shape(shape)
    n = int(np.prod(shape, dtype=np.int64))
    out = empty(device, shape)
    step = -(-n // per_counter)
    launch(device, FAMILY, kernel, (blocks(step, THREADS),), (THREADS,), (state, out) + ints(n), f"shape {shape}")
    _advance(device, state, step, f"shape {shape}")
    return out


def philox4x32(device, counters, key):
    """Philox4x32-10 of counters (m, 4) uint32 under key (k0, k1) -> (m, 4) uint32 (known-answer tests)."""
    op = "philox_words"
    check_device(device, op, "counters", counters)
    check_counters(op, counters)
    if not counters.flags.c_contiguous:
        raise ValueError(f"{op}: counters {tuple(counters.shape)} must be contiguous")
    out = empty(device, counters.shape, np.uint32)
    k0, k1 = (np.uint32(int(k) & 0xFFFFFFFF) for k in key)
    m = counters.shape[0]
    launch(device, FAMILY, op, (blocks(m, THREADS),), (THREADS,), (counters, k0, k1, out) + ints(m),
           f"counters {(m, 4)}")
    return out


def rng_uniform(device, state, shape):
    """float32 u in [0, 1) of `shape`; advances the state's offset by ceil(n / 4)."""
    return _draw(device, "rng_uniform", "philox_uniform", state, shape, 4)


def rng_normal(device, state, shape):
    """float32 N(0, 1) of `shape` (Box-Muller); advances the state's offset by ceil(n / 2)."""
    return _draw(device, "rng_normal", "philox_normal", state, shape, 2)


def dropout_forward(device, x, p, state):
    """(y, mask): mask = [u >= p] / (1 - p) in x's dtype, y = x mask; advances the state like rng_uniform.

    x may be a strided view: the kernel walks its strides (y and mask are contiguous)."""
    op = "dropout_forward"
    kernel = suffix("dropout_forward", x.dtype, FLOATS)
    check_device(device, op, "x", x)
    _check_state(device, op, state)
    checks.probability(op, "p", p)
    dims, strides = layout(x.shape, [element_strides(x)])
    y, mask = empty(device, x.shape, x.dtype), empty(device, x.shape, x.dtype)
    step = -(-x.size // 4)
    shapes = f"x {tuple(x.shape)}, p {p}"
    launch(device, FAMILY, kernel, (blocks(step, THREADS),), (THREADS,),
           (state, Strided(x), layout_array(device, op, dims, strides), y, mask) + ints(x.size)
           + (np.float32(p), x.dtype.type(keep_scale(p))), shapes)
    _advance(device, state, step, shapes)
    return y, mask
