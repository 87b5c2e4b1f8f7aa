"""Unary maths, clip, maximum / minimum, where and comparisons."""
import numpy as np

from ..tensor import Function, Tensor
from .arithmetic import as_pair, unbroadcast


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.kernels.exp(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.mul(g, ctx.saved[0])  # d e^x / dx = e^x


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.kernels.log(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.div(g, ctx.saved[0])  # d ln x / dx = 1/x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.kernels.sqrt(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.div(g, ctx.kernels.mul(ctx.saved[0], 2))  # d sqrt(x)/dx = 1 / (2 sqrt(x))


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.kernels.abs(x)

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.mul(g, ctx.kernels.sign(ctx.saved[0]))  # d|x|/dx = sign(x), 0 at 0


class Clip(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save(x, lo, hi)
        return ctx.kernels.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x, lo, hi), k = ctx.saved, ctx.kernels  # gradient passes only where x was inside [lo, hi]
        if lo is not None:
            g = k.where(k.greater_equal(x, lo), g, 0)
        if hi is not None:
            g = k.where(k.less_equal(x, hi), g, 0)
        return g


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.save(cond, np.shape(a), getattr(a, "dtype", None), np.shape(b), getattr(b, "dtype", None))
        return ctx.kernels.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond, sa, da, sb, db), k = ctx.saved, ctx.kernels
        need = ctx.needs_input_grad
        return (unbroadcast(k, k.where(cond, g, 0), sa, da) if need[0] else None,
                unbroadcast(k, k.where(cond, 0, g), sb, db) if need[1] else None)


def exp(x): return Exp.apply(x)
def log(x): return Log.apply(x)
def sqrt(x): return Sqrt.apply(x)
def abs(x): return Abs.apply(x)


def clip(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip.apply(x, lo=min, hi=max)


clamp = clip  # PyTorch's name


def where(cond, a, b):
    """Elementwise `a` where `cond` else `b`; gradients flow to the chosen side.

    Every Tensor among cond, a and b must be on one device (RuntimeError naming both otherwise)."""
    devices = [(name, v.device) for name, v in (("condition", cond), ("a", a), ("b", b)) if isinstance(v, Tensor)]
    for name, dev in devices[1:]:
        if dev != devices[0][1]:
            raise RuntimeError(f"where: {name} is on {dev} but {devices[0][0]} is on {devices[0][1]}")
    cond_data = cond.data if isinstance(cond, Tensor) else cond if hasattr(cond, "dtype") else np.asarray(cond)
    if cond_data.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got dtype {cond_data.dtype}")
    a, b = as_pair("where", a, b)
    try:
        np.broadcast_shapes(cond_data.shape, np.shape(a), np.shape(b))
    except ValueError:
        raise ValueError(f"where: shapes {cond_data.shape}, {np.shape(a)}, {np.shape(b)} cannot be broadcast") from None
    dev = (a if isinstance(a, Tensor) else b).device
    return Where.apply(a, b, cond=cond_data if isinstance(cond, Tensor) else dev.asarray(cond_data))


def _data(v):
    return v.data if isinstance(v, Tensor) else v


def _pick(op, compare, a, b):
    """where(a <compare> b, a, b): the gradient goes to the side chosen (to `a` on ties)."""
    a, b = as_pair(op, a, b)
    dev = (a if isinstance(a, Tensor) else b).device
    return where(Tensor._wrap(getattr(dev.kernels, compare)(_data(a), _data(b)), dev), a, b)


def maximum(a, b):
    """Elementwise max; on ties the gradient goes to `a`."""
    return _pick("maximum", "greater_equal", a, b)


def minimum(a, b):
    """Elementwise min; on ties the gradient goes to `a`."""
    return _pick("minimum", "less_equal", a, b)


def compare(a, b, name):
    """`a <op> b` as a bool tensor (no gradient)."""
    a, b = as_pair(name, a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.device != b.device:
        raise RuntimeError(f"{name}: tensors are on different devices: {a.device} and {b.device}")
    dev = (a if isinstance(a, Tensor) else b).device
    return Tensor._wrap(getattr(dev.kernels, name)(_data(a), _data(b)), dev)
