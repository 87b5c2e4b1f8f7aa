"""gd.kernels: user CUDA kernels on cuda and emu, one code path; every argument is checked against
the kernel's C signature, and launches take part in gd.capture and gd.profiler."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import gpudl as gd
from gpudl.emu import KernelNotFoundError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SAXPY = """#include "scale.cuh"
// y = a x + y
extern "C" __global__ void saxpy(float a, const float* __restrict__ x, float* __restrict__ y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = SCALED(a, x[i]) + y[i];
}
"""

TYPES = r"""
// Every by-value type lands in out (as double): a 64-bit value where 32 bits belong would shift the rest.
extern "C" __global__ void types(int a, unsigned int b, long long c, unsigned char d, float e, double f, bool g,
                                 short h, double* out) {
  double v[8] = {(double)a, (double)b, (double)c, (double)d, (double)e, f, (double)g, (double)h};
  for (int k = 0; k < 8; ++k) out[k] = v[k];
}
extern "C" __global__ void fill_bytes(void* p, int nbytes) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < nbytes) static_cast<unsigned char*>(p)[i] = 7;
}
extern "C" __global__ void add_one(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += 1.0f;
}
extern "C" __global__ void add_scalar(float* y, float v, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += v;
}
"""


@pytest.fixture
def saxpy_file(tmp_path):
    (tmp_path / "scale.cuh").write_text("#define SCALED(a, x) ((a) * (x))\n")
    path = tmp_path / "saxpy.cu"
    path.write_text(SAXPY)
    return path


def _types(device):
    return gd.kernels.load(TYPES, device=device, name="types.cu")


def test_saxpy_from_a_file_with_a_local_header(kernel_device, saxpy_file, rng):
    mod = gd.kernels.load(saxpy_file, device=kernel_device)
    assert mod.kernel_names == ("saxpy",) and "saxpy" in dir(mod)
    assert mod.saxpy.signature == "saxpy(float a, const float* x, float* y, int n)"
    n = 1000
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    tx, ty = gd.tensor(x, device=kernel_device), gd.tensor(y, device=kernel_device)
    mod.saxpy((n + 255) // 256, 256, 2.5, tx, ty, n)
    np.testing.assert_allclose(ty.numpy(), 2.5 * x + y, rtol=1e-6)
    assert gd.kernels.load(str(saxpy_file), device=kernel_device) is mod  # compiled once


def test_raw_arrays_of_the_device_are_arguments_too(kernel_device):
    mod = _types(kernel_device)
    y = mod.empty(300)
    y[...] = 1
    mod.add_one(2, 256, y, 300)
    np.testing.assert_array_equal(gd.backend.to_numpy(y), 2)


def test_python_numbers_arrive_as_the_parameters_exact_types(kernel_device):
    mod = _types(kernel_device)
    out = gd.zeros(8, dtype="float64", device=kernel_device)
    mod.types(1, 1, -5, 4000000000, 2**40, 200, 0.5, -1e300, True, -3, out)
    assert out.numpy().tolist() == [-5, 4000000000, 2**40, 200, 0.5, -1e300, 1, -3]
    mod.types(1, 1, np.int32(7), 0, 0, 0, 2, 3, False, 0, out)  # ints for floating parameters
    assert out.numpy().tolist() == [7, 0, 0, 0, 2, 3, 0, 0]


TWO = np.ones(2, np.float32)


@pytest.mark.parametrize("args, error, words", [
    ((1.5, 0, 0, 0, 0, 0, False, 0), TypeError, ["'a' (int)", "needs an integer", "1.5"]),
    ((2**31, 0, 0, 0, 0, 0, False, 0), ValueError, ["'a' (int)", "does not fit a 32-bit integer"]),
    ((0, -1, 0, 0, 0, 0, False, 0), ValueError, ["'b' (unsigned int)", "32-bit unsigned integer"]),
    ((0, 0, 2**63, 0, 0, 0, False, 0), ValueError, ["'c' (long long)", "64-bit"]),
    ((0, 0, 0, 256, 0, 0, False, 0), ValueError, ["'d' (unsigned char)", "8-bit unsigned"]),
    ((0, 0, 0, 0, 1e39, 0, False, 0), ValueError, ["'e' (float)", "overflows float32"]),
    ((0, 0, 0, 0, 10**400, 0, False, 0), ValueError, ["'e' (float)", "overflows"]),
    ((0, 0, 0, 0, np.float64(1), 0, False, 0), TypeError, ["'e' (float)", "np.float32", "np.float64"]),
    ((np.int64(1), 0, 0, 0, 0, 0, False, 0), TypeError, ["'a' (int)", "np.int32", "np.int64"]),
    (("3", 0, 0, 0, 0, 0, False, 0), TypeError, ["'a' (int)", "needs a Python number", "str"]),
    ((TWO, 0, 0, 0, 0, 0, False, 0), TypeError, ["'a' (int)", "needs a Python number", "array"]),
    ((0, 0, 0, 0, 0, 0, 2, 0), ValueError, ["'g' (bool)", "True / False"]),
    ((0, 0, 0, 0, 0, 0, False), TypeError, ["'types' takes 9 arguments, got 7", "double* out"]),
])
def test_bad_by_value_arguments_name_the_kernel_and_parameter(args, error, words):
    mod = _types("emu")
    out = np.zeros(8)
    extra = (out,) if len(args) == 8 else ()
    with pytest.raises(error) as info:
        mod.types(1, 1, *args, *extra)
    assert "kernel 'types'" in str(info.value)
    for word in words:
        assert word in str(info.value)
    assert not out.any()  # nothing ran


def _read_only(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("make, error, words", [
    (lambda: np.ones(300), TypeError, ["'y' (float*)", "needs float32 data", "float64"]),
    (lambda: gd.ones(300, dtype="int32", device="emu"), TypeError, ["'y'", "float32", "int32 Tensor"]),
    (lambda: [1.0] * 300, TypeError, ["'y'", "needs a Tensor or a numpy array on emu", "list"]),
    (lambda: 3.0, TypeError, ["'y'", "needs a Tensor or a numpy array", "Python float"]),
    (lambda: np.ones(600, np.float32)[::2], TypeError, ["'y'", "not C-contiguous"]),
    (lambda: gd.ones((20, 30), device="emu").T, TypeError, ["'y'", "not C-contiguous", "clone()"]),
    (lambda: gd.ones(300), RuntimeError, ["'y'", "on cpu but the kernel runs on emu", ".to('emu')"]),
    (lambda: _read_only(np.ones(300, np.float32)), TypeError, ["'y'", "read-only"]),
])
def test_bad_array_arguments_name_the_kernel_and_parameter(make, error, words):
    with pytest.raises(error) as info:
        _types("emu").add_one(2, 256, make(), 300)
    assert "kernel 'add_one'" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_void_pointers_take_any_dtype_and_const_pointers_read_only_arrays(saxpy_file):
    mod = _types("emu")
    for dtype in (np.uint8, np.float64, np.int16):
        a = np.zeros(8, dtype)
        mod.fill_bytes(1, 64, a, a.nbytes)
        assert (a.view(np.uint8) == 7).all()
    x, y = _read_only(np.ones(4, np.float32)), np.zeros(4, np.float32)
    gd.kernels.load(saxpy_file, device="emu").saxpy(1, 32, 2.0, x, y, 4)
    np.testing.assert_array_equal(y, 2)


@pytest.mark.parametrize("grid, block, shared_mem, error, words", [
    (1, (64, 32), 0, ValueError, ["'add_one'", "2048 threads, at most 1024"]),
    (1, 2048, 0, ValueError, ["'add_one'", "block (2048, 1, 1) is out of range"]),
    (0, 32, 0, ValueError, ["'add_one'", "grid (0, 1, 1) is out of range"]),
    ((1, 1, 1, 1), 32, 0, TypeError, ["'add_one'", "grid must be an int or a tuple of 1 to 3 ints"]),
    (1, 32.0, 0, TypeError, ["'add_one'", "block must be an int"]),
    (1, 32, 64 * 1024, ValueError, ["'add_one'", "shared_mem must be an int in [0, 49152]"]),
])
def test_bad_launch_configurations(grid, block, shared_mem, error, words):
    with pytest.raises(error) as info:
        _types("emu").add_one(grid, block, np.zeros(4, np.float32), 4, shared_mem=shared_mem)
    for word in words:
        assert word in str(info.value)


def test_compile_errors_show_the_log_with_the_users_file_name(kernel_device, tmp_path):
    path = tmp_path / "broken.cu"
    path.write_text('extern "C" __global__ void k(float* y) {\n  int i = threadIdx.x;\n  y[i] = undefined_name;\n}\n')
    with pytest.raises(RuntimeError) as info:  # EmuError on emu
        gd.kernels.load(path, device=kernel_device)
    text = str(info.value)
    assert "broken.cu" in text and "undefined_name" in text
    assert ("broken.cu:3" if kernel_device == "emu" else "broken.cu(3)") in text
    with pytest.raises(RuntimeError, match="source.cu.*undefined_name"):
        gd.kernels.load(path.read_text(), device=kernel_device)


def test_cpu_runs_no_kernels(saxpy_file):
    for device in ("cpu", None):  # the tests' default device is cpu
        with pytest.raises(RuntimeError, match="run on 'cuda' or 'emu', not on 'cpu'.*device='emu'"):
            gd.kernels.load(saxpy_file, device=device)


def test_missing_kernels_files_and_bad_inputs(tmp_path):
    mod = _types("emu")
    with pytest.raises(KernelNotFoundError, match="types.cu has no extern \"C\" __global__ function 'nope'.*add_one"):
        mod.get_function("nope")
    with pytest.raises(AttributeError, match="'nope'"):
        mod.nope
    assert not hasattr(mod, "nope")
    with pytest.raises(FileNotFoundError, match="no CUDA source file .*missing.cu"):
        gd.kernels.load(str(tmp_path / "missing.cu"), device="emu")
    with pytest.raises(TypeError, match="path or CUDA source text, got int"):
        gd.kernels.load(3, device="emu")
    with pytest.raises(TypeError, match="options must be strings"):
        gd.kernels.load(TYPES, device="emu", options=(3,))
    with pytest.raises(ValueError, match="option '--bogus' is not supported"):
        gd.kernels.load(TYPES, device="emu", options=("--bogus",))


def test_options_define_macros(kernel_device):
    mod = gd.kernels.load('extern "C" __global__ void k(int* y) { y[0] = VALUE; }', device=kernel_device,
                          options=("-DVALUE=42",), name="macro.cu")
    y = gd.zeros(1, dtype="int32", device=kernel_device)
    mod.k(1, 1, y)
    assert y.numpy().tolist() == [42]


def test_user_launches_are_captured_and_replayed():
    mod = _types("emu")
    n = 300

    def step(x):
        y = x * 1.0  # a gpudl kernel makes y
        mod.add_one(2, 256, y, n)
        return y

    captured = gd.capture(step)
    for k in range(4):
        x = np.full(n, float(k), np.float32)
        np.testing.assert_array_equal(captured(gd.tensor(x, device="emu")).numpy(), x + 1)
    (graph,) = captured.graphs.values()
    assert "add_one" in [fn.name for fn, *_ in graph.launches]


def test_a_changing_by_value_argument_is_refused_by_capture():
    mod = _types("emu")
    calls = []

    def step(x):
        calls.append(1)
        y = x * 1.0
        mod.add_scalar(1, 32, y, float(len(calls)), 4)
        return y

    captured = gd.capture(step)
    captured(gd.zeros(4, device="emu"))
    with pytest.raises(gd.CaptureError, match="add_scalar argument #1 changed between steps"):
        captured(gd.zeros(4, device="emu"))


def test_the_profiler_counts_user_launches():
    mod = _types("emu")
    y = np.zeros(4, np.float32)
    with gd.profiler.profile() as prof:
        mod.add_one(1, 32, y, 4)
        mod.add_one(1, 32, y, 4)
    assert prof.by_kernel() == {"add_one": 2}


@pytest.fixture(scope="module")
def swish():
    """The tutorial's Swish, a gd.Function whose forward and backward launch user kernels
    (examples/custom_kernel.py; examples/ goes on sys.path, as when it runs as a script)."""
    sys.path.insert(0, str(EXAMPLES))
    yield importlib.import_module("custom_kernel").swish
    sys.path.remove(str(EXAMPLES))


def test_a_pair_of_kernels_as_a_function_passes_gradcheck_on_emu(swish):
    x = gd.tensor(np.random.default_rng(0).standard_normal((3, 7)), device="emu", requires_grad=True)
    assert gd.gradcheck(swish, [x])


def test_the_swish_function_matches_pytorch(swish, kernel_device, rng):
    torch = pytest.importorskip("torch")
    data = rng.standard_normal((5, 300)).astype(np.float32)
    x = gd.tensor(data, device=kernel_device, requires_grad=True)
    y = swish(x)
    (y * y).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = torch.nn.functional.silu(tx)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
