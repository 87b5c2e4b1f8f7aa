"""Launch wrappers for kernels/reduce.cu: sum (scaled, optionally into `out`), max, min, var
and argmax over any axes of any strided view (math in gpudl/cpu/reduce.py and the .cu file).

x's axes split into kept ones (one output each, row-major: the output is contiguous) and
reduced ones (the row of `length` elements behind an output); `strides.layout` collapses each
group and the kernel reads them from two layout arrays, so transposed, sliced and broadcast
(0-stride) views need no copy.  A block is THREADS = rows x lanes threads: `lanes`, a power of
two up to THREADS, share one row and meet in a shared-memory tree; short rows get few lanes and
many rows per block (one warp serves several outputs).  When the kept axes are contiguous in
memory and the reduced ones are not (the sum over the batch of an (N, F) gradient), column
mode puts neighbouring threads on neighbouring outputs, so a warp reads consecutive addresses.

sum, max and min with few outputs and long rows take two launches: the first writes partials
(outputs, parts), one per slice of PART elements of each row, the second reduces them.  var
(mean, then squared deviations, in one kernel) and argmax use one block per row group and one
launch.  No atomics anywhere: every result comes from a fixed order.
"""
import builtins
from collections import namedtuple

import numpy as np

from ..cpu.reduce import (EXTREMA, FLOATS, SUMMABLE, check_axes, check_axis, check_nonempty, check_out, result_shape,
                          sum_dtype)
from ..emu.params import Strided
from .elementwise import output
from .loader import THREADS, blocks, check_device, empty, ints, launch, suffix
from .strides import element_strides, layout, layout_array

__all__ = ["sum", "max", "min", "var", "argmax"]

FAMILY = "reduce"
PART = 2048            # elements of a row that one first-pass block reduces in the two-pass split
MAX_PARTS = 1024
SPLIT_BELOW = 64       # split rows only when fewer output blocks than this would run
COLUMN_LANES = 8       # lanes per output in column mode (rows = THREADS / 8 neighbouring outputs)

# kept / red: layout arrays; outputs x length: the reduction; lanes, columns: the block's layout
Plan = namedtuple("Plan", "kept red outputs length lanes columns")


def block_lanes(length, columns):
    """Lanes per row: the power of two covering `length`, at most THREADS (COLUMN_LANES in column mode)."""
    lanes = 1
    while lanes < length and lanes < (COLUMN_LANES if columns else THREADS):
        lanes *= 2
    return lanes


def plan(device, kernel, x, axes):
    """The Plan reducing x (any strided view) over `axes`."""
    strides = element_strides(x)
    kept_axes = [a for a in range(x.ndim) if a not in axes]
    kept_dims, (kept_strides,) = layout(tuple(x.shape[a] for a in kept_axes), [tuple(strides[a] for a in kept_axes)])
    red_dims, (red_strides,) = layout(tuple(x.shape[a] for a in axes), [tuple(strides[a] for a in axes)])
    outputs = int(np.prod([x.shape[a] for a in kept_axes], dtype=np.int64))
    length = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    columns = outputs >= THREADS // COLUMN_LANES and kept_strides[-1] == 1 and abs(red_strides[-1]) != 1
    return Plan(layout_array(device, kernel, kept_dims, [kept_strides]), layout_array(device, kernel, red_dims,
                [red_strides]), outputs, length, block_lanes(length, columns), columns)


