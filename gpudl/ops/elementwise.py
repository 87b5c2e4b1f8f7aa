"""Unary maths, clip, maximum / minimum, where and comparisons."""
import numpy as np

from ..tensor import Function, Tensor
from .arithmetic import as_pair, unbroadcast


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved[0]  # d e^x / dx = e^x


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved[0]  # d ln x / dx = 1/x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.sqrt(x)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g / (2 * ctx.saved[0])  # d sqrt(x)/dx = 1 / (2 sqrt(x))


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.xp.sign(ctx.saved[0])  # d|x|/dx = sign(x), 0 at 0


class Clip(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save(x, lo, hi)
        return ctx.xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved  # gradient passes only where x was inside [lo, hi]
        inside = ctx.xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        return g * inside


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.save(cond, a.shape, a.dtype, b.shape, b.dtype)
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, sa, da, sb, db = ctx.saved
        zero = ctx.xp.zeros((), dtype=g.dtype)
        return (unbroadcast(ctx.xp.where(cond, g, zero), sa, da),
                unbroadcast(ctx.xp.where(cond, zero, g), sb, db))


def exp(x): return Exp.apply(x)
def log(x): return Log.apply(x)
def sqrt(x): return Sqrt.apply(x)
def abs(x): return Abs.apply(x)


def clip(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip.apply(x, lo=min, hi=max)


def where(cond, a, b):
    """Elementwise `a` where `cond` else `b`; gradients flow to the chosen side."""
    cond_data = cond.data if isinstance(cond, Tensor) else cond if hasattr(cond, "dtype") else np.asarray(cond)
    if cond_data.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got dtype {cond_data.dtype}")
    a, b = as_pair("where", a, b)
    try:
        np.broadcast_shapes(cond_data.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes {cond_data.shape}, {a.shape}, {b.shape} cannot be broadcast") from None
    return Where.apply(a, b, cond=a.device.asarray(cond_data))


def maximum(a, b):
    """Elementwise max; on ties the gradient goes to `a`."""
    a, b = as_pair("maximum", a, b)
    return where(a.data >= b.data, a, b)


def minimum(a, b):
    """Elementwise min; on ties the gradient goes to `a`."""
    a, b = as_pair("minimum", a, b)
    return where(a.data <= b.data, a, b)


def compare(a, b, name):
    """`a <op> b` as a bool tensor (no gradient)."""
    a, b = as_pair(name, a, b)
    if a.device != b.device:
        raise RuntimeError(f"{name}: tensors are on different devices: {a.device} and {b.device}")
    return Tensor._wrap(getattr(a.device.xp, name)(a.data, b.data), a.device)
