"""PyTorch's Tensor methods on gpudl tensors, against PyTorch 2.13: values and gradients (float64 on
cpu, and on emu where the kernels take float64; the layer kernels behind relu / sigmoid / tanh take
float32 there), central differences, the NumPy-vs-PyTorch spelling rule and the mixed-dtype rule."""
import numpy as np
import pytest

import gpudl as gd
import gpudl.nn.functional as F
import test_kernel_backend

torch = pytest.importorskip("torch")
kernel_only = test_kernel_backend.kernel_only  # the fixture: emu arrays that refuse NumPy compute

R = np.random.default_rng(7)
A = R.standard_normal((3, 4))
B = R.standard_normal((2, 1, 3))
C = R.standard_normal((3, 5, 2))

# name -> (gpudl function, PyTorch function, input, uses a float32-only layer kernel on emu)
METHODS = {
    "view": (lambda x: x.view(2, -1), lambda x: x.view(2, -1), A, False),
    "view_tuple": (lambda x: x.view((4, 3)), lambda x: x.view((4, 3)), A, False),
    "unsqueeze_0": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), A, False),
    "unsqueeze_last": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), A, False),
    "unsqueeze_middle": (lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1), A, False),
    "squeeze_all": (lambda x: x.squeeze(), lambda x: x.squeeze(), B, False),
    "squeeze_dim": (lambda x: x.squeeze(1), lambda x: x.squeeze(1), B, False),
    "squeeze_not_one": (lambda x: x.squeeze(2), lambda x: x.squeeze(2), B, False),
    "squeeze_tuple": (lambda x: x.squeeze((0, 1)), lambda x: x.squeeze((0, 1)), B, False),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), A, False),
    "clamp_min": (lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), A, False),
    "t": (lambda x: x.t(), lambda x: x.t(), A, False),
    "t_vector": (lambda x: x[0].t(), lambda x: x[0].t(), A, False),
    "std_dim": (lambda x: x.std(dim=1), lambda x: x.std(dim=1), A, False),
    "std_dim_keepdim": (lambda x: x.std(dim=0, keepdim=True), lambda x: x.std(dim=0, keepdim=True), A, False),
    "std_axis_numpy": (lambda x: x.std(axis=1), lambda x: x.std(dim=1, correction=0), A, False),
    "std_correction": (lambda x: x.std(correction=2), lambda x: x.std(correction=2), A, False),
    "std_ddof": (lambda x: x.std((0, 2), ddof=1), lambda x: x.std(dim=(0, 2), correction=1), C, False),
    "std_all": (lambda x: x.std(), lambda x: x.std(correction=0), A, False),
    "var_dim": (lambda x: x.var(dim=0), lambda x: x.var(dim=0), A, False),
    "var_axis": (lambda x: x.var(axis=0), lambda x: x.var(dim=0, correction=0), A, False),
    "softmax": (lambda x: x.softmax(1), lambda x: x.softmax(1), A, False),
    "softmax_dim0": (lambda x: x.softmax(dim=0), lambda x: x.softmax(dim=0), A, False),
    "log_softmax": (lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1), A, False),
    "relu": (lambda x: x.relu(), lambda x: x.relu(), A, True),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid(), A, True),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh(), A, True),
    "cat": (lambda x: gd.cat([x, x * 2], dim=1), lambda x: torch.cat([x, x * 2], dim=1), A, False),
    "cat_axis": (lambda x: gd.cat([x, x], axis=-1), lambda x: torch.cat([x, x], dim=-1), C, False),
    "sum_dim": (lambda x: x.sum(dim=1, keepdim=True), lambda x: x.sum(dim=1, keepdim=True), A, False),
    "mean_dim": (lambda x: x.mean(dim=(0, 2)), lambda x: x.mean(dim=(0, 2)), C, False),
    "max_dim_values": (lambda x: x.max(dim=1).values, lambda x: x.max(dim=1).values, A, False),
    "max_positional": (lambda x: x.max(0, keepdim=True)[0], lambda x: x.max(0, keepdim=True)[0], A, False),
    "min_dim_values": (lambda x: x.min(dim=-1).values, lambda x: x.min(dim=-1).values, C, False),
    "max_axis_numpy": (lambda x: x.max(axis=1), lambda x: x.amax(dim=1), A, False),
    "min_axis_tuple": (lambda x: x.min(axis=(0, 2)), lambda x: x.amin(dim=(0, 2)), C, False),
    "topk": (lambda x: x.topk(2).values, lambda x: x.topk(2).values, A, False),
    "topk_dim0_smallest": (lambda x: x.topk(2, dim=0, largest=False).values,
                           lambda x: x.topk(2, dim=0, largest=False).values, A, False),
    "topk_middle": (lambda x: x.topk(5, dim=1).values, lambda x: x.topk(5, dim=1).values, C, False),
    "topk_unsorted": (lambda x: x.topk(3, sorted=False).values.sum(-1),
                      lambda x: x.topk(3, sorted=False).values.sum(-1), A, False),
}


