"""Launch arguments are checked against the kernel's C signature before anything runs."""
import numpy as np
import pytest

from gpudl import emu

X = np.ones(8, np.float32)


def _read_only(a):
    a.flags.writeable = False
    return a


def _axpy(basics, *args, grid=1, block=32, shared_mem=0):
    basics.get_function("axpy")(grid, block, args, shared_mem=shared_mem)


@pytest.mark.parametrize("args, words", [
    ((X, X.copy(), 2.0, np.int32(8)), ["'axpy'", "'a'", "float", "np.float32", "Python float"]),
    ((X, X.copy(), np.float32(2), 8), ["'axpy'", "'n'", "int", "np.int32", "Python int"]),
    ((X, X.copy(), np.float32(2), np.int64(8)), ["'axpy'", "'n'", "np.int32", "np.int64"]),
    ((X.astype(np.float64), X.copy(), np.float32(2), np.int32(8)), ["'x'", "float32", "float64"]),
    ((X, X.copy(), np.float32(2)), ["'axpy'", "4 arguments, got 3", "float* y"]),
    ((X, np.float32(1), np.float32(2), np.int32(8)), ["'y'", "needs a NumPy array"]),
    ((X, X.copy(), X, np.int32(8)), ["'a'", "is a scalar"]),
    ((X, np.ones(16, np.float32)[::2], np.float32(2), np.int32(8)), ["'y'", "C-contiguous"]),
    ((X, _read_only(np.ones(8, np.float32)), np.float32(2), np.int32(8)), ["'y'", "read-only"]),
])
def test_bad_arguments_raise_type_error(basics, args, words):
    with pytest.raises(TypeError) as info:
        _axpy(basics, *args)
    for word in words:
        assert word in str(info.value)


def test_read_only_array_is_fine_for_a_const_pointer(basics):
    x, y = _read_only(np.ones(8, np.float32)), np.zeros(8, np.float32)
    _axpy(basics, x, y, np.float32(2), np.int32(8))
    np.testing.assert_array_equal(y, 2)


@pytest.mark.parametrize("grid, block, shared_mem, error", [
    (0, 32, 0, ValueError), (1, 2048, 0, ValueError), (1, (32, 32, 2), 0, ValueError),
    (1, (1, 1, 1, 1), 0, TypeError), (1.5, 32, 0, TypeError), (1, 32, 64 * 1024, ValueError),
])
def test_bad_launch_configuration(basics, grid, block, shared_mem, error):
    with pytest.raises(error, match="axpy"):
        _axpy(basics, X, X.copy(), np.float32(1), np.int32(8), grid=grid, block=block, shared_mem=shared_mem)


def test_unknown_kernel_lists_the_kernels(basics):
    with pytest.raises(KeyError) as info:
        basics.get_function("axpby")
    assert "'axpby'" in str(info.value) and "axpy" in str(info.value)


def test_options_pass_macros_and_reject_unknown_flags():
    source = 'extern "C" __global__ void fill(float* y) { y[threadIdx.x] = SCALE; }'
    module = emu.load_module(source, "options", options=("-DSCALE=3.5f", "--use_fast_math", "-arch=sm_80"))
    y = np.zeros(4, np.float32)
    module.get_function("fill")(1, 4, (y,))
    np.testing.assert_array_equal(y, 3.5)
    with pytest.raises(ValueError, match="-fopenmp"):
        emu.load_module(source, "options", options=("-fopenmp",))


def test_thread_order_rejects_unknown_orders():
    with pytest.raises(ValueError, match="sideways"):
        emu.set_thread_order("sideways")
    with emu.thread_order("reverse"):
        assert emu.current_order() == "reverse"
    assert emu.current_order() in ("forward", "reverse")
