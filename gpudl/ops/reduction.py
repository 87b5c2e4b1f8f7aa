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


def _expand(xp, g, axes, keepdims, shape):
    """g (reduced over `axes`) as a broadcast view of `shape`: re-insert the reduced axes (views only)."""
    g = g if keepdims else xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    """sum, and mean as sum scaled by 1/n: one launch each way."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, scale):
        ctx.save(x.shape, axes, keepdims, scale)
        return ctx.kernels.sum(x, axes, keepdims, scale)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdims, scale = ctx.saved  # d(s * sum x)/dx_i = s
        spread = _expand(ctx.xp, g, axes, keepdims, shape)
        return ctx.kernels.copy(spread) if scale == 1 else ctx.kernels.mul(spread, scale)


class Extreme(Function):
    """max or min; the gradient is shared equally by the tied extreme elements."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, largest):
        out = (ctx.kernels.max if largest else ctx.kernels.min)(x, axes, keepdims=True)
        ctx.save(x, out, axes, keepdims)
        return out if keepdims else out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in axes))

    @staticmethod
    def backward(ctx, g):
        (x, out, axes, keepdims), k = ctx.saved, ctx.kernels
        g = g if keepdims else ctx.xp.expand_dims(g, axes)
        mask = k.cast(k.equal(x, out), x.dtype)
        return k.mul(mask, k.div(g, k.sum(mask, axes, keepdims=True)))


def _axes(x, axis, op):
    return normalize_axis(axis, x.ndim, op)


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axes=_axes(x, axis, "sum"), keepdims=keepdims, scale=1)


def mean(x, axis=None, keepdims=False):
    """mean = sum / n over the reduced axes."""
    axes = _axes(x, axis, "mean")
    n = 1
    for a in axes:
        n *= x.shape[a]
    return Sum.apply(x, axes=axes, keepdims=keepdims, scale=1.0 / n)


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
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, "argmax")[0]
    return Tensor._wrap(x.device.kernels.argmax(x.data, axis), x.device)
