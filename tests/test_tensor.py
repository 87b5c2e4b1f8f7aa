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


def test_transpose_swaps_two_dims_like_pytorch(device):
    a = np.arange(6.0).reshape(2, 3)
    t = gd.tensor(a, device=device)
    assert np.array_equal(t.transpose(0, 1).numpy(), a.T)   # 2-D: a real swap, not the identity
    assert np.array_equal(t.transpose(-1, 0).numpy(), a.T)
    assert np.array_equal(t.transpose(1, 1).numpy(), a)
    assert np.array_equal(gd.transpose(t, 1, 0).numpy(), a.T)
    b = np.arange(24.0).reshape(2, 3, 4)
    assert np.array_equal(gd.tensor(b, device=device).transpose(0, 2).numpy(), np.swapaxes(b, 0, 2))
    assert np.array_equal(gd.tensor(b, device=device).transpose(-2, -1).numpy(), np.swapaxes(b, 1, 2))
    assert gd.tensor(2.0, device=device).transpose(0, -1).shape == ()


def test_transpose_rejects_bad_dims():
    t = gd.zeros(2, 3)
    with pytest.raises(IndexError, match=r"dim 2 is out of range.*\[-2, 1\]"):
        t.transpose(0, 2)
    with pytest.raises(IndexError, match="dim -3"):
        t.transpose(-3, 0)
    with pytest.raises(TypeError, match=r"transpose: dim must be an int, got 1.0"):
        t.transpose(0, 1.0)
    with pytest.raises(TypeError):
        t.transpose(0)


def test_permute_takes_a_full_permutation(device):
    b = np.arange(24.0).reshape(2, 3, 4)
    t = gd.tensor(b, device=device)
    want = np.transpose(b, (2, 0, 1))
    for got in (t.permute(2, 0, 1), t.permute((2, 0, 1)), t.permute([-1, 0, 1]), gd.permute(t, 2, 0, 1)):
        assert np.array_equal(got.numpy(), want)
    assert np.array_equal(t.T.numpy(), b.transpose(2, 1, 0))   # .T reverses all axes
    assert np.array_equal(gd.tensor(b[0], device=device).T.numpy(), b[0].T)


@pytest.mark.parametrize("dims", [(0, 1), (0, 1, 1), (0, 1, 3), (0, 1, -4), (0, 1, 2, 3), (0, 1.0, 2), ()])
def test_permute_rejects_what_is_not_a_permutation(dims):
    with pytest.raises(ValueError, match=r"permute: dims .* not a permutation of the 3 axes .*\(2, 3, 4\)"):
        gd.zeros(2, 3, 4).permute(*dims)


def test_transpose_gradient(device):
    x = gd.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    w = np.arange(6.0).reshape(3, 2) + 1
    (x.transpose(0, 1) * gd.tensor(w, device=device)).sum().backward()
    assert np.array_equal(x.grad.numpy(), w.T)   # d/dx sum(x^T * w) = w^T


def test_truth_value_of_one_element(device):
    assert bool(gd.tensor([3.0], device=device)) is True
    assert bool(gd.tensor([[0.0]], device=device)) is False
    assert bool(gd.tensor(1, device=device) == 1) is True
    assert not gd.tensor([False], device=device)


@pytest.mark.parametrize("shape, what", [((2,), "more than one value"), ((0,), "no values"), ((2, 1), "more")])
def test_truth_value_of_several_elements_is_ambiguous(device, shape, what):
    with pytest.raises(RuntimeError, match=f"Boolean value of a Tensor with {what}.* is ambiguous"):
        bool(gd.zeros(*shape, device=device))


def test_int_float_and_index(device):
    assert int(gd.tensor([[7]], device=device)) == 7 and int(gd.tensor(-2.75, device=device)) == -2
    assert float(gd.tensor([2.5], device=device)) == 2.5
    i = gd.tensor(2, device=device)
    assert [10, 20, 30][i] == 30 and list(range(i)) == [0, 1] and i.__index__() == 2
    for bad in (gd.tensor(2.0, device=device), gd.tensor([1, 2], device=device), gd.tensor(True, device=device)):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            [10, 20, 30][bad]
    for convert in (int, float):
        with pytest.raises(ValueError, match="one-element"):
            convert(gd.zeros(2, device=device))


def test_numpy_asarray_is_a_host_copy(device):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gd.tensor(a, device=device)
    host = np.asarray(t)
    assert type(host) is np.ndarray and host.dtype == np.float32 and np.array_equal(host, a)
    host[0, 0] = 99
    assert t.numpy()[0, 0] == 0
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array_equal(np.array(t), a)
    with pytest.raises(ValueError, match="only by copying"):
        np.array(t, copy=False)


@pytest.mark.parametrize("read, message", [(bool, "bool of a tensor"), (np.asarray, "array of a tensor"),
                                           (int, "int of a tensor"), (float, "float of a tensor")])
def test_conversions_are_syncs_forbidden_inside_capture(read, message):
    def step(x):
        y = (x * 2.0).sum()
        read(y)
        return y
    step = gd.capture(step)
    x = gd.ones(3, device="emu")
    step(x)  # the warm-up runs eagerly: allowed there
    with pytest.raises(gd.CaptureError, match=f"{message} of shape.*host synchronisation"):
        step(x)


