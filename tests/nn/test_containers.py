"""ModuleList / ModuleDict against PyTorch's, freezing with requires_grad_, zero_grad(set_to_none),
clip_grad_value_, and the model-dtype rule of Module.to / float / double."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn as nn

torch = pytest.importorskip("torch")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 3)])
        self.layers.append(nn.Linear(3, 1))
        self.heads = nn.ModuleDict({"score": nn.Linear(1, 1), "gate": nn.Linear(1, 2, bias=False)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["score"](x) + self.heads["gate"](x).sum(1, keepdims=True)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.Linear(3, 3)])
        self.layers.append(torch.nn.Linear(3, 1))
        self.heads = torch.nn.ModuleDict({"score": torch.nn.Linear(1, 1), "gate": torch.nn.Linear(1, 2, bias=False)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["score"](x) + self.heads["gate"](x).sum(1, keepdim=True)


def _torch_twin(net):
    """TorchNet holding net's weights (float64)."""
    twin = TorchNet().double()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    return twin


def test_state_dict_keys_and_parameters_match_pytorch():
    net = Net()
    assert list(net.state_dict()) == list(TorchNet().state_dict())
    assert len(list(net.parameters())) == len(list(TorchNet().parameters())) == 9
    assert [name for name, _ in net.named_modules()][:4] == ["", "layers", "layers.0", "layers.1"]


def test_forward_backward_match_pytorch():
    net = Net().double()
    twin = _torch_twin(net)
    x = np.random.default_rng(0).standard_normal((4, 2))
    y, ty = net(gd.tensor(x)), twin(torch.tensor(x))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    grads = dict(twin.named_parameters())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=1e-12, err_msg=name)


def test_load_state_dict_round_trip():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert np.array_equal(p.numpy(), q.numpy()), name


def test_module_list_is_a_list():
    layers = [nn.Linear(1, 1) for _ in range(4)]
    ml = nn.ModuleList(layers[:2])
    ml.extend([layers[2]])
    ml.insert(0, layers[3])
    assert list(ml) == [layers[3], layers[0], layers[1], layers[2]] and len(ml) == 4
    assert ml[-1] is layers[2] and ml[0] is layers[3]
    assert isinstance(ml[1:3], nn.ModuleList) and list(ml[1:3]) == layers[:2]
    del ml[0]
    assert list(ml) == layers[:3] and list(ml._modules) == ["0", "1", "2"]
    ml[1] = layers[3]
    ml += nn.ModuleList([layers[1]])
    assert list(ml) == [layers[0], layers[3], layers[2], layers[1]]
    del ml[1:3]
    assert list(ml) == [layers[0], layers[1]] and list(dict(ml.named_parameters())) == ["0.weight", "0.bias",
                                                                                         "1.weight", "1.bias"]


def test_module_list_matches_pytorch_after_edits():
    ours, theirs = nn.ModuleList(), torch.nn.ModuleList()
    for ml, linear in ((ours, nn.Linear), (theirs, torch.nn.Linear)):
        ml.extend([linear(1, 2), linear(2, 3)])
        ml.insert(1, linear(2, 2))
        ml.append(linear(3, 4))
        del ml[0]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


def test_module_dict_is_a_dict():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Linear(2, 2)
    md = nn.ModuleDict([("a", a), ("b", b)])
    md["c"] = c
    assert list(md) == ["a", "b", "c"] and len(md) == 3 and "b" in md and "z" not in md
    assert list(md.keys()) == ["a", "b", "c"] and list(md.values()) == [a, b, c]
    assert dict(md.items()) == {"a": a, "b": b, "c": c}
    assert md.pop("b") is b and list(md) == ["a", "c"]
    md.update({"a": c})
    assert md["a"] is c
    del md["c"]
    assert list(dict(md.named_parameters())) == ["a.weight", "a.bias"]
    md.clear()
    assert len(md) == 0 and list(md.parameters()) == []


@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.ModuleList([nn.ReLU(), 3]), TypeError, "ModuleList: expected a Module, got int"),
    (lambda: nn.ModuleList([nn.ReLU()])[1], IndexError, "ModuleList: index 1 is out of range for 1 modules"),
    (lambda: nn.ModuleList([nn.ReLU()])["0"], TypeError, "ModuleList: indices must be integers or slices"),
    (lambda: nn.ModuleList().extend(nn.Linear(1, 1)), TypeError, "ModuleList.extend: expected an iterable"),
    (lambda: nn.ModuleDict({"a": "relu"}), TypeError, "ModuleDict: expected a Module, got str"),
    (lambda: nn.ModuleDict({1: nn.ReLU()}), TypeError, "ModuleDict: names must be strings"),
    (lambda: nn.ModuleDict({"a.b": nn.ReLU()}), ValueError, r"ModuleDict: invalid name 'a.b'"),
    (lambda: nn.ModuleDict({"": nn.ReLU()}), ValueError, "ModuleDict: invalid name ''"),
    (lambda: nn.ModuleDict()["missing"], KeyError, "missing"),
])
def test_container_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_repr_lists_the_entries():
    text = repr(nn.ModuleList([nn.Linear(2, 3), nn.ReLU()]))
    assert text.startswith("ModuleList(\n  (0): Linear(") and "(1): ReLU()" in text


