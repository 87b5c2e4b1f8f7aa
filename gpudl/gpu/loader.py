"""Find kernels/*.cu, compile each family once per (device, options), and launch safely.

Sources are looked up in an installed wheel first (package data `gpudl/kernel_sources/*.cu`)
and then in a source checkout (`<repo>/kernels/*.cu`).  On 'cuda' a family is compiled by
NVRTC through `cupy.RawModule` (CuPy also caches the binary on disk in CUPY_CACHE_DIR); on
'emu' the same text goes to `gpudl.emu.load_module`.  Module objects are cached here, so
each family is compiled once per device and option set.

`launch` is what every wrapper calls: it checks that each index fits the kernels' `int`,
skips empty launches, records the launch when `gd.profiler` is on (and for `gd.capture`), and
turns a launch failure into an error naming the kernel, the launch configuration and the shapes involved
(EmuError stays EmuError).  Kernels that exist for several dtypes are instantiated once
per dtype as `<name>_f32`, `<name>_f64`, `<name>_i64`, ... (`suffix`).
"""
import re
from pathlib import Path

import numpy as np

import gpudl
from gpudl import profiler
from gpudl.capture import keep, note_launch
from gpudl.emu.errors import EmuError
from gpudl.emu.params import Strided

THREADS = 256          # block size of the 1-D (grid-stride) kernels
MAX_BLOCKS = 65535     # grid-stride loops cover the rest
NVRTC_OPTIONS = ("-std=c++14",)
_INT_MAX = 2 ** 31 - 1

_modules = {}
_functions = {}


def source_dirs():
    """Where kernel sources may live, in lookup order."""
    package = Path(gpudl.__file__).resolve().parent
    return [package / "kernel_sources", package.parent / "kernels"]


def source_path(family):
    """Path of `<family>.cu`; RuntimeError listing the places searched when it is missing."""
    for folder in source_dirs():
        path = folder / f"{family}.cu"
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in source_dirs())
    raise RuntimeError(f"kernel source {family}.cu not found (searched {searched})")


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([\w.]+)"[ \t]*$', re.M)


def source_text(path):
    """The text of a kernel file with its local `#include "x.cuh"` headers pasted in (from the same
    folder, each once, with #line marks), so NVRTC, the emu compiler and the emu's cache-by-hash
    all see one self-contained source."""
    path = Path(path)
    seen = set()

    def expand(file):
        text = file.read_text()

        def paste(m):
            header = file.parent / m.group(1)
            if header in seen:
                return ""
            seen.add(header)
            line = text.count("\n", 0, m.end()) + 2
            return f'#line 1 "{header.name}"\n{expand(header)}\n#line {line} "{file.name}"'
        return _INCLUDE.sub(paste, text)
    return expand(path)


def compile_source(device, code, name, options=()):
    """Compile CUDA source text for `device`: NVRTC on cuda (RuntimeError with the log on
    failure), the host C++ compiler on emu."""
    if device.type == "emu":
        from gpudl.emu import load_module
        return load_module(code, name, options=tuple(options))
    if device.type != "cuda":
        raise RuntimeError(f"{name}: kernels run on 'cuda' or 'emu' devices, not '{device}'")
    cupy = device.xp
    with device.activate():
        module = cupy.RawModule(code=code, options=NVRTC_OPTIONS + tuple(options))
        try:
            module.compile()
        except cupy.cuda.compiler.CompileException as e:
            raise RuntimeError(f"NVRTC failed to compile {name}:\n{e}") from e
    return module


def module(device, family, options=()):
    """The compiled module of kernels/<family>.cu for `device` (compiled on first use)."""
    key = (device.type, device.index, family, tuple(options))
    if key not in _modules:
        path = source_path(family)
        _modules[key] = compile_source(device, source_text(path), str(path), options)
    return _modules[key]


