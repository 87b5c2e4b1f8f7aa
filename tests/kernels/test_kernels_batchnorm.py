"""Batch normalisation forward/backward vs float64 references and central differences."""
import numpy as np
import pytest

import gpudl
from kernel_refs import dtypes, host, impl, put, thread_orders, tolerance

TRAIN_SHAPES = [(2, 3), (5, 3, 7), (7, 4, 5, 3), (128, 6, 4, 4), (3, 2, 17, 9)]
EVAL_SHAPES = TRAIN_SHAPES + [(1, 5, 1, 1)]
MOMENTUM, EPS = 0.1, 1e-5


def ids(shape):
    return "x".join(map(str, shape))


def by_channel(x):
    """x as (C, n): channel rows (independent of the kernels' (N, C, H, W) walk)."""
    return np.moveaxis(np.asarray(x, np.float64), 1, 0).reshape(x.shape[1], -1)


def from_channels(rows, shape):
    """Inverse of by_channel."""
    moved = (shape[1], shape[0]) + tuple(shape[2:])
    return np.moveaxis(rows.reshape(moved), 0, 1)


def forward_ref(x, weight, bias, mean=None, var=None):
    """(y, mean, invstd, biased var) in float64; the batch statistics unless mean/var are given."""
    rows = by_channel(x)
    if mean is None:
        mean = rows.sum(axis=1) / rows.shape[1]
        var = np.array([np.dot(r - m, r - m) for r, m in zip(rows, mean)]) / rows.shape[1]
    invstd = 1 / np.sqrt(np.asarray(var, np.float64) + EPS)
    gamma = np.ones(len(mean)) if weight is None else np.asarray(weight, np.float64)
    beta = np.zeros(len(mean)) if bias is None else np.asarray(bias, np.float64)
    y = (rows - np.asarray(mean, np.float64)[:, None]) * (gamma * invstd)[:, None] + beta[:, None]
    return from_channels(y, x.shape), np.asarray(mean, np.float64), invstd, var


def backward_ref(g, x, weight, mean, invstd, training):
    """(gx, gweight, gbias) in float64: dx = gamma invstd (g - mean(g) - xhat mean(g xhat)) when training."""
    gr, xhat = by_channel(g), (by_channel(x) - mean[:, None]) * invstd[:, None]
    gamma = np.ones(len(mean)) if weight is None else np.asarray(weight, np.float64)
    gbias, gweight = gr.sum(axis=1), (gr * xhat).sum(axis=1)
    if training:
        gr = gr - gr.mean(axis=1, keepdims=True) - xhat * (gr * xhat).mean(axis=1, keepdims=True)
    return from_channels(gr * (gamma * invstd)[:, None], x.shape), gweight, gbias


def data(rng, shape):
    c = shape[1]
    x = 2 * rng.standard_normal(shape) + rng.standard_normal(c).reshape((1, c) + (1,) * (len(shape) - 2))
    return x, 1 + 0.5 * rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(shape)


def running(rng, c):
    return rng.standard_normal(c), 0.5 + rng.random(c)


def rounded(dtype, *arrays):
    """The arrays rounded to dtype, back in float64 (what the device actually sees)."""
    return [None if a is None else np.asarray(a, dtype).astype(np.float64) for a in arrays]


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=ids)
def test_forward_training(device, shape, affine, rng):
    dev = gpudl.device(device)
    x, w, b, _ = data(rng, shape)
    rm0, rv0 = running(rng, shape[1])
    n = x.size // shape[1]
    for dtype in dtypes(dev):
        xr, wr, br, rmr, rvr = rounded(dtype, x, w if affine else None, b if affine else None, rm0, rv0)
        y_ref, mean_ref, invstd_ref, var_ref = forward_ref(xr, wr, br)
        for order in thread_orders(dev):
            rm, rv = put(dev, rm0, dtype), put(dev, rv0, dtype)
            args = [put(dev, a, dtype) if a is not None else None for a in (x, wr, br)]
            with order():
                y, mean, invstd = impl(dev).batch_norm_forward(dev, *args, rm, rv, True, MOMENTUM, EPS)
            tol = tolerance(dtype)
            assert y.dtype == dtype and y.shape == shape and mean.shape == invstd.shape == (shape[1],)
            np.testing.assert_allclose(host(y), y_ref, **tol)
            np.testing.assert_allclose(host(mean), mean_ref, **tol)
            np.testing.assert_allclose(host(invstd), invstd_ref, **tol)
            # the arrays passed in hold the updated statistics (in place)
            np.testing.assert_allclose(host(rm), (1 - MOMENTUM) * rmr + MOMENTUM * mean_ref, **tol)
            np.testing.assert_allclose(host(rv), (1 - MOMENTUM) * rvr + MOMENTUM * var_ref * n / (n - 1), **tol)


