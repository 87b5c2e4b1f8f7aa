"""Argument checks and output sizes shared by the NumPy (cpu) and kernel (gpu) paths, and by the
autograd front-ends (gpudl/ops/conv.py): the one place these rules are written.

Convolution and pooling along one axis of length H, with kernel k, stride s, dilation d and
padding p_begin (top / left) + p_end (bottom / right):

    span = d (k - 1) + 1                                    (the dilated kernel)
    OH   = floor((H + p_begin + p_end - span) / s) + 1
    window of output o: rows o*s - p_begin + i*d for i < k  (outside 0..H-1: padding)

ceil_mode (pooling, p_begin = p_end = p) rounds the division up instead, and then drops the last
window when it would start at or after H + p (PyTorch's rule: every window starts inside the
input or its left padding).
"""
import numpy as np

from .. import checks

# Activation names in the order of the integer codes used by kernels/activation.cu.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu_tanh", "gelu", "elu", "silu", "softplus")


def act_code(op, act):
    """The kernel code of activation `act` (None means identity)."""
    name = "identity" if act is None else act
    if name not in ACTIVATIONS:
        raise ValueError(f"{op}: unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS.index(name)


def pair(op, name, value, low=None):
    """(h, w) from an int or a pair of ints (gpudl.checks.pair: a float is a TypeError)."""
    return checks.pair(op, name, value, low)


def check_nchw(op, name, shape):
    if len(shape) != 4:
        raise ValueError(f"{op}: expected a 4-D {name} (N, C, H, W), got shape {tuple(shape)}")


def check_pool_grad_y(op, grad_y, x_shape, out_hw):
    """ValueError unless a pooling backward's grad_y is (N, C) of x followed by (OH, OW)."""
    check_nchw(op, "grad_y", grad_y.shape)
    expected = tuple(x_shape[:2]) + tuple(out_hw)
    if tuple(grad_y.shape) != expected:
        raise ValueError(f"{op}: grad_y {tuple(grad_y.shape)} must be {expected} for x of shape {tuple(x_shape)}")


def _is_pair_of_pairs(value):
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (tuple, list)) for v in value)


def conv_padding(op, padding, kernel, stride, dilation):
    """((top, bottom), (left, right)) from 'valid', 'same', an int, (ph, pw) or ((top, bottom), (left, right)).

    'valid' is no padding.  'same' keeps H and W (stride 1 only, as in PyTorch): d (k - 1) in
    total per axis, half of it before, and the odd one more after (at the bottom / right).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be 'same', 'valid', an int, (ph, pw) or "
                             f"((top, bottom), (left, right)), got {padding!r}")
        if tuple(stride) != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got stride {tuple(stride)}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if _is_pair_of_pairs(padding):
        sides = tuple(pair(op, "padding", p) for p in padding)
    else:
        sides = tuple((p, p) for p in pair(op, "padding", padding))
    if min(min(s) for s in sides) < 0:
        raise ValueError(f"{op}: padding {padding!r} must be >= 0")
    return sides


def top_left(padding):
    """(top, left) of ((top, bottom), (left, right)): where the kernels' windows start."""
    return padding[0][0], padding[1][0]


def _out_length(size, span, stride, begin, padded, ceil_mode):
    """Windows along one axis (see the module docstring)."""
    out = (padded - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + begin:
        out -= 1
    return out


def out_size(op, x_shape, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """(OH, OW) for padding ((top, bottom), (left, right)); ValueError when the dilated kernel is
    larger than the padded input or the arguments are out of range."""
    if min(*kernel, *stride, *dilation) < 1:
        raise ValueError(f"{op}: kernel {tuple(kernel)}, stride {tuple(stride)} and dilation {tuple(dilation)} "
                         f"must be >= 1")
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    padded = [size + b + e for size, (b, e) in zip(x_shape[2:], padding)]
    if spans[0] > padded[0] or spans[1] > padded[1]:
        dilated = f" (dilation {tuple(dilation)}: spans {tuple(spans)})" if tuple(dilation) != (1, 1) else ""
        raise ValueError(f"{op}: kernel {tuple(kernel)}{dilated} is larger than the padded input {tuple(padded)} "
                         f"(input shape {tuple(x_shape)}, padding {tuple(padding)})")
    return tuple(_out_length(size, span, s, b, p, ceil_mode)
                 for size, span, s, (b, _), p in zip(x_shape[2:], spans, stride, padding, padded))


def conv_geometry(op, x_shape, w_shape, stride, padding, dilation=1):
    """(stride, padding ((top, bottom), (left, right)), dilation, (OH, OW)) for x (N, C, H, W) and
    w (F, C, kh, kw); padding as conv_padding takes it."""
    check_nchw(op, "input", x_shape)
    check_nchw(op, "weight", w_shape)
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{op}: input has {x_shape[1]} channels but weight expects {w_shape[1]}: "
                         f"input {tuple(x_shape)}, weight {tuple(w_shape)}")
    kernel = tuple(w_shape[2:])
    stride, dilation = pair(op, "stride", stride), pair(op, "dilation", dilation)
    padding = conv_padding(op, padding, kernel, stride, dilation)
    return stride, padding, dilation, out_size(op, x_shape, kernel, stride, padding, dilation)


def check_conv_bias(op, w_shape, bias_shape):
    """ValueError unless the bias is (F,) for weight (F, C, kh, kw)."""
    if bias_shape is not None and tuple(bias_shape) != (w_shape[0],):
        raise ValueError(f"{op}: bias of shape {tuple(bias_shape)} does not match weight {tuple(w_shape)}; "
                         f"expected ({w_shape[0]},)")


def pool_args(op, kernel_size, stride, padding):
    """(kernel, stride, padding) pairs of a pooling: kernel and stride >= 1 (stride None: the kernel),
    padding >= 0 and at most half the kernel."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    padding = pair(op, "padding", padding)
    if min(padding) < 0 or 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be >= 0 and at most half of kernel_size {kernel}")
    return kernel, stride, padding


def pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode=False):
    """((kh, kw), (sh, sw), (ph, pw), (OH, OW)); stride None means kernel_size.

    As in PyTorch, padding may be at most half the kernel, so every window holds an input pixel.
    """
    check_nchw(op, "input", x_shape)
    kernel, stride, padding = pool_args(op, kernel_size, stride, padding)
    sides = tuple((p, p) for p in padding)
    return kernel, stride, padding, out_size(op, x_shape, kernel, stride, sides, ceil_mode=bool(ceil_mode))


def adaptive_size(op, x_shape, output_size):
    """(OH, OW) of adaptive pooling from an int or a pair; a None entry keeps that input size."""
    check_nchw(op, "input", x_shape)
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, (int, np.integer)) \
        else output_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
        raise ValueError(f"{op}: output_size must be an int, None or a pair of them, got {output_size!r}")
    out = pair(op, "output_size", tuple(x_shape[2 + a] if v is None else v for a, v in enumerate(sizes)))
    if min(out) < 1 or min(x_shape[2:]) < 1:
        raise ValueError(f"{op}: output_size {out} and the input's H, W {tuple(x_shape[2:])} must be >= 1")
    return out


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