def blocks(n, threads=THREADS):
    """Ceil-division grid size for n elements, capped (the kernels loop with a grid stride)."""
    return min(-(-n // threads), MAX_BLOCKS)


class OutOfRange:
    """An `ints` value beyond int32: `launch` refuses it naming the kernel (NumPy would raise OverflowError)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def ints(*values):
    """Kernel `int` arguments: a Python int would arrive as 64 bits."""
    return tuple(np.int32(v) if -_INT_MAX - 1 <= v <= _INT_MAX else OutOfRange(int(v)) for v in values)


# dtype -> the suffix of a kernel's instantiation for it (kernels/*.cu: name_f32, name_f64, ...)
SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int32): "i32",
          np.dtype(np.int64): "i64", np.dtype(np.bool_): "b8"}


def suffix(kernel, dtype, allowed):
    """`kernel_<suffix>` for dtype, or TypeError naming the kernel when dtype is not in `allowed`."""
    dtype = np.dtype(dtype)
    if dtype not in allowed:
        names = ", ".join(str(np.dtype(d)) for d in allowed)
        raise TypeError(f"{kernel}: kernels take {names} arrays, got dtype {dtype}")
    return f"{kernel}_{SUFFIX[dtype]}"


def check_device(device, kernel, name, a):
    """RuntimeError unless the raw array `a` lives where `device`'s kernels run."""
    if isinstance(a, np.ndarray) != (device.type == "emu"):
        raise RuntimeError(f"{kernel}: {name} is a {type(a).__module__}.{type(a).__name__} "
                           f"but the kernels run on '{device}'; move it there first")


def float32_inputs(device, kernel, **arrays):
    """The arrays, contiguous, after checking they live on `device` and are float32 (None passes)."""
    out = []
    for name, a in arrays.items():
        if a is None:
            out.append(None)
            continue
        check_device(device, kernel, name, a)
        if a.dtype != np.float32:
            raise TypeError(f"{kernel}: kernels take float32 arrays, got {name} of dtype {a.dtype}")
        out.append(a if a.flags.c_contiguous else device.kernels.copy(a))
    return out


def empty(device, shape, dtype=np.float32):
    """An uninitialised array on `device` (the caller has made the device current)."""
    return keep(device.empty(shape, dtype))  # a captured graph's memory


def _function(device, family, kernel):
    key = (device.type, device.index, family, kernel)
    fn = _functions.get(key)
    if fn is None:  # look each kernel up once: launches are on the hot path
        fn = _functions[key] = module(device, family).get_function(kernel)
    return fn


def launch(device, family, kernel, grid, block, args, shapes, shared_mem=0):
    """Run kernels/<family>.cu:<kernel> over grid x block; `shapes` describes the call for errors.

    Arguments wrapped in `Strided` pass a non-contiguous view (the kernel walks its strides)."""
    for a in args:
        if isinstance(a, OutOfRange):
            raise ValueError(f"{kernel}: a size or index of {a.value} does not fit the kernels' 32-bit int ({shapes})")
        if hasattr(a, "size") and a.size > _INT_MAX:
            raise ValueError(f"{kernel}: an array of {a.size} elements is too large for int indexing ({shapes})")
    if min(grid) == 0:
        return
    run(device, kernel, _function(device, family, kernel), grid, block, args, shapes, shared_mem)


def run(device, kernel, fn, grid, block, args, shapes, shared_mem=0):
    """Launch the compiled function `fn` (gpudl's, or a user's from `gpudl.kernels`): recorded for
    gd.capture and gd.profiler, failures named as in `launch`."""
    if device.type == "cuda":
        args = tuple(a.array if isinstance(a, Strided) else a for a in args)
    note_launch(kernel, fn, grid, block, args, shared_mem)
    try:
        if profiler.recording():
            profiler.launch(device, kernel, grid, block, lambda: fn(grid, block, args, shared_mem=shared_mem))
        else:
            fn(grid, block, args, shared_mem=shared_mem)
    except EmuError as e:
        raise EmuError(f"{kernel}: launch failed (grid {tuple(grid)}, block {tuple(block)}; {shapes}): {e}") from e
    except Exception as e:
        raise RuntimeError(f"{kernel}: launch failed (grid {tuple(grid)}, block {tuple(block)}; {shapes}): "
                           f"{type(e).__name__}: {e}") from e
