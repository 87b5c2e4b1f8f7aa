import subprocess
import sys

import numpy as np
import pytest

import gpudl as gd


def test_why_unavailable_is_precise_or_none():
    reason = gd.cuda.why_unavailable()
    assert gd.cuda.is_available() == (reason is None)
    if reason is not None:
        assert gd.cuda.device_count() == 0
        assert any(k in reason for k in ("CuPy is not installed", "driver", "no CUDA device", "CuPy failed"))


def test_import_without_cupy_reports_it():
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import gpudl; print(gpudl.cuda.why_unavailable()); print(gpudl.get_default_device())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""}, check=True)
    reason, default = out.stdout.splitlines()
    assert "CuPy is not installed" in reason
    assert default == "cpu"


@pytest.mark.skipif(gd.cuda.is_available(), reason="tests the error raised when cuda is unusable")
def test_asking_for_cuda_raises_with_reason():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        gd.device("cuda")
    with pytest.raises(RuntimeError, match=gd.cuda.why_unavailable()[:20].replace("(", r"\(")):
        gd.tensor([1.0], device="cuda:0")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:1", "tpu"])
def test_bad_device_names(spec):
    with pytest.raises(ValueError, match="unknown device"):
        gd.device(spec)


def test_device_objects():
    assert gd.device("cpu") == gd.device("CPU")
    assert str(gd.device("emu")) == "emu"
    assert gd.device("emu").uses_kernels and not gd.device("cpu").uses_kernels
    assert gd.device("emu").xp is np


def test_env_var_picks_default():
    code = "import gpudl; print(gpudl.get_default_device())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"GPUDL_DEVICE": "emu", "PATH": ""}, check=True)
    assert out.stdout.strip() == "emu"


def test_set_default_device():
    previous = gd.get_default_device()
    try:
        gd.set_default_device("emu")
        assert gd.zeros(2).device == gd.device("emu")
    finally:
        gd.set_default_device(previous)
