"""Fused bias + activation forward/backward vs formulas and central differences."""
import numpy as np
import pytest

import gpudl
from kernel_refs import act_grad_ref, act_ref, bias_shape, dtypes, host, impl, put, thread_orders, tolerance

ACTS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu")
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
