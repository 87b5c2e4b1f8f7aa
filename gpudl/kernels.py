"""gd.kernels: write your own CUDA kernel, run it on `cuda` or `emu`, and see (on emu) how it
uses GPU memory. The tutorial is docs/kernels.md.

    mod = gd.kernels.load("saxpy.cu", device="emu")   # a .cu file, or CUDA source text
    y = mod.empty(n)                                  # raw float32 array in the device's memory
    mod.saxpy((n + 255) // 256, 256, 2.0, x, y, n)     # grid, block, *args (shared_mem=0)
    with gd.kernels.profile() as prof:                # emu: every memory access counted
        mod.saxpy(...)
    print(prof.report(gpu="H100"))

Loading: `path_or_source` is a path (str or os.PathLike) of a .cu file, whose local
`#include "x.cuh"` headers are pasted in, or the source text itself (`name` is then its file
name in messages). On cuda NVRTC compiles it (CuPy RawModule), on emu the host C++ compiler
(gpudl.emu); a compile error shows the compiler's log naming the file and line. Each source
is compiled once per device and options. cpu runs no kernels: loading for it raises.

Launching: `fn(grid, block, *args, shared_mem=0)`, grid and block an int or a tuple of up to 3.
The parameters are read from the `extern "C" __global__` declaration, and each argument is
checked against its parameter, naming the kernel and the parameter when it does not fit:
    T* p      a Tensor or raw array (NumPy on emu, CuPy on cuda) on the module's device, of T's
              dtype (any dtype for void*), C-contiguous; read-only arrays only for `const T*`
    T p       a Python int / float / bool, converted to exactly T (an `int` gets 32 bits, a
              `float` 32: never Python's 64); an int out of T's range, or a float for an
              integer T, is refused; a NumPy scalar must already have T's dtype
Launches go through gpudl's launch path (gpudl/gpu/loader.py `run`): gd.capture records them
and gd.profiler times them like gpudl's own.

A differentiable op from a pair of kernels is a gd.Function whose forward and backward launch
them on `ctx.device` (docs/kernels.md, "Your kernel as a Function"); gd.gradcheck runs through
it on emu when the kernels take float64.
"""
import math
import os
import shutil
from pathlib import Path

import numpy as np

from . import backend
from .emu import build, load_module
from .emu.errors import KernelNotFoundError
from .emu.memprof import MemoryProfile, profile
from .emu.module import launch_config, preprocessor_flags
from .emu.params import signature
from .emu.source import body, find_kernels
from .tensor import Tensor

__all__ = ["Kernel", "MemoryProfile", "Module", "load", "profile"]

_modules = {}  # (device, source text, file name, options) -> Module


def _source(path_or_source, name):
    """(text, file name): a file's text with its local headers pasted in, or the text given."""
    from .gpu.loader import source_text  # (gpudl.gpu imports every wrapper: only when loading)
    if isinstance(path_or_source, os.PathLike) or (
            isinstance(path_or_source, str) and "\n" not in path_or_source
            and (path_or_source.endswith((".cu", ".cuh")) or os.path.isfile(path_or_source))):
        path = Path(path_or_source)
        if not path.is_file():
            raise FileNotFoundError(f"gd.kernels.load: no CUDA source file {str(path)!r}")
        return source_text(path), name or str(path)
    if not isinstance(path_or_source, str):
        raise TypeError(f"gd.kernels.load: path_or_source must be a path or CUDA source text, "
                        f"got {type(path_or_source).__name__}")
    return path_or_source, name or "source.cu"


def _kernel_device(device):
    dev = backend.device(device)
    if not dev.uses_kernels:
        raise RuntimeError(f"gd.kernels.load: CUDA kernels run on 'cuda' or 'emu', not on '{dev}' "
                           "(device='emu' runs them on the CPU emulator)")
    return dev


def load(path_or_source, device=None, options=(), name=None):
    """Compile CUDA source for a kernel device (None: the default device) and return its Module.

    options: NVRTC options (on emu -D / -U / -I pass and code generation options are ignored);
    name: the file name that compiler messages show for source text."""
    dev = _kernel_device(device)
    options = tuple(options)
    if not all(isinstance(o, str) for o in options):
        raise TypeError(f"gd.kernels.load: options must be strings, got {options!r}")
    text, filename = _source(path_or_source, name)
    key = (dev, text, filename, options)
    if key not in _modules:
        _modules[key] = Module(dev, text, filename, options)
    return _modules[key]


def _cuda_signatures(text, filename, options):
    """{kernel: params} of the source, read as the emu reads them: after the C preprocessor when a
    host compiler is at hand (macros, #if), else from the text as written."""
    source = body(text, filename)
    if shutil.which(build.compiler()[0]):
        try:
            source = build.preprocess(source, filename, preprocessor_flags(options))
        except Exception:  # e.g. a CUDA-only #include: NVRTC has the final word on the source
            pass
    return {k: info.params for k, info in find_kernels(source).items()}


