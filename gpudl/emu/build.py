"""Compiling a translation unit into a shared library, cached on disk by content hash.

The key hashes the unit's text, the shim and runtime sources, the compiler command and the
flags, so any change rebuilds. Libraries live in $GPUDL_CACHE_DIR/emu, else
$XDG_CACHE_HOME/gpudl/emu, else ~/.cache/gpudl/emu; each is written to a temporary file
and renamed into place, so concurrent processes never see half a library. The runtime is
compiled once into its own object file and linked into every module.

A profiling build (for `gpudl.kernels.profile`, gpudl/emu/memprof.py) is cached apart: its
kernel unit is compiled with ThreadSanitizer's instrumentation (-fsanitize=thread: a call
before every memory access) and -g, then linked with memprof.cpp, whose hooks record the
accesses, instead of the ThreadSanitizer runtime.
"""
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import asan
from .errors import EmuError

EMU_DIR = Path(__file__).resolve().parent
_RUNTIME_SOURCES = ("runtime_api.h", "fiber.h", "shim.h", "runtime.cpp")
# -fstack-clash-protection probes every page of a big stack frame, so that a kernel with
# huge local arrays hits its fiber stack's guard region instead of a neighbour's stack.
_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-ffp-contract=off", "-fno-strict-aliasing", "-fvisibility=hidden",
          "-fstack-clash-protection")
# Inline and template functions' statics outside COMDAT groups, so that the __shared__
# section never mixes grouped and ungrouped variables (one translation unit: nothing lost).
_KERNEL_FLAGS = ("-fno-weak",)
# Without SRA and vectorisation each source-level access stays one access of its own width
# (a float4 load one 16-byte read, a scalar loop no 16-byte SSE loads), as on the GPU.
# DWARF 4: binutils' addr2line names the #line file of every function in it (DWARF 5 not always).
PROFILE_FLAGS = ("-fsanitize=thread", "-g", "-gdwarf-4", "-fno-tree-sra", "-fno-tree-vectorize",
                 "-fno-tree-slp-vectorize")
_PROFILE_SOURCES = ("runtime_api.h", "memprof.cpp")
_INSTALL_HINT = ("the emu device needs a C++ compiler (g++ or clang++) and found none at {cxx!r} "
                 "($CXX, default g++). Install one (Debian/Ubuntu: sudo apt-get install g++; "
                 "Fedora: sudo dnf install gcc-c++; macOS: xcode-select --install) or set CXX.")


def compiler():
    """The compiler command: $CXX split like a shell would, else ['g++']."""
    return shlex.split(os.environ.get("CXX", "").strip() or "g++")


def cache_dir():
    if os.environ.get("GPUDL_CACHE_DIR"):
        return Path(os.environ["GPUDL_CACHE_DIR"]) / "emu"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gpudl" / "emu"


def flags(extra=(), profile=False):
    """Compiler flags for the current mode: ASan adds instrumentation (not to profiling builds),
    GPUDL_EMU_UCONTEXT=1 selects the portable context switch instead of the x86-64 one."""
    mode = asan.FLAGS if asan.enabled() and not profile else ()
    switch = ("-DGPUDL_EMU_UCONTEXT",) if os.environ.get("GPUDL_EMU_UCONTEXT") == "1" else ()
    return _FLAGS + mode + switch + tuple(extra)


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:32]


_texts = {}


def _sources(names):
    """The concatenated text of these files of gpudl/emu (read once)."""
    if names not in _texts:
        _texts[names] = "".join((EMU_DIR / f).read_text() for f in names)
    return _texts[names]


def _runtime_sources():
    return _sources(_RUNTIME_SOURCES)


def _run(cmd, what):
    """Run the compiler; RuntimeError if it is missing, EmuError with its log if it fails."""
    if shutil.which(cmd[0]) is None:
        raise RuntimeError(_INSTALL_HINT.format(cxx=cmd[0]))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(_INSTALL_HINT.format(cxx=cmd[0]) + f" ({e})") from e
    if done.returncode != 0:
        raise EmuError(f"compiling {what} for the emu device failed:\n$ {shlex.join(cmd)}\n"
                       f"{done.stderr}{done.stdout}")


def _compile_atomically(target, cmd_without_output, what):
    """Build into a temporary file beside target, then rename it over target."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        _run([*cmd_without_output, "-o", tmp], what)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _object(name, sources, cxx, fl):
    """gpudl/emu/<name>.cpp compiled once per text of `sources` and flags (cached)."""
    path = cache_dir() / f"{name}-{_digest(_sources(sources), *cxx, *fl, platform.machine())}.o"
    if not path.exists():
        _compile_atomically(path, [*cxx, *fl, "-I", str(EMU_DIR), "-c", str(EMU_DIR / f"{name}.cpp")],
                            f"the emu {name}")
    return path


def _runtime_object(cxx, fl):
    return _object("runtime", _RUNTIME_SOURCES, cxx, fl)


def library_path(kernel_body, filename, extra_flags=(), profile=False):
    """Where the library for this kernel source and the current mode (or a profiling build) is
    (or will be) cached."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem)[:40] + ("-profile" if profile else "")
    mode = (_sources(_PROFILE_SOURCES), *PROFILE_FLAGS) if profile else ()
    key = _digest(kernel_body, _runtime_sources(), *mode, *compiler(), *flags(extra_flags, profile),
                  platform.machine())
    return cache_dir() / f"{stem}-{key}.so"


def preprocess(kernel_body, filename, extra_flags=()):
    """The kernel source after the C preprocessor alone (no shim), for finding kernels."""
    with tempfile.TemporaryDirectory(prefix="gpudl-emu-") as tmp:
        source = Path(tmp) / "source.cpp"
        source.write_text(kernel_body)
        out = Path(tmp) / "source.ii"
        _run([*compiler(), "-E", "-x", "c++", "-std=c++17", *extra_flags, str(source), "-o", str(out)], filename)
        return out.read_text()


def compile_library(path, unit_text, filename, extra_flags=(), profile=False):
    """Compile the translation unit (and the runtime, if not cached) into the library at path;
    a profiling build compiles the unit alone with PROFILE_FLAGS, then links it with the
    uninstrumented runtime and memprof.cpp's hooks (so no ThreadSanitizer runtime comes in)."""
    cxx, fl = compiler(), flags(extra_flags, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    runtime = _runtime_object(cxx, fl)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix="build-") as tmp:
        unit = Path(tmp) / "unit.cpp"
        unit.write_text(unit_text)
        if not profile:
            _compile_atomically(path, [*cxx, *fl, *_KERNEL_FLAGS, "-I", str(EMU_DIR), "-shared", str(unit),
                                       str(runtime)], filename)
            return
        unit_object = Path(tmp) / "unit.o"
        _run([*cxx, *fl, *_KERNEL_FLAGS, *PROFILE_FLAGS, "-I", str(EMU_DIR), "-c", str(unit), "-o",
              str(unit_object)], filename)
        hooks = _object("memprof", _PROFILE_SOURCES, cxx, fl)
        _compile_atomically(path, [*cxx, *fl, "-shared", str(unit_object), str(runtime), str(hooks)], filename)
