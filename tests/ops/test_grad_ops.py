"""Every differentiable op against central differences (float64), on every device."""
import re

import numpy as np
import pytest

import gpudl as gd

R = np.random.default_rng(1)


def rand(*shape, positive=False):
    a = R.standard_normal(shape)
    return np.abs(a) + 0.5 if positive else a


CASES = {
    "add_broadcast": (lambda a, b: a + b, [rand(3, 4), rand(4)]),
    "sub_broadcast": (lambda a, b: a - b, [rand(2, 1, 3), rand(4, 1)]),
    "mul_broadcast": (lambda a, b: a * b, [rand(3, 1), rand(1, 5)]),
    "div": (lambda a, b: a / b, [rand(3, 4), rand(4, positive=True)]),
    "pow_scalar": (lambda a: a ** 3, [rand(3, 2)]),
    "pow_tensor": (lambda a, b: a ** b, [rand(3, positive=True), rand(3)]),
    "rpow": (lambda a: 2.0 ** a, [rand(4)]),
    "neg": (lambda a: -a, [rand(3)]),
    "scalar_ops": (lambda a: (1 - a) / 2 + 3 * a - 1 / (a * a + 1), [rand(5)]),
    "reused_node": (lambda x: x * x + x, [rand(4)]),
    "matmul_2d": (lambda a, b: a @ b, [rand(3, 4), rand(4, 2)]),
    "matmul_vec_mat": (lambda a, b: a @ b, [rand(4), rand(4, 2)]),
    "matmul_mat_vec": (lambda a, b: a @ b, [rand(3, 4), rand(4)]),
    "matmul_vec_vec": (lambda a, b: a @ b, [rand(4), rand(4)]),
    "matmul_batched": (lambda a, b: a @ b, [rand(2, 3, 4), rand(2, 4, 5)]),
    "matmul_broadcast_batch": (lambda a, b: a @ b, [rand(2, 1, 3, 4), rand(3, 4, 2)]),
    "sum_all": (lambda a: a.sum(), [rand(3, 4)]),
    "sum_axis_keepdims": (lambda a: a.sum(axis=1, keepdims=True), [rand(3, 4, 2)]),
    "sum_tuple": (lambda a: a.sum(axis=(0, 2)), [rand(3, 4, 2)]),
    "mean_neg_axis": (lambda a: a.mean(axis=-1), [rand(3, 4)]),
    "var": (lambda a: a.var(axis=0), [rand(5, 3)]),
    "var_ddof": (lambda a: a.var(axis=(0, 1), ddof=1, keepdims=True), [rand(3, 4, 2)]),
    "max_axis": (lambda a: a.max(axis=1), [rand(3, 5)]),
    "min_all": (lambda a: a.min(), [rand(3, 5)]),
    "max_ties": (lambda a: (a * 0 + gd.tensor(np.array([1.0, 1.0, 0.0]), device=a.device)).max() * a.sum(),
                 [rand(3)]),
    "exp": (lambda a: a.exp(), [rand(3, 2)]),
    "log": (lambda a: a.log(), [rand(3, positive=True)]),
    "sqrt": (lambda a: a.sqrt(), [rand(3, positive=True)]),
    "abs": (lambda a: a.abs(), [rand(6)]),
    "clip": (lambda a: a.clip(-0.5, 0.5), [np.array([-1.0, -0.3, 0.2, 0.9])]),
    "clip_min_only": (lambda a: a.clip(min=0.0), [np.array([-1.0, 0.7])]),
    "maximum": (lambda a, b: gd.maximum(a, b), [rand(3, 4), rand(4)]),
    "minimum": (lambda a, b: gd.minimum(a, b), [rand(3, 4), rand(3, 1)]),
    "where": (lambda a, b: gd.where(a > 0, a, b), [rand(3, 4), rand(4)]),
    "reshape": (lambda a: a.reshape(2, -1) * gd.arange(6, device=a.device).reshape(2, 3), [rand(3, 2)]),
    "transpose_T": (lambda a: a.T @ a, [rand(3, 2)]),
    "permute": (lambda a: a.permute(2, 0, 1).reshape(-1) * gd.arange(24, device=a.device), [rand(2, 3, 4)]),
    "transpose_swap": (lambda a: a.transpose(0, 2), [rand(2, 3, 4)]),
    "flatten": (lambda a: a.flatten(1), [rand(2, 3, 4)]),
    "expand": (lambda a: a.expand(3, 4) * gd.arange(12, device=a.device).reshape(3, 4), [rand(3, 1)]),
    "broadcast_to": (lambda a: gd.broadcast_to(a, (2, 3, 4)), [rand(4)]),
    "concat": (lambda a, b: gd.concat([a, b, a], axis=1), [rand(2, 3), rand(2, 1)]),
    "stack": (lambda a, b: gd.stack([a, b], axis=1), [rand(2, 3), rand(2, 3)]),
    "pad": (lambda a: gd.pad(a, ((1, 0), (2, 1))), [rand(2, 3)]),
    "slice": (lambda a: a[1:, ::2], [rand(3, 5)]),
    "int_index_repeated": (lambda a: a[[0, 2, 0, 0]], [rand(3, 2)]),
    "int_index_2d": (lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])], [rand(2, 3)]),
    "bool_mask": (lambda a: a[a.numpy() > 0], [rand(4, 3)]),
    "to_device_and_back": (lambda a: (a.to("cpu") * 2).to(a.device), [rand(3)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, device):
    fn, inputs = CASES[name]
    tensors = [gd.tensor(x, device=device) for x in inputs]
    assert gd.gradcheck(fn, tensors)


def test_gradcheck_reports_a_wrong_gradient():
    class Wrong(gd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    with pytest.raises(gd.GradcheckError, match=r"input 0 .*element \(0,\)") as err:
        gd.gradcheck(lambda x: Wrong.apply(x), [np.ones(2)])
    analytic, numeric = map(float, re.findall(r"gives? (-?[\d.e+-]+)", str(err.value)))
    assert analytic == pytest.approx(1.5 * numeric)  # 3 vs 2, times the random output weight


def test_comparisons_have_no_grad(device):
    x = gd.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    assert (x == 2.0).numpy().tolist() == [False, True, False]
    assert (x <= 2).numpy().tolist() == [True, True, False]


@pytest.mark.parametrize("fn, match", [
    (lambda a, b: a + b, r"add: shapes \(2, 3\) and \(4,\)"),
    (lambda a, b: a @ b, r"matmul: shapes \(2, 3\) and \(4,\)"),
    (lambda a, b: a.reshape(5), r"reshape: .*\(2, 3\) into \(5,\)"),
    (lambda a, b: gd.concat([a, b]), r"concat: shapes \(2, 3\) and \(4,\)"),
    (lambda a, b: a.sum(axis=2), "sum: axis 2 is out of range"),
    (lambda a, b: gd.broadcast_to(a, (3, 3)), r"broadcast_to: .*\(2, 3\) to \(3, 3\)"),
])
def test_shape_errors_name_op_and_shapes(fn, match):
    a, b = gd.zeros(2, 3), gd.zeros(4)
    with pytest.raises(ValueError, match=match):
        fn(a, b)


def test_where_needs_bool_condition():
    with pytest.raises(TypeError, match="bool.*float32"):
        gd.where(gd.zeros(2), gd.zeros(2), gd.ones(2))
