"""conv2d forward / backward-data / backward-weight vs naive references, every algorithm: strides,
dilation, symmetric, asymmetric and 'same' padding."""
import numpy as np
import pytest

import gpudl
from kernel_refs import (conv_backward_data_ref, conv_backward_weight_ref, conv_forward_ref, conv_out, dtypes,
                         host, impl, pair, put, thread_orders, tolerance)

# (N, C, H, W, F, (kh, kw), stride, padding[, dilation]); padding ((top, bottom), (left, right)) is asymmetric
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
    (1, 3, 9, 11, 5, (3, 3), 1, 2, 2),
    (2, 2, 13, 10, 4, (3, 2), 2, 1, (2, 3)),
    (1, 5, 8, 9, 3, (2, 2), 1, ((0, 1), (0, 1))),
    (2, 3, 7, 12, 6, (4, 3), 1, ((1, 2), (2, 2)), (1, 2)),
    (1, 4, 10, 10, 70, (3, 3), 3, ((2, 0), (1, 3)), 2),
    (2, 20, 6, 7, 3, (2, 3), (2, 1), ((1, 0), (0, 2)), (3, 1)),
    (1, 2, 14, 9, 3, (5, 3), (1, 2), 2, (2, 1)),
    (2, 3, 12, 11, 4, (5, 2), 1, ((4, 4), (1, 0)), (2, 1)),
]
CASES = [c if len(c) == 9 else c + (1,) for c in CASES]
IDS = [f"n{c[0]}c{c[1]}_{c[2]}x{c[3]}_f{c[4]}_k{c[5][0]}x{c[5][1]}_s{c[6]}_p{c[7]}_d{c[8]}" for c in CASES]


def algos(dev):
    return (None,) if dev.type == "cpu" else ("im2col", "tiled")


def _data(rng, case):
    n, c, h, w, f, k, s, p, d = case
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c) + k) / np.sqrt(c * k[0] * k[1])
    b = rng.standard_normal(f)
    gy = rng.standard_normal((n, f) + conv_out(x.shape, k, pair(s), p, d))
    return x, wt, b, gy


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_matches_reference(device, case, rng):
    dev = gpudl.device(device)
    ops = impl(dev)
    s, p, d = case[6:]
    x, w, b, gy = _data(rng, case)
    for dtype in dtypes(dev):
        xd, wd, bd, gyd = (put(dev, a, dtype) for a in (x, w, b, gy))
        xr, wr, br, gyr = (a.astype(dtype).astype(np.float64) for a in (x, w, b, gy))
        expected = {
            "forward": conv_forward_ref(xr, wr, br, s, p, d),
            "forward_nobias": conv_forward_ref(xr, wr, None, s, p, d),
            "data": conv_backward_data_ref(gyr, wr, x.shape, s, p, d),
            "weight": conv_backward_weight_ref(gyr, xr, w.shape, s, p, d),
        }
        for algo in algos(dev):
            for order in thread_orders(dev):
                with order():
                    got = {
                        "forward": ops.conv2d_forward(dev, xd, wd, bd, s, p, dilation=d, algo=algo),
                        "forward_nobias": ops.conv2d_forward(dev, xd, wd, None, s, p, dilation=d, algo=algo),
                        "data": ops.conv2d_backward_data(dev, gyd, wd, x.shape, s, p, dilation=d, algo=algo),
                        "weight": ops.conv2d_backward_weight(dev, gyd, xd, w.shape, s, p, dilation=d, algo=algo),
                    }
                for name, value in got.items():
                    assert value.dtype == dtype, (name, algo)
                    np.testing.assert_allclose(host(value), expected[name], **tolerance(dtype),
                                               err_msg=f"{name} algo={algo} dtype={np.dtype(dtype)}")


# (kernel, dilation) -> the ((top, bottom), (left, right)) that 'same' must pad: d (k - 1), the odd one after
SAME = [((3, 3), 1, ((1, 1), (1, 1))), ((2, 4), 1, ((0, 1), (1, 2))), ((3, 2), (2, 3), ((2, 2), (1, 2))),
        ((4, 1), 3, ((4, 5), (0, 0)))]


@pytest.mark.parametrize("kernel, dilation, sides", SAME, ids=[f"k{k[0]}x{k[1]}_d{d}" for k, d, _ in SAME])
def test_conv2d_same_and_valid_padding(device, kernel, dilation, sides, rng):
    """'same' keeps H, W and pads like the explicit sides; 'valid' is padding 0 (every pass, every algorithm)."""
    dev = gpudl.device(device)
    ops = impl(dev)
    x = rng.standard_normal((1, 2, 11, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2) + kernel).astype(np.float32)
    gy = rng.standard_normal((1, 3, 11, 6)).astype(np.float32)
    xd, wd, gyd = (put(dev, a) for a in (x, w, gy))
    for algo in algos(dev):
        for padding, want in (("same", sides), ("valid", 0)):
            y = ops.conv2d_forward(dev, xd, wd, None, 1, padding, dilation=dilation, algo=algo)
            np.testing.assert_allclose(host(y), conv_forward_ref(x, w, None, 1, want, dilation), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(host(ops.conv2d_backward_data(dev, gyd, wd, x.shape, 1, "same", dilation, algo)),
                                   conv_backward_data_ref(gy, w, x.shape, 1, sides, dilation), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(host(ops.conv2d_backward_weight(dev, gyd, xd, w.shape, 1, "same", dilation, algo)),
                                   conv_backward_weight_ref(gy, x, w.shape, 1, sides, dilation), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride, padding, dilation, match", [
    (2, "same", 1, r"conv2d_forward: padding='same' needs stride 1"),
    (1, "full", 1, r"conv2d_forward: padding must be 'same', 'valid'"),
    (1, -1, 1, r"conv2d_forward: padding -1 must be >= 0"),
    (1, ((1, 0), (0, -2)), 1, r"conv2d_forward: padding .* must be >= 0"),
    (1, 0, 0, r"conv2d_forward: .*dilation \(0, 0\) must be >= 1"),
    (1, 0, 1.5, r"conv2d_forward: dilation must be an int, got 1.5"),  # a TypeError
    (1.0, 0, 1, r"conv2d_forward: stride must be an int"),  # a TypeError
    (1, 0, 3, r"conv2d_forward: kernel \(3, 3\) \(dilation \(3, 3\): spans \(7, 7\)\) is larger than the padded"),
])
def test_conv2d_rejects_bad_geometry(device, stride, padding, dilation, match):
    dev = gpudl.device(device)
    x, w = put(dev, np.zeros((1, 2, 5, 6), np.float32)), put(dev, np.zeros((3, 2, 3, 3), np.float32))
    error = TypeError if "must be an int" in match else ValueError
    with pytest.raises(error, match=match):
        impl(dev).conv2d_forward(dev, x, w, None, stride, padding, dilation)


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
