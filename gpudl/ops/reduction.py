"""Reductions over `axis` (None, int or tuple) with NumPy's `keepdims`.

PyTorch's spellings are accepted too, and each spelling keeps its own library's meaning:

    axis= / keepdims= / ddof=      NumPy      x.max(axis=1) -> values;  x.var(axis=0): ddof = 0
    dim= / keepdim= / correction=  PyTorch    x.max(dim=1) -> (values, indices);  x.var(dim=0): correction = 1

max / min take PyTorch's `dim` as their first positional argument (x.max(1) is torch's
(values, indices)); the other reductions take NumPy's `axis` there, as they always did.  Giving
both spellings of one argument is a TypeError.
"""
import builtins
from collections import namedtuple

import numpy as np

from .. import checks
from ..tensor import Function, Tensor
from .elementwise import sqrt
from .shape import _dim, positions, reshape, take_along_dim

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])  # torch.return_types.max, min, topk


def normalize_axis(axis, ndim, op):
    """`axis` (None, an int or a tuple of ints) as a sorted tuple of distinct non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = [checks.axis(op, a, ndim, name="axis") for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {tuple(axes)} names an axis twice")
    return tuple(sorted(out))


def either(op, numpy_name, numpy_value, torch_name, torch_value, default):
    """An argument spelled the NumPy way or the PyTorch way (axis / dim, keepdims / keepdim, ddof /
    correction): the one given, else `default`; TypeError when both are given."""
    if numpy_value is not None and torch_value is not None:
        raise TypeError(f"{op}: got both {numpy_name}={numpy_value!r} and {torch_name}={torch_value!r}; give one")
    value = torch_value if numpy_value is None else numpy_value
    return default if value is None else value


def _spelled(op, x, axis, keepdims, dim, keepdim):
    """(sorted axes, keepdims) from either spelling."""
    axis = either(op, "axis", axis, "dim", dim, None)
    return normalize_axis(axis, x.ndim, op), bool(either(op, "keepdims", keepdims, "keepdim", keepdim, False))


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


def _count(axes, shape):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def sum(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    axes, keepdims = _spelled("sum", x, axis, keepdims, dim, keepdim)
    return Sum.apply(x, axes=axes, keepdims=keepdims, scale=1)


def mean(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """mean = sum / n over the reduced axes."""
    axes, keepdims = _spelled("mean", x, axis, keepdims, dim, keepdim)
    return Sum.apply(x, axes=axes, keepdims=keepdims, scale=1.0 / _count(axes, x.shape))


def var(x, axis=None, keepdims=None, ddof=None, *, correction=None, dim=None, keepdim=None):
    """var = sum (x - mean)^2 / (n - ddof); `correction` is PyTorch's name for ddof.

    The default is NumPy's ddof = 0 (the population variance), or PyTorch's correction = 1 (the
    sample variance) when the axis is given as `dim=`."""
    return _variance("var", x, axis, keepdims, ddof, correction, dim, keepdim)


def std(x, axis=None, keepdims=None, ddof=None, *, correction=None, dim=None, keepdim=None):
    """sqrt(var(...)), with var's arguments and defaults (ddof = 0; correction = 1 with `dim=`)."""
    return sqrt(_variance("std", x, axis, keepdims, ddof, correction, dim, keepdim))


def _variance(op, x, axis, keepdims, ddof, correction, dim, keepdim):
    axes, keepdims = _spelled(op, x, axis, keepdims, dim, keepdim)
    ddof = either(op, "ddof", ddof, "correction", correction, 1 if dim is not None else 0)
    centered = x - mean(x, axes, keepdims=True)
    return sum(centered * centered, axes, keepdims) / builtins.max(_count(axes, x.shape) - ddof, 0)


