"""Find kernels/*.cu, compile each family once per (device, options), and launch safely.

Sources are looked up in an installed wheel first (package data `gpudl/kernel_sources/*.cu`)
and then in a source checkout (`<repo>/kernels/*.cu`).  On 'cuda' a family is compiled by
NVRTC through `cupy.RawModule` (CuPy also caches the binary on disk in CUPY_CACHE_DIR); on
'emu' the same text goes to `gpudl.emu.load_module`.  Module objects are cached here, so
each family is compiled once per device and option set.

`launch` is what every wrapper calls: it checks that each index fits the kernels' `int`,
skips empty launches, and turns a launch failure into a RuntimeError naming the kernel,
the launch configuration and the shapes involved.
"""
from pathlib import Path

import numpy as np

import gpudl

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
        _modules[key] = compile_source(device, path.read_text(), str(path), options)
    return _modules[key]


def blocks(n, threads=THREADS):
    """Ceil-division grid size for n elements, capped (the kernels loop with a grid stride)."""
    return min(-(-n // threads), MAX_BLOCKS)


def ints(*values):
    """Kernel `int` arguments: a Python int would arrive as 64 bits."""
    return tuple(np.int32(v) for v in values)


def float32_inputs(device, kernel, **arrays):
    """The arrays, contiguous, after checking they live on `device` and are float32 (None passes)."""
    out = []
    for name, a in arrays.items():
        if a is None:
            out.append(None)
            continue
        if isinstance(a, np.ndarray) != (device.type == "emu"):
            raise RuntimeError(f"{kernel}: {name} is a {type(a).__module__}.{type(a).__name__} "
                               f"but the kernels run on '{device}'; move it there first")
        if a.dtype != np.float32:
            raise TypeError(f"{kernel}: kernels take float32 arrays, got {name} of dtype {a.dtype}")
        with device.activate():
            out.append(device.xp.ascontiguousarray(a))
    return out


def empty(device, shape, dtype=np.float32):
    with device.activate():
        return device.xp.empty(shape, dtype=dtype)


def launch(device, family, kernel, grid, block, args, shapes):
    """Run kernels/<family>.cu:<kernel> over grid x block; `shapes` describes the call for errors."""
    for a in args:
        if hasattr(a, "size") and a.size > _INT_MAX:
            raise ValueError(f"{kernel}: an array of {a.size} elements is too large for int indexing ({shapes})")
    if min(grid) == 0:
        return
    key = (device.type, device.index, family, kernel)
    fn = _functions.get(key)
    if fn is None:  # look each kernel up once: launches are on the hot path
        fn = _functions[key] = module(device, family).get_function(kernel)
    try:
        with device.activate():
            fn(tuple(grid), tuple(block), tuple(args))
    except Exception as e:
        raise RuntimeError(f"{kernel}: launch failed (grid {tuple(grid)}, block {tuple(block)}; {shapes}): "
                           f"{type(e).__name__}: {e}") from e
