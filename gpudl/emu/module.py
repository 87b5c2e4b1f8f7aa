"""load_module / Module / Kernel: the CuPy RawModule-shaped face of the emulator.

    mod = load_module(source, name="pool.cu")
    mod.get_function("max_pool_forward")(grid, block, (x, y, np.int32(n)), shared_mem=0)
"""
import ctypes
import threading

from . import asan, build, guard, memprof
from .errors import EmuError, KernelNotFoundError
from .order import current_order
from .params import pack, signature
from .source import body, find_kernels, read_signatures, translation_unit

_MAX_BLOCK = (1024, 1024, 64)
_MAX_GRID = (2**31 - 1, 65535, 65535)
_MAX_SHARED = 48 * 1024  # CUDA's default limit for dynamic shared memory per block
_LAUNCH_ARGS = [ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_void_p),
                ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
_loaded = {}
_loaded_lock = threading.Lock()

# NVRTC options that change nothing on the CPU (code generation, architecture, fast math).
_IGNORED_OPTIONS = ("--use_fast_math", "-use_fast_math", "-std", "--std", "-arch", "--gpu-architecture",
                    "-lineinfo", "--generate-line-info", "-G", "--device-debug", "-ftz", "--ftz",
                    "-prec-div", "--prec-div", "-prec-sqrt", "--prec-sqrt", "-fmad", "--fmad",
                    "-maxrregcount", "--maxrregcount", "-restrict", "--restrict", "-default-device",
                    "--default-device", "-dopt", "--dopt", "-extra-device-vectorization",
                    "--extra-device-vectorization", "-Xptxas", "--ptxas-options")
_PASSED_OPTIONS = {"--define-macro=": "-D", "--undefine-macro=": "-U", "--include-path=": "-I",
                   "-D": "-D", "-U": "-U", "-I": "-I"}


def _passed(option):
    """The host compiler flag for an NVRTC -D / -U / -I option, else None."""
    prefix = next((p for p in _PASSED_OPTIONS if option.startswith(p) and len(option) > len(p)), None)
    return _PASSED_OPTIONS[prefix] + option[len(prefix):] if prefix else None


def _compiler_options(options):
    """NVRTC-style options -> host compiler flags: macros and include paths pass, code
    generation options are ignored, anything else is a ValueError."""
    out = []
    for opt in options:
        flag = _passed(opt)
        if flag:
            out.append(flag)
        elif not any(opt == o or opt.startswith(o + "=") for o in _IGNORED_OPTIONS):
            raise ValueError(f"load_module: option {opt!r} is not supported by the emu device "
                             "(it takes -D/-U/-I and ignores NVRTC code generation options)")
    return tuple(out)


def preprocessor_flags(options):
    """The -D / -U / -I flags among NVRTC options (the others dropped)."""
    return tuple(flag for flag in map(_passed, options) if flag)


def _dims(value, what, kernel, limits):
    """(x, y, z) from an int or a tuple of 1-3 ints, checked against CUDA's limits."""
    items = (value,) if not isinstance(value, (tuple, list)) else tuple(value)
    if not 1 <= len(items) <= 3 or not all(hasattr(v, "__index__") for v in items):
        raise TypeError(f"kernel '{kernel}': {what} must be an int or a tuple of 1 to 3 ints, got {value!r}")
    dims = tuple(int(v) for v in items) + (1,) * (3 - len(items))
    if any(d < 1 or d > m for d, m in zip(dims, limits)):
        raise ValueError(f"kernel '{kernel}': {what} {dims} is out of range (each >= 1, at most {limits})")
    return dims


def launch_config(kernel, grid, block, shared_mem):
    """(grid, block) as (x, y, z) and shared_mem as an int, checked against CUDA's limits:
    grid x < 2^31 and y, z < 65536; at most 1024 threads a block (z at most 64); at most
    48 KiB of dynamic shared memory. TypeError / ValueError naming the kernel otherwise."""
    g = _dims(grid, "grid", kernel, _MAX_GRID)
    b = _dims(block, "block", kernel, _MAX_BLOCK)
    if b[0] * b[1] * b[2] > 1024:
        raise ValueError(f"kernel '{kernel}': block {b} has {b[0] * b[1] * b[2]} threads, at most 1024")
    if isinstance(shared_mem, bool) or not hasattr(shared_mem, "__index__") or not 0 <= int(shared_mem) <= _MAX_SHARED:
        raise ValueError(f"kernel '{kernel}': shared_mem must be an int in [0, {_MAX_SHARED}] bytes "
                         f"(CUDA's default limit), got {shared_mem!r}")
    return g, b, int(shared_mem)


