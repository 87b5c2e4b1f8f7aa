"""Modules: parameters, modes, state, printing, errors; every layer agrees between devices."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def test_named_parameters_and_state_dict():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2, bias=False))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight"]
    assert sorted(m.state_dict()) == sorted(names + ["1.running_mean", "1.running_var", "1.num_batches_tracked"])
    assert sum(p.size for p in m.parameters()) == 3 * 4 + 4 + 4 + 4 + 8


def test_train_eval_propagates():
    m = nn.Sequential(nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.1)))
    m.eval()
    assert not any(x.training for x in m.modules())
    x = gd.ones(10)
    assert np.array_equal(m(x).numpy(), x.numpy())
    m.train()
    assert all(x.training for x in m.modules())


def test_default_init_matches_pytorch_bounds():
    gd.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    w = lin.weight.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    conv = nn.Conv2d(3, 8, 5)
    assert np.abs(conv.weight.numpy()).max() <= 1 / np.sqrt(75)


def test_load_state_dict_reports_every_problem():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    state = m.state_dict()
    state.pop("1.bias")
    state["0.weight"] = np.zeros((5, 3))
    state["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as err:
        m.load_state_dict(state)
    text = str(err.value)
    assert "missing: 1.bias" in text and "unexpected: extra" in text and "0.weight: expected (4, 3), got (5, 3)" in text


def test_load_state_dict_copies_values():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.weight.numpy(), b.weight.numpy())
    a.weight.data[...] = 0
    assert not np.array_equal(a.weight.numpy(), b.weight.numpy())


def test_repr_and_summary(capsys):
    m = lenet5()
    assert "(0): Conv2d(1, 6, kernel_size=(5, 5), stride=1, padding=2)" in repr(m)
    text = m.summary((1, 1, 28, 28))
    assert "(1, 6, 28, 28)" in text and "(1, 16, 5, 5)" in text and "(1, 10)" in text
    assert "total params: 61,706" in text  # LeNet-5 with 28x28 input and padding 2


@pytest.mark.parametrize("call, match", [
    (lambda: nn.Linear(4, 3)(gd.zeros(2, 5)), "linear: input has 5 features"),
    (lambda: nn.Conv2d(3, 4, 3)(gd.zeros(1, 2, 8, 8)), "input has 2 channels"),
    (lambda: nn.Conv2d(3, 4, 3)(gd.zeros(3, 8, 8)), "expected a 4-D input"),
    (lambda: nn.Conv2d(1, 4, 7)(gd.zeros(1, 1, 4, 4)), "larger than the padded input"),
    (lambda: nn.MaxPool2d(5)(gd.zeros(1, 1, 4, 4)), "larger than the padded input"),
    (lambda: nn.BatchNorm2d(3)(gd.zeros(2, 4, 2, 2)), "expected 4-D input with 3 channels"),
    (lambda: nn.Dropout(1.2), r"Dropout: p must be in \[0, 1\], got 1.2"),
])
def test_layers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


LAYERS = {
    "linear": (lambda: nn.Linear(7, 5), (3, 7)),
    "conv": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 9, 7)),
    "conv_1x1": (lambda: nn.Conv2d(2, 3, 1), (1, 2, 5, 5)),
    "maxpool": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 9)),
    "avgpool": (lambda: nn.AvgPool2d(2), (1, 2, 6, 5)),
    "relu": (lambda: nn.ReLU(), (4, 6)),
    "leaky": (lambda: nn.LeakyReLU(0.1), (2, 3, 4, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (5, 3)),
    "tanh": (lambda: nn.Tanh(), (5,)),
    "gelu": (lambda: nn.GELU(), (3, 3)),
    "softmax": (lambda: nn.Softmax(axis=1), (4, 5)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(4), (6, 4)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    "flatten": (lambda: nn.Flatten(), (2, 3, 2, 2)),
    "identity": (lambda: nn.Identity(), (3,)),
}


def run_layer(make, shape, device, seed=0):
    gd.manual_seed(seed)
    layer = make().to(device)
    x = gd.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), device=device,
                  requires_grad=True)
    y = layer(x)
    g = np.random.default_rng(seed + 1).standard_normal(y.shape).astype(np.float32)
    y.backward(gd.tensor(g, device=device))
    grads = {n: p.grad.numpy() for n, p in layer.named_parameters()}
    return y.numpy(), x.grad.numpy(), grads


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_agrees_with_cpu(name, kernel_device):
    make, shape = LAYERS[name]
    ref = run_layer(make, shape, "cpu")
    got = run_layer(make, shape, kernel_device)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-4, atol=1e-5)
    for n in ref[2]:
        np.testing.assert_allclose(got[2][n], ref[2][n], rtol=1e-4, atol=1e-5, err_msg=n)


def test_lenet5_forward_backward_agrees_with_cpu(kernel_device):
    """The whole launch path: conv, relu, maxpool, linear and cross-entropy."""
    results = {}
    for dev in ("cpu", kernel_device):
        gd.manual_seed(1)
        model = lenet5().to(dev)
        x = gd.tensor(np.random.default_rng(2).standard_normal((2, 1, 28, 28)).astype(np.float32), device=dev)
        y = gd.tensor(np.array([3, 7]), device=dev)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        results[dev] = (loss.item(), {n: p.grad.numpy() for n, p in model.named_parameters()})
    assert np.isclose(results[kernel_device][0], results["cpu"][0], rtol=1e-4)
    for n, g in results["cpu"][1].items():
        np.testing.assert_allclose(results[kernel_device][1][n], g, rtol=1e-4, atol=1e-5, err_msg=n)


def test_model_moves_between_devices(device):
    m = nn.Linear(3, 2)
    w = m.weight.numpy()
    m.to(device)
    assert m.weight.device == gd.device(device)
    m.to("cpu")
    assert np.array_equal(m.weight.numpy(), w)


def test_reassigned_buffer_stays_in_the_state_dict():
    bn = nn.BatchNorm1d(3)
    bn.running_mean = gd.full((3,), 2.0)
    state = bn.state_dict()
    assert sorted(state) == ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    assert np.array_equal(state["running_mean"].numpy(), [2, 2, 2])
    bn.to("emu")
    assert bn.running_mean.device == gd.device("emu")   # moved with the other buffers
    bn.running_mean = nn.Parameter(gd.zeros(3))          # a Parameter is a parameter, not a buffer
    assert "running_mean" in dict(bn.named_parameters()) and "running_mean" not in dict(bn.named_buffers())


def _numpy_cumulative(batches, axes):
    """PyTorch's momentum=None: the plain mean, over the batches, of each batch's mean and unbiased variance."""
    means = np.mean([b.mean(axis=axes) for b in batches], axis=0)
    variances = np.mean([b.var(axis=axes, ddof=1) for b in batches], axis=0)
    return means, variances


@pytest.mark.parametrize("layer, shape, axes", [(nn.BatchNorm1d, (5, 3), (0,)),
                                                (nn.BatchNorm2d, (2, 3, 2, 3), (0, 2, 3))])
def test_batchnorm_momentum_none_is_a_cumulative_average(device, layer, shape, axes):
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal(shape) * (i + 1) + 2 * i).astype(np.float32) for i in range(4)]
    bn = layer(3, momentum=None, device=device)
    for i, b in enumerate(batches):
        bn(gd.tensor(b, device=device))
        mean, var = _numpy_cumulative(batches[:i + 1], axes)
        np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 4 and bn.num_batches_tracked.dtype == np.int64
    assert "num_batches_tracked" in bn.state_dict()
    bn.eval()   # evaluation normalises with the averages and leaves them alone
    x = batches[0]
    want = (x - mean.reshape((1, 3) + (1,) * (x.ndim - 2))) / np.sqrt(var.reshape((1, 3) + (1,) * (x.ndim - 2)) + 1e-5)
    np.testing.assert_allclose(bn(gd.tensor(x, device=device)).numpy(), want, rtol=1e-4, atol=1e-5)
    assert bn.num_batches_tracked.item() == 4


def test_batchnorm_momentum_none_resumes_from_the_state_dict():
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((4, 2)).astype(np.float32) + i for i in range(3)]
    a = nn.BatchNorm1d(2, momentum=None)
    for b in batches[:2]:
        a(gd.tensor(b))
    resumed = nn.BatchNorm1d(2, momentum=None)
    resumed.load_state_dict(a.state_dict())
    resumed(gd.tensor(batches[2]))
    mean, var = _numpy_cumulative(batches, (0,))
    np.testing.assert_allclose(resumed.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed.running_var.numpy(), var, rtol=1e-5, atol=1e-6)


def test_batchnorm_momentum_none_replays_in_a_capture():
    """The count lives on the device: every replay of a captured step advances the averages."""
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal((4, 3)).astype(np.float32) * (i + 1) for i in range(5)]
    bn = nn.BatchNorm1d(3, momentum=None, device="emu")
    step = gd.capture(lambda x: bn(x).sum())
    for b in batches:   # eager, captured, then three replays
        step(gd.tensor(b, device="emu"))
    mean, var = _numpy_cumulative(batches, (0,))
    assert bn.num_batches_tracked.item() == 5
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d, (4, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                          (nn.BatchNorm2d, (2, 3, 2, 2))])
def test_batchnorm_counts_training_batches_on_the_device(device, layer, shape):
    """Every BatchNorm has num_batches_tracked (0-d int64); training steps add 1 without a host sync."""
    bn = layer(3, device=device)
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.dtype == np.int64
    assert "num_batches_tracked" in bn.state_dict() and bn.num_batches_tracked.item() == 0
    x = gd.tensor(np.random.default_rng(6).standard_normal(shape).astype(np.float32), device=device)
    with gd.profiler.profile() as prof:
        for _ in range(3):
            bn(x).sum().backward()
    assert prof.syncs == 0 and bn.num_batches_tracked.item() == 3
    bn.eval()
    bn(x)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_count_advances_in_each_capture_replay():
    bn = nn.BatchNorm2d(2, device="emu")
    step = gd.capture(lambda x: bn(x).sum())
    x = gd.tensor(np.random.default_rng(7).standard_normal((3, 2, 2, 2)).astype(np.float32), device="emu")
    for _ in range(4):   # eager, captured, two replays
        step(x)
    assert bn.num_batches_tracked.item() == 4


def test_checkpoint_without_num_batches_tracked_loads_with_count_zero(tmp_path):
    """A gpudl checkpoint from before num_batches_tracked existed: the count loads as 0."""
    trained = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    trained(gd.tensor(np.random.default_rng(8).standard_normal((5, 3)).astype(np.float32)))
    old = {k: v for k, v in trained.state_dict().items() if not k.endswith("num_batches_tracked")}
    gd.save(old, tmp_path / "old.npz")
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fresh[1].num_batches_tracked.data[...] = 7
    fresh.load_state_dict(gd.load(tmp_path / "old.npz"))
    assert fresh[1].num_batches_tracked.item() == 0
    np.testing.assert_array_equal(fresh[1].running_mean.numpy(), trained[1].running_mean.numpy())
    old.pop("1.running_var")
    with pytest.raises(ValueError, match="missing: 1.running_var$"):   # only that count may be missing
        fresh.load_state_dict(old)


def test_batchnorm_state_dict_saves_and_loads_the_count(tmp_path, device):
    bn = nn.BatchNorm1d(2, device=device)
    for _ in range(2):
        bn(gd.tensor(np.arange(8, dtype=np.float32).reshape(4, 2), device=device))
    gd.save(bn.state_dict(), tmp_path / "bn.npz")
    back = nn.BatchNorm1d(2).load_state_dict(gd.load(tmp_path / "bn.npz"))
    assert back.num_batches_tracked.item() == 2 and back.num_batches_tracked.dtype == np.int64
