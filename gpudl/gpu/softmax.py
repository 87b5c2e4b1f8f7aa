"""Launch wrappers for kernels/softmax.cu: softmax, log-softmax, their backward passes and fused
cross-entropy (float32, float64; math in gpudl/cpu/softmax.py and the .cu file).

Along `axis` an array is columns (every position of the other axes) x C classes.  The other
axes are collapsed by `strides.layout` for all operands at once (inputs in any strided view,
the output contiguous) and read by the kernel from one layout array; each operand's stride
along the axis travels as an int.  One launch per call: a column per group of lanes (a power
of two up to 256, reduce.block_lanes) with a shared-memory tree for its max and sum; column
mode (neighbouring threads on neighbouring columns) when the columns are contiguous and the
axis is not, e.g. softmax over the channels of NCHW.  Cross-entropy takes logits (N, C) in
any 2-D view and writes logp (N, C) contiguous; cross-entropy and nll write their per-row
losses and label weights as the two rows of one (2, N) array (one reduction gives the weighted
mean's numerator and denominator).  ignore_index rows get 0; a label outside [0, C) that is
not ignore_index makes its row NaN in the kernel, with no host check.  With class weights and
label smoothing the backward needs W = sum_c w_c: one `sum` launch before it.
"""
import numpy as np

from ..cpu.softmax import FLOATS, check_axis, check_cross_entropy, check_float, check_nll_backward, check_same_shape
from ..emu.params import Strided
from .loader import THREADS, blocks, check_device, empty, ints, launch, suffix
from .reduce import COLUMN_LANES, block_lanes, sum as reduce_sum
from .strides import element_strides, layout, layout_array

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward", "nll_forward", "nll_backward"]

FAMILY = "softmax"


def _columns(device, kernel, arrays, axis):
    """(layout array, columns, C, strides along axis, lanes, column mode) for same-shape arrays."""
    shape = arrays[0].shape
    strides = [element_strides(a) for a in arrays]
    others = [a for a in range(len(shape)) if a != axis]
    dims, kept = layout(tuple(shape[a] for a in others), [tuple(s[a] for a in others) for s in strides])
    cols = int(np.prod([shape[a] for a in others], dtype=np.int64))
    along = [s[axis] for s in strides]
    column_mode = cols >= THREADS // COLUMN_LANES and kept[0][-1] == 1 and abs(along[0]) != 1
    lanes = block_lanes(shape[axis], column_mode)
    return layout_array(device, kernel, dims, kept), cols, shape[axis], along, lanes, column_mode


