"""2-D convolution and pooling on NCHW tensors.

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * x_pad[n, c, i*s_h + p, j*s_w + q]
    H_out = floor((H + 2 pad_h - kH) / s_h) + 1      (the same for W)

On cpu: im2col + BLAS in NumPy (gpudl/cpu); on cuda / emu: kernels/conv2d.cu and pool.cu.
"""
from ..tensor import Function


def _pair(op, name, v, minimum):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or any(not isinstance(a, int) or a < minimum for a in pair):
        raise ValueError(f"{op}: {name} must be an int >= {minimum} or a pair of them, got {v!r}")
    return pair


def _check_4d(op, x):
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")


def _check_window(op, x_shape, kernel, padding):
    padded = (x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{op}: kernel {kernel} is larger than the padded input {padded} (input shape {x_shape})")


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ctx.save(x, w, b is not None, stride, padding)
        return ctx.kernels.conv2d_forward(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, g):
        x, w, has_bias, stride, padding = ctx.saved
        k, need = ctx.kernels, ctx.needs_input_grad
        gx = k.conv2d_backward_data(g, w, x.shape, stride, padding) if need[0] else None
        gw = k.conv2d_backward_weight(g, x, w.shape, stride, padding) if need[1] else None
        gb = k.sum(g, (0, 2, 3)) if has_bias and need[2] else None  # dL/db_o = sum over n, i, j
        return gx, gw, gb


def conv2d(x, w, b=None, stride=1, padding=0):
    """Cross-correlation of x (N, C_in, H, W) with w (C_out, C_in, kH, kW), plus bias b (C_out,)."""
    _check_4d("conv2d", x)
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (C_out, C_in, kH, kW), got shape {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but weight {w.shape} expects {w.shape[1]}")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias shape {b.shape} does not match C_out={w.shape[0]}")
    stride, padding = _pair("conv2d", "stride", stride, 1), _pair("conv2d", "padding", padding, 0)
    _check_window("conv2d", x.shape, w.shape[2:], padding)
    if x.dtype != w.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} differs from weight dtype {w.dtype}")
    return Conv2d.apply(x, w, b, stride=stride, padding=padding)


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        y, argmax = ctx.kernels.max_pool2d_forward(x, kernel, stride, padding)
        ctx.save(x.shape, argmax, kernel, stride, padding)
        return y

    @staticmethod
    def backward(ctx, g):
        shape, argmax, kernel, stride, padding = ctx.saved  # the gradient goes to each window's max
        return ctx.kernels.max_pool2d_backward(g, argmax, shape, kernel, stride, padding)


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding, count_include_pad):
        ctx.save(x.shape, kernel, stride, padding, count_include_pad)
        return ctx.kernels.avg_pool2d_forward(x, kernel, stride, padding, count_include_pad)

    @staticmethod
    def backward(ctx, g):
        shape, kernel, stride, padding, include = ctx.saved  # each input shares its windows' gradients
        return ctx.kernels.avg_pool2d_backward(g, shape, kernel, stride, padding, include)


def _pool_args(op, x, kernel_size, stride, padding):
    _check_4d(op, x)
    kernel = _pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else _pair(op, "stride", stride, 1)
    padding = _pair(op, "padding", padding, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    _check_window(op, x.shape, kernel, padding)
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """y = max over each kH x kW window (stride defaults to the kernel size; padding is -inf)."""
    kernel, stride, padding = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """y = mean over each window; zero padding counts in the divisor (PyTorch's default)."""
    kernel, stride, padding = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, count_include_pad=count_include_pad)