class Module:
    """A compiled CUDA source on one device: `get_function(name)` or `module.<name>` gives a Kernel."""

    def __init__(self, device, text, filename, options):
        from .gpu.loader import compile_source
        self.device, self.filename = device, filename
        if device.type == "emu":
            self._compiled = load_module(text, filename, options)
            self._params = {k: self._compiled.get_function(k).params for k in self._compiled.kernel_names}
        else:  # #line: NVRTC's messages name the user's file
            quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
            self._compiled = compile_source(device, f'#line 1 "{quoted}"\n{text}', filename, options)
            self._params = _cuda_signatures(text, filename, options)
        self._kernels = {}

    @property
    def kernel_names(self):
        """The extern "C" __global__ functions of the source."""
        return tuple(self._params)

    def get_function(self, name):
        if name not in self._params:
            raise KernelNotFoundError(f"{self.filename} has no extern \"C\" __global__ function {name!r}; "
                                      f"it has: {', '.join(self._params) or 'none'}")
        if name not in self._kernels:
            self._kernels[name] = Kernel(self, name, self._params[name], self._compiled.get_function(name))
        return self._kernels[name]

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.get_function(name)
        except KernelNotFoundError as e:
            raise AttributeError(str(e)) from None

    def __dir__(self):
        return [*super().__dir__(), *self._params]

    def empty(self, shape, dtype=np.float32):
        """An uninitialised raw array in the device's memory (kept alive by gd.capture's graph)."""
        from .gpu.loader import empty
        with self.device.activate():
            return empty(self.device, shape, dtype)

    def __repr__(self):
        return f"<gd.kernels module {self.filename} on {self.device}: {', '.join(self._params)}>"


def _describe(value):
    if isinstance(value, Tensor):
        return f"a {value.dtype} Tensor of shape {value.shape} on {value.device}"
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, np.generic):
        return f"a {type(value).__module__.split('.')[0]} {value.dtype} array of shape {tuple(value.shape)}"
    if isinstance(value, np.generic):
        return f"np.{value.dtype.name}({value})"
    return f"a Python {type(value).__name__} ({value!r})"


class Kernel:
    """One extern "C" __global__ function of a Module: `kernel(grid, block, *args, shared_mem=0)`."""

    def __init__(self, module, name, params, function):
        self.module, self.name, self.params, self._function = module, name, params, function

    @property
    def signature(self):
        return signature(self.name, self.params)

    def __repr__(self):
        return f"<gd.kernels kernel {self.signature} on {self.module.device}>"

    def __call__(self, grid, block, *args, shared_mem=0):
        from .gpu.loader import run
        grid, block, shared_mem = launch_config(self.name, grid, block, shared_mem)
        if len(args) != len(self.params):
            raise TypeError(f"kernel '{self.name}' takes {len(self.params)} arguments, got {len(args)}: "
                            f"{self.signature}")
        values = tuple((self._array if p.pointer else self._scalar)(p, a) for p, a in zip(self.params, args))
        shapes = ", ".join(f"{p.name}: {_describe(a)}" for p, a in zip(self.params, args))
        dev = self.module.device
        with dev.activate():
            run(dev, self.name, self._function, grid, block, values, shapes, shared_mem)

    def _where(self, p):
        return f"kernel '{self.name}' parameter '{p.name}' ({p.ctype})"

    def _array(self, p, value):
        """The raw array for pointer parameter p, after checking device, dtype, layout and constness."""
        dev, where = self.module.device, self._where(p)
        if p.pointer > 1:
            raise TypeError(f"{where}: pointers to pointers cannot be passed")
        if isinstance(value, Tensor) and value.device != dev:
            raise RuntimeError(f"{where}: the Tensor is on {value.device} but the kernel runs on {dev}; "
                               f"move it with .to('{dev}')")
        array = value.data if isinstance(value, Tensor) else value
        array_type = np.ndarray if dev.type == "emu" else dev.xp.ndarray
        if not isinstance(array, array_type):
            raise TypeError(f"{where} needs a Tensor or a {array_type.__module__.split('.')[0]} array on {dev}, "
                            f"got {_describe(value)}")
        if dev.type == "cuda" and array.device.id != dev.index:
            raise RuntimeError(f"{where}: the array is on cuda:{array.device.id} but the kernel runs on {dev}")
        if p.dtype is not None and array.dtype != p.dtype:
            raise TypeError(f"{where} needs {p.dtype} data, got {_describe(value)}")
        if not array.flags.c_contiguous:
            raise TypeError(f"{where}: the array is not C-contiguous (x.clone() of a Tensor, or "
                            "np.ascontiguousarray, makes a contiguous copy)")
        if not p.const and dev.type == "emu" and not array.flags.writeable:
            raise TypeError(f"{where}: the array is read-only but the kernel may write through it")
        return array

    def _scalar(self, p, value):
        """`value` as a NumPy scalar of exactly p's type (a Python number converted, range-checked)."""
        where = self._where(p)
        if p.dtype is None:
            raise TypeError(f"{where}: parameters of this type cannot be passed by value")
        if isinstance(value, np.generic):
            if value.dtype != p.dtype:
                raise TypeError(f"{where} needs a Python number or np.{p.dtype.name}, got {_describe(value)}")
            return value
        if not isinstance(value, (int, float)):
            raise TypeError(f"{where} is passed by value: it needs a Python number, got {_describe(value)}")
        kind = p.dtype.kind
        if isinstance(value, float) and kind != "f":
            raise TypeError(f"{where} needs an integer, got {_describe(value)}")
        if kind in "iu" and not np.iinfo(p.dtype).min <= value <= np.iinfo(p.dtype).max:
            raise ValueError(f"{where}: {value} does not fit a {8 * p.dtype.itemsize}-bit "
                             f"{'unsigned ' if kind == 'u' else ''}integer")
        if kind == "b" and value not in (0, 1):
            raise ValueError(f"{where} takes True / False (or 1 / 0), got {value!r}")
        return _float(where, p.dtype, value) if kind == "f" else p.dtype.type(value)


def _float(where, dtype, value):
    """A Python int or float as a `dtype` scalar; ValueError when a finite value overflows it."""
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64
        number = math.inf
    with np.errstate(over="ignore"):
        converted = dtype.type(number)
    if np.isinf(converted) and not (isinstance(value, float) and math.isinf(value)):
        raise ValueError(f"{where}: {value} overflows {dtype}")
    return converted
