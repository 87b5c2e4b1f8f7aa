"""max / avg / adaptive avg pooling forward and backward vs naive references (ceil_mode too)."""
import numpy as np
import pytest

import gpudl
from kernel_refs import (adaptive_avg_pool_backward_ref, adaptive_avg_pool_ref, avg_pool_backward_ref, avg_pool_ref,
                         dtypes, host, impl, max_pool_backward_ref, max_pool_ref, pool_out, put, thread_orders,
                         tolerance)

# (N, C, H, W, kernel, stride, padding[, ceil_mode])
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
    # ceil_mode: the last windows hang over the padded input; the decrement rule drops some
    (1, 1, 5, 5, 2, 2, 0, True),
    (2, 3, 8, 10, 3, 2, 1, True),
    (1, 2, 5, 6, 2, 2, 1, True),
    (1, 3, 11, 12, (3, 2), (3, 3), (1, 1), True),
    (2, 2, 7, 10, (2, 3), (2, 2), (0, 1), True),
    (1, 1, 33, 17, 4, 4, 2, True),
    (2, 3, 6, 7, 3, 1, 1, True),
    (2, 5, 19, 23, 3, 2, 0, True),
]
CASES = [c if len(c) == 8 else c + (False,) for c in CASES]
IDS = [f"n{c[0]}c{c[1]}_{c[2]}x{c[3]}_k{c[4]}_s{c[5]}_p{c[6]}" + ("_ceil" if c[7] else "") for c in CASES]


