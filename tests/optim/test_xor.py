"""Every optimizer trains a 2-8-1 tanh MLP to 100 % accuracy on XOR (full batch, seeded).

Run on cpu so the seeded initialisation is the same on every machine (CuPy draws other numbers).
"""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
import gpudl.optim as optim

STEPS = 300  # the slowest (Adadelta) needs about 130 steps on seeds 0-9
CONFIGS = {
    "SGD": dict(lr=0.1, momentum=0.9),
    "Adagrad": dict(lr=0.1),
    "RMSprop": dict(lr=0.01),
    "Adadelta": dict(lr=1.0),
    "Adam": dict(lr=0.05),
    "AdamW": dict(lr=0.05),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", CONFIGS)
def test_xor(name, seed):
    gd.manual_seed(seed)
    x = gd.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], device="cpu")
    y = gd.tensor([[0.0], [1.0], [1.0], [0.0]], device="cpu")
    model = nn.Sequential(nn.Linear(2, 8, device="cpu"), nn.Tanh(), nn.Linear(8, 1, device="cpu"))
    opt = getattr(optim, name)(model.parameters(), **CONFIGS[name])
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
    with gd.no_grad():
        predicted = model(x).numpy() > 0
    np.testing.assert_array_equal(predicted, y.numpy() > 0.5)
    assert loss.item() < 0.05
