"""max / avg pooling forward and backward vs naive references."""
import numpy as np
import pytest

import gpudl
from kernel_refs import (avg_pool_backward_ref, avg_pool_ref, dtypes, host, impl, max_pool_backward_ref,
                         max_pool_ref, pool_out, put, thread_orders, tolerance)

# (N, C, H, W, kernel, stride, padding)
CASES = [
    (1, 1, 4, 4, 2, 2, 0),
    (2, 3, 7, 9, 3, 2, 1),
    (2, 2, 13, 11, 3, 3, 0),
    (1, 16, 6, 5, 2, 1, 0),
    (2, 3, 9, 8, (2, 3), (2, 1), (1, 1)),
    (1, 2, 11, 10, 5, 2, 2),
    (3, 4, 8, 8, 2, 2, 0),
    (2, 17, 5, 7, (3, 1), (2, 1), (1, 0)),
    (1, 3, 4, 4, 4, 4, 2),
    (2, 5, 10, 10, 3, 1, 1),
    (1, 1, 1, 1, 1, 1, 0),
    (2, 3, 7, 9, 2, 2, 0),
]
IDS = [f"n{c[0]}c{c[1]}_{c[2]}x{c[3]}_k{c[4]}_s{c[5]}_p{c[6]}" for c in CASES]


def _data(rng, case):
    n, c, h, w, k, s, p = case
    x = rng.standard_normal((n, c, h, w))
    gy = rng.standard_normal((n, c) + pool_out(x.shape, k, s, p))
    return x, gy


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_max_pool2d_matches_reference(device, case, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    k, s, p = case[4:]
    x, gy = _data(rng, case)
    for dtype in dtypes(dev):
        y_ref, arg_ref = max_pool_ref(x.astype(dtype), k, s, p)
        gx_ref = max_pool_backward_ref(gy.astype(dtype).astype(np.float64), arg_ref, x.shape)
        xd, gyd = put(dev, x, dtype), put(dev, gy, dtype)
        for order in thread_orders(dev):
            with order():
                y, arg = ops.max_pool2d_forward(dev, xd, k, s, p)
                gx = ops.max_pool2d_backward(dev, gyd, arg, x.shape, k, s, p)
                # the argmax convention is shared, so the reference's argmax drives backward too
                gx_from_ref = ops.max_pool2d_backward(dev, gyd, put(dev, arg_ref.astype(np.int32)), x.shape, k, s, p)
            assert arg.dtype == np.int32 and y.dtype == dtype
            np.testing.assert_array_equal(host(arg), arg_ref)
            np.testing.assert_allclose(host(y), y_ref, **tolerance(dtype))
            np.testing.assert_allclose(host(gx), gx_ref, **tolerance(dtype))
            np.testing.assert_allclose(host(gx_from_ref), gx_ref, **tolerance(dtype))


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["include_pad", "exclude_pad"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_avg_pool2d_matches_reference(device, case, count_include_pad, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    k, s, p = case[4:]
    x, gy = _data(rng, case)
    for dtype in dtypes(dev):
        y_ref = avg_pool_ref(x.astype(dtype), k, s, p, count_include_pad)
        gx_ref = avg_pool_backward_ref(gy.astype(dtype).astype(np.float64), x.shape, k, s, p, count_include_pad)
        xd, gyd = put(dev, x, dtype), put(dev, gy, dtype)
        for order in thread_orders(dev):
            with order():
                y = ops.avg_pool2d_forward(dev, xd, k, s, p, count_include_pad)
                gx = ops.avg_pool2d_backward(dev, gyd, x.shape, k, s, p, count_include_pad)
            assert y.dtype == dtype and gx.dtype == dtype
            np.testing.assert_allclose(host(y), y_ref, **tolerance(dtype))
            np.testing.assert_allclose(host(gx), gx_ref, **tolerance(dtype))


def test_max_pool2d_propagates_nan_and_handles_all_neg_inf_windows(device):
    dev = gpudl.device(device)
    x = np.full((1, 1, 3, 3), -np.inf, np.float32)
    x[0, 0, 2, 2] = np.nan
    y, arg = impl(dev).max_pool2d_forward(dev, put(dev, x), 2, 2, 1)
    # windows: top-left sees only (0,0); the bottom-right one sees (2,2) = NaN
    assert host(arg).ravel().tolist() == [0, 1, 3, 8]
    assert np.isnan(host(y)[0, 0, 1, 1]) and np.isneginf(host(y)[0, 0, 0, 0])


def test_pool_padding_larger_than_half_kernel_is_rejected(device):
    dev = gpudl.device(device)
    x = put(dev, np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match="max_pool2d_forward.*padding"):
        impl(dev).max_pool2d_forward(dev, x, 2, 2, 2)
    with pytest.raises(ValueError, match="avg_pool2d_forward.*padding"):
        impl(dev).avg_pool2d_forward(dev, x, 3, 1, 2)


def test_pool_kernels_reject_float64(kernel_device):
    dev = gpudl.device(kernel_device)
    x = put(dev, np.zeros((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="max_pool2d_forward.*float64"):
        impl(dev).max_pool2d_forward(dev, x, 2, 2, 0)
    with pytest.raises(TypeError, match="avg_pool2d_forward.*float64"):
        impl(dev).avg_pool2d_forward(dev, x, 2, 2, 0)
