"""Frozen parameters in an optimizer (PyTorch's transfer-learning habit), against torch.optim: they
are never updated and get no state; the others follow PyTorch; zero_grad(set_to_none=False)."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
import gpudl.optim as optim

torch = pytest.importorskip("torch")

R = np.random.default_rng(3)
X = R.standard_normal((5, 3))
START = [R.standard_normal((3, 2)), R.standard_normal(2), R.standard_normal(2)]  # a, frozen f, b
STEPS = 4

CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def loss(x, a, f, b):
    """Σ (x a + f)² + Σ b⁴: f is used, so it would get a gradient if it were not frozen."""
    return ((x @ a + f) ** 2).sum() + (b ** 4).sum()


def run_gpudl(name, kwargs, device, steps=STEPS, set_to_none=True):
    a, f, b = (gd.tensor(v, device=device, requires_grad=True) for v in START)
    f.requires_grad_(False)
    opt = getattr(optim, name)([a, f, b], **kwargs)
    for _ in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        loss(gd.tensor(X, device=device), a, f, b).backward()
        opt.step()
    return opt, (a, f, b)


def run_torch(name, kwargs, steps=STEPS, set_to_none=True):
    a, f, b = (torch.tensor(v, requires_grad=True) for v in START)
    f.requires_grad_(False)
    opt = getattr(torch.optim, name)([a, f, b], **kwargs)
    for _ in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        loss(torch.tensor(X), a, f, b).backward()
        opt.step()
    return opt, (a, f, b)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_frozen_parameters_match_pytorch(name, kwargs, device):
    opt, ours = run_gpudl(name, kwargs, device)
    _, theirs = run_torch(name, kwargs)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.array_equal(ours[1].numpy(), START[1])  # bit for bit: never written
    assert [p in opt.state for p in ours] == [True, False, True]
    assert not any(key.startswith("state.1.") for key in opt.state_dict())


@pytest.mark.parametrize("name,kwargs", CASES[:1] + CASES[-2:], ids=IDS[:1] + IDS[-2:])
def test_zero_grad_in_place_matches_pytorch(name, kwargs):
    """set_to_none=False keeps zero gradients: those parameters are still stepped (decay, momentum), as in PyTorch."""
    _, ours = run_gpudl(name, kwargs, "cpu", set_to_none=False)
    _, theirs = run_torch(name, kwargs, set_to_none=False)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    opt, (a, f, b) = run_gpudl(name, kwargs, "cpu", steps=1)
    opt.zero_grad(set_to_none=False)
    assert not a.grad.numpy().any() and not b.grad.numpy().any() and f.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_a_stale_gradient_on_a_frozen_parameter_is_ignored(device):
    a = gd.tensor(START[0], device=device, requires_grad=True)
    opt = optim.SGD([a], lr=1.0, weight_decay=0.5)
    (a * a).sum().backward()
    a.requires_grad_(False)
    opt.step()
    assert np.array_equal(a.numpy(), START[0]) and a not in opt.state


def test_unfreezing_later_starts_that_parameter_then(device):
    """Plain SGD has no state, so a parameter unfrozen after two steps then follows PyTorch exactly."""
    ours = [gd.tensor(v, device=device, requires_grad=True) for v in START]
    theirs = [torch.tensor(v, requires_grad=True) for v in START]
    ours[1].requires_grad_(False)
    theirs[1].requires_grad_(False)
    opt, topt = optim.SGD(ours, lr=0.02), torch.optim.SGD(theirs, lr=0.02)
    for step in range(5):
        if step == 2:
            ours[1].requires_grad_(True)
            theirs[1].requires_grad_(True)
        for o, params, x in ((opt, ours, gd.tensor(X, device=device)), (topt, theirs, torch.tensor(X))):
            o.zero_grad()
            loss(x, *params).backward()
            o.step()
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=1e-10)
    assert not np.array_equal(ours[1].numpy(), START[1])


def test_a_frozen_backbone_under_one_optimizer(device):
    """The transfer-learning pattern: build the optimizer on every parameter, freeze the features."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)
    model[0].requires_grad_(False)
    before = [p.numpy() for p in model[0].parameters()]
    opt = optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(gd.ones(3, 4, device=device)).sum().backward()
        opt.step()
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, model[0].parameters()))
    assert all(p.grad is None for p in model[0].parameters()) and len(opt.state) == 2


def test_everything_frozen_is_refused():
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="Adam: all 2 parameters are frozen .* does not require grad"):
        optim.Adam(model.parameters())
