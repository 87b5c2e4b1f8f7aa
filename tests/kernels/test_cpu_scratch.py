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
