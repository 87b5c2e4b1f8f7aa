"""ELU, SiLU, Softplus, exact and tanh GELU, LogSoftmax, Step and Dropout(p=1) against PyTorch 2.13
(values and gradients: float64 on cpu, float32 on emu), gradcheck in float64, and their errors."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn
import gpudl.nn.functional as F
from gpudl import profiler
from torch_oracle import assert_matches_torch, dtype_of

R = np.random.default_rng(3)
X = 4 * R.standard_normal((5, 7))  # both signs, past softplus's threshold (2, 3) below
X = np.where(np.abs(X) < 1e-3, 0.5, X)  # off ELU's kink at 0
X = np.where(np.abs(2 * X - 3) < 1e-3, 2.0, X)  # and off the threshold of softplus(beta=2, threshold=3)

# name: build(F, nn, make) -> output; the same code runs under gpudl and under PyTorch
FUNCTIONAL = {
    "gelu": lambda F, nn, t: F.gelu(t(X, True)),
    "gelu_none": lambda F, nn, t: F.gelu(t(X, True), approximate="none"),
    "gelu_tanh": lambda F, nn, t: F.gelu(t(X, True), approximate="tanh"),
    "elu": lambda F, nn, t: F.elu(t(X, True)),
    "elu_alpha": lambda F, nn, t: F.elu(t(X, True), alpha=0.3),
    "silu": lambda F, nn, t: F.silu(t(X, True)),
    "softplus": lambda F, nn, t: F.softplus(t(X, True)),
    "softplus_beta_threshold": lambda F, nn, t: F.softplus(t(X, True), beta=2.0, threshold=3.0),
    "softplus_small_beta": lambda F, nn, t: F.softplus(t(X, True), 0.5, 1.0),
    "dropout_p1": lambda F, nn, t: F.dropout(t(X, True), p=1.0),
    "dropout_p1_eval": lambda F, nn, t: F.dropout(t(X, True), p=1.0, training=False),
}
MODULES = {
    "GELU": lambda F, nn, t: nn.GELU()(t(X, True)),
    "GELU_tanh": lambda F, nn, t: nn.GELU(approximate="tanh")(t(X, True)),
    "ELU": lambda F, nn, t: nn.ELU(alpha=1.7)(t(X, True)),
    "SiLU": lambda F, nn, t: nn.SiLU()(t(X, True)),
    "Softplus": lambda F, nn, t: nn.Softplus(beta=2.0, threshold=3.0)(t(X, True)),
    "Dropout_p1": lambda F, nn, t: nn.Dropout(p=1.0)(t(X, True)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL) + sorted(MODULES))
def test_matches_torch(name, device):
    assert_matches_torch(device, {**FUNCTIONAL, **MODULES}[name])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_module_matches_torch(axis, device):
    """nn.LogSoftmax(axis) is PyTorch's nn.LogSoftmax(dim) (gpudl names the argument like NumPy)."""
    def build(F, nn, t):
        x = t(X, True)
        return nn.LogSoftmax(axis)(x) if nn is gd.nn else nn.LogSoftmax(dim=axis)(x)
    assert_matches_torch(device, build)


def test_step_matches_torch_heaviside(device):
    """Step(x) = 1 where x >= 0 (torch.heaviside with value 1 at 0), and its gradient is zero."""
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -1e-6, 0.0, 1e-6, 3.0])
    t = gd.tensor(x.astype(dtype_of(device)), device=device, requires_grad=True)
    y = nn.Step()(t)
    want = torch.heaviside(torch.tensor(x), torch.tensor(1.0, dtype=torch.float64)).numpy()
    assert y.dtype == t.dtype and y.numpy().tolist() == want.tolist() == [0, 0, 1, 1, 1]
    (y * gd.tensor(np.arange(5.0), device=device)).sum().backward()
    assert t.grad.numpy().tolist() == [0, 0, 0, 0, 0]
    assert nn.Step(threshold=1.5)(gd.tensor([1.0, 1.5, 2.0], device=device)).numpy().tolist() == [0, 1, 1]


def test_step_cannot_be_trained_by_backprop():
    """A perceptron y = Step(w x + b): backprop gives zero gradients, so gradient descent never moves it."""
    layer = nn.Linear(2, 1, dtype="float64")
    before = [p.numpy().copy() for p in layer.parameters()]
    opt = gd.optim.SGD(layer.parameters(), lr=1.0)
    x = gd.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype="float64")
    target = gd.tensor([[0.0], [0.0], [0.0], [1.0]], dtype="float64")  # AND: linearly separable
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(nn.Step()(layer(x)), target).backward()
        assert all(not p.grad.numpy().any() for p in layer.parameters())
        opt.step()
    assert all(np.array_equal(p.numpy(), b) for p, b in zip(layer.parameters(), before))


