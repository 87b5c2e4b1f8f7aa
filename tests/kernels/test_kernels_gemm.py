"""matmul (C = f(A B + b), batched, strided operands) vs a float64 einsum reference."""
import numpy as np
import pytest

import gpudl
from gpudl import profiler
from gpudl.gpu import gemm as gpu_gemm
from gpudl.gpu import loader
from kernel_refs import act_ref, host, impl, put, thread_orders

ACTS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu")
DTYPES = (np.float32, np.float64)
SLOPE = 0.2
# (M, K, N): degenerate, odd, not multiples of the 64 x 64 x 16 tiles, the training shapes, K = 1
SHAPES = [(1, 1, 1), (1, 7, 1), (5, 3, 4), (65, 17, 63), (128, 400, 120), (128, 84, 10), (33, 1, 70)]


def reference(a, b, bias=None, act="identity"):
    """f(A B + b) in float64 (einsum broadcasts the batch axes)."""
    z = np.einsum("...mk,...kn->...mn", a.astype(np.float64), b.astype(np.float64))
    if bias is not None:
        z = z + bias.astype(np.float64)
    return act_ref(z, act, SLOPE)


def check(c, a, b, bias=None, act="identity", msg=""):
    """c matches the reference within the rounding of a length-K float sum (tight in float64)."""
    expected = reference(a, b, bias, act)
    assert c.shape == expected.shape and c.dtype == a.dtype, msg
    eps = 1e-6 if a.dtype == np.float32 else 1e-14
    scale = np.einsum("...mk,...kn->...mn", np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)))
    if bias is not None:
        scale = scale + np.abs(bias.astype(np.float64))
    bound = 10 * eps * np.abs(expected) + eps * (scale + 1)
    err = np.abs(host(c).astype(np.float64) - expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
    assert np.all(err <= bound), f"{msg}: error {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst}"


def rounded(rng, shape, dtype):
    """Standard normal values of `dtype`, returned as NumPy (the reference sees exactly them)."""
    return rng.standard_normal(shape).astype(dtype)


def run(dev, *args, **kwargs):
    """matmul on dev in every thread order; yields each result (on the host)."""
    for order in thread_orders(dev):
        with order():
            yield host(impl(dev).matmul(dev, *args, **kwargs))


@pytest.mark.parametrize("mkn", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_shapes(device, mkn, rng):
    dev = gpudl.device(device)
    m, k, n = mkn
    for dtype in DTYPES:
        a, b = rounded(rng, (m, k), dtype), rounded(rng, (k, n), dtype)
        for c in run(dev, put(dev, a), put(dev, b)):
            check(c, a, b, msg=f"{mkn} {np.dtype(dtype)}")


def _views(rng, m, k, n, dtype):
    """{layout: (a view, b view)}: transposes of contiguous arrays (views) and strided slices."""
    a_t = rounded(rng, (k, m), dtype).T                  # A^T B: a's stride along m is 1
    b_t = rounded(rng, (n, k), dtype).T                  # A B^T: b's stride along k is 1
    a_s = rounded(rng, (2 * m, 3 * k), dtype)[::2, 1::3]  # neither stride 1
    b_s = rounded(rng, (3 * k, 2 * n), dtype)[::3, ::2]
    a_n = rounded(rng, (m, k + 5), dtype)[:, 2:k + 2]    # row-major with a longer row
    b_n = rounded(rng, (k, n + 3), dtype)[:, :n]
    return {"nn": (a_n, b_n), "tn": (a_t, b_n), "nt": (a_n, b_t), "tt": (a_t, b_t),
            "ss": (a_s, b_s), "sn": (a_s, b_n), "ns": (a_n, b_s), "ts": (a_t, b_s), "st": (a_s, b_t)}


def _forbid_copies(dev, monkeypatch):
    """Views must reach the kernel as they are: make device.kernels.copy fail."""
    def no_copy(*args, **kwargs):
        raise AssertionError("matmul copied an operand that the kernel can read in place")
    if dev.uses_kernels:
        monkeypatch.setattr(dev.kernels, "copy", no_copy, raising=False)


@pytest.mark.parametrize("mkn", [(65, 17, 63), (3, 70, 5), (1, 5, 66)], ids=lambda s: "x".join(map(str, s)))
def test_matmul_strided_views(device, mkn, rng, monkeypatch):
    """A B, A^T B, A B^T, A^T B^T and sliced views, read in place by the kernel for their layout."""
    dev = gpudl.device(device)
    _forbid_copies(dev, monkeypatch)
    for dtype in DTYPES:
        for name, (a, b) in _views(rng, *mkn, dtype).items():
            assert not (a.flags.c_contiguous and b.flags.c_contiguous)
            da, db = put_view(dev, a), put_view(dev, b)
            with profiler.profile() as prof:
                for c in run(dev, da, db):
                    check(c, a, b, msg=f"{name} {np.dtype(dtype)}")
            if dev.uses_kernels and min(mkn) > 1:  # (a length-1 axis makes its stride irrelevant)
                assert set(prof.by_kernel()) == {f"gemm_{name}_{loader.SUFFIX[np.dtype(dtype)]}"}, name


def put_view(dev, view):
    """The same view (same strides) of a copy of its base on dev."""
    if dev.type != "cuda":
        return view
    base = view.base if view.base is not None else view
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // view.itemsize
    flat = dev.asarray(np.ascontiguousarray(base)).reshape(-1)
    return dev.xp.lib.stride_tricks.as_strided(flat[offset:], view.shape, view.strides)


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3, 4, 5), (5, 2)), ((4, 5), (3, 5, 2)), ((3, 1, 6), (3, 6, 7)),
                                              ((2, 1, 3, 4), (3, 4, 2)), ((1, 2, 70, 3), (2, 1, 3, 65))],
                         ids=str)
