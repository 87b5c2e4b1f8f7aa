"""Fixtures for the emu device tests: the compiled test kernels and a subprocess runner."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gpudl import emu

KERNELS = Path(__file__).parent / "kernels"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def basics():
    """tests/emu/kernels/basics.cu, compiled once (and cached on disk across runs)."""
    return emu.load_module((KERNELS / "basics.cu").read_text(), name=str(KERNELS / "basics.cu"))


@pytest.fixture(params=["forward", "reverse"])
def order(request):
    """Runs the test once per thread order: correct kernels must not care."""
    with emu.thread_order(request.param):
        yield request.param


@pytest.fixture
def run_python():
    """run_python(code, args=(), env=None, timeout=120): run code in a fresh interpreter that imports
    this checkout; a hang fails the test."""
    return _run_python


@pytest.fixture(scope="session")
def kernel_path():
    """kernel_path('basics.cu'): the path of one of tests/emu/kernels/*.cu."""
    return lambda name: str(KERNELS / name)


def _run_python(code, args=(), env=None, timeout=120):
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    try:
        return subprocess.run([sys.executable, "-c", code, *args], env=full_env, capture_output=True, text=True,
                              timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the subprocess hung for {timeout} s")
