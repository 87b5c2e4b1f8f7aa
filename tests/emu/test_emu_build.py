"""Compilation: the clear errors, the on-disk cache, and the portable context switch."""
import shutil
import stat

import numpy as np
import pytest

from gpudl import emu

SOURCE = 'extern "C" __global__ void twice(float* y) { y[threadIdx.x] *= 2.0f; }\n'


def test_missing_compiler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("GPUDL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match=r"needs a C\+\+ compiler \(g\+\+ or clang\+\+\).*apt-get install g\+\+"):
        emu.load_module(SOURCE, "twice")


def test_compile_error_shows_the_cu_line():
    broken = 'extern "C" __global__ void k(float* y) {\n  int i = threadIdx.x;\n  y[i] = undefined_name;\n}\n'
    with pytest.raises(emu.EmuError, match=r"broken\.cu:3:.*undefined_name"):
        emu.load_module(broken, "broken")


_SECOND_LOAD = """
import sys
import numpy as np
from gpudl import emu
y = np.arange(4, dtype=np.float32)
emu.load_module(sys.argv[1], "twice").get_function("twice")(1, 4, (y,))
print(y.tolist())
"""


def test_second_process_reuses_the_disk_cache(monkeypatch, tmp_path, run_python):
    log = tmp_path / "compiler.log"
    compiler = tmp_path / "logging-g++"
    compiler.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec {shutil.which("g++")} "$@"\n')
    compiler.chmod(compiler.stat().st_mode | stat.S_IXUSR)
    env = {"CXX": str(compiler), "GPUDL_CACHE_DIR": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    y = np.arange(4, dtype=np.float32)
    emu.load_module(SOURCE, "twice").get_function("twice")(1, 4, (y,))
    np.testing.assert_array_equal(y, [0, 2, 4, 6])
    compilations = log.read_text().count("\n")
    assert compilations == 3  # preprocessing, the runtime object, the module
    assert len(list((tmp_path / "cache" / "emu").glob("twice-*.so"))) == 1
    done = run_python(_SECOND_LOAD, args=[SOURCE], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0.0, 2.0, 4.0, 6.0]"
    assert log.read_text().count("\n") == compilations


def test_ucontext_fallback_runs_barriers_and_shuffles(monkeypatch, basics, kernel_path):
    monkeypatch.setenv("GPUDL_EMU_UCONTEXT", "1")
    module = emu.load_module(open(kernel_path("basics.cu")).read(), name="basics_ucontext.cu")
    assert module.path != basics.path
    x = np.random.default_rng(1).standard_normal(512, dtype=np.float32)
    out, total = np.zeros(2, np.float32), np.zeros(1, np.float32)
    module.get_function("block_sum")(2, 256, (x, out, np.int32(512)))
    module.get_function("shuffle_sum")(4, 128, (x, total, np.int32(512)))
    np.testing.assert_allclose(out, x.reshape(2, 256).sum(axis=1, dtype=np.float64), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(total[0], x.sum(dtype=np.float64), rtol=1e-4)
