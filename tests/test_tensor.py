import numpy as np
import pytest

import gpudl as gd


def test_dtype_rules(device):
    assert gd.tensor([1.0, 2.0], device=device).dtype == np.float32
    assert gd.tensor(3.5, device=device).dtype == np.float32
    assert gd.tensor([1, 2], device=device).dtype == np.int64
    assert gd.tensor(np.ones(2), device=device).dtype == np.float64
    assert gd.tensor(np.array([1, 2], dtype=np.int32), device=device).dtype == np.int32
    assert gd.tensor([1, 2], dtype="float64", device=device).dtype == np.float64


def test_integer_tensor_cannot_require_grad(device):
    with pytest.raises(TypeError, match="int64"):
        gd.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        gd.tensor([True], device=device).requires_grad_()


def test_creation(device):
    assert gd.zeros(2, 3, device=device).numpy().tolist() == [[0, 0, 0]] * 2
    assert gd.ones((2,), device=device).numpy().tolist() == [1, 1]
    assert gd.full((2,), 7, device=device).numpy().tolist() == [7, 7]
    assert gd.arange(4, device=device).numpy().tolist() == [0, 1, 2, 3]
    assert np.array_equal(gd.eye(3, device=device).numpy(), np.eye(3))
    assert gd.randn(3, 4, device=device).shape == (3, 4)
    r = gd.rand(1000, device=device).numpy()
    assert r.min() >= 0 and r.max() < 1


def test_manual_seed_reproducible(device):
    gd.manual_seed(3)
    a = gd.randn(5, device=device).numpy()
    gd.manual_seed(3)
    b = gd.randn(5, device=device).numpy()
    gd.manual_seed(4)
    c = gd.randn(5, device=device).numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_grad_accumulates_on_leaves_and_reused_node(device):
    x = gd.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    y = (x * x + x).sum()  # dy/dx = 2x + 1
    y.backward()
    assert np.allclose(x.grad.numpy(), [3, -3, 7])
    (x * 2).sum().backward()  # accumulates
    assert np.allclose(x.grad.numpy(), [5, -1, 9])


def test_intermediate_grads_not_kept(device):
    x = gd.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None and np.allclose(x.grad.numpy(), [18, 36])


def test_backward_nonscalar_needs_grad(device):
    x = gd.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(gd.tensor([1.0, 10.0], device=device))
    assert np.allclose(x.grad.numpy(), [2, 20])


def test_no_grad_and_detach(device):
    x = gd.tensor([1.0], device=device, requires_grad=True)
    with gd.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert not (x.detach() * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_item_numpy_to(device):
    x = gd.tensor([[2.5]], device=device)
    assert x.item() == 2.5
    with pytest.raises(ValueError, match="one-element"):
        gd.zeros(2, device=device).item()
    host = x.numpy()
    host[0, 0] = 9
    assert x.item() == 2.5  # numpy() is a copy
    moved = x.to("cpu")
    assert moved.device == gd.device("cpu") and moved.item() == 2.5
    assert x.to(dtype="float64").dtype == np.float64


def test_to_is_differentiable(device):
    x = gd.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    (x.to(device) * 3).sum().backward()
    assert x.grad.device == gd.device("cpu") and np.allclose(x.grad.numpy(), [3, 3])


def test_mixing_devices_names_both():
    a = gd.tensor([1.0], device="cpu")
    b = gd.tensor([1.0], device="emu")
    with pytest.raises(RuntimeError, match="cpu and emu"):
        a + b


def test_dlpack_roundtrip(device):
    x = gd.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device=device)
    y = gd.from_dlpack(x, device=device)
    assert np.array_equal(y.numpy(), x.numpy())
    if device != "cuda":
        assert np.shares_memory(np.from_dlpack(x), x.data)


def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float32)
    t = gd.from_numpy(a)
    a[0] = 5
    assert t.numpy()[0] == 5
    with pytest.raises(TypeError, match="numpy.ndarray"):
        gd.from_numpy([1, 2])


def test_deep_graph_does_not_hit_recursion_limit():
    x = gd.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1
    y.sum().backward()
    assert x.grad.item() == 1.0