def _data(rng, case):
    n, c, h, w, k, s, p, ceil_mode = case
    x = rng.standard_normal((n, c, h, w))
    gy = rng.standard_normal((n, c) + pool_out(x.shape, k, s, p, ceil_mode))
    return x, gy


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_max_pool2d_matches_reference(device, case, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    k, s, p, ceil = case[4:]
    x, gy = _data(rng, case)
    for dtype in dtypes(dev):
        y_ref, arg_ref = max_pool_ref(x.astype(dtype), k, s, p, ceil)
        gx_ref = max_pool_backward_ref(gy.astype(dtype).astype(np.float64), arg_ref, x.shape)
        xd, gyd = put(dev, x, dtype), put(dev, gy, dtype)
        for order in thread_orders(dev):
            with order():
                y, arg = ops.max_pool2d_forward(dev, xd, k, s, p, ceil)
                gx = ops.max_pool2d_backward(dev, gyd, arg, x.shape, k, s, p, ceil)
                # the argmax convention is shared, so the reference's argmax drives backward too
                gx_from_ref = ops.max_pool2d_backward(dev, gyd, put(dev, arg_ref.astype(np.int32)), x.shape, k, s, p,
                                                      ceil)
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
    k, s, p, ceil = case[4:]
    x, gy = _data(rng, case)
    for dtype in dtypes(dev):
        y_ref = avg_pool_ref(x.astype(dtype), k, s, p, count_include_pad, ceil)
        gx_ref = avg_pool_backward_ref(gy.astype(dtype).astype(np.float64), x.shape, k, s, p, count_include_pad, ceil)
        xd, gyd = put(dev, x, dtype), put(dev, gy, dtype)
        for order in thread_orders(dev):
            with order():
                y = ops.avg_pool2d_forward(dev, xd, k, s, p, count_include_pad, ceil)
                gx = ops.avg_pool2d_backward(dev, gyd, x.shape, k, s, p, count_include_pad, ceil)
            assert y.dtype == dtype and gx.dtype == dtype
            np.testing.assert_allclose(host(y), y_ref, **tolerance(dtype))
            np.testing.assert_allclose(host(gx), gx_ref, **tolerance(dtype))


# (TILE_OUTPUTS, SHARED_LIMIT, MAX_BLOCKS) of gpudl/gpu/pool.py forcing each path of the staged forwards
TILINGS = {"row_tiles_grid_stride": (32, 48 * 1024, 3), "plane_tiles": (256, 48 * 1024, 2),
           "small_shared": (256, 700, 65535), "direct": (256, 64, 65535)}
TILED_CASES = [(2, 3, 30, 37, 3, 2, 1, False), (1, 2, 40, 21, 2, 2, 0, True),
               (3, 5, 9, 11, (2, 3), (1, 2), (1, 1), False), (2, 4, 7, 12, (3, 1), (3, 3), (1, 0), True)]


@pytest.mark.parametrize("tiling", TILINGS)
def test_pool_forward_tilings_match_reference(kernel_device, tiling, monkeypatch, rng):
    from gpudl.cpu.geometry import pool_geometry
    from gpudl.gpu import pool
    dev = gpudl.device(kernel_device)
    for name, value in zip(("TILE_OUTPUTS", "SHARED_LIMIT", "MAX_BLOCKS"), TILINGS[tiling]):
        monkeypatch.setattr(pool, name, value)
    seen = set()
    for n, c, h, w, k, s, p, ceil in TILED_CASES:
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        x[0, 0, :2] = 1.0  # ties: the first maximum wins
        kernel, stride, _, out_hw = pool_geometry("test", x.shape, k, s, p, ceil)
        (blocks,), _, (rows, group, _) = pool.tiling(x.shape, kernel, stride, out_hw)
        seen.add("direct" if rows == 0 else "rows" if rows < out_hw[0] else "planes" if group > 1 else "plane")
        if rows and -(-n * c // group) * -(-out_hw[0] // rows) > blocks:
            seen.add("grid_stride")  # more tiles than blocks
        y_ref, arg_ref = max_pool_ref(x, k, s, p, ceil)
        for order in thread_orders(dev):
            with order():
                y, arg = pool.max_pool2d_forward(dev, put(dev, x), k, s, p, ceil)
                avg = pool.avg_pool2d_forward(dev, put(dev, x), k, s, p, False, ceil)
            np.testing.assert_array_equal(host(arg), arg_ref)
            np.testing.assert_allclose(host(y), y_ref, **tolerance(np.float32))
            np.testing.assert_allclose(host(avg), avg_pool_ref(x, k, s, p, False, ceil), **tolerance(np.float32))
    expected = {"row_tiles_grid_stride": {"rows", "grid_stride"}, "plane_tiles": {"planes", "grid_stride"},
                "small_shared": {"rows"}, "direct": {"direct"}}[tiling]
    assert expected <= seen and (tiling != "direct" or seen == expected)


# (N, C, H, W, output_size, (OH, OW)): divisible, not divisible, None entries, identity, more outputs than inputs
ADAPTIVE = [
    (1, 1, 5, 5, 1, (1, 1)),
    (2, 3, 7, 9, 3, (3, 3)),
    (1, 2, 10, 6, (4, None), (4, 6)),
    (2, 1, 6, 8, (6, 8), (6, 8)),
    (1, 3, 5, 7, (8, 11), (8, 11)),
    (3, 2, 13, 17, (5, 4), (5, 4)),
    (1, 1, 300, 2, (7, 1), (7, 1)),
    (2, 3, 40, 50, (19, None), (19, 50)),
]


@pytest.mark.parametrize("case", ADAPTIVE, ids=[f"n{c[0]}c{c[1]}_{c[2]}x{c[3]}_out{c[4]}" for c in ADAPTIVE])
def test_adaptive_avg_pool2d_matches_reference(device, case, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    shape, output_size, out_hw = case[:4], case[4], case[5]
    x, gy = rng.standard_normal(shape), rng.standard_normal(shape[:2] + out_hw)
    for dtype in dtypes(dev):
        y_ref = adaptive_avg_pool_ref(x.astype(dtype), out_hw)
        gx_ref = adaptive_avg_pool_backward_ref(gy.astype(dtype).astype(np.float64), shape)
        xd, gyd = put(dev, x, dtype), put(dev, gy, dtype)
        for order in thread_orders(dev):
            with order():
                y = ops.adaptive_avg_pool2d_forward(dev, xd, output_size)
                gx = ops.adaptive_avg_pool2d_backward(dev, gyd, shape, output_size)
            assert y.dtype == dtype and gx.dtype == dtype and y.shape == shape[:2] + out_hw
            np.testing.assert_allclose(host(y), y_ref, **tolerance(dtype))
            np.testing.assert_allclose(host(gx), gx_ref, **tolerance(dtype))


@pytest.mark.parametrize("output_size, match", [(0, r"output_size \(0, 0\).*>= 1"), ((2, -1), "must be >= 1"),
                                                ((2, 3, 4), "int, None or a pair"), (2.5, "int, None or a pair"),
                                                ((2, 1.5), "output_size must be an int, got 1.5")])
def test_adaptive_avg_pool2d_rejects_bad_output_size(device, output_size, match):
    dev = gpudl.device(device)
    x = put(dev, np.zeros((1, 1, 4, 4), np.float32))
    error = TypeError if "must be an int," in match else ValueError
    with pytest.raises(error, match="adaptive_avg_pool2d_forward: .*" + match):
        impl(dev).adaptive_avg_pool2d_forward(dev, x, output_size)


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
    with pytest.raises(TypeError, match="adaptive_avg_pool2d_forward.*float64"):
        impl(dev).adaptive_avg_pool2d_forward(dev, x, 3)