# ---- freezing and zero_grad ------------------------------------------------------------------
def test_requires_grad_freezes_a_subtree():
    net = Net()
    assert net.layers.requires_grad_(False) is net.layers
    assert [p.requires_grad for p in net.parameters()] == [False] * 6 + [True] * 3
    net(gd.ones(2, 2)).sum().backward()
    assert all(p.grad is None for p in net.layers.parameters())
    assert all(p.grad is not None for p in net.heads.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("set_to_none", [True, False])
def test_module_zero_grad_matches_pytorch(set_to_none, device):
    net = Net().to(device)
    twin = TorchNet()
    for model, x in ((net, gd.ones(2, 2, device=device)), (twin, torch.ones(2, 2))):
        model(x).sum().backward()
        model.zero_grad(set_to_none=set_to_none)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad.shape == tuple(q.grad.shape) and not p.grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_in_place_keeps_the_gradient_memory(device):
    w = gd.tensor(np.ones(3), device=device, requires_grad=True)
    (w * 2).sum().backward()
    memory = w.grad.data
    nn.utils.zero_grad([w], set_to_none=False)
    assert w.grad.data is memory and not memory.any()


# ---- clip_grad_value_ ------------------------------------------------------------------------------
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 10.0])
def test_clip_grad_value_matches_pytorch(clip_value, device):
    grads = [np.random.default_rng(1).standard_normal(s) for s in ((3, 2), (4,))]
    ours = [gd.tensor(np.zeros_like(g), device=device, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = gd.tensor(g, device=device), torch.tensor(g)
    frozen = gd.zeros(2, requires_grad=True)  # no gradient: left alone
    assert nn.utils.clip_grad_value_(ours + [frozen], clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    assert frozen.grad is None


def test_clip_utilities_take_a_single_tensor():
    p = gd.zeros(3, requires_grad=True)
    p.grad = gd.tensor([3.0, -4.0, 0.5])
    nn.utils.clip_grad_value_(p, 1.0)
    assert p.grad.tolist() == [1.0, -1.0, 0.5]
    assert nn.utils.clip_grad_norm_(p, 100.0) == pytest.approx(1.5)


def test_clip_grad_value_rejects_a_negative_value():
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0, got -1.0"):
        nn.utils.clip_grad_value_([gd.zeros(1, requires_grad=True)], -1)


# ---- the model-dtype rule ---------------------------------------------------------------------------
def test_float64_models_are_refused_on_kernel_devices_at_to(kernel_device):
    net = Net().double()
    with pytest.raises(TypeError, match=rf"Net.to: parameter 'layers.0.weight' is float64, but on {kernel_device} "
                                        r"the layer kernels .* compute in float32; convert the model with \.float\(\)"):
        net.to(kernel_device)
    assert net.layers[0].weight.device == gd.device("cpu")  # nothing moved
    net.float().to(kernel_device)
    assert all(p.dtype == np.float32 and p.device == gd.device(kernel_device) for p in net.parameters())
    with pytest.raises(TypeError, match="parameter 'layers.0.weight' is float64"):
        net.double()
    bn = nn.BatchNorm1d(3).double()
    with pytest.raises(TypeError, match="BatchNorm1d.to: parameter .weight. is float64"):
        bn.to(kernel_device)


def test_to_casts_floating_tensors_only():
    bn = nn.BatchNorm1d(3)
    ints = {name: t.dtype for name, t in bn.named_buffers() if not np.issubdtype(t.dtype, np.floating)}
    bn.double()
    for name, t in list(bn.named_parameters()) + list(bn.named_buffers()):
        assert t.dtype == ints.get(name, np.float64), name
    assert bn.to(dtype="float32") is bn and bn.weight.dtype == np.float32


def test_to_drops_gradients_and_moves(kernel_device):
    net = Net()
    net(gd.ones(1, 2)).sum().backward()
    net.to(kernel_device)
    assert all(p.grad is None and p.device == gd.device(kernel_device) for p in net.parameters())
    assert net(gd.ones(1, 2, device=kernel_device)).shape == (1, 1)
