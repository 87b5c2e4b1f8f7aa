"""Reshaping, transposing, broadcasting, joining, padding, indexing and device moves.
These only move numbers, so each backward moves the gradient back the same way."""
import numpy as np

from ..tensor import Function, Tensor


def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.save(x.shape)
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.saved[0])


class Transpose(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.save(axes)
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.saved[0]))  # the inverse permutation


class BroadcastTo(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.save(x.shape, x.dtype)
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import unbroadcast
        return unbroadcast(g, *ctx.saved)


class Concat(Function):
    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.save(axis, np.cumsum([x.shape[axis] for x in xs])[:-1])
        return ctx.xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis, splits = ctx.saved
        return tuple(ctx.xp.split(g, splits, axis=axis))


class Pad(Function):
    @staticmethod
    def forward(ctx, x, pad_width, value):
        ctx.save(tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape)))
        return ctx.xp.pad(x, pad_width, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.saved[0]]


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, index):
        ctx.save(x.shape, index)
        return x[index]

    @staticmethod
    def backward(ctx, g):
        shape, index = ctx.saved  # scatter-add: repeated indices accumulate
        grad = ctx.xp.zeros(shape, dtype=g.dtype)
        ctx.xp.add.at(grad, index, g)
        return grad


class To(Function):
    @staticmethod
    def forward(ctx, x, device, dtype):
        ctx.save(ctx.device, x.dtype)
        ctx.device = device  # the result lives on the target device
        with device.activate():
            return device.asarray(x, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        source, dtype = ctx.saved
        return source.asarray(g, dtype=dtype)


def reshape(x, *shape):
    shape = _shape_arg(shape)
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}") from None


def transpose(x, *axes):
    """Reverse the axes (no arguments), swap two axes, or permute by a full ordering."""
    axes = _shape_arg(axes)
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    elif len(axes) == 2 and x.ndim != 2:
        perm = list(range(x.ndim))
        perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
        axes = tuple(perm)
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    return Transpose.apply(x, axes=tuple(a % x.ndim for a in axes))


def flatten(x, start_axis=0, end_axis=-1):
    start, end = start_axis % x.ndim, end_axis % x.ndim
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])


def broadcast_to(x, *shape):
    shape = _shape_arg(shape)
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return BroadcastTo.apply(x, shape=shape)


def concat(tensors, axis=0):
    tensors = list(tensors)
    ref = tensors[0].shape
    for t in tensors[1:]:
        if len(t.shape) != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref)) if i != axis % len(ref)):
            raise ValueError(f"concat: shapes {ref} and {t.shape} differ outside axis {axis}")
    return Concat.apply(*tensors, axis=axis % len(ref))


def stack(tensors, axis=0):
    tensors = list(tensors)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors must have one shape, got {tensors[0].shape} and {t.shape}")
    axis = axis % (tensors[0].ndim + 1)
    return concat([reshape(t, t.shape[:axis] + (1,) + t.shape[axis:]) for t in tensors], axis)


def pad(x, pad_width, value=0.0):
    """Constant padding; `pad_width` as in numpy.pad: ((before, after), ...) per axis."""
    pad_width = tuple((int(lo), int(hi)) for lo, hi in np.broadcast_to(np.asarray(pad_width), (x.ndim, 2)))
    return Pad.apply(x, pad_width=pad_width, value=value)


def getitem(x, index):
    """Basic slicing, integer-array indexing (repeated indices accumulate) and bool masks."""
    def raw(i):
        if isinstance(i, Tensor):
            if i.device != x.device:
                raise RuntimeError(f"getitem: index is on {i.device} but the tensor is on {x.device}")
            return i.data
        if isinstance(i, (list, np.ndarray)):
            return x.device.asarray(i)
        return i
    index = tuple(raw(i) for i in index) if isinstance(index, tuple) else raw(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None
