"""Integer-array indexing on the leading axes, its gradient, concat and constant padding, in NumPy
(the meaning of kernels/index.cu; the checks here are shared with gpudl/gpu/index.py).

x has shape (d_0, ..., d_{k-1}) + R and `indices` is a tuple of k integer arrays broadcast to S:

    take        y = x[i_0, ..., i_{k-1}],     y[s, r] = x[i_0[s], ..., i_{k-1}[s], r],   shape S + R
    index_add   out[i_0, ..., i_{k-1}] += src, repeated positions accumulating (the gradient of take)
    concat      y = [a_0 | a_1 | ...] along `axis`
    pad         y = x surrounded by `value`, pad_width ((before, after), ...) per axis

Negative indices count from the end.  Out-of-range indices raise IndexError here (NumPy); the
kernels write 0 (take) or skip them (index_add) instead, and the ops layer checks ranges.
"""
import numpy as np

__all__ = ["take", "index_add", "concat", "pad"]

VALUE_DTYPES = tuple(np.dtype(d) for d in (np.float32, np.float64, np.int64))
INDEX_DTYPES = tuple(np.dtype(d) for d in (np.int64, np.int32))


def check_values(op, **arrays):
    """TypeError unless every array has one dtype, one of VALUE_DTYPES."""
    dtypes = {name: np.dtype(a.dtype) for name, a in arrays.items()}
    for name, dtype in dtypes.items():
        if dtype not in VALUE_DTYPES:
            raise TypeError(f"{op}: takes float32, float64, int64 arrays, got {name} of dtype {dtype}")
    if len(set(dtypes.values())) > 1:
        raise TypeError(f"{op}: arrays of different dtypes: "
                        + ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items()))


def index_shape(op, indices, shape):
    """S, the broadcast shape of the index arrays that index the leading axes of `shape`."""
    if not isinstance(indices, tuple):
        raise TypeError(f"{op}: indices must be a tuple of index arrays, got {type(indices).__name__}")
    if not 1 <= len(indices) <= len(shape):
        raise ValueError(f"{op}: {len(indices)} index arrays for an array of shape {tuple(shape)}")
    for j, i in enumerate(indices):
        if np.dtype(i.dtype) not in INDEX_DTYPES:
            raise TypeError(f"{op}: index arrays are int64 or int32, got indices[{j}] of dtype {i.dtype}")
    try:
        return tuple(np.broadcast_shapes(*(i.shape for i in indices)))
    except ValueError:
        raise ValueError(f"{op}: index arrays of shapes {[i.shape for i in indices]} do not broadcast") from None


def check_index_add(op, out, indices, src):
    """S after checking dtypes, that out is contiguous and that src broadcasts to S + out.shape[k:]."""
    check_values(op, out=out, src=src)
    s = index_shape(op, indices, out.shape)
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out of shape {out.shape} must be C-contiguous")
    full = s + tuple(out.shape[len(indices):])
    try:
        ok = np.broadcast_shapes(src.shape, full) == full
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: src of shape {src.shape} does not broadcast to {full} "
                         f"(indices {s} into out {out.shape})")
    return s


def concat_shape(op, arrays, axis):
    """(output shape, axis >= 0) after checking the arrays agree off `axis`."""
    if not arrays:
        raise ValueError(f"{op}: needs at least one array")
    check_values(op, **{f"arrays[{j}]": a for j, a in enumerate(arrays)})
    first = arrays[0].shape
    if not -len(first) <= axis < len(first):
        raise ValueError(f"{op}: axis {axis} out of range for shape {first}")
    axis %= len(first)
    for a in arrays:
        if len(a.shape) != len(first) or a.shape[:axis] != first[:axis] or a.shape[axis + 1:] != first[axis + 1:]:
            raise ValueError(f"{op}: shapes {[a.shape for a in arrays]} differ off axis {axis}")
    return first[:axis] + (sum(a.shape[axis] for a in arrays),) + first[axis + 1:], axis


def pad_widths(op, x, pad_width):
    """((before, after), ...) as ints, after checking one non-negative pair per axis of x."""
    check_values(op, x=x)
    widths = tuple(tuple(int(w) for w in pair) for pair in pad_width)
    if len(widths) != x.ndim or any(len(w) != 2 or min(w) < 0 for w in widths):
        raise ValueError(f"{op}: pad_width {pad_width} needs one (before, after) >= 0 per axis of shape {x.shape}")
    return widths


def take(device, x, indices):
    """y = x[i_0, ..., i_{k-1}] (NumPy advanced indexing on the leading axes), a new array."""
    check_values("take", x=x)
    index_shape("take", indices, x.shape)
    y = x[indices]
    return y.copy() if np.may_share_memory(y, x) else y


def index_add(device, out, indices, src):
    """out[i_0, ..., i_{k-1}] += src in place, repeated index positions accumulating; returns out."""
    check_index_add("index_add", out, indices, src)
    np.add.at(out, indices, src)
    return out


def concat(device, arrays, axis):
    """The arrays joined along `axis` (a new array)."""
    concat_shape("concat", arrays, axis)
    return np.concatenate(arrays, axis=axis)


def pad(device, x, pad_width, value):
    """x with `value` around it: pad_width[a] = (before, after) elements on axis a."""
    widths = pad_widths("pad", x, pad_width)
    return np.pad(x, widths, constant_values=value)
