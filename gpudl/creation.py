"""Making tensors: from data, constants and random numbers.

dtype rules follow PyTorch: Python floats (and lists of them) become float32, Python ints
int64, bools bool; a NumPy/CuPy array keeps its dtype (float64 stays float64, integer
labels stay integer).
"""
import math
import numbers

import numpy as np

from . import backend, checks
from .tensor import Tensor

_KINDS = {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects", "V": "structured records",
          "M": "datetimes", "m": "timedeltas"}

_generators = {}  # (device type, index) -> generator, made on first use from _seed
_seed = None
_philox = {}      # Device -> its counter-based generator state (see rng_state)


def _default_dtype(data):
    """float32 for Python floats, int64 for ints, bool for bools (nested lists too)."""
    kind = np.asarray(data).dtype.kind
    return {"b": np.bool_, "i": np.int64, "u": np.int64}.get(kind, np.float32)


def _host_data(op, data):
    """Nested lists / scalars as a NumPy array, or a clear error (None, strings, ragged lists, complex...)."""
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"{op}: data must be a number, a (nested) list of numbers, a Tensor or an array, "
                        f"got {data!r}")
    try:
        return np.asarray(data)
    except ValueError as e:
        raise ValueError(f"{op}: nested lists must be rectangular (every row of one length), got {data!r}: "
                         f"{e}") from None


def _check_kind(op, array):
    kind = array.dtype.kind
    if kind in _KINDS:
        raise TypeError(f"{op}: tensors hold bools, integers and floats, not {_KINDS[kind]} (dtype {array.dtype})")


def to_array(data, dtype, device, op="tensor"):
    """Raw array on `device` following the dtype rules above."""
    if isinstance(data, Tensor):
        data = data.data
    if not hasattr(data, "dtype"):
        host = _host_data(op, data)
        _check_kind(op, host)
        dtype = _default_dtype(host) if dtype is None else dtype
        data = host
    else:
        _check_kind(op, data)
    if dtype is not None:
        dtype = np.dtype(dtype)
    return device.asarray(data, dtype=dtype)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor from a list, scalar, Tensor, NumPy or CuPy array, always copied: changing the
    source later never changes it."""
    dev = backend.device(device)
    source = data.data if isinstance(data, Tensor) else data
    arr = to_array(data, dtype, dev)
    if arr is source or getattr(arr, "base", None) is source:  # placed without a copy (or as a view)
        arr = arr.copy()
    return Tensor._wrap(arr, dev).requires_grad_(requires_grad)


def from_numpy(array, device=None):
    """Tensor sharing `array`'s memory on cpu/emu (copied to the GPU on cuda)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dev = backend.device(device)
    return Tensor._wrap(dev.asarray(array), dev)


def from_dlpack(obj, device=None):
    """Zero-copy import from any DLPack producer (NumPy, CuPy, PyTorch)."""
    on_gpu = obj.__dlpack_device__()[0] in (2, 3)  # kDLCUDA, kDLCUDAHost
    dev = backend.device(device) if device is not None else backend.device("cuda" if on_gpu else "cpu")
    arr = dev.xp.from_dlpack(obj)
    return Tensor._wrap(arr, dev)


