"""Launch wrappers for kernels/index.cu: take (gather), index_add (scatter-add), concat, pad.

x has shape (d_0, ..., d_{k-1}) + R and the k index arrays broadcast to S (math in kernels/index.cu):

    row[s] = flat C-order position of (i_0[s], ..., i_{k-1}[s]) over the leading axes (negatives wrap)
    take        y[s, r] = x[row[s], r]                 (k index_rows launches + 1 take launch)
    index_add   out[row, r] += src[s, r] for every s   (k index_rows + index_links + index_add launches)

Out-of-range indices give row -1: take writes 0 there and index_add skips them (no out-of-bounds
access; the ops layer checks ranges).  index_add is deterministic without atomics: it chains the
positions that share a row and adds each chain in increasing s, at a cost of O(|S|^2) integer
compares plus O(|S| |R|) adds.  int32 index arrays are cast to int64 first (elementwise `cast`).
concat and pad are elementwise `copy` launches into views of a new array (after a `fill` for pad).
"""
import math

import numpy as np

from ..cpu.index import VALUE_DTYPES, check_index_add, concat_shape, index_shape, pad_widths
from .loader import THREADS, Strided, blocks, check_device, empty, ints, launch, suffix
from .strides import broadcast_strides, element_strides, layout, layout_array

__all__ = ["take", "index_add", "concat", "pad"]

FAMILY = "index"


def _strided_layout(device, kernel, shape, a):
    """The cached layout array walking `a` (strided, or broadcast to `shape`) in C order over `shape`."""
    dims, strides = layout(shape, [broadcast_strides(shape, a.shape, element_strides(a))])
    return layout_array(device, kernel, dims, strides)


def _rows(device, op, indices, shape, s):
    """int32 row[s] over S for the index arrays into the leading axes of `shape` (-1 out of range)."""
    rows = empty(device, (math.prod(s),), np.int32)
    for j, (idx, dim) in enumerate(zip(indices, shape)):
        check_device(device, op, f"indices[{j}]", idx)
        if idx.dtype != np.int64:
            idx = device.kernels.cast(idx, np.int64)
        launch(device, FAMILY, "index_rows", (blocks(rows.size),), (THREADS,),
               (Strided(idx), _strided_layout(device, "index_rows", s, idx), rows) + ints(rows.size, dim, j == 0),
               f"indices[{j}] {idx.shape} into axis {j} of {tuple(shape)}")
    return rows


def take(device, x, indices):
    """y = x[i_0, ..., i_{k-1}]: y[s, r] = x[row[s], r], shape S + R; x and the indices may be strided."""
    op = "take"
    check_device(device, op, "x", x)
    kernel = suffix(op, x.dtype, VALUE_DTYPES)
    s = index_shape(op, indices, x.shape)
    k = len(indices)
    rows = _rows(device, op, indices, x.shape, s)
    y = empty(device, s + x.shape[k:], x.dtype)
    inner = math.prod(x.shape[k:])
    strides = element_strides(x)
    lead = layout_array(device, op, *layout(x.shape[:k], [strides[:k]]))
    rest = layout_array(device, op, *layout(x.shape[k:], [strides[k:]]))
    launch(device, FAMILY, kernel, (blocks(y.size),), (THREADS,),
           (Strided(x), rows, y, lead, rest) + ints(y.size, inner),
           f"x {x.shape}, indices {[i.shape for i in indices]}")
    return y


def index_add(device, out, indices, src):
    """out[i_0, ..., i_{k-1}] += src in place (repeats accumulate in index order); returns out.

    out is contiguous; src (strided or broadcast) has shape S + out.shape[k:]."""
    op = "index_add"
    check_device(device, op, "out", out)
    check_device(device, op, "src", src)
    kernel = suffix(op, out.dtype, VALUE_DTYPES)
    s = check_index_add(op, out, indices, src)
    k = len(indices)
    rows = _rows(device, op, indices, out.shape, s)
    count, inner = rows.size, math.prod(out.shape[k:])
    shapes = f"out {out.shape}, indices {[i.shape for i in indices]}, src {src.shape}"
    nxt, head = empty(device, (count,), np.int32), empty(device, (count,), np.int32)
    launch(device, FAMILY, "index_links", (blocks(count),), (THREADS,), (rows, nxt, head) + ints(count), shapes)
    launch(device, FAMILY, kernel, (blocks(count * inner),), (THREADS,),
           (out, Strided(src), rows, nxt, head, _strided_layout(device, op, s + out.shape[k:], src))
           + ints(count * inner, count, inner), shapes)
    return out


def _axis_slice(axis, begin, end):
    """The index tuple selecting [begin, end) on `axis`."""
    return (slice(None),) * axis + (slice(begin, end),)


def concat(device, arrays, axis):
    """The arrays joined along `axis`: each is copied into its slice of a new array."""
    op = "concat"
    for j, a in enumerate(arrays):
        check_device(device, op, f"arrays[{j}]", a)
    shape, axis = concat_shape(op, arrays, axis)
    y = empty(device, shape, arrays[0].dtype)
    begin = 0
    for a in arrays:
        end = begin + a.shape[axis]
        if end > begin:
            device.kernels.copy(a, out=y[_axis_slice(axis, begin, end)])
        begin = end
    return y


def pad(device, x, pad_width, value):
    """x with `value` around it (pad_width[a] = (before, after) on axis a): fill, then copy x inside."""
    op = "pad"
    check_device(device, op, "x", x)
    widths = pad_widths(op, x, pad_width)
    if not any(map(any, widths)):
        return device.kernels.copy(x)
    y = empty(device, tuple(n + b + e for n, (b, e) in zip(x.shape, widths)), x.dtype)
    device.kernels.fill(y, value)
    if x.size:
        device.kernels.copy(x, out=y[tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, widths))])
    return y
