"""Devices and the one `xp` dispatch point (NumPy or CuPy).

    'cpu'        NumPy arrays; convolution and pooling in vectorised NumPy.
    'cuda[:i]'   CuPy arrays on GPU i; kernels from kernels/*.cu via cupy.RawModule.
    'emu'        NumPy arrays; the same kernels/*.cu run on the CPU emulator (gpudl.emu).

Every device carries its implementation table, `device.kernels` (needle's design): the
NumPy functions of `gpudl.cpu` on cpu, the kernel launch wrappers of `gpudl.gpu` on cuda and
emu, under the same flat names (`device.kernels.add(a, b)`, `device.kernels.matmul(a, b)`,
...), with the device bound in.  Functions compute only through that table; `device.xp`
remains for allocation, views and host transfers.
"""
import contextlib
import functools
import importlib
import os

import numpy as np

from . import cuda, profiler
from .capture import forbid

_TYPES = ("cpu", "cuda", "emu")


class Device:
    """A place where arrays live and ops run. Build with `gd.device(spec)`."""

    def __init__(self, type, index=0):
        self.type, self.index = type, index
        self._kernels = self._context = None

    @property
    def kernels(self):
        """This device's implementation table: gpudl.cpu on cpu, gpudl.gpu on cuda and emu."""
        if self._kernels is None:
            table = importlib.import_module("gpudl.gpu" if self.uses_kernels else "gpudl.cpu")
            self._kernels = KernelTable(self, table)
        return self._kernels

    @property
    def xp(self):
        """The array module: numpy for cpu/emu, cupy for cuda."""
        return cuda.cupy_module() if self.type == "cuda" else np

    @property
    def uses_kernels(self):
        """True when conv / pool / fused activation launch kernels/*.cu (cuda and emu)."""
        return self.type in ("cuda", "emu")

    def activate(self):
        """Context manager that makes this device current (a no-op off CUDA and on a one-GPU machine)."""
        if self._context is None:
            one_gpu = self.type != "cuda" or cuda.device_count() == 1
            self._context = contextlib.nullcontext() if one_gpu else self.xp.cuda.Device(self.index)
        return self._context

    def asarray(self, data, dtype=None):
        """Place `data` (NumPy, CuPy, list, scalar) on this device as an array."""
        if self.uses_kernels:
            forbid(f"a host-to-device copy of {type(data).__name__} data to {self}",
                   "a replay would copy the value of the capture again; make the tensor before the step, "
                   "or pass it as an input of the step")
        from_cupy = type(data).__module__.startswith("cupy")
        if self.type == "cuda":
            with self.activate():
                out = self.xp.asarray(data, dtype=dtype)
        else:
            out = np.asarray(data.get() if from_cupy else data, dtype=dtype)
            if self.type == "emu":  # emu device memory: a copy with guard bytes (gpudl.emu.guard)
                out, host = self.empty(out.shape, out.dtype), out
                out[...] = host
        if self.uses_kernels and not (from_cupy and self.type == "cuda"):
            profiler.upload(f"{type(data).__name__} to {self}", out.nbytes)  # (emu counts every asarray)
        return out

    def empty(self, shape, dtype=np.float32):
        """An uninitialised array in this device's memory (on emu with guard bytes around it)."""
        if self.type == "emu":
            from .emu import guard
            return guard.empty(shape, dtype)
        if self.type == "cuda":
            with self.activate():
                return self.xp.empty(shape, dtype=dtype)
        return np.empty(shape, dtype=dtype)

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


class KernelTable:
    """`device.kernels`: the table's functions with the device bound as their first argument."""

    def __init__(self, device, module):
        self._device, self._module = device, module

    def __getattr__(self, name):
        if name not in self._module.__all__:
            raise AttributeError(f"device '{self._device}' has no kernel function {name!r}")
        bound = functools.partial(getattr(self._module, name), self._device)
        setattr(self, name, bound)  # later lookups find it directly
        return bound

    def __dir__(self):
        return list(self._module.__all__)


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
    return _interned(name, index)


_devices = {}


def _interned(type, index=0):
    """One Device object per (type, index), so its kernel table is built once."""
    dev = _devices.get((type, index))
    if dev is None:
        dev = _devices[(type, index)] = Device(type, index)
    return dev


_default = None


def get_default_device():
    """`GPUDL_DEVICE` if set, else cuda when usable, else cpu."""
    global _default
    if _default is None:
        env = os.environ.get("GPUDL_DEVICE", "").strip()
        _default = device(env) if env and env != "auto" else _interned("cuda" if cuda.is_available() else "cpu")
    return _default


def set_default_device(spec):
    global _default
    _default = device(spec)
    return _default


def device_of(array):
    """The Device holding a raw array (NumPy arrays are reported as cpu)."""
    if type(array).__module__.startswith("cupy"):
        return _interned("cuda", array.device.id)
    return _interned("cpu")


def to_numpy(array):
    """Host NumPy copy of a raw array from any device."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)
