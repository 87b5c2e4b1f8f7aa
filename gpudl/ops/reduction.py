"""Reductions over `axis` (None, int or tuple) with NumPy's `keepdims`."""
import builtins

from ..tensor import Function, Tensor


def normalize_axis(axis, ndim, op):
    """`axis` as a sorted tuple of non-negative ints; ValueError when out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.save(x.shape, axes, keepdims)
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdims = ctx.saved  # d(sum x)/dx_i = 1
        g = g if keepdims else ctx.xp.expand_dims(g, axes)  # re-insert reduced axes
        return ctx.xp.broadcast_to(g, shape).copy()


class Extreme(Function):
    """max or min; the gradient is shared equally by the tied extreme elements."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, largest):
        out = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        ctx.save(x, out, axes, keepdims)
        return out if keepdims else out.squeeze(axis=axes)

    @staticmethod
    def backward(ctx, g):
        x, out, axes, keepdims = ctx.saved
        g = g if keepdims else ctx.xp.expand_dims(g, axes)
        mask = (x == out).astype(x.dtype)
        return mask * g / mask.sum(axis=axes, keepdims=True)


def _axes(x, axis, op):
    return normalize_axis(axis, x.ndim, op)


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axes=_axes(x, axis, "sum"), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """mean = sum / n over the reduced axes."""
    axes = _axes(x, axis, "mean")
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(x, axes, keepdims) / n


def var(x, axis=None, keepdims=False, ddof=0):
    """var = sum (x - mean)^2 / (n - ddof)."""
    axes = _axes(x, axis, "var")
    n = 1
    for a in axes:
        n *= x.shape[a]
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) / (n - ddof)


def max(x, axis=None, keepdims=False):
    return Extreme.apply(x, axes=_axes(x, axis, "max"), keepdims=keepdims, largest=True)


def min(x, axis=None, keepdims=False):
    return Extreme.apply(x, axes=_axes(x, axis, "min"), keepdims=keepdims, largest=False)


def argmax(x, axis=None):
    """Index of the largest element (no gradient)."""
    return Tensor._wrap(x.data.argmax(axis=axis), x.device)
