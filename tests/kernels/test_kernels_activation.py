"""Fused bias + activation forward/backward vs formulas and central differences; the activation table
(kernels/activation.cuh) in float64 through the GEMM epilogue."""
import numpy as np
import pytest

import gpudl
from kernel_refs import act_grad_ref, act_ref, bias_shape, dtypes, host, impl, put, thread_orders, tolerance

ACTS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu_tanh", "gelu", "elu", "silu", "softplus")
NEW_ACTS = ("gelu", "elu", "silu", "softplus")
SHAPES = [(1, 1), (5, 7), (1, 17), (7, 300), (3, 16, 4, 5), (2, 3, 7, 9), (4, 1, 3, 3), (2, 20, 1, 1),
          (1, 5, 13, 11), (3, 2, 48, 48), (130,)]
SLOPE = 0.2


def _data(rng, shape):
    """x, b with |x + b| >= 1e-3 (away from relu's kink) and dL/dy."""
    b = rng.standard_normal(shape[1] if len(shape) > 1 else shape[0])
    x = 3 * rng.standard_normal(shape)
    z = x + b.reshape(bias_shape(shape))
    x = np.where(np.abs(z) < 1e-3, x + 0.01, x)
    return x, b, rng.standard_normal(shape)


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bias_act_matches_reference(device, shape, with_bias, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    x, b, gy = _data(rng, shape)
    for dtype in dtypes(dev):
        xr, br, gyr = (a.astype(dtype).astype(np.float64) for a in (x, b, gy))
        z = xr + br.reshape(bias_shape(shape)) if with_bias else xr
        reduce_axes = tuple(a for a in range(len(shape)) if a != 1) if len(shape) > 1 else ()
        xd, bd, gyd = put(dev, x, dtype), (put(dev, b, dtype) if with_bias else None), put(dev, gy, dtype)
        for act in ACTS:
            gx_ref = gyr * act_grad_ref(z, act, SLOPE)
            for order in thread_orders(dev):
                with order():
                    y = ops.bias_act_forward(dev, xd, bd, act, slope=SLOPE)
                    gx, gb = ops.bias_act_backward(dev, gyd, xd, bd, act, slope=SLOPE)
                msg = f"{act} dtype={np.dtype(dtype)}"
                assert y.dtype == dtype and gx.dtype == dtype, msg
                np.testing.assert_allclose(host(y), act_ref(z, act, SLOPE), **tolerance(dtype), err_msg=msg)
                tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-8)
                np.testing.assert_allclose(host(gx), gx_ref, **tol, err_msg=msg)
                if with_bias:
                    expected_gb = gx_ref.sum(axis=reduce_axes) if reduce_axes else gx_ref
                    np.testing.assert_allclose(host(gb), expected_gb, rtol=1e-4, atol=1e-4, err_msg=msg)
                else:
                    assert gb is None


