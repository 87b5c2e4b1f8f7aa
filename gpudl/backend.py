"""Devices and the one `xp` dispatch point (NumPy or CuPy).

    'cpu'        NumPy arrays; convolution and pooling in vectorised NumPy.
    'cuda[:i]'   CuPy arrays on GPU i; kernels from kernels/*.cu via cupy.RawModule.
    'emu'        NumPy arrays; the same kernels/*.cu run on the CPU emulator (gpudl.emu).

Every op asks `tensor.device.xp` for its array module, so code above this file never
imports numpy-or-cupy itself.
"""
import contextlib
import os

import numpy as np

from . import cuda

_TYPES = ("cpu", "cuda", "emu")


class Device:
    """A place where arrays live and ops run. Build with `gd.device(spec)`."""

    def __init__(self, type, index=0):
        self.type, self.index = type, index

    @property
    def xp(self):
        """The array module: numpy for cpu/emu, cupy for cuda."""
        return cuda.cupy_module() if self.type == "cuda" else np

    @property
    def uses_kernels(self):
        """True when conv / pool / fused activation launch kernels/*.cu (cuda and emu)."""
        return self.type in ("cuda", "emu")

    def activate(self):
        """Context manager that makes this device current (a no-op off CUDA)."""
        if self.type == "cuda":
            return self.xp.cuda.Device(self.index)
        return contextlib.nullcontext()

    def asarray(self, data, dtype=None):
        """Place `data` (NumPy, CuPy, list, scalar) on this device as an array."""
        if self.type == "cuda":
            with self.activate():
                return self.xp.asarray(data, dtype=dtype)
        if hasattr(data, "get") and type(data).__module__.startswith("cupy"):
            data = data.get()
        return np.asarray(data, dtype=dtype)

    def synchronize(self):
        if self.type == "cuda":
            with self.activate():
                self.xp.cuda.Device(self.index).synchronize()

    def __eq__(self, other):
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return f"cuda:{self.index}" if self.type == "cuda" else self.type

    def __repr__(self):
        return f"device('{self}')"


def device(spec=None):
    """Parse 'cpu' | 'emu' | 'cuda' | 'cuda:N' (or pass a Device through); None -> default.

    Asking for cuda when it is unusable raises RuntimeError with the precise reason.
    """
    if spec is None:
        return get_default_device()
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type(spec).__name__}")
    name, _, idx = spec.strip().lower().partition(":")
    if name not in _TYPES or (idx and (name != "cuda" or not idx.isdigit())):
        raise ValueError(f"device: unknown device '{spec}'; expected one of cpu, emu, cuda, cuda:N")
    index = int(idx) if idx else 0
    if name == "cuda":
        cuda.cupy_module()  # raises RuntimeError with the reason
        if index >= cuda.device_count():
            raise RuntimeError(f"device: cuda:{index} requested but only {cuda.device_count()} GPU(s) present")
    return Device(name, index)


_default = None


def get_default_device():
    """`GPUDL_DEVICE` if set, else cuda when usable, else cpu."""
    global _default
    if _default is None:
        env = os.environ.get("GPUDL_DEVICE", "").strip()
        _default = device(env) if env and env != "auto" else Device("cuda" if cuda.is_available() else "cpu")
    return _default


def set_default_device(spec):
    global _default
    _default = device(spec)
    return _default


def device_of(array):
    """The Device holding a raw array (NumPy arrays are reported as cpu)."""
    if type(array).__module__.startswith("cupy"):
        return Device("cuda", array.device.id)
    return Device("cpu")


def to_numpy(array):
    """Host NumPy copy of a raw array from any device."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)