def _pair(device, array, dtype):
    x = gd.tensor(array.astype(dtype), device=device, requires_grad=True)
    return x, torch.tensor(array.astype(dtype), requires_grad=True)


def _dtype(device, layer):
    """float64 where the kernels take it; the float32-only layer kernels on emu get float32."""
    return np.float32 if (layer and device != "cpu") else np.float64


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_matches_pytorch(name, device):
    ours, theirs, array, layer = METHODS[name]
    dtype = _dtype(device, layer)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    x, tx = _pair(device, array, dtype)
    y, ty = ours(x), theirs(tx)
    assert y.shape == tuple(ty.shape) and y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    weights = R.standard_normal(y.shape).astype(dtype)
    (y * gd.tensor(weights, device=device)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)


@pytest.mark.parametrize("name", sorted(n for n, case in METHODS.items() if not case[3]))
def test_method_gradcheck(name, device):
    ours, _, array, _ = METHODS[name]
    assert gd.gradcheck(ours, [gd.tensor(array, device=device)])


@pytest.mark.parametrize("name", sorted(n for n, case in METHODS.items() if case[3]))
def test_layer_method_gradcheck_cpu(name):
    assert gd.gradcheck(METHODS[name][0], [gd.tensor(A)])


# ---- PyTorch's (values, indices) ------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: x.max(dim=1), lambda x: x.max(1), lambda x: x.min(dim=0, keepdim=True), lambda x: x.min(-1),
    lambda x: x.topk(2), lambda x: x.topk(3, dim=1), lambda x: x.topk(2, dim=0, largest=False),
    lambda x: x.topk(0, dim=1),
])
def test_values_and_indices_match_pytorch(call, device):
    x = gd.tensor(C, device=device)
    ours, theirs = call(x), call(torch.tensor(C))
    assert ours._fields == ("values", "indices")
    values, indices = ours
    np.testing.assert_allclose(values.numpy(), theirs.values.numpy(), rtol=1e-12)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.numpy(), theirs.indices.numpy())


def test_max_dim_gradient_goes_to_the_first_tie(device):
    """PyTorch's max(dim) sends the gradient to the element its index names; max(axis=) shares it."""
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    x, tx = _pair(device, data, np.float64)
    x.max(dim=1).values.sum().backward()
    tx.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(x.max(dim=1).indices.numpy(), [1, 0])
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0.5, 0]])


def test_topk_ties_nan_and_infinities(device):
    """Ties by position; NaN ranks above +inf (largest) and last for smallest; -inf entries still fill k."""
    data = np.array([[2.0, np.nan, 2.0, -np.inf, -np.inf, 5.0]])
    x = gd.tensor(data, device=device)
    top = x.topk(6)
    np.testing.assert_array_equal(top.indices.numpy(), [[1, 5, 0, 2, 3, 4]])
    np.testing.assert_array_equal(top.values.numpy(), data[:, [1, 5, 0, 2, 3, 4]])
    low = x.topk(4, largest=False)
    np.testing.assert_array_equal(low.indices.numpy(), [[3, 4, 0, 2]])
    ints = gd.tensor(np.array([3, np.iinfo(np.int64).min, 7, 3]), device=device)
    np.testing.assert_array_equal(ints.topk(4, largest=False).indices.numpy(), [1, 0, 3, 2])
    np.testing.assert_array_equal(ints.topk(2).values.numpy(), [7, 3])


def test_zero_dim_reductions_follow_pytorch(device):
    x = gd.tensor(np.array(2.5), device=device, requires_grad=True)
    values, indices = x.max(dim=0)
    assert values.shape == () and indices.shape == () and int(indices) == 0
    top = x.topk(1)
    assert top.values.shape == () and float(top.values) == 2.5
    top.values.backward()
    assert float(x.grad) == 1.0


