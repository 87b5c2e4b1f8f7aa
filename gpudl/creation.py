"""Making tensors: from data, constants and random numbers.

dtype rules follow PyTorch: Python floats (and lists of them) become float32, Python ints
int64, bools bool; a NumPy/CuPy array keeps its dtype (float64 stays float64, integer
labels stay integer).
"""
import numpy as np

from . import backend
from .tensor import Tensor

_generators = {}  # (device type, index) -> generator, made on first use from _seed
_seed = None
_philox = {}      # Device -> its counter-based generator state (see rng_state)


def _default_dtype(data):
    """float32 for Python floats, int64 for ints, bool for bools (nested lists too)."""
    kind = np.asarray(data).dtype.kind
    return {"b": np.bool_, "i": np.int64, "u": np.int64}.get(kind, np.float32)


def to_array(data, dtype, device):
    """Raw array on `device` following the dtype rules above."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and not hasattr(data, "dtype"):
        dtype = _default_dtype(data)
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


def _filled(fill, shape, dtype, device, requires_grad):
    dev = backend.device(device)
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    with dev.activate():
        arr = dev.kernels.full(tuple(shape), fill, np.dtype(dtype or np.float32))
    return Tensor._wrap(arr, dev).requires_grad_(requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(fill_value, (shape,) if isinstance(shape, int) else tuple(shape), dtype, device, requires_grad)


def zeros_like(t, dtype=None):
    return _filled(0, t.shape, dtype or t.dtype, t.device, False)


def ones_like(t, dtype=None):
    return _filled(1, t.shape, dtype or t.dtype, t.device, False)


def arange(start, stop=None, step=1, dtype=None, device=None):
    dev = backend.device(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, stop, step)) else np.float32
    with dev.activate():
        return Tensor._wrap(dev.asarray(np.arange(start, stop, step, dtype=dtype)), dev)  # made on the host


def eye(n, m=None, dtype=None, device=None):
    dev = backend.device(device)
    with dev.activate():
        return Tensor._wrap(dev.asarray(np.eye(n, m, dtype=dtype or np.float32)), dev)  # made on the host


def manual_seed(seed):
    """Seed every generator: NumPy's / CuPy's (initialisation, shuffling) and the counter-based
    one behind dropout and rand / randn on kernel devices (the same streams on cpu, emu and cuda)."""
    global _seed
    _generators.clear()
    _philox.clear()
    _seed = int(seed)


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
    shape = tuple(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)
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