def max(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """The largest element: over `axis` (an int or a tuple; None: all) -> values, NumPy's way, the
    gradient shared by tied maxima; or along `dim` (an int) -> (values, indices), PyTorch's way,
    the gradient going to the element `indices` names (the first maximum)."""
    return _extreme("max", x, dim, keepdim, axis, keepdims, largest=True)


def min(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """The smallest element; the same two ways as `max`."""
    return _extreme("min", x, dim, keepdim, axis, keepdims, largest=False)


def _extreme(op, x, dim, keepdim, axis, keepdims, largest):
    keepdims = bool(either(op, "keepdims", keepdims, "keepdim", keepdim, False))
    if dim is None:
        return Extreme.apply(x, axes=normalize_axis(axis, x.ndim, op), keepdims=keepdims, largest=largest)
    if axis is not None:
        raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; give one")
    d = _dim(op, x, dim)
    if x.ndim == 0:  # PyTorch: a 0-d tensor reduces along dim 0 or -1 to itself
        found = _extreme(op, reshape(x, 1), 0, False, None, None, largest)
        return ValuesIndices(reshape(found.values, ()), reshape(found.indices, ()))
    index = _arg_extreme(x, d, largest)
    shape = x.shape[:d] + (1,) + x.shape[d + 1:]
    index = index.reshape(shape)
    values = take_along_dim(x, index, d)
    indices = Tensor._wrap(index, x.device)
    if keepdims:
        return ValuesIndices(values, indices)
    return ValuesIndices(reshape(values, x.shape[:d] + x.shape[d + 1:]), reshape(indices, x.shape[:d] + x.shape[d + 1:]))


def _reversed_order(kernels, x):
    """A key whose largest element is x's smallest: -x for floats, -1 - x for integers (no overflow)."""
    return kernels.neg(x) if np.issubdtype(x.dtype, np.floating) else kernels.sub(-1, x)


def _arg_extreme(x, axis, largest):
    """Raw index of the first maximum (or minimum) of Tensor x along `axis` (None: of the flattened x)."""
    k = x.device.kernels
    with x.device.activate():
        return k.argmax(x.data if largest else _reversed_order(k, x.data), axis)


def _arg(op, x, axis, keepdims, dim, keepdim, largest):
    axis = either(op, "axis", axis, "dim", dim, None)
    keepdims = either(op, "keepdims", keepdims, "keepdim", keepdim, False)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, op)[0]
    index = _arg_extreme(x, axis, largest)
    if keepdims:
        index = index.reshape(tuple(1 if axis is None or a == axis else n for a, n in enumerate(x.shape)))
    return Tensor._wrap(index, x.device)


def argmax(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """Index (int64) of the first largest element along `axis` (None: into the flattened x); no gradient."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim, largest=True)


def argmin(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """Index (int64) of the first smallest element along `axis` (None: into the flattened x); no gradient."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim, largest=False)


def _truth(op, x, axis, keepdims, dim, keepdim, every):
    """any: some element over the axes is nonzero; all (every=True): none is zero. NaN counts as nonzero."""
    axes, keepdims = _spelled(op, x, axis, keepdims, dim, keepdim)
    k, zero = x.device.kernels, False if x.dtype == np.bool_ else 0
    with x.device.activate():
        counted = (k.equal if every else k.not_equal)(x.data, zero)
        found = k.sum(counted, axes, keepdims)
        return Tensor._wrap(k.equal(found, 0) if every else k.greater(found, 0), x.device)


def any(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """Whether any element over `axis` is nonzero (a bool tensor; no gradient)."""
    return _truth("any", x, axis, keepdims, dim, keepdim, every=False)


def all(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """Whether every element over `axis` is nonzero (a bool tensor; no gradient)."""
    return _truth("all", x, axis, keepdims, dim, keepdim, every=True)


TOPK_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (largest=False: smallest) elements along `dim` -> (values, indices), as torch.topk:
    ordered from the most extreme, ties by position, NaN ranking above every number (as +inf);
    the gradient flows to values. sorted=False gives the same order.

    Computed by k rounds of kernels (max, argmax, where: about ten launches per round), so it suits
    small k."""
    if x.dtype not in TOPK_DTYPES:
        raise TypeError(f"topk: takes float32, float64 or int64 tensors, got dtype {x.dtype}")
    d = _dim("topk", x, dim)
    n = x.shape[d] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an integer in [0, {n}] for dim {dim} of shape {x.shape}, got {k!r}")
    if x.ndim == 0:  # as a 1-element vector; k = 1 gives 0-d results, as in PyTorch
        found = topk(reshape(x, 1), k, 0, largest, sorted)
        return ValuesIndices(*(reshape(t, () if k else (0,)) for t in found))
    index = _topk_index(x, int(k), d, largest)
    return ValuesIndices(take_along_dim(x, index, d), Tensor._wrap(index, x.device))


def _topk_index(x, k, d, largest):
    """Raw int64 positions of the k most extreme elements along axis d: each round takes the first
    not-yet-taken position holding the largest remaining key, then marks it taken (lowest key)."""
    kern, dev, dtype = x.device.kernels, x.device, x.dtype
    floating = np.issubdtype(dtype, np.floating)
    lowest = -np.inf if floating else np.iinfo(dtype).min
    shape = x.shape[:d] + (1,) + x.shape[d + 1:]
    with dev.activate():
        if k == 0:
            return kern.full(x.shape[:d] + (0,) + x.shape[d + 1:], 0, np.int64)
        key = x.data if largest else _reversed_order(kern, x.data)
        if floating:  # NaN ranks highest: +inf in the key for largest, -inf for smallest
            key = kern.where(kern.not_equal(x.data, x.data), np.inf if largest else -np.inf, key)
        place = positions(dev, x.shape[d]).reshape((x.shape[d],) + (1,) * (x.ndim - 1 - d))
        taken = kern.full(x.shape, False, np.bool_)
        picks = []
        for _ in range(k):
            best = kern.max(key, (d,), keepdims=True)
            score = kern.where(taken, 0, kern.add(kern.cast(kern.equal(key, best), np.int64), 1))
            pick = kern.argmax(score, d).reshape(shape)  # first untaken position of the best key
            hit = kern.equal(place, pick)
            taken, key = kern.where(hit, True, taken), kern.where(hit, lowest, key)
            picks.append(pick)
        return picks[0] if k == 1 else kern.concat(picks, d)