@pytest.mark.parametrize("slope", [0.0, 1.5, -0.5])
def test_leaky_relu_with_any_slope(device, slope, rng):
    dev = gpudl.device(device)
    x, b, gy = _data(rng, (3, 4, 5))
    z = x.astype(np.float32).astype(np.float64) + b.astype(np.float32)[None, :, None]
    xd, bd, gyd = (put(dev, a, np.float32) for a in (x, b, gy))
    for order in thread_orders(dev):
        with order():
            y = impl(dev).bias_act_forward(dev, xd, bd, "leaky_relu", slope=slope)
            gx, _ = impl(dev).bias_act_backward(dev, gyd, xd, bd, "leaky_relu", slope=slope)
        np.testing.assert_allclose(host(y), act_ref(z, "leaky_relu", slope), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(host(gx), gy.astype(np.float32) * act_grad_ref(z, "leaky_relu", slope),
                                   rtol=1e-4, atol=1e-5)


def test_bias_gradient_is_reproducible(kernel_device, rng):
    """The two-pass channel sum has no atomics: repeated runs agree bit for bit."""
    dev = gpudl.device(kernel_device)
    x, b, gy = (put(dev, a, np.float32) for a in _data(rng, (3, 2, 48, 48)))
    first = host(impl(dev).bias_act_backward(dev, gy, x, b, "relu")[1])
    second = host(impl(dev).bias_act_backward(dev, gy, x, b, "relu")[1])
    np.testing.assert_array_equal(first, second)


def test_bias_act_errors(device):
    dev = gpudl.device(device)
    x = put(dev, np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"bias_act_forward.*\(4,\).*\(2, 3, 4, 4\)"):
        impl(dev).bias_act_forward(dev, x, put(dev, np.zeros(4, np.float32)), "relu")
    with pytest.raises(ValueError, match="bias_act_forward.*swish"):
        impl(dev).bias_act_forward(dev, x, None, "swish")


def test_bias_act_kernels_reject_float64(kernel_device):
    dev = gpudl.device(kernel_device)
    x = put(dev, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="bias_act_forward.*float64"):
        impl(dev).bias_act_forward(dev, x, None, "relu")
    with pytest.raises(TypeError, match="bias_act_backward.*float64"):
        impl(dev).bias_act_backward(dev, x, x, None, "relu")


def test_kernels_reject_arrays_from_another_device(kernel_device):
    dev = gpudl.device(kernel_device)
    foreign = np.zeros((2, 3), np.float32) if dev.type == "cuda" else [[0.0, 0.0, 0.0]]
    with pytest.raises(RuntimeError, match="bias_act_forward.*x is a"):
        impl(dev).bias_act_forward(dev, foreign, None, "relu")


@pytest.mark.parametrize("act", NEW_ACTS)
def test_new_activations_in_gemm_epilogue(device, act, rng):
    """matmul's epilogue applies the same table, in float32 and float64 (the double versions of the
    .cuh functions: erf, expm1, log1p), with softplus at the default threshold 20."""
    dev = gpudl.device(device)
    m, k, n = 9, 5, 37
    for dtype in (np.float32, np.float64):
        a, b, bias = (rng.standard_normal(s).astype(dtype) for s in ((m, k), (k, n), (n,)))
        z = a.astype(np.float64) @ b.astype(np.float64) + bias
        for order in thread_orders(dev):
            with order():
                c = impl(dev).matmul(dev, put(dev, a), put(dev, b), put(dev, bias), act, slope=0.7)
            tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(host(c), act_ref(z, act, 0.7), **tol, err_msg=f"{act} {np.dtype(dtype)}")


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0), (-1.5, 2.0)])
def test_softplus_threshold(device, beta, threshold, rng):
    """Both sides of PyTorch's threshold: f = z and f' = 1 where beta z > threshold."""
    dev = gpudl.device(device)
    z = np.concatenate([np.linspace(-30, 30, 241), threshold / beta + np.array([-0.01, 0.01])])
    z = z[np.abs(beta * z - threshold) > 1e-3]  # central differences stay off the kink
    gy = rng.standard_normal(z.shape)
    for dtype in dtypes(dev):
        zd, gyd = put(dev, z[None], dtype), put(dev, gy[None], dtype)
        for order in thread_orders(dev):
            with order():
                y = host(impl(dev).bias_act_forward(dev, zd, None, "softplus", beta, threshold))[0]
                gx = host(impl(dev).bias_act_backward(dev, gyd, zd, None, "softplus", beta, threshold)[0])[0]
            zr = z.astype(dtype).astype(np.float64)
            np.testing.assert_allclose(y, act_ref(zr, "softplus", beta, threshold), **tolerance(dtype))
            above = beta * zr > threshold
            assert np.array_equal(y[above], zr[above].astype(dtype))
            np.testing.assert_allclose(gx, gy.astype(dtype) * act_grad_ref(zr, "softplus", beta, threshold=threshold),
                                       rtol=1e-4, atol=1e-5)


def test_new_activations_stay_finite_for_large_inputs(device):
    """No overflow at |z| = 80 (e^80 overflows float32): softplus, silu, elu and gelu and their slopes."""
    dev = gpudl.device(device)
    z = np.array([[-80.0, -30.0, 30.0, 80.0]])
    for dtype in dtypes(dev):
        zd = put(dev, z, dtype)
        for act in NEW_ACTS:
            y = host(impl(dev).bias_act_forward(dev, zd, None, act, 1.0))
            gx, _ = impl(dev).bias_act_backward(dev, put(dev, np.ones_like(z), dtype), zd, None, act, 1.0)
            assert np.isfinite(y).all() and np.isfinite(host(gx)).all(), act
            np.testing.assert_allclose(y, act_ref(z, act, 1.0), rtol=1e-6, atol=1e-6, err_msg=act)