def _launch_columns(device, kernel, dtype, inputs, out, axis, take_log):
    """Run a column kernel over inputs (+ out, contiguous) along axis."""
    lay, cols, classes, along, lanes, column_mode = _columns(device, kernel, inputs + (out,), axis)
    launch(device, FAMILY, suffix(kernel, dtype, FLOATS), (blocks(cols, THREADS // lanes),), (THREADS,),
           tuple(Strided(a) for a in inputs) + (out, lay) + ints(cols, classes, *along, lanes, column_mode, take_log),
           ", ".join(f"{a.shape} strides {element_strides(a)}" for a in inputs) + f", axis {axis}")
    return out


def _forward(device, op, x, axis, take_log):
    check_device(device, op, "x", x)
    check_float(op, x=x)
    axis = check_axis(op, x.shape, axis)
    return _launch_columns(device, "softmax_forward", x.dtype, (x,), empty(device, x.shape, x.dtype), axis, take_log)


def _backward(device, op, y, g, axis, take_log):
    check_device(device, op, "y", y)
    check_device(device, op, "g", g)
    check_float(op, y=y, g=g)
    check_same_shape(op, y, g)
    axis = check_axis(op, y.shape, axis)
    return _launch_columns(device, "softmax_backward", y.dtype, (y, g), empty(device, y.shape, y.dtype), axis,
                           take_log)


def softmax(device, x, axis):
    """y = exp(x - max) / sum exp(x - max) along axis."""
    return _forward(device, "softmax", x, axis, False)


def log_softmax(device, x, axis):
    """y = x - max - log sum exp(x - max) along axis."""
    return _forward(device, "log_softmax", x, axis, True)


def softmax_backward(device, y, g, axis):
    """dx = y (g - sum(g y)) along axis, y = softmax(x)."""
    return _backward(device, "softmax_backward", y, g, axis, False)


def log_softmax_backward(device, y, g, axis):
    """dx = g - exp(y) sum(g) along axis, y = log_softmax(x)."""
    return _backward(device, "log_softmax_backward", y, g, axis, True)


def _check_on_device(device, op, **arrays):
    for name, a in arrays.items():
        if a is not None:
            check_device(device, op, name, a)


def _labels_args(labels, weight, ignore_index, fallback):
    """((labels, weight) pointers, (label stride, weight stride, has_weight), ignore_index) for the kernels;
    without weights `fallback`, an array of the right dtype, stands in for the pointer they do not read."""
    pointers = (Strided(labels), Strided(fallback if weight is None else weight))
    sw = 0 if weight is None else element_strides(weight)[0]
    return pointers, ints(element_strides(labels)[0], sw, weight is not None), np.int64(ignore_index)


def cross_entropy_forward(device, z, labels, smoothing, weight=None, ignore_index=-100):
    """(per_row (2, N) = [loss_n; w_n], logp (N, C)): logp = log_softmax(z),
    loss_n = -((1 - eps) w_n logp_{y_n} + eps / C sum_c w_c logp_c)."""
    op = "cross_entropy_forward"
    _check_on_device(device, op, z=z, labels=labels, weight=weight)
    check_cross_entropy(op, z, labels, smoothing, weight, ignore_index)
    n, classes = z.shape
    per_row, logp = empty(device, (2, n), z.dtype), empty(device, z.shape, z.dtype)
    lanes = block_lanes(classes, False)
    (lp, wp), (sl, sw, has_weight), ignore = _labels_args(labels, weight, ignore_index, z)
    launch(device, FAMILY, suffix(op, z.dtype, FLOATS), (blocks(n, THREADS // lanes),), (THREADS,),
           (Strided(z), lp, wp, per_row[0], per_row[1], logp) + ints(n, classes, *element_strides(z)) + (sl, sw)
           + ints(lanes) + (z.dtype.type(smoothing), has_weight, ignore),
           f"z {z.shape} strides {element_strides(z)}, labels {labels.shape}")
    return per_row, logp


def cross_entropy_backward(device, logp, labels, g, smoothing, weight=None, ignore_index=-100):
    """dz = ((1 - eps) w_n (p - onehot(y_n)) + eps / C (W p - w)) g[:, None], 0 in ignored rows."""
    op = "cross_entropy_backward"
    _check_on_device(device, op, logp=logp, labels=labels, g=g, weight=weight)
    check_cross_entropy(op, logp, labels, smoothing, weight, ignore_index, g=g)
    dz = empty(device, logp.shape, logp.dtype)
    total = logp if weight is None or smoothing == 0 else reduce_sum(device, weight, (0,))  # W, when it is read
    (lp, wp), (sl, sw, has_weight), ignore = _labels_args(labels, weight, ignore_index, logp)
    launch(device, FAMILY, suffix(op, logp.dtype, FLOATS), (blocks(logp.size),), (THREADS,),
           (Strided(logp), lp, wp, Strided(total), Strided(g), dz)
           + ints(logp.size, logp.shape[1], *element_strides(logp)) + (sl,) + ints(*element_strides(g)) + (sw,)
           + (logp.dtype.type(smoothing), has_weight, ignore),
           f"logp {logp.shape} strides {element_strides(logp)}, labels {labels.shape}, g {g.shape}")
    return dz


def nll_forward(device, x, labels, weight=None, ignore_index=-100):
    """per_row (2, N) = [loss_n; w_n]: loss_n = -w_n x[n, y_n]."""
    op = "nll_forward"
    _check_on_device(device, op, x=x, labels=labels, weight=weight)
    check_cross_entropy(op, x, labels, 0.0, weight, ignore_index)
    n, classes = x.shape
    per_row = empty(device, (2, n), x.dtype)
    (lp, wp), (sl, sw, has_weight), ignore = _labels_args(labels, weight, ignore_index, x)
    launch(device, FAMILY, suffix(op, x.dtype, FLOATS), (blocks(n),), (THREADS,),
           (Strided(x), lp, wp, per_row[0], per_row[1]) + ints(n, classes, *element_strides(x))
           + (sl, sw, has_weight, ignore),
           f"x {x.shape} strides {element_strides(x)}, labels {labels.shape}")
    return per_row


def nll_backward(device, labels, g, classes, weight=None, ignore_index=-100):
    """dx (N, classes) = -w_n g_n at [n, y_n], 0 elsewhere and in ignored rows, NaN in rows of bad labels."""
    op = "nll_backward"
    _check_on_device(device, op, labels=labels, g=g, weight=weight)
    check_nll_backward(op, labels, g, classes, weight, ignore_index)
    dx = empty(device, (g.shape[0], classes), g.dtype)
    (lp, wp), (sl, sw, has_weight), ignore = _labels_args(labels, weight, ignore_index, g)
    launch(device, FAMILY, suffix(op, g.dtype, FLOATS), (blocks(dx.size),), (THREADS,),
           (lp, wp, Strided(g), dx) + ints(dx.size, classes) + (sl,) + ints(*element_strides(g)) + (sw, has_weight, ignore),
           f"labels {labels.shape}, g {g.shape}, classes {classes}")
    return dx
