"""2-D convolution and pooling on NCHW tensors.

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w]
    H_out = floor((H + pad_top + pad_bottom - d_h (kH - 1) - 1) / s_h) + 1      (the same for W)

The argument rules (padding 'same' / 'valid', ceil_mode, output sizes) live in
gpudl/cpu/geometry.py, shared with both function tables.
On cpu: im2col + BLAS in NumPy (gpudl/cpu); on cuda / emu: kernels/conv2d.cu and pool.cu.
"""
from ..cpu.geometry import adaptive_size, check_conv_bias, conv_geometry, pool_geometry
from ..tensor import Function


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save(x, w, b is not None, stride, padding, dilation)
        return ctx.kernels.conv2d_forward(x, w, b, stride, padding, dilation)

    @staticmethod
    def backward(ctx, g):
        x, w, has_bias, stride, padding, dilation = ctx.saved
        k, need = ctx.kernels, ctx.needs_input_grad
        gx = k.conv2d_backward_data(g, w, x.shape, stride, padding, dilation) if need[0] else None
        gw = k.conv2d_backward_weight(g, x, w.shape, stride, padding, dilation) if need[1] else None
        gb = k.sum(g, (0, 2, 3)) if has_bias and need[2] else None  # dL/db_o = sum over n, i, j
        return gx, gw, gb


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1):
    """Cross-correlation of x (N, C_in, H, W) with w (C_out, C_in, kH, kW), plus bias b (C_out,).

    padding: an int, (pad_h, pad_w), ((top, bottom), (left, right)), 'valid' (no padding) or 'same'
    (output H, W = input H, W; stride 1 only, as in PyTorch: d (k - 1) rows in total, the odd one
    at the bottom / right).  dilation (d_h, d_w) spaces the kernel taps d apart.
    """
    stride, padding, dilation, _ = conv_geometry("conv2d", x.shape, w.shape, stride, padding, dilation)
    check_conv_bias("conv2d", w.shape, None if b is None else b.shape)
    if x.dtype != w.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} differs from weight dtype {w.dtype}")
    return Conv2d.apply(x, w, b, stride=stride, padding=padding, dilation=dilation)


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode):
        y, argmax = ctx.kernels.max_pool2d_forward(x, kernel, stride, padding, ceil_mode)
        ctx.save(x.shape, argmax, kernel, stride, padding, ceil_mode)
        return y

    @staticmethod
    def backward(ctx, g):
        shape, argmax, kernel, stride, padding, ceil_mode = ctx.saved  # the gradient goes to each window's max
        return ctx.kernels.max_pool2d_backward(g, argmax, shape, kernel, stride, padding, ceil_mode)


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad):
        ctx.save(x.shape, kernel, stride, padding, ceil_mode, count_include_pad)
        return ctx.kernels.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad, ceil_mode)

    @staticmethod
    def backward(ctx, g):
        shape, kernel, stride, padding, ceil_mode, include = ctx.saved  # each input shares its windows' gradients
        return ctx.kernels.avg_pool2d_backward(g, shape, kernel, stride, padding, include, ceil_mode)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.save(x.shape, output_size)
        return ctx.kernels.adaptive_avg_pool2d_forward(x, output_size)

    @staticmethod
    def backward(ctx, g):
        shape, output_size = ctx.saved
        return ctx.kernels.adaptive_avg_pool2d_backward(g, shape, output_size)


def max_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False):
    """y = max over each kH x kW window (stride defaults to the kernel size; padding is -inf).

    ceil_mode rounds the output size up (PyTorch's rule: the last window must start inside the
    input or its left padding) and clips those last windows to the input.
    """
    kernel, stride, padding, _ = pool_geometry("max_pool2d", x.shape, kernel_size, stride, padding, ceil_mode)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """y = mean over each window (PyTorch's arguments and divisor).

    count_include_pad=True (the default) divides by the window's size clipped to the padded input,
    i.e. kH * kW except for ceil_mode windows reaching past it; False divides by the number of
    input pixels in the window.  ceil_mode as in max_pool2d.
    """
    kernel, stride, padding, _ = pool_geometry("avg_pool2d", x.shape, kernel_size, stride, padding, ceil_mode)
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad))


def adaptive_avg_pool2d(x, output_size):
    """Average over (OH, OW) = output_size windows that tile the input (an int, a pair; None keeps that size).

    Along an axis of length H, output o averages rows floor(o H / OH) .. ceil((o + 1) H / OH) - 1
    (PyTorch's windows: equal strides when OH divides H, overlapping by a row where it does not).
    """
    out_hw = adaptive_size("adaptive_avg_pool2d", x.shape, output_size)
    return AdaptiveAvgPool2d.apply(x, output_size=out_hw)
