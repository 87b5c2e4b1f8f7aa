"""Shared fixtures: tests run on every device; unavailable ones are skipped with the reason."""
import shutil

import numpy as np
import pytest

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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
