"""Shared fixtures: tests run on every device; unavailable ones are skipped with the reason."""
import shutil

import numpy as np
import pytest

import gpudl as gd
from gpudl import cuda

DEVICES = ("cpu", "emu", "cuda")


def skip_reason(name):
    """Why `name` cannot run here, or None."""
    if name == "cuda" and not cuda.is_available():
        return f"cuda unavailable: {cuda.why_unavailable()}"
    if name == "emu" and shutil.which("g++") is None and shutil.which("c++") is None:
        return "emu needs a C++ compiler (g++) and none is installed"
    return None


def _param(name):
    reason = skip_reason(name)
    return pytest.param(name, marks=pytest.mark.skip(reason=reason) if reason else ())


@pytest.fixture(params=[_param(d) for d in DEVICES])
def device(request):
    """Every device: cpu, emu, cuda (skipped with the reason when absent)."""
    return request.param


@pytest.fixture(params=[_param(d) for d in ("emu", "cuda")])
def kernel_device(request):
    """Devices that launch kernels/*.cu: emu always, cuda when present."""
    return request.param


@pytest.fixture(autouse=True)
def default_device_cpu():
    """Tests pick devices explicitly: the default stays cpu even on a machine with a GPU."""
    previous = gd.get_default_device()
    gd.set_default_device("cpu")
    yield
    gd.set_default_device(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
