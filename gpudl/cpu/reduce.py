"""Reductions over any set of axes in NumPy (the meaning of kernels/reduce.cu).

For x and a set of reduced axes R (kept axes K), each output position k:

    sum     s_k = scale * sum_{r in R} x_{k,r}            mean = sum with scale = 1/|R|
    max     max_r x_{k,r},  min  min_r x_{k,r}             (NaN propagates)
    var     sum_r (x_{k,r} - m_k)^2 / max(|R| - ddof, 0),  m_k = sum_r x_{k,r} / |R|
    argmax  the first index of the maximum (into the flattened array when axis is None)

dtypes: sum takes float32, float64, int64, int32 and bool (bool and ints add exactly in
int64; with scale != 1 the int64 sum is scaled to float64); max, min and argmax take float32,
float64 and int64; var takes float32 and float64.  `axes` is a sorted tuple of distinct
non-negative axes (the caller normalises); () reduces nothing (a copy, scaled).
"""
import builtins

import numpy as np
from .elementwise import check_out as check_result

__all__ = ["sum", "max", "min", "var", "argmax"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
EXTREMA = FLOATS + (np.dtype(np.int64),)
SUMMABLE = EXTREMA + (np.dtype(np.int32), np.dtype(np.bool_))


def check_dtype(op, dtype, allowed):
    """TypeError naming op unless dtype is one of `allowed`."""
    if np.dtype(dtype) not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise TypeError(f"{op}: takes {names} arrays, got dtype {np.dtype(dtype)}")


def check_axes(op, shape, axes):
    """axes as a tuple; ValueError unless they are sorted, distinct and in range for shape."""
    axes = tuple(axes)
    if any(not isinstance(a, (int, np.integer)) for a in axes) or list(axes) != sorted(set(axes)) or \
            any(a < 0 or a >= len(shape) for a in axes):
        raise ValueError(f"{op}: axes must be sorted distinct axes in [0, {len(shape)}), got {axes} "
                         f"for shape {tuple(shape)}")
    return tuple(int(a) for a in axes)


def check_nonempty(op, shape, axes):
    """ValueError when a reduction without identity (max, min, argmax) meets an empty row."""
    if any(shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: reduction over an empty axis of shape {tuple(shape)} has no identity")


def result_shape(shape, axes, keepdims):
    """The shape left after reducing `axes` (kept as length 1 with keepdims)."""
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def sum_dtype(dtype, scale):
    """floats keep their dtype; bool and ints sum to int64, or float64 when scaled."""
    if np.dtype(dtype) in FLOATS:
        return np.dtype(dtype)
    return np.dtype(np.int64) if scale == 1 else np.dtype(np.float64)


def check_out(op, out, shape, dtype):
    """ValueError / TypeError unless `out` is a C-contiguous array of `shape` and `dtype`."""
    check_result(op, out, tuple(shape), dtype)
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")


def sum(device, x, axes, keepdims=False, scale=1.0, out=None):
    """scale * sum of x over axes."""
    check_dtype("sum", x.dtype, SUMMABLE)
    axes = check_axes("sum", x.shape, axes)
    dtype = sum_dtype(x.dtype, scale)
    shape = result_shape(x.shape, axes, keepdims)
    if out is not None:
        check_out("sum", out, shape, dtype)
    exact = x.dtype if x.dtype in FLOATS else np.int64  # bool and ints add exactly, then scale
    total = np.asarray(x.sum(axis=axes, keepdims=keepdims, dtype=exact))
    if scale != 1:
        total = total.astype(dtype, copy=False) * dtype.type(scale)
    if out is None:
        return total
    np.copyto(out, total)
    return out


def _extremum(op, fn, x, axes, keepdims):
    check_dtype(op, x.dtype, EXTREMA)
    axes = check_axes(op, x.shape, axes)
    check_nonempty(op, x.shape, axes)
    return np.array(fn(x, axis=axes, keepdims=keepdims))


def max(device, x, axes, keepdims=False):
    """Largest element of x over axes (NaN if any is NaN)."""
    return _extremum("max", np.max, x, axes, keepdims)


def min(device, x, axes, keepdims=False):
    """Smallest element of x over axes (NaN if any is NaN)."""
    return _extremum("min", np.min, x, axes, keepdims)


def var(device, x, axes, keepdims=False, ddof=0):
    """Variance over axes, two-pass: sum (x - mean)^2 / (n - ddof)."""
    check_dtype("var", x.dtype, FLOATS)
    axes = check_axes("var", x.shape, axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        mean = x.sum(axis=axes, keepdims=True) / x.dtype.type(n)
        deviation = x - mean
        squares = (deviation * deviation).sum(axis=axes, keepdims=keepdims)
        return np.array(squares / x.dtype.type(builtins.max(n - ddof, 0)))


def check_axis(op, shape, axis):
    """axis as a non-negative int (negative counts from the end), or None."""
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < len(shape):
        raise ValueError(f"{op}: axis {axis!r} is out of range for shape {tuple(shape)}")
    return int(axis) % len(shape)


def argmax(device, x, axis=None):
    """Index of the first maximum along axis (into the flattened x when axis is None), int64."""
    check_dtype("argmax", x.dtype, EXTREMA)
    axis = check_axis("argmax", x.shape, axis)
    check_nonempty("argmax", x.shape, range(x.ndim) if axis is None else (axis,))
    return np.array(np.argmax(x, axis=axis), dtype=np.int64)