def test_matmul_batched_and_broadcast(device, a_shape, b_shape, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES:
        a, b = rounded(rng, a_shape, dtype), rounded(rng, b_shape, dtype)
        bias = rounded(rng, (2 * b_shape[-1],), dtype)[::2]  # a strided bias too
        for c in run(dev, put(dev, a), put(dev, b), put_view(dev, bias), "tanh"):
            check(c, a, b, bias, "tanh", msg=f"{a_shape} @ {b_shape} {np.dtype(dtype)}")


def test_matmul_batched_transposed_views(device, rng, monkeypatch):
    """Batch axes that collapse to one stride need no copy, even on transposed matrices."""
    dev = gpudl.device(device)
    _forbid_copies(dev, monkeypatch)
    a = rounded(rng, (3, 2, 9, 4), np.float32).transpose(1, 0, 3, 2)   # (2, 3, 4, 9), batch strides (36, 72)
    b = rounded(rng, (9, 5), np.float32)                               # broadcast over the batch
    a = a[:, :1]                                                       # (2, 1, 4, 9)
    for c in run(dev, put_view(dev, a), put(dev, b)):
        check(c, a, b, msg="batched A^T")


@pytest.mark.parametrize("act", ACTS)
def test_matmul_bias_and_activations(device, act, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES:
        a, b = rounded(rng, (65, 17), dtype), rounded(rng, (17, 66), dtype)
        bias = rounded(rng, (66,), dtype)
        for with_bias in (True, False):
            args = (put(dev, a), put(dev, b), put(dev, bias) if with_bias else None, act)
            for c in run(dev, *args, slope=SLOPE):
                check(c, a, b, bias if with_bias else None, act, msg=f"{act} bias={with_bias} {np.dtype(dtype)}")


def test_matmul_into_out(device, rng):
    dev = gpudl.device(device)
    for dtype in DTYPES:
        a, b, bias = rounded(rng, (2, 7, 3), dtype), rounded(rng, (3, 9), dtype), rounded(rng, (9,), dtype)
        for act in ("identity", "relu"):
            out = put(dev, np.full((2, 7, 9), np.nan, dtype))
            for order in thread_orders(dev):
                with order():
                    c = impl(dev).matmul(dev, put(dev, a), put(dev, b), put(dev, bias), act, out=out)
                assert c is out
                check(host(out), a, b, bias, act, msg=f"out= {act} {np.dtype(dtype)}")


def test_matmul_empty_and_zero_depth(device, rng):
    """K = 0 gives f(0 + b); M = 0 or a batch of 0 gives an empty result."""
    dev = gpudl.device(device)
    bias = rounded(rng, (4,), np.float64)
    for c in run(dev, put(dev, np.zeros((3, 0))), put(dev, np.zeros((0, 4))), put(dev, bias), "sigmoid"):
        np.testing.assert_allclose(c, np.broadcast_to(1 / (1 + np.exp(-bias)), (3, 4)), rtol=1e-14)
    for a_shape, b_shape in (((0, 3), (3, 4)), ((0, 2, 3), (3, 4))):
        for c in run(dev, put(dev, np.zeros(a_shape)), put(dev, np.zeros(b_shape))):
            assert c.shape == a_shape[:-1] + (4,)


def test_matmul_grid_stride_loops(kernel_device, rng, monkeypatch):
    """With a one-block grid the kernel still covers every tile of every batch (its loops)."""
    dev = gpudl.device(kernel_device)
    monkeypatch.setattr(loader, "MAX_BLOCKS", 1)
    a, b, bias = (rounded(rng, s, np.float32) for s in ((3, 130, 5), (5, 70), (70,)))
    with profiler.profile() as prof:
        for c in run(dev, put(dev, a), put(dev, b), put(dev, bias), "relu"):
            check(c, a, b, bias, "relu", msg="one block")
    assert all(grid == (1, 1, 1) for _, grid, *_ in prof.kernel_events)


def test_matmul_is_one_launch_and_reproducible(kernel_device, rng):
    dev = gpudl.device(kernel_device)
    a, b, bias = (put(dev, rounded(rng, s, np.float32)) for s in ((70, 300), (300, 65), (65,)))
    with profiler.profile() as prof:
        first = host(impl(dev).matmul(dev, a, b, bias, "gelu"))
    second = host(impl(dev).matmul(dev, a, b, bias, "gelu"))
    assert prof.launches == 1
    np.testing.assert_array_equal(first, second)


def test_matmul_errors(device):
    dev = gpudl.device(device)
    k = impl(dev)
    a32, b32 = put(dev, np.zeros((5, 3), np.float32)), put(dev, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"matmul.*\(5, 3\).*\(4, 2\)"):
        k.matmul(dev, a32, b32)
    good_b = put(dev, np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="matmul.*float32.*float64"):
        k.matmul(dev, a32, put(dev, np.zeros((3, 2), np.float64)))
    with pytest.raises(TypeError, match="matmul.*int32"):
        k.matmul(dev, put(dev, np.zeros((5, 3), np.int32)), put(dev, np.zeros((3, 2), np.int32)))
    with pytest.raises(ValueError, match=r"matmul.*bias.*\(3,\).*expected \(2,\)"):
        k.matmul(dev, a32, good_b, put(dev, np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="matmul.*bias float64"):
        k.matmul(dev, a32, good_b, put(dev, np.zeros(2, np.float64)))
    with pytest.raises(ValueError, match=r"matmul.*out.*\(5, 2\)"):
        k.matmul(dev, a32, good_b, out=put(dev, np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match="matmul.*at least 2-D"):
        k.matmul(dev, put(dev, np.zeros(3, np.float32)), good_b)
    with pytest.raises(ValueError, match="matmul.*batch"):
        k.matmul(dev, put(dev, np.zeros((2, 5, 3), np.float32)), put(dev, np.zeros((3, 3, 2), np.float32)))
    with pytest.raises(ValueError, match="matmul.*swish"):
        k.matmul(dev, a32, good_b, act="swish")


def test_matmul_backend_choice(kernel_device, monkeypatch):
    """GPUDL_MATMUL picks cuBLAS on cuda only; emu always runs gemm.cu; unknown names are refused."""
    dev = gpudl.device(kernel_device)
    monkeypatch.delenv("GPUDL_MATMUL", raising=False)
    assert gpu_gemm.resolve_backend(dev) == "gpudl"
    monkeypatch.setenv("GPUDL_MATMUL", "cublas")
    assert gpu_gemm.resolve_backend(dev) == ("cublas" if dev.type == "cuda" else "gpudl")
    monkeypatch.setenv("GPUDL_MATMUL", "magma")
    with pytest.raises(ValueError, match="GPUDL_MATMUL.*magma"):
        gpu_gemm.resolve_backend(dev)
    assert gpu_gemm.MATMUL_BACKENDS == ("gpudl", "cublas")


def test_cublas_backend_matches(rng, monkeypatch):
    """On cuda the cuBLAS path (with and without the bias_act epilogue) agrees with the reference."""
    from gpudl import cuda
    if not cuda.is_available():
        pytest.skip(f"cuda unavailable: {cuda.why_unavailable()}")
    dev = gpudl.device("cuda")
    monkeypatch.setenv("GPUDL_MATMUL", "cublas")
    a, b, bias = (rounded(rng, s, np.float32) for s in ((2, 65, 17), (17, 63), (63,)))
    with profiler.profile() as prof:
        c = dev.kernels.matmul(put(dev, a), put(dev, b), put(dev, bias), "relu")
    assert set(prof.by_kernel()) == {"bias_act_forward"}
    check(host(c), a, b, bias, "relu", msg="cublas")
    check(host(dev.kernels.matmul(put(dev, a.astype(np.float64)), put(dev, b.astype(np.float64)))),
          a.astype(np.float64), b.astype(np.float64), msg="cublas float64")
