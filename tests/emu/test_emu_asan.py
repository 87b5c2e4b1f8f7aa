"""AddressSanitizer mode: out-of-bounds global and shared accesses are reported with the .cu
line and the CUDA block and thread (in a subprocess, since ASan ends the process)."""
import os
import shutil

import pytest

from gpudl import emu
from gpudl.emu import asan

LIBASAN = asan.libasan_path(os.environ.get("CXX") or "g++") if shutil.which(os.environ.get("CXX") or "g++") else None
needs_libasan = pytest.mark.skipif(LIBASAN is None, reason="the C++ compiler has no libasan.so")

_RUN = """
import sys
import numpy as np
from gpudl import emu
mod = emu.load_module(open(sys.argv[1]).read(), name=sys.argv[1])
if sys.argv[2] == "global":
    mod.get_function("global_oob")(16, 64, (np.zeros(1000, np.float32), np.int32(1000)))
elif sys.argv[2] == "shared":
    y = np.zeros(64, np.float32)
    mod.get_function("shared_oob")(2, 32, (y,))
    print("in bounds:", y[:32].tolist() == [2.0] * 32, flush=True)
    mod.get_function("shared_oob")(2, 64, (y,))
else:
    mod.get_function("dynamic_shared_oob")(1, 64, (np.zeros(64, np.float32),), shared_mem=32 * 4)
print("no report")
"""


def _line(path, text):
    with open(path) as f:
        return next(i for i, line in enumerate(f, 1) if text in line)


def _run(kind, run_python, kernel_path):
    env = {"LD_PRELOAD": LIBASAN, "ASAN_OPTIONS": "detect_leaks=0", "GPUDL_EMU_ASAN": "1"}
    done = run_python(_RUN, args=[kernel_path("oob.cu"), kind], env=env, timeout=180)
    assert "no report" not in done.stdout
    assert done.returncode != 0
    return done


def test_asan_mode_needs_libasan_preloaded(monkeypatch):
    monkeypatch.setenv("GPUDL_EMU_ASAN", "1")
    monkeypatch.delenv("ASAN_OPTIONS", raising=False)
    with pytest.raises(RuntimeError, match=r"LD_PRELOAD=\$\(.* -print-file-name=libasan.so\) ASAN_OPTIONS=detect_leaks=0"):
        emu.load_module('extern "C" __global__ void k() {}', "asan_check")


@needs_libasan
def test_global_out_of_bounds_write_is_reported(run_python, kernel_path):
    done = _run("global", run_python, kernel_path)
    line = _line(kernel_path("oob.cu"), "y[i] = 1.0f;")
    assert "AddressSanitizer: heap-buffer-overflow" in done.stderr
    assert f"oob.cu:{line} in global_oob" in done.stderr
    assert "kernel 'global_oob', blockIdx (15,0,0), threadIdx (40,0,0)" in done.stderr


@needs_libasan
def test_shared_out_of_bounds_write_is_reported(run_python, kernel_path):
    done = _run("shared", run_python, kernel_path)
    line = _line(kernel_path("oob.cu"), "tile[threadIdx.x] = 2.0f;")
    assert "in bounds: True" in done.stdout
    assert "AddressSanitizer: global-buffer-overflow" in done.stderr
    assert "global variable 'tile'" in done.stderr
    assert f"oob.cu:{line} in shared_oob" in done.stderr
    assert "kernel 'shared_oob', blockIdx (0,0,0), threadIdx (32,0,0)" in done.stderr


@needs_libasan
def test_dynamic_shared_beyond_shared_mem_is_reported(run_python, kernel_path):
    done = _run("dynamic", run_python, kernel_path)
    line = _line(kernel_path("oob.cu"), "buffer[threadIdx.x] = 3.0f;")
    assert "AddressSanitizer: use-after-poison" in done.stderr
    assert f"oob.cu:{line} in dynamic_shared_oob" in done.stderr
    assert "kernel 'dynamic_shared_oob', blockIdx (0,0,0), threadIdx (32,0,0)" in done.stderr
