"""The cpu path reuses scratch buffers: what it returns must never be one of them."""
import numpy as np
import pytest

from gpudl import device
from gpudl import cpu


@pytest.mark.parametrize("stride", [1, 2])
def test_results_survive_the_next_call(stride):
    rng = np.random.default_rng(0)
    dev = device("cpu")
    x1, x2 = rng.standard_normal((2, 2, 2, 7, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    outs = []
    for x in (x1, x2):
        y = cpu.conv2d_forward(dev, x, w, None, stride, 1)
        gx = cpu.conv2d_backward_data(dev, np.ones_like(y), w, x.shape, stride, 1)
        gw = cpu.conv2d_backward_weight(dev, np.ones_like(y), x, w.shape, stride, 1)
        outs.append([a.copy() for a in (y, gx, gw)] + [(y, gx, gw)])
    first_copies, first_live = outs[0][:3], outs[0][3]
    for kept, live in zip(first_copies, first_live):
        assert np.array_equal(kept, live)  # the second call did not overwrite the first's results
    for a in first_live:
        for b in outs[1][3]:
            assert not np.shares_memory(a, b)


def _weight_grad_ref(gy, x, w_shape, pad):
    """dW by direct loops over outputs (stride 1)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, c, kh, kw = w_shape
    gw = np.zeros(w_shape)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i:i + gy.shape[2], j:j + gy.shape[3]]
            gw[:, :, i, j] = np.einsum("nfhw,nchw->fc", gy, window)
    return gw


def test_the_forward_columns_serve_only_the_weight_gradient_of_the_same_input():
    """Two inputs of one shape through one layer geometry: each weight gradient uses its own x,
    whichever forward ran last (the kept columns belong to one array object)."""
    rng = np.random.default_rng(1)
    dev = device("cpu")
    x1, x2 = (rng.standard_normal((2, 3, 6, 5)).astype(np.float32) for _ in range(2))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    cpu.conv2d_forward(dev, x1, w, None, 1, 1)
    cpu.conv2d_forward(dev, x2, w, None, 1, 1)  # the kept columns are x2's now
    for x in (x1, x2, x1.copy()):
        got = cpu.conv2d_backward_weight(dev, gy, x, w.shape, 1, 1)
        np.testing.assert_allclose(got, _weight_grad_ref(gy, x, w.shape, 1), rtol=1e-4, atol=1e-4)
