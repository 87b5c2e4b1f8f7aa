import numpy as np
import pytest

import gpudl as gd
from gpudl.nn import init


def big(*shape):
    return gd.zeros(*shape, dtype="float64")


def test_normal_and_uniform_moments():
    gd.manual_seed(0)
    w = init.normal_(big(400, 500), mean=1.0, std=0.5).numpy()
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    u = init.uniform_(big(400, 500), -2, 3).numpy()
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.02


@pytest.mark.parametrize("fn, expected_std", [
    (lambda t: init.xavier_uniform_(t), np.sqrt(2 / (300 + 200))),
    (lambda t: init.xavier_normal_(t, gain=2.0), 2 * np.sqrt(2 / (300 + 200))),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), np.sqrt(2 / 300)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), np.sqrt(2 / 200)),
])
def test_scaled_inits_have_the_documented_std(fn, expected_std):
    gd.manual_seed(1)
    w = fn(big(200, 300)).numpy()  # fan_in 300, fan_out 200
    assert abs(w.std() / expected_std - 1) < 0.02


def test_conv_fans_include_the_receptive_field():
    assert init.fans(big(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans(big(3))


def test_zeros_ones_keep_device_and_dtype(device):
    t = gd.ones(3, device=device)
    init.zeros_(t)
    assert t.numpy().tolist() == [0, 0, 0] and t.dtype == np.float32 and t.device == gd.device(device)
