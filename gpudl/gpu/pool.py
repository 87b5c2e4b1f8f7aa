"""Launch wrappers for kernels/pool.cu (max / average / adaptive average pooling; math in that file).

Forward kernels run one thread per output, backward kernels one thread per input pixel
(a gather over the windows containing it), so the backward passes are race-free and
deterministic without atomics.  argmax is int32, a flat index into each H*W input plane,
the same convention as gpudl.cpu.  ceil_mode changes only OH, OW (computed here, in
gpudl/cpu/geometry.py): the kernels clip every window to the input themselves.
"""
import numpy as np

from ..cpu.geometry import adaptive_size, check_nchw, pool_geometry
from .loader import THREADS, blocks, empty, float32_inputs, ints, launch

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"]

FAMILY = "pool"


def _geometry_args(x_shape, kernel, stride, padding, out_hw):
    """The kernels' int arguments: planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw."""
    n, c, h, w = x_shape
    return ints(n * c, h, w, *out_hw, *kernel, *stride, *padding)


def _check_grad_y(op, grad_y, x_shape, out_hw):
    check_nchw(op, "grad_y", grad_y.shape)
    expected = tuple(x_shape[:2]) + out_hw
    if tuple(grad_y.shape) != expected:
        raise ValueError(f"{op}: grad_y {grad_y.shape} must be {expected} for x of shape {tuple(x_shape)}")


def max_pool2d_forward(device, x, kernel_size, stride, padding, ceil_mode=False):
    """(y, argmax int32), both (N, C, OH, OW)."""
    op = "max_pool2d_forward"
    kernel, stride, padding, out_hw = pool_geometry(op, x.shape, kernel_size, stride, padding, ceil_mode)
    (x,) = float32_inputs(device, op, x=x)
    y = empty(device, x.shape[:2] + out_hw)
    argmax = empty(device, y.shape, np.int32)
    launch(device, FAMILY, op, (blocks(y.size),), (THREADS,),
           (x, y, argmax) + _geometry_args(x.shape, kernel, stride, padding, out_hw),
           f"x {x.shape}, kernel {kernel}, stride {stride}, padding {padding}")
    return y, argmax


def max_pool2d_backward(device, grad_y, argmax, x_shape, kernel_size, stride, padding, ceil_mode=False):
    """dL/dx (x_shape) from dL/dy and the forward's argmax."""
    op = "max_pool2d_backward"
    x_shape = tuple(x_shape)
    kernel, stride, padding, out_hw = pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode)
    _check_grad_y(op, grad_y, x_shape, out_hw)
    if tuple(argmax.shape) != tuple(grad_y.shape):
        raise ValueError(f"{op}: argmax {argmax.shape} must match grad_y {grad_y.shape}")
    (grad_y,) = float32_inputs(device, op, grad_y=grad_y)
    if argmax.dtype != np.int32 or not argmax.flags.c_contiguous:
        argmax = device.kernels.cast(argmax, np.int32)
    grad_x = empty(device, x_shape)
    launch(device, FAMILY, op, (blocks(grad_x.size),), (THREADS,),
           (grad_y, argmax, grad_x) + _geometry_args(x_shape, kernel, stride, padding, out_hw),
           f"grad_y {grad_y.shape}, x {x_shape}, kernel {kernel}, stride {stride}, padding {padding}")
    return grad_x


def avg_pool2d_forward(device, x, kernel_size, stride, padding, count_include_pad=True, ceil_mode=False):
    """y (N, C, OH, OW); count_include_pad=True counts the padding in the divisor (PyTorch's default)."""
    op = "avg_pool2d_forward"
    kernel, stride, padding, out_hw = pool_geometry(op, x.shape, kernel_size, stride, padding, ceil_mode)
    (x,) = float32_inputs(device, op, x=x)
    y = empty(device, x.shape[:2] + out_hw)
    launch(device, FAMILY, op, (blocks(y.size),), (THREADS,),
           (x, y) + _geometry_args(x.shape, kernel, stride, padding, out_hw) + ints(bool(count_include_pad)),
           f"x {x.shape}, kernel {kernel}, stride {stride}, padding {padding}")
    return y


def avg_pool2d_backward(device, grad_y, x_shape, kernel_size, stride, padding, count_include_pad=True,
                        ceil_mode=False):
    """dL/dx (x_shape) from dL/dy."""
    op = "avg_pool2d_backward"
    x_shape = tuple(x_shape)
    kernel, stride, padding, out_hw = pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode)
    _check_grad_y(op, grad_y, x_shape, out_hw)
    (grad_y,) = float32_inputs(device, op, grad_y=grad_y)
    grad_x = empty(device, x_shape)
    launch(device, FAMILY, op, (blocks(grad_x.size),), (THREADS,),
           (grad_y, grad_x) + _geometry_args(x_shape, kernel, stride, padding, out_hw) + ints(bool(count_include_pad)),
           f"grad_y {grad_y.shape}, x {x_shape}, kernel {kernel}, stride {stride}, padding {padding}")
    return grad_x


def adaptive_avg_pool2d_forward(device, x, output_size):
    """y (N, C, OH, OW): each output the mean of its adaptive window."""
    op = "adaptive_avg_pool2d_forward"
    out_hw = adaptive_size(op, x.shape, output_size)
    (x,) = float32_inputs(device, op, x=x)
    y = empty(device, x.shape[:2] + out_hw)
    n, c, h, w = x.shape
    launch(device, FAMILY, op, (blocks(y.size),), (THREADS,), (x, y) + ints(n * c, h, w, *out_hw),
           f"x {x.shape}, output_size {out_hw}")
    return y


def adaptive_avg_pool2d_backward(device, grad_y, x_shape, output_size):
    """dL/dx (x_shape) from dL/dy."""
    op = "adaptive_avg_pool2d_backward"
    x_shape = tuple(x_shape)
    out_hw = adaptive_size(op, x_shape, output_size)
    _check_grad_y(op, grad_y, x_shape, out_hw)
    (grad_y,) = float32_inputs(device, op, grad_y=grad_y)
    grad_x = empty(device, x_shape)
    n, c, h, w = x_shape
    launch(device, FAMILY, op, (blocks(grad_x.size),), (THREADS,), (grad_y, grad_x) + ints(n * c, h, w, *out_hw),
           f"grad_y {grad_y.shape}, x {x_shape}, output_size {out_hw}")
    return grad_x