@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=ids)
def test_forward_training_without_running_stats(device, shape, rng):
    dev = gpudl.device(device)
    x, w, b, _ = data(rng, shape)
    xr, wr, br = rounded(np.float32, x, w, b)
    y, mean, invstd = impl(dev).batch_norm_forward(dev, *(put(dev, a, np.float32) for a in (x, w, b)), None, None,
                                                   True, MOMENTUM, EPS)
    y_ref, mean_ref, invstd_ref, _ = forward_ref(xr, wr, br)
    for got, want in ((y, y_ref), (mean, mean_ref), (invstd, invstd_ref)):
        np.testing.assert_allclose(host(got), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", EVAL_SHAPES, ids=ids)
def test_forward_eval(device, shape, affine, rng):
    dev = gpudl.device(device)
    x, w, b, _ = data(rng, shape)
    rm0, rv0 = running(rng, shape[1])
    for dtype in dtypes(dev):
        xr, wr, br, rmr, rvr = rounded(dtype, x, w if affine else None, b if affine else None, rm0, rv0)
        y_ref, _, invstd_ref, _ = forward_ref(xr, wr, br, rmr, rvr)
        rm, rv = put(dev, rm0, dtype), put(dev, rv0, dtype)
        for order in thread_orders(dev):
            with order():
                y, mean, invstd = impl(dev).batch_norm_forward(
                    dev, put(dev, x, dtype), *(None if a is None else put(dev, a, dtype) for a in (wr, br)),
                    rm, rv, False, MOMENTUM, EPS)
            tol = tolerance(dtype)
            np.testing.assert_allclose(host(y), y_ref, **tol)
            np.testing.assert_allclose(host(mean), rmr, **tol)
            np.testing.assert_allclose(host(invstd), invstd_ref, **tol)
            np.testing.assert_array_equal(host(rm), rmr)  # eval leaves the running stats alone
            np.testing.assert_array_equal(host(rv), rvr)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", EVAL_SHAPES, ids=ids)
def test_backward(device, shape, affine, training, rng):
    if training and shape == (1, 5, 1, 1):
        pytest.skip("training needs n > 1")
    dev = gpudl.device(device)
    x, w, _, g = data(rng, shape)
    mean0, invstd0 = rng.standard_normal(shape[1]), 0.5 + rng.random(shape[1])
    for dtype in dtypes(dev):
        gr, xr, wr, meanr, invstdr = rounded(dtype, g, x, w if affine else None, mean0, invstd0)
        refs = backward_ref(gr, xr, wr, meanr, invstdr, training)
        args = [None if a is None else put(dev, a, dtype) for a in (g, x, wr, mean0, invstd0)]
        for order in thread_orders(dev):
            with order():
                out = impl(dev).batch_norm_backward(dev, *args, training)
            for got, want, name in zip(out, refs, ("gx", "gweight", "gbias")):
                assert got.dtype == dtype and got.shape == want.shape, name
                scale = np.abs(want).max() + 1
                np.testing.assert_allclose(host(got), want, rtol=tolerance(dtype)["rtol"],
                                           atol=tolerance(dtype)["atol"] * scale, err_msg=name)


def _loss(x, w, b, r, training, rm, rv):
    """L = sum(r * y) of the float64 reference forward."""
    y = forward_ref(x, w, b)[0] if training else forward_ref(x, w, b, rm, rv)[0]
    return float((y * r).sum())


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(2, 3, 2, 2), (5, 3)], ids=ids)
def test_gradients_vs_central_differences(shape, training, rng):
    """Every entry of the cpu float64 backward vs central differences of the reference forward."""
    dev = gpudl.device("cpu")
    x, w, b, r = data(rng, shape)
    rm, rv = running(rng, shape[1])
    _, mean, invstd = impl(dev).batch_norm_forward(dev, x, w, b, rm.copy() if training else rm,
                                                   rv.copy() if training else rv, training, MOMENTUM, EPS)
    gx, gw, gb = impl(dev).batch_norm_backward(dev, r, x, w, mean, invstd, training)
    h = 1e-6
    for got, arr in ((gx, x), (gw, w), (gb, b)):
        numeric = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            saved = arr[i]
            arr[i] = saved + h
            up = _loss(x, w, b, r, training, rm, rv)
            arr[i] = saved - h
            numeric[i] = (up - _loss(x, w, b, r, training, rm, rv)) / (2 * h)
            arr[i] = saved
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", TRAIN_SHAPES, ids=ids)
def test_directional_derivatives(shape, rng):
    """<dL/dx, v> of the cpu float64 backward vs a central difference along a random v (large shapes)."""
    dev = gpudl.device("cpu")
    x, w, b, r = data(rng, shape)
    v = rng.standard_normal(shape)
    _, mean, invstd = impl(dev).batch_norm_forward(dev, x, w, b, None, None, True, MOMENTUM, EPS)
    gx = impl(dev).batch_norm_backward(dev, r, x, w, mean, invstd, True)[0]
    h = 1e-5
    numeric = (_loss(x + h * v, w, b, r, True, None, None) - _loss(x - h * v, w, b, r, True, None, None)) / (2 * h)
    np.testing.assert_allclose((gx * v).sum(), numeric, rtol=1e-6, atol=1e-7)