def _grid(p, parts=1):
    return (blocks(p.outputs, THREADS // p.lanes), parts)


def _parts(p):
    """How many slices each row is split into: 1 unless few blocks would each walk a long row."""
    if p.lanes < THREADS or _grid(p)[0] >= SPLIT_BELOW or p.length <= PART:
        return 1
    return builtins.min(-(-p.length // PART), MAX_PARTS)


def _run(device, kernel, x, out, p, extra, shapes, parts=1):
    launch(device, FAMILY, kernel, _grid(p, parts), (THREADS,),
           (Strided(x), out, p.kept, p.red) + ints(p.outputs, p.length, p.lanes, p.columns) + extra, shapes)


def _reduce(device, op, x, axes, out, names, allowed, acc_dtype, scale=None):
    """Reduce x over axes into the contiguous `out` with kernel names = (first, final): `final` alone,
    or `first` into unscaled partials (acc_dtype) and `final` over them.  scale=None: no scale argument."""
    shapes = f"x {x.shape} strides {element_strides(x)}, axes {axes}"
    first, final = names
    extra = () if scale is None else (np.float64(scale),)
    p = plan(device, op, x, axes)
    parts = _parts(p)
    if parts == 1:
        _run(device, suffix(final, x.dtype, allowed), x, out, p, extra, shapes)
        return
    partial = empty(device, (p.outputs, parts), acc_dtype)
    unit = extra and (np.float64(1.0),)  # the partials are unscaled
    _run(device, suffix(first, x.dtype, allowed), x, partial, p, unit, shapes, parts)
    _run(device, suffix(final, acc_dtype, allowed), partial, out, plan(device, op, partial, (1,)), extra, shapes)


def sum(device, x, axes, keepdims=False, scale=1.0, out=None):
    """s = scale * sum of x over axes (mean: scale = 1/n); written into `out` when given."""
    check_device(device, "sum", "x", x)
    suffix("sum", x.dtype, SUMMABLE)
    axes = check_axes("sum", x.shape, axes)
    dtype = sum_dtype(x.dtype, scale)
    out = output(device, "sum", out, result_shape(x.shape, axes, keepdims), dtype, check_out)
    acc = dtype if dtype.kind == "f" and x.dtype.kind == "f" else np.dtype(np.int64)
    final = "sum" if dtype == acc else "scaled_sum"
    _reduce(device, "sum", x, axes, out, ("sum", final), SUMMABLE, acc, scale)
    return out


def _extremum(device, op, x, axes, keepdims):
    check_device(device, op, "x", x)
    suffix(op, x.dtype, EXTREMA)
    axes = check_axes(op, x.shape, axes)
    check_nonempty(op, x.shape, axes)
    out = empty(device, result_shape(x.shape, axes, keepdims), x.dtype)
    _reduce(device, op, x, axes, out, (op, op), EXTREMA, x.dtype)
    return out


def max(device, x, axes, keepdims=False):
    """max of x over axes (NaN propagates)."""
    return _extremum(device, "max", x, axes, keepdims)


def min(device, x, axes, keepdims=False):
    """min of x over axes (NaN propagates)."""
    return _extremum(device, "min", x, axes, keepdims)


def var(device, x, axes, keepdims=False, ddof=0):
    """sum (x - m)^2 / max(n - ddof, 0) over axes, m the mean (two passes in one kernel)."""
    check_device(device, "var", "x", x)
    kernel = suffix("var", x.dtype, FLOATS)
    axes = check_axes("var", x.shape, axes)
    out = empty(device, result_shape(x.shape, axes, keepdims), x.dtype)
    p = plan(device, "var", x, axes)
    _run(device, kernel, x, out, p, (np.float64(ddof),), f"x {x.shape} strides {element_strides(x)}, axes {axes}")
    return out


def argmax(device, x, axis=None):
    """int64 index of the first maximum along axis; into the flattened x when axis is None."""
    check_device(device, "argmax", "x", x)
    kernel = suffix("argmax", x.dtype, EXTREMA)
    axis = check_axis("argmax", x.shape, axis)
    axes = tuple(range(x.ndim)) if axis is None else (axis,)
    check_nonempty("argmax", x.shape, axes)
    out = empty(device, result_shape(x.shape, axes, False), np.int64)
    p = plan(device, "argmax", x, axes)
    _run(device, kernel, x, out, p, (), f"x {x.shape} strides {element_strides(x)}, axis {axis}")
    return out