class Kernel:
    """One extern "C" __global__ function: call it as kernel(grid, block, args, shared_mem=0).

    Inside `gpudl.kernels.profile()` the launch runs on the module's profiling build instead
    (gpudl/emu/memprof.py), which records every memory access."""

    def __init__(self, module, info, launcher):
        self.name, self.params = info.name, info.params
        self.module, self._launcher = module, launcher

    def __repr__(self):
        return f"<emu kernel {signature(self.name, self.params)}>"

    def __call__(self, grid, block, args, shared_mem=0):
        g, b, shared = launch_config(self.name, grid, block, shared_mem)
        argv, keep_alive = pack(self.name, self.params, args)
        if memprof.active() is None:
            self._run(g, b, argv, shared)
        else:
            memprof.record(self, g, b, args, lambda twin: twin._run(g, b, argv, shared))
        del keep_alive
        guard.check(self.name, self.params, args)

    def _run(self, grid, block, argv, shared_mem):
        err = ctypes.create_string_buffer(2048)
        order = 1 if current_order() == "reverse" else 0
        with self.module._lock:
            failed = self._launcher((ctypes.c_uint * 3)(*grid), (ctypes.c_uint * 3)(*block), argv, shared_mem,
                                    order, err, len(err))
        if failed:
            raise EmuError(err.value.decode(errors="replace"))

    def profiling_twin(self):
        """This kernel in the module's profiling build (compiled on first use)."""
        return self.module.profiling_build().get_function(self.name)


class Module:
    """A compiled .cu file; get_function(name) returns its kernels."""

    def __init__(self, path, filename, source, profile=False):
        self.path, self.filename = path, filename
        self.library = ctypes.CDLL(str(path))
        self.library.gpudl_emu_signatures.restype = ctypes.c_char_p
        self._kernels = read_signatures(self.library.gpudl_emu_signatures().decode())
        self._lock = threading.RLock()  # the runtime's (and profiler's) state is per library
        self._functions = {}
        self._source, self._profiling = source, None  # (kernel body, compiler flags); the profiling build
        if profile:
            memprof.bind(self.library, path)

    @property
    def kernel_names(self):
        return tuple(self._kernels)

    def get_function(self, name):
        if name not in self._kernels:
            raise KernelNotFoundError(f"{self.filename} has no extern \"C\" __global__ function {name!r}; "
                                      f"it has: {', '.join(self._kernels) or 'none'}")
        if name not in self._functions:
            launcher = getattr(self.library, f"gpudl_emu_launch_{name}")
            launcher.argtypes, launcher.restype = _LAUNCH_ARGS, ctypes.c_int
            self._functions[name] = Kernel(self, self._kernels[name], launcher)
        return self._functions[name]

    def profiling_build(self):
        """The same source built for the memory profiler (gpudl/emu/build.py; cached apart)."""
        if self._profiling is None:
            self._profiling = _load(*self._source, self.filename, profile=True)
        return self._profiling


def _load(kernel_body, extra, filename, profile=False):
    """The Module of this kernel body and flags, compiled unless cached on disk or in memory."""
    with _loaded_lock:
        path = build.library_path(kernel_body, filename, extra, profile)
        if path not in _loaded:
            if not path.exists():
                kernels = find_kernels(build.preprocess(kernel_body, filename, extra))
                build.compile_library(path, translation_unit(kernel_body, kernels), filename, extra, profile)
            _loaded[path] = Module(path, filename, (kernel_body, extra), profile)
        return _loaded[path]


def load_module(source_code, name="module", options=()):
    """Compile CUDA source for the CPU (once; cached on disk and in memory) and load it.

    `name` is the file name used in compiler errors and ASan reports ('.cu' is appended if
    missing); `options` take NVRTC's -D/-U/-I forms.
    """
    if not isinstance(source_code, str):
        raise TypeError(f"load_module: source_code must be a str, got {type(source_code).__name__}")
    filename = name if name.endswith(".cu") else f"{name}.cu"
    extra = _compiler_options(tuple(options))
    if asan.enabled():
        asan.check_preloaded(build.compiler()[0])
    return _load(body(source_code, filename), extra, filename)