def test_gelu_default_is_exact():
    """gpudl's GELU used the tanh approximation; now approximate='none' (erf) is the default, as in PyTorch."""
    x = gd.tensor([1.0], dtype="float64")
    exact = 0.5 * (1 + 0.6826894921370859)  # Phi(1) = (1 + erf(1 / sqrt 2)) / 2
    assert np.isclose(F.gelu(x).item(), exact, rtol=1e-15, atol=0)
    assert np.isclose(nn.GELU()(x).item(), exact, rtol=1e-15, atol=0)
    assert not np.isclose(F.gelu(x, approximate="tanh").item(), exact, rtol=1e-6, atol=0)
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"


GRADCHECK = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "elu": lambda x: F.elu(x, 0.4),
    "silu": F.silu,
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "softplus_negative_beta": lambda x: F.softplus(x, beta=-1.0),
    "bias_act_elu": lambda x, b: F.bias_act(x, b, "elu", 0.8),
    "bias_act_softplus": lambda x, b: F.bias_act(x, b, "softplus", 1.5, 2.0),
    "log_softmax_module": lambda x: nn.LogSoftmax(0)(x),
    "step_times_x": lambda x: nn.Step()(x) * x,
    "dropout_p1": lambda x: F.dropout(x, 1.0),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_cpu_float64(name):
    fn = GRADCHECK[name]
    inputs = [X[:3, :4]] + ([R.standard_normal(4)] if name.startswith("bias_act") else [])
    assert gd.gradcheck(fn, inputs)


def test_gradcheck_emu_float64_log_softmax(kernel_device):
    """The softmax kernels take float64, so LogSoftmax is gradient-checked through them; the activation
    kernels are float32 only (their float64 table runs in the GEMM epilogue: tests/kernels)."""
    x = gd.tensor(X[:3, :4], device=kernel_device)
    assert gd.gradcheck(lambda t: nn.LogSoftmax(1)(t), [x])


@pytest.mark.parametrize("act, call", [("elu", lambda x: F.elu(x)), ("silu", F.silu),
                                       ("softplus", lambda x: F.softplus(x)), ("gelu", lambda x: F.gelu(x)),
                                       ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"))])
def test_one_fused_kernel_each_way(act, call, kernel_device):
    """On kernel devices each activation is one bias_act launch forward and one backward, no host sync."""
    x = gd.tensor(X.astype(np.float32), device=kernel_device, requires_grad=True)
    with profiler.profile() as prof:
        y = call(x)
        y.backward(gd.ones(*y.shape, device=kernel_device))
    kernels = prof.by_kernel()
    assert kernels.get("bias_act_forward") == 1 and kernels.get("bias_act_backward") == 1, kernels
    assert prof.syncs == 0


def test_dropout_p1_module_zeroes_in_training_only(device):
    layer = nn.Dropout(1.0)
    x = gd.tensor(X.astype(np.float32), device=device)
    assert not layer(x).numpy().any()
    assert np.array_equal(layer.eval()(x).numpy(), x.numpy())
    assert repr(layer) == "Dropout(p=1.0)"


@pytest.mark.parametrize("call, err, match", [
    (lambda x: F.gelu(x, approximate="exact"), ValueError, "gelu: approximate must be 'none' or 'tanh'"),
    (lambda x: nn.GELU(approximate=None)(x), ValueError, "gelu: approximate"),
    (lambda x: F.softplus(x, beta=0), ValueError, "softplus: beta must not be 0"),
    (lambda x: nn.Softplus(beta=0.0)(x), ValueError, "softplus: beta"),
    (lambda x: F.elu(x, alpha="1"), TypeError, "slope must be a real number, got str"),
    (lambda x: F.softplus(x, threshold=None), TypeError, "threshold must be a real number"),
    (lambda x: nn.Step(threshold="0")(x), TypeError, "step: threshold must be a real number"),
    (lambda x: F.dropout(x, 1.5), ValueError, r"dropout: p must be in \[0, 1\], got 1.5"),
    (lambda x: nn.Dropout(-0.1), ValueError, r"Dropout: p must be in \[0, 1\], got -0.1"),
    (lambda x: nn.LogSoftmax(2)(x), ValueError, "log_softmax"),
])
def test_bad_arguments(call, err, match):
    with pytest.raises(err, match=match):
        call(gd.tensor(X))