def test_conversions_are_counted_as_syncs():
    t = gd.ones(1, device="emu")
    with gd.profiler.profile() as prof:
        bool(t), int(t), np.asarray(t)
    assert prof.syncs == 3


@pytest.mark.parametrize("kind", ["tensor", "numpy", "numpy view"])
def test_tensor_of_existing_data_copies(device, kind):
    base = np.arange(4, dtype=np.float32)
    source = {"tensor": gd.tensor(base, device=device), "numpy": base, "numpy view": base[1:]}[kind]
    t = gd.tensor(source, device=device)
    before = t.numpy().copy()
    if kind == "tensor":
        source.data[0] = 100        # what an in-place op would do to the source
    else:
        base[:] = 100
    assert np.array_equal(t.numpy(), before)


class _BadGrad(gd.Function):
    """x * 2 whose backward returns whatever the test puts in `bad` for its input."""
    bad = None

    @staticmethod
    def forward(ctx, x, scale=None):
        return ctx.kernels.mul(x, 2)

    @staticmethod
    def backward(ctx, g):
        return _BadGrad.bad(g)


class _FakeGPUArray(np.ndarray):
    """A NumPy array that reports itself as CuPy memory on GPU 0."""
    __module__ = "cupy._core.core"
    device = type("GPU", (), {"id": 0})()


@pytest.mark.parametrize("bad, message", [
    (lambda g: (g, g), r"_BadGrad.backward returned 2 gradient\(s\) for 1 input\(s\)"),
    (lambda g: g[:1], r"_BadGrad.backward returned for input 0 a gradient of shape \(1,\); the input has shape \(3,\)"),
    (lambda g: g.astype(np.float64), "for input 0 a gradient of dtype float64; the input has dtype float32"),
    (lambda g: np.asarray(g).view(_FakeGPUArray), "for input 0 a gradient on cuda:0; the input is on"),
    (lambda g: gd.Tensor._wrap(g, gd.device("cpu")), "for input 0 a Tensor, not a raw array"),
    (lambda g: 1.0, "for input 0 a float, not a raw array"),
])
def test_engine_checks_what_backward_returns(device, monkeypatch, bad, message):
    monkeypatch.setattr(_BadGrad, "bad", staticmethod(bad))
    x = gd.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        _BadGrad.apply(x).sum().backward()


def test_engine_counts_non_tensor_inputs_too(monkeypatch):
    monkeypatch.setattr(_BadGrad, "bad", staticmethod(lambda g: g))
    x = gd.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"returned 1 gradient\(s\) for 2 input\(s\)"):
        _BadGrad.apply(x, 5.0).sum().backward()
    monkeypatch.setattr(_BadGrad, "bad", staticmethod(lambda g: (g, None)))
    _BadGrad.apply(x, 5.0).sum().backward()
    assert np.array_equal(x.grad.numpy(), [1, 1, 1])


def test_apply_needs_a_tensor_input():
    with pytest.raises(TypeError, match=r"_BadGrad.apply: needs at least one Tensor input, got \(ndarray\)"):
        _BadGrad.apply(np.ones(3, np.float32))


def test_backward_checks_the_given_grad(device):
    x = gd.ones(2, device=device, requires_grad=True)
    with pytest.raises(ValueError, match=r"grad shape \(3,\) does not match output shape \(2,\)"):
        (x * 2).backward(gd.ones(3, device=device))
    other = "cpu" if device != "cpu" else "emu"
    with pytest.raises(RuntimeError, match=f"grad is on {other} but the output is on {device}"):
        (x * 2).backward(gd.ones(2, device=other))
    (x * 2).backward(gd.tensor([1.0, 3.0], dtype="float64", device=device))  # cast to the output's dtype
    assert x.grad.dtype == np.float32 and np.array_equal(x.grad.numpy(), [2, 6])


def test_backward_twice_through_one_graph_raises(device):
    x = gd.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    h = x * 3            # a shared part: the second output's backward reaches its freed node
    a, b = (h * 2).sum(), (h * 5).sum()
    a.backward()
    with pytest.raises(RuntimeError, match="Mul: trying to backward through the graph a second time"):
        b.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = gd.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()                       # the graph was retained: the gradients accumulate
    assert np.array_equal(x.grad.numpy(), [4, 8])   # 2 * 2x
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_where_rejects_tensors_on_other_devices():
    cond = gd.tensor([True, False], device="cpu")
    a, b = gd.ones(2, device="emu"), gd.zeros(2, device="emu")
    with pytest.raises(RuntimeError, match="where: a is on emu but condition is on cpu"):
        gd.where(cond, a, b)
    with pytest.raises(RuntimeError, match="where: b is on cpu but condition is on emu"):
        gd.where(cond.to("emu"), a, gd.zeros(2, device="cpu"))
    with pytest.raises(RuntimeError, match="where: b is on cpu but a is on emu"):
        gd.where([True, False], a, gd.zeros(2, device="cpu"))
    assert np.array_equal(gd.where(cond.to("emu"), a, b).numpy(), [1, 0])
