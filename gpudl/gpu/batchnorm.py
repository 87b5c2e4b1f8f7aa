"""Launch wrappers for kernels/batchnorm.cu (batch normalisation; math in that file and in
gpudl/cpu/batchnorm.py).

One launch each way, one block per channel: the forward reduces the mean, then the variance
(two passes), writes y and updates the running statistics in place; the backward reduces
sum g and sum g xhat, then writes dx.  x and g may be strided views (the kernels walk their
strides, passed in a cached layout array); the per-channel (C,) arrays must be contiguous.
A training forward given num_batches_tracked first adds 1 to it (one more launch); momentum=None
has the kernel read that count from device memory (m = 1 / count), so a captured step replays
with the right factor.
"""
import numpy as np

from ..cpu.batchnorm import channels_view, check_backward, check_counter, check_forward
from ..emu.params import Strided
from .loader import MAX_BLOCKS, THREADS, check_device, empty, ints, launch, suffix
from .strides import element_strides, layout_array

__all__ = ["batch_norm_forward", "batch_norm_backward"]

FAMILY = "batchnorm"
FLOATS = (np.float32,)


def _check_arrays(device, op, dtype, **arrays):
    """Device, dtype (x's) and contiguity checks of the given arrays (None passes)."""
    for name, a in arrays.items():
        if a is None:
            continue
        check_device(device, op, name, a)
        if a.dtype != dtype:
            raise TypeError(f"{op}: {name} has dtype {a.dtype}, expected {np.dtype(dtype)} like x")
        if a.ndim == 1 and not a.flags.c_contiguous:
            raise ValueError(f"{op}: {name} of shape {tuple(a.shape)} must be contiguous")


def _strides4(a):
    """a's element strides over (N, C, H, W); 0 for the unit H, W of (N, C)."""
    return element_strides(a) + (0,) * (4 - a.ndim)


def _layout(device, op, x, *operands):
    """The kernels' layout array: (N, C, H, W) and each operand's four strides."""
    return layout_array(device, op, channels_view(op, x), [_strides4(a) for a in operands])


def _grid(channels):
    return (min(channels, MAX_BLOCKS),)


def _shapes(**arrays):
    return ", ".join(f"{k} {None if a is None else tuple(a.shape)}" for k, a in arrays.items())


def batch_norm_forward(device, x, weight, bias, running_mean, running_var, training, momentum, eps,
                       num_batches_tracked=None):
    """(y, mean, invstd) (float32); when training, the counter and the running stats are updated in place."""
    op = "batch_norm_forward"
    kernel = suffix("batch_norm_forward", x.dtype, FLOATS)
    n, channels, h, w = check_forward(op, x, weight, bias, running_mean, running_var, training)
    _check_arrays(device, op, x.dtype, x=x, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    check_counter(op, training, momentum, running_mean, num_batches_tracked)
    counter = num_batches_tracked
    if counter is None:
        counter = empty(device, (), np.int64)  # an unread placeholder: the kernel reads it only when cumulative
    else:
        check_device(device, op, "num_batches_tracked", counter)
        if training:
            device.kernels.add(counter, 1, out=counter)
    y = empty(device, x.shape, x.dtype)
    mean, invstd = empty(device, (channels,), x.dtype), empty(device, (channels,), x.dtype)
    t = x.dtype.type
    cumulative = momentum is None and bool(training) and running_mean is not None
    launch(device, FAMILY, kernel, _grid(channels), (THREADS,),
           (Strided(x), _layout(device, op, x, x), x if weight is None else weight, x if bias is None else bias,
            y if running_mean is None else running_mean, y if running_var is None else running_var, counter, y,
            mean, invstd)
           + ints(n * h * w, weight is not None, bias is not None, running_mean is not None, bool(training),
                  cumulative)
           + (t(0 if momentum is None else momentum), t(eps)),
           _shapes(x=x, weight=weight, bias=bias, running_mean=running_mean))
    return y, mean, invstd


def batch_norm_backward(device, g, x, weight, mean, invstd, training):
    """(dx, dgamma, dbeta) (float32); weight None is gamma = 1."""
    op = "batch_norm_backward"
    kernel = suffix("batch_norm_backward", x.dtype, FLOATS)
    n, channels, h, w = check_backward(op, g, x, weight, mean, invstd)
    _check_arrays(device, op, x.dtype, g=g, x=x, weight=weight, mean=mean, invstd=invstd)
    gx = empty(device, x.shape, x.dtype)
    gweight, gbias = empty(device, (channels,), x.dtype), empty(device, (channels,), x.dtype)
    launch(device, FAMILY, kernel, _grid(channels), (THREADS,),
           (Strided(g), Strided(x), _layout(device, op, x, g, x), x if weight is None else weight, mean, invstd,
            gx, gweight, gbias) + ints(n * h * w, weight is not None, bool(training)),
           _shapes(g=g, x=x, weight=weight))
    return gx, gweight, gbias
