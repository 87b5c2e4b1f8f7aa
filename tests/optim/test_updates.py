"""Each optimizer, K steps on the float64 least-squares problem, against an independent NumPy
reference written from PyTorch's documented algorithms (and against torch.optim when installed)."""
import functools

import numpy as np
import pytest

import gpudl as gd
import gpudl.optim as optim

K = 5

# PyTorch's documented defaults (written here, not read from gpudl)
DEFAULTS = {
    "SGD": dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False),
    "Adagrad": dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10),
    "Adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0),
    "RMSprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False),
    "Adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False),
    "AdamW": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False),
}


def sgd(th, g, s, t, lr, momentum, dampening, weight_decay, nesterov):
    g = g + weight_decay * th
    if momentum:
        s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return th - lr * g


def adagrad(th, g, s, t, lr, lr_decay, weight_decay, initial_accumulator_value, eps):
    g = g + weight_decay * th
    s["sum"] = s.get("sum", initial_accumulator_value) + g ** 2
    return th - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def adadelta(th, g, s, t, lr, rho, eps, weight_decay):
    g = g + weight_decay * th
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g ** 2
    dx = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0) + (1 - rho) * dx ** 2
    return th - lr * dx


def rmsprop(th, g, s, t, lr, alpha, eps, weight_decay, momentum, centered):
    g = g + weight_decay * th
    s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g ** 2
    v = s["v"]
    if centered:
        s["gbar"] = alpha * s.get("gbar", 0) + (1 - alpha) * g
        v = v - s["gbar"] ** 2
    direction = g / (np.sqrt(v) + eps)
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0) + direction
        direction = s["b"]
    return th - lr * direction


def adam(th, g, s, t, lr, betas, eps, weight_decay, amsgrad, decoupled=False):
    b1, b2 = betas
    if decoupled:
        th = th - lr * weight_decay * th
    else:
        g = g + weight_decay * th
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g ** 2
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
    m_hat, v_hat = s["m"] / (1 - b1 ** t), s["vmax" if amsgrad else "v"] / (1 - b2 ** t)
    return th - lr * m_hat / (np.sqrt(v_hat) + eps)


RULES = {"SGD": sgd, "Adagrad": adagrad, "Adadelta": adadelta, "RMSprop": rmsprop, "Adam": adam,
         "AdamW": functools.partial(adam, decoupled=True)}

CASES = [
    ("SGD", dict(lr=0.02)),
    ("SGD", dict(lr=0.02, momentum=0.9)),
    ("SGD", dict(lr=0.02, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, weight_decay=0.1, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1, eps=1e-6)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.5), amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, betas=(0.8, 0.5), weight_decay=0.3, amsgrad=True)),
]
IDS = [name + "-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]


def reference(problem, name, kwargs, steps=K):
    """`steps` updates of the documented rule in plain NumPy."""
    hp = {**DEFAULTS[name], **kwargs}
    thetas, states = [a.copy() for a in problem.initial], [{}, {}]
    for t in range(1, steps + 1):
        grads = problem.numpy_grads(*thetas)
        thetas = [RULES[name](th, g, s, t, **hp) for th, g, s in zip(thetas, grads, states)]
    return thetas


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_numpy_reference(problem, device, name, kwargs):
    params = problem.params(device)
    got = problem.run(getattr(optim, name)(params, **kwargs), params, K)
    for g, want in zip(got, reference(problem, name, kwargs)):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_amsgrad_cases_take_the_maximum(problem, name):
    """The amsgrad cases above really reach a step where v_t < v_{t−1}^max (else they test nothing)."""
    kwargs = next(kw for n, kw in CASES if n == name and kw.get("amsgrad"))
    with_max = reference(problem, name, kwargs)
    without = reference(problem, name, {**kwargs, "amsgrad": False})
    assert not np.allclose(with_max[0], without[0], rtol=1e-6)


@pytest.mark.parametrize("name", DEFAULTS)
def test_defaults_match_pytorch(name):
    """Constructor defaults are PyTorch's."""
    opt = getattr(optim, name)([gd.zeros(2, requires_grad=True)])
    assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == DEFAULTS[name]


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_torch(problem, name, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the torch.optim cross-check is a bonus")
    tparams = [torch.tensor(a, requires_grad=True) for a in problem.initial]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    x, t = torch.tensor(problem.x), torch.tensor(problem.t)
    for _ in range(K):
        topt.zero_grad()
        ((x @ tparams[0] + tparams[1] - t) ** 2).sum().backward()
        topt.step()
    params = problem.params("cpu")
    got = problem.run(getattr(optim, name)(params, **kwargs), params, K)
    for g, want in zip(got, tparams):
        np.testing.assert_allclose(g, want.detach().numpy(), rtol=1e-10, atol=1e-10)
