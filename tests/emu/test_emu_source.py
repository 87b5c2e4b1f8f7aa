"""Reading kernels and their parameter types out of CUDA source text."""
import numpy as np

from gpudl.emu.source import find_kernels, rewrite_extern_shared

SOURCE = r'''
// extern "C" __global__ void in_a_comment(int x) {}
#define BLOCK 256
template <typename T> __global__ void templated(T* x) {}
__global__ void not_extern_c(float* x) {}
extern "C" __global__ void __launch_bounds__(BLOCK) plain(const float* __restrict__ x, float* y, int n) {
  printf("extern \"C\" __global__ void in_a_string(int x) {}");
}
extern "C" {
__global__ void in_block(unsigned n, unsigned int m, long long k, double d, float4* v, int rows[]) {}
__device__ float helper(float v) { return v; }
__global__ void no_params() {}
}
'''


def test_finds_only_extern_c_kernels():
    kernels = find_kernels(SOURCE)
    assert list(kernels) == ["plain", "in_block", "no_params"]
    assert kernels["no_params"].params == ()


def test_parameter_types():
    plain = find_kernels(SOURCE)["plain"].params
    assert [(p.name, p.ctype, p.pointer, p.const, p.dtype) for p in plain] == [
        ("x", "const float*", 1, True, np.float32), ("y", "float*", 1, False, np.float32),
        ("n", "int", 0, False, np.int32)]
    block = find_kernels(SOURCE)["in_block"].params
    assert [(p.name, p.ctype, p.dtype) for p in block] == [
        ("n", "unsigned int", np.uint32), ("m", "unsigned int", np.uint32), ("k", "long long", np.int64),
        ("d", "double", np.float64), ("v", "float4*", np.float32), ("rows", "int*", np.int32)]


def test_kernels_from_macros_are_found_and_compiled_out_ones_are_not(basics):
    assert {"scale_by_two", "scale_by_three"} <= set(basics.kernel_names)
    assert "compiled_out" not in basics.kernel_names
    y = np.ones(5, np.float32)
    basics.get_function("scale_by_three")(1, 8, (y, np.int32(5)))
    np.testing.assert_array_equal(y, 3)
    assert basics.get_function("scale_by_two").params[0].ctype == "float*"


def test_extern_shared_rewrite_keeps_lines():
    source = "a;\nextern __shared__ __align__(16)\n  float buf[];\nb;"
    out = rewrite_extern_shared(source)
    assert out.count("\n") == source.count("\n")
    assert "float* buf = reinterpret_cast<float*>(gpudl_emu_dynamic_shared);" in out
    assert "extern" not in out
