"""Argument checks and output sizes shared by the NumPy (cpu) and kernel (gpu) paths.

Convolution and pooling along one axis of length H, with kernel k, stride s, padding p:

    OH = floor((H + 2 p - k) / s) + 1,    window of output o = rows o*s - p .. o*s - p + k - 1
"""
import numpy as np

# Activation names in the order of the integer codes used by kernels/activation.cu.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu")


def act_code(op, act):
    """The kernel code of activation `act` (None means identity)."""
    name = "identity" if act is None else act
    if name not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS.index(name)


def pair(op, name, value):
    """(h, w) from an int or a pair of ints."""
    if isinstance(value, (int, np.integer)):
        value = (value, value)
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None
    return h, w


def check_nchw(op, name, shape):
    if len(shape) != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {tuple(shape)}")


def out_size(op, x_shape, kernel, stride, padding):
    """(OH, OW); ValueError when the window does not fit or the arguments are out of range."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{op}: kernel {kernel} and stride {stride} must be >= 1 and padding {padding} >= 0")
    oh = (x_shape[2] + 2 * ph - kh) // sh + 1
    ow = (x_shape[3] + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: kernel {kernel} with padding {padding} does not fit input of shape {tuple(x_shape)}")
    return oh, ow


def conv_geometry(op, x_shape, w_shape, stride, padding):
    """((sh, sw), (ph, pw), (OH, OW)) for x (N, C, H, W) and w (F, C, kh, kw)."""
    check_nchw(op, "x", x_shape)
    check_nchw(op, "w", w_shape)
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{op}: x has {x_shape[1]} channels but w expects {w_shape[1]}: "
                         f"x {tuple(x_shape)}, w {tuple(w_shape)}")
    stride, padding = pair(op, "stride", stride), pair(op, "padding", padding)
    return stride, padding, out_size(op, x_shape, tuple(w_shape[2:]), stride, padding)


def pool_geometry(op, x_shape, kernel_size, stride, padding):
    """((kh, kw), (sh, sw), (ph, pw), (OH, OW)); stride None means kernel_size.

    As in PyTorch, padding may be at most half the kernel, so every window holds an input pixel.
    """
    check_nchw(op, "x", x_shape)
    kernel = pair(op, "kernel_size", kernel_size)
    stride = kernel if stride is None else pair(op, "stride", stride)
    padding = pair(op, "padding", padding)
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    return kernel, stride, padding, out_size(op, x_shape, kernel, stride, padding)


def check_bias(op, x_shape, bias_shape):
    """Bias is (C,) for the channel axis 1 of x (dense (N, F) or NCHW)."""
    channels = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    if tuple(bias_shape) != (channels,):
        raise ValueError(f"{op}: bias of shape {tuple(bias_shape)} does not match x of shape {tuple(x_shape)}; "
                         f"expected ({channels},)")


def check_same_dtype(op, **arrays):
    """TypeError unless all given arrays share one floating dtype."""
    named = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {v.dtype for v in named.values()}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        listing = ", ".join(f"{k} {v.dtype}" for k, v in named.items())
        raise TypeError(f"{op}: expected arrays of one floating dtype, got {listing}")
