"""Launch wrappers for kernels/softmax.cu: softmax, log-softmax, their backward passes and fused
cross-entropy (float32, float64; math in gpudl/cpu/softmax.py and the .cu file).

Along `axis` an array is columns (every position of the other axes) x C classes.  The other
axes are collapsed by `strides.layout` for all operands at once (inputs in any strided view,
the output contiguous) and read by the kernel from one layout array; each operand's stride
along the axis travels as an int.  One launch per call: a column per group of lanes (a power
of two up to 256, reduce.block_lanes) with a shared-memory tree for its max and sum; column
mode (neighbouring threads on neighbouring columns) when the columns are contiguous and the
axis is not, e.g. softmax over the channels of NCHW.  Cross-entropy takes logits (N, C) in
any 2-D view and writes logp (N, C) contiguous; a label outside [0, C) makes its row NaN in
the kernel, with no host check.
"""
import numpy as np

from ..cpu.softmax import FLOATS, check_axis, check_cross_entropy, check_float, check_same_shape
from ..emu.params import Strided
from .loader import THREADS, blocks, check_device, empty, ints, launch, suffix
from .reduce import COLUMN_LANES, block_lanes
from .strides import element_strides, layout, layout_array

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward"]

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


def _check_cross_entropy(device, op, z, labels, smoothing, **others):
    for name, a in dict(z=z, labels=labels, **others).items():
        check_device(device, op, name, a)
    check_cross_entropy(op, z, labels, smoothing, **others)
    return suffix(op, z.dtype, FLOATS)


def cross_entropy_forward(device, z, labels, smoothing):
    """(loss (N,), logp (N, C)): logp = log_softmax(z), loss_n = -sum_c q_nc logp_nc."""
    kernel = _check_cross_entropy(device, "cross_entropy_forward", z, labels, smoothing)
    n, classes = z.shape
    loss, logp = empty(device, (n,), z.dtype), empty(device, z.shape, z.dtype)
    lanes = block_lanes(classes, False)
    launch(device, FAMILY, kernel, (blocks(n, THREADS // lanes),), (THREADS,),
           (Strided(z), Strided(labels), loss, logp) + ints(n, classes, *element_strides(z), *element_strides(labels),
                                                            lanes) + (z.dtype.type(smoothing),),
           f"z {z.shape} strides {element_strides(z)}, labels {labels.shape}")
    return loss, logp


def cross_entropy_backward(device, logp, labels, g, smoothing):
    """dz = (exp(logp) - q) g[:, None]."""
    kernel = _check_cross_entropy(device, "cross_entropy_backward", logp, labels, smoothing, g=g)
    dz = empty(device, logp.shape, logp.dtype)
    launch(device, FAMILY, kernel, (blocks(logp.size),), (THREADS,),
           (Strided(logp), Strided(labels), Strided(g), dz)
           + ints(logp.size, logp.shape[1], *element_strides(logp), *element_strides(labels), *element_strides(g))
           + (logp.dtype.type(smoothing),),
           f"logp {logp.shape} strides {element_strides(logp)}, labels {labels.shape}, g {g.shape}")
    return dz
