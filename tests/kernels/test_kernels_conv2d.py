"""conv2d forward / backward-data / backward-weight vs naive references, every algorithm."""
import numpy as np
import pytest

import gpudl
from kernel_refs import (conv_backward_data_ref, conv_backward_weight_ref, conv_forward_ref, conv_out, dtypes,
                         host, impl, pair, put, thread_orders, tolerance)

# (N, C, H, W, F, (kh, kw), stride, padding)
CASES = [
    (1, 1, 5, 5, 1, (3, 3), 1, 0),
    (2, 3, 7, 9, 4, (3, 3), 1, 1),
    (2, 2, 13, 11, 3, (3, 3), 2, 1),
    (1, 16, 6, 5, 5, (3, 3), 1, 1),
    (2, 3, 9, 8, 5, (2, 3), (1, 2), (0, 1)),
    (1, 2, 11, 10, 3, (5, 5), 3, 2),
    (3, 4, 4, 4, 70, (1, 1), 1, 0),
    (2, 17, 5, 7, 6, (3, 1), 2, (1, 0)),
    (1, 3, 4, 4, 2, (4, 4), 1, 2),
    (2, 5, 10, 10, 8, (5, 5), 2, 2),
    (1, 20, 3, 3, 66, (3, 3), 1, 1),
    (2, 1, 28, 28, 6, (5, 5), 1, 2),
    (1, 70, 5, 4, 3, (3, 3), 1, 1),
]
IDS = [f"n{c[0]}c{c[1]}_{c[2]}x{c[3]}_f{c[4]}_k{c[5][0]}x{c[5][1]}_s{c[6]}_p{c[7]}" for c in CASES]


def algos(dev):
    return (None,) if dev.type == "cpu" else ("im2col", "tiled")


def _data(rng, case):
    n, c, h, w, f, k, s, p = case
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c) + k) / np.sqrt(c * k[0] * k[1])
    b = rng.standard_normal(f)
    gy = rng.standard_normal((n, f) + conv_out(x.shape, k, pair(s), pair(p)))
    return x, wt, b, gy


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_matches_reference(device, case, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    s, p = case[6], case[7]
    x, w, b, gy = _data(rng, case)
    for dtype in dtypes(dev):
        xd, wd, bd, gyd = (put(dev, a, dtype) for a in (x, w, b, gy))
        xr, wr, br, gyr = (a.astype(dtype).astype(np.float64) for a in (x, w, b, gy))
        expected = {
            "forward": conv_forward_ref(xr, wr, br, s, p),
            "forward_nobias": conv_forward_ref(xr, wr, None, s, p),
            "data": conv_backward_data_ref(gyr, wr, x.shape, s, p),
            "weight": conv_backward_weight_ref(gyr, xr, w.shape, s, p),
        }
        for algo in algos(dev):
            for order in thread_orders(dev):
                with order():
                    got = {
                        "forward": ops.conv2d_forward(dev, xd, wd, bd, s, p, algo=algo),
                        "forward_nobias": ops.conv2d_forward(dev, xd, wd, None, s, p, algo=algo),
                        "data": ops.conv2d_backward_data(dev, gyd, wd, x.shape, s, p, algo=algo),
                        "weight": ops.conv2d_backward_weight(dev, gyd, xd, w.shape, s, p, algo=algo),
                    }
                for name, value in got.items():
                    assert value.dtype == dtype, (name, algo)
                    np.testing.assert_allclose(host(value), expected[name], **tolerance(dtype),
                                               err_msg=f"{name} algo={algo} dtype={np.dtype(dtype)}")


def test_conv2d_algo_from_environment(monkeypatch):
    from gpudl.gpu.conv2d import DEFAULT_ALGO, resolve_algo
    monkeypatch.delenv("GPUDL_CONV_ALGO", raising=False)
    assert resolve_algo() == DEFAULT_ALGO
    monkeypatch.setenv("GPUDL_CONV_ALGO", "tiled")
    assert resolve_algo() == "tiled"
    assert resolve_algo("im2col") == "im2col"
    monkeypatch.setenv("GPUDL_CONV_ALGO", "winograd")
    with pytest.raises(ValueError, match="winograd"):
        resolve_algo()


def test_conv2d_channel_mismatch_names_kernel_and_shapes(device):
    dev = gpudl.device(device)
    x, w = put(dev, np.zeros((1, 3, 5, 5), np.float32)), put(dev, np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_forward.*\(1, 3, 5, 5\).*\(2, 4, 3, 3\)"):
        impl(dev).conv2d_forward(dev, x, w, None, 1, 0)


def test_conv2d_kernel_rejects_float64(kernel_device):
    dev = gpudl.device(kernel_device)
    x, w = put(dev, np.zeros((1, 3, 5, 5))), put(dev, np.zeros((2, 3, 3, 3)))
    for algo in ("im2col", "tiled"):
        with pytest.raises(TypeError, match="conv2d_forward.*float64"):
            impl(dev).conv2d_forward(dev, x, w, None, 1, 0, algo=algo)