@pytest.mark.parametrize("call", [
    lambda x: x.argmax(), lambda x: x.argmin(), lambda x: x.argmax(dim=1), lambda x: x.argmin(dim=0, keepdim=True),
    lambda x: x.argmax(-1, keepdim=True), lambda x: x.argmax(keepdim=True),
])
def test_argmax_argmin_match_pytorch(call, device):
    ours, theirs = call(gd.tensor(C, device=device)), call(torch.tensor(C))
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_gd_argmax_argmin_topk_functions():
    x = gd.tensor(A)
    assert gd.argmax(x, axis=1).tolist() == A.argmax(1).tolist()
    assert gd.argmin(x, dim=0).tolist() == A.argmin(0).tolist()
    np.testing.assert_allclose(gd.topk(x, 1).values.numpy(), A.max(1, keepdims=True))


TRUTH = [
    (lambda x: x.any(), lambda t: t.any()), (lambda x: x.all(), lambda t: t.all()),
    (lambda x: x.any(1), lambda t: t.any(1)), (lambda x: x.all(dim=0), lambda t: t.all(dim=0)),
    (lambda x: x.any(dim=1, keepdim=True), lambda t: t.any(dim=1, keepdim=True)),
    (lambda x: x.all(axis=(0, 1), keepdims=True), lambda t: t.all(dim=(0, 1), keepdim=True)),
]


@pytest.mark.parametrize("data", [A > 0, A, np.array([[0.0, np.nan], [0.0, 0.0]]), np.array([[0, 3], [0, 0]])])
@pytest.mark.parametrize("case", range(len(TRUTH)))
def test_any_all_match_pytorch(data, case, device):
    ours, theirs = TRUTH[case]
    found = ours(gd.tensor(data, device=device))
    assert found.dtype == np.bool_
    np.testing.assert_array_equal(found.numpy(), theirs(torch.tensor(data)).numpy())


# ---- the spelling rule ------------------------------------------------------------------------
def test_both_spellings_of_one_argument_is_an_error():
    x = gd.tensor(A)
    with pytest.raises(TypeError, match="sum: got both axis=0 and dim=1"):
        x.sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="mean: got both keepdims=True and keepdim=True"):
        x.mean(0, keepdims=True, keepdim=True)
    with pytest.raises(TypeError, match="std: got both ddof=1 and correction=1"):
        x.std(ddof=1, correction=1)
    with pytest.raises(TypeError, match="max: got both dim=0 and axis=1"):
        x.max(0, axis=1)
    with pytest.raises(TypeError, match="concat: got both axis=0 and dim=1"):
        gd.cat([x, x], axis=0, dim=1)


def test_var_default_follows_the_spelling():
    x = gd.tensor(A)
    assert np.allclose(x.var().numpy(), A.var())
    assert np.allclose(x.var(0).numpy(), A.var(0))
    assert np.allclose(x.var(dim=0).numpy(), A.var(0, ddof=1))
    assert np.allclose(x.std(dim=1, correction=0).numpy(), A.std(1))


def test_axis_reductions_still_return_values():
    x = gd.tensor(A)
    assert isinstance(x.max(axis=1), gd.Tensor) and isinstance(x.min(axis=(0, 1)), gd.Tensor)
    assert isinstance(x.max(), gd.Tensor) and x.max().shape == ()


def test_max_dim_must_be_an_int():
    with pytest.raises(TypeError, match=r"max: dim must be an int, got \(0, 1\)"):
        gd.tensor(A).max((0, 1))


# ---- casts ---------------------------------------------------------------------------------------
def test_casts_and_their_gradients(device):
    x = gd.tensor(np.array([-1.7, -0.2, 0.0, 2.9]), device=device, requires_grad=True)
    t = torch.tensor([-1.7, -0.2, 0.0, 2.9])
    for ours, theirs, dtype in ((x.long(), t.long(), np.int64), (x.int(), t.int(), np.int32)):
        assert ours.dtype == dtype and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    f = x.float()
    assert f.dtype == np.float32 and f.requires_grad
    (f * 2).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [2, 2, 2, 2]
    assert gd.tensor([1, 2], device=device).double().dtype == np.float64