def _filled(op, fill, shape, dtype, device, requires_grad):
    dev = backend.device(device)
    shape = checks.shape(op, shape)
    if isinstance(fill, (bool, np.bool_)) or not isinstance(fill, numbers.Real):
        raise TypeError(f"{op}: fill_value must be a number, got {fill!r}")
    with dev.activate():
        arr = dev.kernels.full(shape, fill, np.dtype(dtype or np.float32))
    return Tensor._wrap(arr, dev).requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _filled("zeros", 0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled("ones", 1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled("full", fill_value, (shape,), dtype, device, requires_grad)


def zeros_like(t, dtype=None):
    return _filled("zeros_like", 0, t.shape, dtype or t.dtype, t.device, False)


def ones_like(t, dtype=None):
    return _filled("ones_like", 1, t.shape, dtype or t.dtype, t.device, False)


def arange(start, stop=None, step=1, dtype=None, device=None):
    """start, start + step, ... below stop (above it for a negative step), like NumPy."""
    dev = backend.device(device)
    if stop is None:
        start, stop = 0, start
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not math.isfinite(checks.number("arange", name, v)):
            raise ValueError(f"arange: {name} must be finite, got {v}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, stop, step)) else np.float32
    with dev.activate():
        return Tensor._wrap(dev.asarray(np.arange(start, stop, step, dtype=dtype)), dev)  # made on the host


def eye(n, m=None, dtype=None, device=None):
    """The n x m identity (m = n by default)."""
    checks.integer("eye", "n", n, 0)
    if m is not None:
        checks.integer("eye", "m", m, 0)
    dev = backend.device(device)
    with dev.activate():
        return Tensor._wrap(dev.asarray(np.eye(n, m, dtype=dtype or np.float32)), dev)  # made on the host


def manual_seed(seed):
    """Seed every generator: NumPy's / CuPy's (initialisation, shuffling) and the counter-based
    one behind dropout and rand / randn on kernel devices (the same streams on cpu, emu and cuda)."""
    global _seed
    seed = checks.integer("manual_seed", "seed", seed, 0)
    if seed >= 2 ** 64:
        raise ValueError(f"manual_seed: seed must be below 2^64, got {seed}")
    _generators.clear()
    _philox.clear()
    _seed = seed


def rng_state(device):
    """The device's Philox-4x32-10 state: a uint64 array [seed, offset] in the device's memory.

    The kernels read the offset there and advance it, so a replayed CUDA graph draws fresh numbers;
    without manual_seed the seed comes from the operating system's entropy."""
    dev = backend.device(device)
    state = _philox.get(dev)
    if state is None:
        seed = _seed if _seed is not None else int(np.random.SeedSequence().entropy % 2**64)
        with dev.activate():
            state = _philox[dev] = dev.asarray(np.array([seed % 2**64, 0], dtype=np.uint64))
    return state


def generator(device):
    """The device's random generator (numpy.random.Generator API on every device)."""
    dev = backend.device(device)
    key = (dev.type if dev.type != "emu" else "cpu", dev.index)
    if key not in _generators:
        with dev.activate():
            _generators[key] = dev.xp.random.default_rng(_seed)
    return _generators[key]


def get_rng_state():
    """Host-side snapshot of the generators (for exact resumption of training), JSON-ready:
    NumPy's cpu generator and each device's counter-based [seed, offset] (a host read)."""
    return {"numpy": generator("cpu").bit_generator.state,
            "philox": {str(dev): [int(v) for v in backend.to_numpy(state)] for dev, state in _philox.items()}}


def set_rng_state(state):
    generator("cpu").bit_generator.state = state["numpy"]
    _philox.clear()
    for name, values in state["philox"].items():
        dev = backend.device(name)
        with dev.activate():
            _philox[dev] = dev.asarray(np.array(values, dtype=np.uint64))


def _random(kind, shape, dtype, device, requires_grad):
    """On cpu NumPy's generator; on kernel devices the Philox kernels (`rng_uniform` / `rng_normal`)."""
    dev = backend.device(device)
    shape = checks.shape("randn" if kind == "normal" else "rand", shape)
    dtype = np.dtype(dtype or np.float32)
    with dev.activate():
        if dev.uses_kernels:
            arr = getattr(dev.kernels, f"rng_{kind}")(rng_state(dev), shape)
            arr = arr if arr.dtype == dtype else dev.kernels.cast(arr, dtype)
        else:
            g = generator(dev)
            arr = (g.standard_normal(shape) if kind == "normal" else g.random(shape)).astype(dtype, copy=False)
    return Tensor._wrap(arr, dev).requires_grad_(requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Samples from N(0, 1)."""
    return _random("normal", shape, dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Samples from U[0, 1)."""
    return _random("uniform", shape, dtype, device, requires_grad)
