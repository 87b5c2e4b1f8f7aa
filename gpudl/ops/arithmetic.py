"""+ - * / ** neg and @, each with its backward; broadcasting gradients are summed back
to the input's shape by `unbroadcast`.

Mixed dtypes: + - * / ** (and where, maximum, minimum, concat, stack) promote like NumPy and
PyTorch (float32 with float64 computes in float64), and each input's gradient is cast back to
that input's dtype by `cast_back` (every Function that can mix dtypes uses it). matmul, as in
PyTorch, wants one dtype for both operands (TypeError otherwise).

A Python scalar operand stays a scalar: the kernels take it as an argument (no array is made
for it), and it gets no gradient.
"""
import math

import numpy as np

from ..tensor import Function, Tensor


def cast_back(kernels, grad, dtype):
    """An input's gradient in that input's `dtype`: an op that mixed dtypes computed (and got its
    output's gradient) in the promoted dtype, so dL/dx is cast back to x's dtype (a cast kernel
    only when the dtypes differ)."""
    return grad if grad.dtype == dtype else kernels.cast(grad, dtype)


def unbroadcast(kernels, grad, shape, dtype):
    """Sum `grad` over the axes that broadcasting added or stretched, so it has `shape` (one launch),
    in the input's `dtype` (`cast_back`)."""
    if tuple(grad.shape) != tuple(shape):
        extra = grad.ndim - len(shape)
        stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = kernels.sum(grad, tuple(range(extra)) + stretched).reshape(shape)
    return cast_back(kernels, grad, dtype)


def _scalar(v):
    """A Python number for a Python / NumPy scalar, else None."""
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, np.generic) and v.dtype.kind in "biuf":
        return v.item()
    return None


def as_pair(op, a, b):
    """(a, b) with Tensors kept, scalars as Python numbers, other data (lists, arrays) as Tensors on the
    other operand's device; ValueError when the shapes do not broadcast."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: at least one operand must be a Tensor")
    ref = a if isinstance(a, Tensor) else b

    def wrap(v):
        if isinstance(v, Tensor):
            return v
        s = _scalar(v)
        return s if s is not None else Tensor._wrap(ref.device.asarray(v), ref.device)

    a, b = wrap(a), wrap(b)
    try:
        np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ValueError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast together") from None
    return a, b


def _remember(ctx, a, b, keep_values):
    """Save each operand's (shape, dtype) for the backward, and the operands themselves if it needs them."""
    ctx.meta = tuple((np.shape(v), getattr(v, "dtype", None)) for v in (a, b))
    if keep_values:
        ctx.operands = (a, b)


def _grads(ctx, ga, gb):
    """Each operand's gradient summed back to its shape, or None for scalars and inputs without grad."""
    (sa, da), (sb, db) = ctx.meta
    need = ctx.needs_input_grad
    return (unbroadcast(ctx.kernels, ga(), sa, da) if need[0] else None,
            unbroadcast(ctx.kernels, gb(), sb, db) if need[1] else None)


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        _remember(ctx, a, b, keep_values=False)
        return ctx.kernels.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return _grads(ctx, lambda: g, lambda: g)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        _remember(ctx, a, b, keep_values=False)
        return ctx.kernels.sub(a, b)

    @staticmethod
    def backward(ctx, g):
        return _grads(ctx, lambda: g, lambda: ctx.kernels.neg(g))


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _remember(ctx, a, b, keep_values=True)
        return ctx.kernels.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        (a, b), k = ctx.operands, ctx.kernels  # d(ab)/da = b, d(ab)/db = a
        return _grads(ctx, lambda: k.mul(g, b), lambda: k.mul(g, a))


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        _remember(ctx, a, b, keep_values=True)
        return ctx.kernels.div(a, b)

    @staticmethod
    def backward(ctx, g):
        (a, b), k = ctx.operands, ctx.kernels  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return _grads(ctx, lambda: k.div(g, b), lambda: k.neg(k.div(k.mul(g, a), k.mul(b, b))))


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = ctx.out = ctx.kernels.pow(a, b)
        _remember(ctx, a, b, keep_values=True)
        return out

    @staticmethod
    def backward(ctx, g):
        (a, b), k = ctx.operands, ctx.kernels  # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a
        b_minus_1 = b - 1 if _scalar(b) is not None else k.sub(b, 1)
        log_a = (math.log(a) if a > 0 else 0.0) if _scalar(a) is not None else k.log(k.where(k.greater(a, 0), a, 1))
        return _grads(ctx, lambda: k.mul(k.mul(g, b), k.pow(a, b_minus_1)), lambda: k.mul(k.mul(g, ctx.out), log_a))


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return ctx.kernels.neg(a)

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.neg(g)


class MatMul(Function):
    """C = A B over the last two axes, batch axes broadcast; 1-D operands as in NumPy."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        a2 = a[None, :] if a.ndim == 1 else a  # a vector as a 1-row / 1-column matrix
        b2 = b[:, None] if b.ndim == 1 else b
        out = ctx.kernels.matmul(a2, b2)
        batch = out.shape[:-2]
        return out.reshape(batch + ((a2.shape[-2],) if a.ndim > 1 else ()) + ((b2.shape[-1],) if b.ndim > 1 else ()))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        k = ctx.kernels
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if ctx.needs_input_grad[0]:  # dL/dA = dL/dC B^T
            ga = unbroadcast(k, k.matmul(g2, b2.swapaxes(-1, -2)), a2.shape, a.dtype).reshape(a.shape)
        if ctx.needs_input_grad[1]:  # dL/dB = A^T dL/dC
            gb = unbroadcast(k, k.matmul(a2.swapaxes(-1, -2), g2), b2.shape, b.dtype).reshape(b.shape)
        return ga, gb


def add(a, b): return Add.apply(*as_pair("add", a, b))
def sub(a, b): return Sub.apply(*as_pair("sub", a, b))
def mul(a, b): return Mul.apply(*as_pair("mul", a, b))
def div(a, b): return Div.apply(*as_pair("div", a, b))
def pow(a, b): return Pow.apply(*as_pair("pow", a, b))
def neg(a): return Neg.apply(a)


def matmul(a, b):
    a, b = as_pair_matmul(a, b)
    return MatMul.apply(a, b)


def as_pair_matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: both operands must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: operands must have one dtype (as in PyTorch), got {a.dtype} and {b.dtype}; "
                        "convert one with .float() or .double()")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({inner_a} != {inner_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} cannot be broadcast") from None
    return a, b