def _views(dev, rng, shape):
    """x and g as strided device views (transposed, sliced with a negative step) and their host copies."""
    xb = rng.standard_normal((shape[1], shape[0]) + shape[2:])
    gb = rng.standard_normal((shape[0], shape[1] + 2) + shape[2:])
    xd, gd = put(dev, xb, np.float32), put(dev, gb, np.float32)
    xh, gh = xb.astype(np.float32), gb.astype(np.float32)
    return xd.swapaxes(0, 1), gd[:, -2:0:-1], xh.swapaxes(0, 1), gh[:, -2:0:-1]


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (4, 3, 5, 6)], ids=ids)
def test_strided_inputs_and_cpu_vs_emu(kernel_device, shape, rng):
    dev, cpu = gpudl.device(kernel_device), gpudl.device("cpu")
    xd, gd, xh, gh = _views(dev, rng, shape)
    assert not xh.flags.c_contiguous and not gh.flags.c_contiguous
    c = shape[1]
    w, b = (rng.standard_normal(c).astype(np.float32) for _ in range(2))
    rm, rv = (a.astype(np.float32) for a in running(rng, c))
    expected = impl(cpu).batch_norm_forward(cpu, xh, w, b, rm.copy(), rv.copy(), True, MOMENTUM, EPS)
    expected_grads = impl(cpu).batch_norm_backward(cpu, gh, xh, w, expected[1], expected[2], True)
    ref = forward_ref(xh, w, b)
    np.testing.assert_allclose(expected[0], ref[0], rtol=1e-4, atol=1e-5)
    for order in thread_orders(dev):
        with order():
            out = impl(dev).batch_norm_forward(dev, xd, put(dev, w), put(dev, b), put(dev, rm), put(dev, rv), True,
                                               MOMENTUM, EPS)
            grads = impl(dev).batch_norm_backward(dev, gd, xd, put(dev, w), out[1], out[2], True)
        for got, want in zip(out + grads, expected + expected_grads):
            np.testing.assert_allclose(host(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("momentum", [0.1, None], ids=["momentum", "cumulative"])
def test_num_batches_tracked_counts_and_sets_the_cumulative_factor(device, momentum, rng):
    """Each training call adds 1 to the counter first; momentum=None then updates with m = 1 / count."""
    dev = gpudl.device(device)
    shape, count0 = (6, 3, 2), 4
    x = data(rng, shape)[0]
    rm0, rv0 = running(rng, shape[1])
    xr, rmr, rvr = rounded(np.float32, x, rm0, rv0)
    _, mean_ref, _, var_ref = forward_ref(xr, None, None)
    m = 1 / (count0 + 1) if momentum is None else momentum
    n = x.size // shape[1]
    for order in thread_orders(dev):
        rm, rv, count = put(dev, rm0, np.float32), put(dev, rv0, np.float32), put(dev, np.int64(count0))
        with order():
            impl(dev).batch_norm_forward(dev, put(dev, x, np.float32), None, None, rm, rv, True, momentum, EPS, count)
            impl(dev).batch_norm_forward(dev, put(dev, x, np.float32), None, None, rm.copy(), rv.copy(), False,
                                         momentum, EPS, count)  # evaluation does not count
        assert host(count).dtype == np.int64 and int(host(count)) == count0 + 1
        np.testing.assert_allclose(host(rm), (1 - m) * rmr + m * mean_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(host(rv), (1 - m) * rvr + m * var_ref * n / (n - 1), rtol=1e-5, atol=1e-6)


def test_deterministic(kernel_device, rng):
    dev = gpudl.device(kernel_device)
    x, w, b, g = (put(dev, a, np.float32) for a in data(rng, (128, 6, 4, 4)))
    runs = []
    for _ in range(2):
        y, mean, invstd = impl(dev).batch_norm_forward(dev, x, w, b, None, None, True, MOMENTUM, EPS)
        runs.append([host(a) for a in (y, mean, invstd) + impl(dev).batch_norm_backward(dev, g, x, w, mean, invstd,
                                                                                          True)])
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)


def test_batchnorm_errors(device):
    dev = gpudl.device(device)
    ops = impl(dev)

    def z(*shape, dtype=np.float32):
        return put(dev, np.ones(shape, dtype))
    x, c3 = z(4, 3, 2, 2), z(3)
    with pytest.raises(TypeError, match="batch_norm_forward.*int32"):
        ops.batch_norm_forward(dev, z(4, 3, dtype=np.int32), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward"):
        ops.batch_norm_forward(dev, x, z(3, dtype=np.float64), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward.*\(4, 3, 2, 2, 2\)"):
        ops.batch_norm_forward(dev, z(4, 3, 2, 2, 2), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward: weight.*\(4,\).*\(4, 3, 2, 2\)"):
        ops.batch_norm_forward(dev, x, z(4), c3, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward: running_var"):
        ops.batch_norm_forward(dev, x, c3, c3, c3, z(2), True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward.*both"):
        ops.batch_norm_forward(dev, x, c3, c3, c3, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward.*more than one value"):
        ops.batch_norm_forward(dev, z(1, 3, 1, 1), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward.*eval"):
        ops.batch_norm_forward(dev, x, None, None, None, None, False, 0.1, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward: momentum=None.*num_batches_tracked"):
        ops.batch_norm_forward(dev, x, None, None, c3, c3, True, None, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward: num_batches_tracked must be a 0-d int64"):
        ops.batch_norm_forward(dev, x, None, None, c3, c3, True, 0.1, 1e-5, z(1))
    with pytest.raises(ValueError, match=r"batch_norm_backward.*\(4, 3, 2, 1\).*\(4, 3, 2, 2\)"):
        ops.batch_norm_backward(dev, z(4, 3, 2, 1), x, None, c3, c3, True)
    with pytest.raises(ValueError, match=r"batch_norm_backward: invstd.*\(2,\)"):
        ops.batch_norm_backward(dev, x, x, None, c3, z(2), True)
    with pytest.raises(TypeError, match="batch_norm_backward"):
        ops.batch_norm_backward(dev, z(4, 3, 2, 2, dtype=np.int64), z(4, 3, 2, 2, dtype=np.int64), None,
                                z(3, dtype=np.int64), z(3, dtype=np.int64), True)


def test_kernels_take_float32_only(kernel_device):
    dev = gpudl.device(kernel_device)
    x = put(dev, np.ones((4, 3), np.float64))
    with pytest.raises(TypeError, match="batch_norm_forward.*float64"):
        impl(dev).batch_norm_forward(dev, x, None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_backward.*float64"):
        impl(dev).batch_norm_backward(dev, x, x, None, x[0], x[0], True)
