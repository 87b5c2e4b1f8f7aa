"""Guard bytes: an emu kernel's out-of-bounds write is reported with the kernel and the argument."""
import numpy as np
import pytest

import gpudl as gd
from gpudl import emu
from gpudl.emu import guard
from gpudl.gpu import loader

SOURCE = r'''
extern "C" __global__ void write_at(float* out, int at) { if (threadIdx.x == 0) out[at] = 1.0f; }
extern "C" __global__ void copy(const float* x, float* y, int n) { int i = threadIdx.x; if (i < n) y[i] = x[i]; }
'''


@pytest.fixture(scope="module")
def module():
    return emu.load_module(SOURCE, name="guard_test.cu")


@pytest.mark.parametrize("at, where", [(5, "4 bytes past its end"), (7, "12 bytes past its end"),
                                       (-1, "4 bytes before its start")])
def test_out_of_bounds_write_names_kernel_and_argument(module, at, where):
    out = guard.empty((5,), np.float32)
    out[...] = 0
    with pytest.raises(emu.EmuError, match=rf"kernel 'write_at' wrote out of bounds of argument 'out' \(float\*, "
                                           rf"20 bytes\): up to {where}"):
        module.get_function("write_at")((1,), (1,), (out, np.int32(at)))
    module.get_function("write_at")((1,), (1,), (out, np.int32(4)))  # re-armed: an in-bounds write passes
    assert out.tolist() == [0, 0, 0, 0, 1]


def test_in_bounds_kernels_and_views_pass(module):
    x = guard.empty((2, 8), np.float32)
    x[...] = np.arange(16).reshape(2, 8)
    y = guard.empty((8,), np.float32)
    module.get_function("copy")((1,), (8,), (x[1], y, np.int32(8)))  # a view of a guarded array
    assert y.tolist() == list(range(8, 16))
    assert y.ctypes.data % 64 == 0 and guard.empty((0,), np.float64).size == 0


def test_emu_device_memory_is_guarded():
    dev = gd.device("emu")
    for a in (dev.asarray(np.ones(3)), dev.empty((4, 2), np.int64), dev.kernels.add(dev.asarray(np.ones(3)), 1.0)):
        assert guard._guarded(a) is not None
    assert guard._guarded(np.ones(3)) is None  # a plain NumPy array has no guards


def test_a_size_beyond_int32_names_the_kernel():
    dev = gd.device("emu")
    out = dev.empty((1,), np.int64)
    with pytest.raises(ValueError, match=r"permutation: a size or index of 2147483648 does not fit the kernels' "
                                         r"32-bit int"):
        loader.launch(dev, "data", "permutation", (1,), (1,),
                      (out, np.int64(1), np.int64(0)) + loader.ints(2 ** 31, 1) + (np.uint32(0),) * 4, "a test")