def test_clone_is_a_differentiable_copy(device):
    x = gd.tensor(A, device=device, requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and np.array_equal(y.numpy(), A)
    (y * 3).sum().backward()
    assert np.all(x.grad.numpy() == 3)


# ---- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.view(5, -1), ValueError, r"view: cannot reshape a tensor of shape \(3, 4\) into \(5, -1\)"),
    (lambda x: x.unsqueeze(3), IndexError, "unsqueeze: dim 3 is out of range"),
    (lambda x: x.squeeze(2), IndexError, "squeeze: dim 2 is out of range"),
    (lambda x: x.reshape(1, 3, 4).t(), ValueError, r"t: expects a tensor with at most 2 dimensions, got shape \(1, 3, 4\)"),
    (lambda x: x.topk(5), ValueError, r"topk: k must be an integer in \[0, 4\]"),
    (lambda x: x.topk(-1), ValueError, "topk: k must be"),
    (lambda x: x.int().topk(1), TypeError, "topk: takes float32, float64 or int64 tensors, got dtype int32"),
    (lambda x: x.max(dim=2), IndexError, "max: dim 2 is out of range"),
    (lambda x: x.argmin(axis=5), ValueError, "argmin: axis 5 is out of range"),
    (lambda x: x.any(dim=3), ValueError, "any: axis 3 is out of range"),
    (lambda x: gd.cat([]), ValueError, "concat: expected a non-empty sequence"),
    (lambda x: gd.cat([x, A]), TypeError, "concat: item 1 is a ndarray, not a Tensor"),
    (lambda x: gd.cat([x[0, 0], x[0, 1]]), ValueError, "concat: zero-dimensional tensors cannot be joined"),
    (lambda x: x.clamp(), ValueError, "clip: give at least one of min and max"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(gd.tensor(A))


# ---- __setitem__ -----------------------------------------------------------------------------------
SETS = {
    "row_number": ((1,), 5.0),
    "element": ((2, 3), -1.0),
    "slice_tensor": ((slice(None), slice(1, 3)), np.array([7.0, 8.0])),
    "strided": ((slice(None, None, 2), slice(1, None, 2)), np.array([[1.0, 2.0], [3.0, 4.0]])),
    "ellipsis": ((Ellipsis, 0), np.array([9.0, 8.0, 7.0])),
    "int_array": (([0, 2],), np.array([[1.0], [2.0]])),
    "two_arrays": (([0, 1, 2], [3, 0, 1]), np.array([10.0, 20.0, 30.0])),
    "array_after_slice": ((slice(None), [0, 3]), np.array([[1.0, 2.0]])),
    "array_then_slice": (([1, 2], slice(1, 3)), 4.0),
    "mask": ((A > 0,), 0.0),
    "mask_values": ((A > 0.5,), np.arange((A > 0.5).sum(), dtype=float)),
    "negative_index": (([-1],), 3.0),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_setitem_matches_pytorch(name, device):
    index, value = SETS[name]
    x, t = gd.tensor(A, device=device), torch.tensor(A)
    x[index] = gd.tensor(value, device=device) if isinstance(value, np.ndarray) else value
    t_index = tuple(torch.tensor(v) if isinstance(v, (list, np.ndarray)) else v for v in index)
    t[t_index if len(t_index) > 1 else t_index[0]] = torch.tensor(value) if isinstance(value, np.ndarray) else value
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_setitem_through_a_reversed_view(device):
    """PyTorch has no negative steps: NumPy is the reference here."""
    x, expected = gd.tensor(A, device=device), A.copy()
    x[::-1, ::-2] = gd.tensor(np.arange(6.0).reshape(3, 2), device=device)
    expected[::-1, ::-2] = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(x.numpy(), expected)


def test_setitem_casts_and_takes_host_data(device):
    x = gd.zeros(2, 3, dtype="int64", device=device)
    x[0] = gd.tensor(np.array([1.9, -2.5, 3.0]), device=device)
    x[1, 1:] = [5, 6]
    assert x.tolist() == [[1, -2, 3], [0, 5, 6]]


def test_setitem_writes_through_views_of_a_parameter_under_no_grad(device):
    w = gd.tensor(A, device=device, requires_grad=True)
    with gd.no_grad():
        w[0, 0] = 100.0
        w[w > 1.5] = 1.5
    assert w.numpy()[0, 0] == 1.5 and w.numpy().max() <= 1.5 and w.requires_grad


def test_setitem_refuses_what_autograd_cannot_follow():
    w = gd.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="part of an autograd graph"):
        (w * 2)[0] = 1.0
    with pytest.raises(RuntimeError, match="the value requires grad"):
        gd.zeros(3, 4)[0] = w[1]
    with pytest.raises(RuntimeError, match="value is on emu but the tensor is on cpu"):
        gd.zeros(3)[0] = gd.tensor(1.0, device="emu")
    with pytest.raises(ValueError, match=r"value of shape \(3,\) cannot be broadcast to the indexed shape \(4,\)"):
        gd.zeros(3, 4)[0] = gd.zeros(3)
    with pytest.raises(ValueError, match="names some positions more than once"):
        gd.zeros(3)[[0, 1, 0]] = 1.0
    with pytest.raises(IndexError, match="setitem: index 3 is out of bounds for axis 0 with size 3"):
        gd.zeros(3)[[3]] = 1.0
    with pytest.raises(IndexError, match="setitem: .*index"):
        gd.zeros(3)[5] = 1.0


def test_setitem_on_a_gradient_is_allowed():
    w = gd.tensor(A, requires_grad=True)
    (w * w).sum().backward()
    w.grad[0] = 0.0
    np.testing.assert_allclose(w.grad.numpy()[1:], 2 * A[1:])
    assert not w.grad.numpy()[0].any()


# ---- mixed float32 / float64 --------------------------------------------------------------------
MIXED = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul_broadcast": (lambda a, b: a * b[0], lambda a, b: a * b[0]),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "where": (lambda a, b: gd.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b)),
    "maximum": (lambda a, b: gd.maximum(a, b), lambda a, b: torch.maximum(a, b)),
    "cat": (lambda a, b: gd.cat([a, b], dim=1), lambda a, b: torch.cat([a, b], dim=1)),
    "stack": (lambda a, b: gd.stack([a, b]), lambda a, b: torch.stack([a, b])),
}


@pytest.mark.parametrize("name", sorted(MIXED))
def test_mixed_dtypes_promote_and_gradients_keep_each_inputs_dtype(name, device):
    """float32 with float64 computes in float64 (as PyTorch); each leaf gets a gradient of its own dtype."""
    ours, theirs = MIXED[name]
    a = gd.tensor(A.astype(np.float32), device=device, requires_grad=True)
    b = gd.tensor(A[::-1].copy(), device=device, requires_grad=True)
    ta, tb = torch.tensor(A.astype(np.float32), requires_grad=True), torch.tensor(A[::-1].copy(), requires_grad=True)
    y, ty = ours(a, b), theirs(ta, tb)
    assert y.dtype == np.float64 and ty.dtype == torch.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_matmul_and_linear_want_one_dtype(device):
    """As in PyTorch: no silent promotion of a whole layer to float64."""
    a = gd.tensor(A.astype(np.float32), device=device)
    b = gd.tensor(A.T.copy(), device=device)
    with pytest.raises(TypeError, match="matmul: operands must have one dtype .* float32 and float64"):
        a @ b
    with pytest.raises(TypeError, match="float32.*float64|float64.*float32"):
        F.linear(b.T, a)


@pytest.mark.usefixtures("kernel_only")
def test_everything_runs_through_kernels_on_emu():
    """With emu arrays that refuse NumPy compute, the new methods (and their backward) still run."""
    x = gd.tensor(C, device="emu", requires_grad=True)
    h = gd.tensor(C.astype(np.float32), device="emu", requires_grad=True)
    parts = [x.max(dim=1).values, x.min(-1)[0], x.topk(2, dim=1).values.sum(1), x.topk(1, largest=False)[0].squeeze(-1),
             x.std(dim=2), x.var(axis=2), x.clamp(-1, 1).sum(-1), x.view(3, -1)[:, :2], x[0].t(),
             x.unsqueeze(0).squeeze(0).softmax(1).sum(-1), x.log_softmax(dim=2).sum(-1),
             gd.cat([h, x], dim=2).sum(-1), h.relu().sum(-1).double(), h.sigmoid().tanh().sum(-1).double()]
    total = sum(p.sum() for p in parts)
    total.backward()
    assert x.grad.shape == C.shape and h.grad.dtype == np.float32
    flags = [x.any(1), x.all(), (x > 0).any(dim=0), x.argmin(1), x.argmax(dim=2, keepdim=True), x.long(), x.int()]
    assert [f.shape for f in flags] == [(3, 2), (), (5, 2), (3, 2), (3, 5, 1), (3, 5, 2), (3, 5, 2)]
    y = gd.zeros(3, 5, 2, device="emu")
    y[0] = 1.0
    y[1, 2:] = x.detach()[1, 2:]
    y[[2, 2], [0, 4]] = 5.0
    y[y.detach() > 4] = -1.0
    expected = np.zeros((3, 5, 2))
    expected[0], expected[1, 2:], expected[2, [0, 4]] = 1.0, C[1, 2:], -1.0
    np.testing.assert_allclose(y.numpy(), expected)
