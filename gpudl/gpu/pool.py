"""Launch wrappers for kernels/pool.cu (max / average / adaptive average pooling; math in that file).

Forward kernels run one thread per output, backward kernels one thread per input pixel
(a gather over the windows containing it), so the backward passes are race-free and
deterministic without atomics.  argmax is int32, a flat index into each H*W input plane,
the same convention as gpudl.cpu.  ceil_mode changes only OH, OW (computed here, in
gpudl/cpu/geometry.py): the kernels clip every window to the input themselves.

The max / avg forwards stage each block's input rows in shared memory (the scheme is in
kernels/pool.cu); `tiling` picks the tile and its shared-memory size.
"""
import numpy as np

from ..cpu.geometry import adaptive_size, check_pool_grad_y, pool_geometry
from .loader import MAX_BLOCKS, THREADS, blocks, empty, float32_inputs, ints, launch

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"]

FAMILY = "pool"
TILE_OUTPUTS = THREADS    # outputs a staged forward block aims at: about one per thread
SHARED_LIMIT = 48 * 1024  # bytes of shared memory a block may take without opting in


def _bank_step(sw):
    """The residue mod 32 of the sub-grid size for stride sw: a warp's 32 copied pixels (phase
    v % sw, virtual column v // sw for v = 32 m + lane) fall in distinct banks for odd sw (the
    inverse of sw) and powers of two (32 / sw); other even strides keep 2-way conflicts, fewest with 3."""
    if sw % 2:
        return pow(sw, -1, 32)
    if sw & (sw - 1) == 0:
        return max(32 // sw, 1)
    return 3


def tiling(x_shape, kernel, stride, out_hw):
    """(grid, shared bytes, int args tile_rows, tile_planes, subgrid) of the staged forwards:
    tile_rows output rows of one plane or tile_planes whole planes (tile_rows = OH) per block,
    about TILE_OUTPUTS outputs, within SHARED_LIMIT; tile_rows = 0 (the direct loop) when not
    even one output row fits.  The sizes follow the layout of kernels/pool.cu."""
    n, c, h, w = x_shape
    (oh, ow), (kh, kw), (sh, sw) = out_hw, kernel, stride
    planes, phases, halo = n * c, min(kh, sh) * min(kw, sw), (kh - 1) // sh
    vw = ow + (kw - 1) // sw
    words = SHARED_LIMIT // (4 * phases) - 31  # the most per sub-grid, before rounding up to the bank step
    if oh * ow >= TILE_OUTPUTS:
        rows, group = min(oh, -(-TILE_OUTPUTS // ow), words // vw - halo), 1
    else:
        rows, group = oh, min(planes, TILE_OUTPUTS // (oh * ow), words // ((oh + halo) * vw))
        if group < 1:
            rows, group = min(oh, words // vw - halo), 1
    if rows < 1:
        return (blocks(planes * oh * ow),), 0, ints(0, 0, 0)
    size = group * (rows + halo) * vw
    subgrid = size + (_bank_step(sw) - size) % 32
    tiles = -(-planes // group) * -(-oh // rows)
    return (min(tiles, MAX_BLOCKS),), 4 * phases * subgrid, ints(rows, group, subgrid)


def _geometry_args(x_shape, kernel, stride, padding, out_hw):
    """The kernels' int arguments: planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw."""
    n, c, h, w = x_shape
    return ints(n * c, h, w, *out_hw, *kernel, *stride, *padding)


def max_pool2d_forward(device, x, kernel_size, stride, padding, ceil_mode=False):
    """(y, argmax int32), both (N, C, OH, OW)."""
    op = "max_pool2d_forward"
    kernel, stride, padding, out_hw = pool_geometry(op, x.shape, kernel_size, stride, padding, ceil_mode)
    (x,) = float32_inputs(device, op, x=x)
    y = empty(device, x.shape[:2] + out_hw)
    argmax = empty(device, y.shape, np.int32)
    grid, shared, tile = tiling(x.shape, kernel, stride, out_hw)
    launch(device, FAMILY, op, grid, (THREADS,),
           (x, y, argmax) + _geometry_args(x.shape, kernel, stride, padding, out_hw) + tile,
           f"x {x.shape}, kernel {kernel}, stride {stride}, padding {padding}", shared)
    return y, argmax


def max_pool2d_backward(device, grad_y, argmax, x_shape, kernel_size, stride, padding, ceil_mode=False):
    """dL/dx (x_shape) from dL/dy and the forward's argmax."""
    op = "max_pool2d_backward"
    x_shape = tuple(x_shape)
    kernel, stride, padding, out_hw = pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode)
    check_pool_grad_y(op, grad_y, x_shape, out_hw)
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
    grid, shared, tile = tiling(x.shape, kernel, stride, out_hw)
    launch(device, FAMILY, op, grid, (THREADS,),
           (x, y) + _geometry_args(x.shape, kernel, stride, padding, out_hw) + ints(bool(count_include_pad)) + tile,
           f"x {x.shape}, kernel {kernel}, stride {stride}, padding {padding}", shared)
    return y


def avg_pool2d_backward(device, grad_y, x_shape, kernel_size, stride, padding, count_include_pad=True,
                        ceil_mode=False):
    """dL/dx (x_shape) from dL/dy."""
    op = "avg_pool2d_backward"
    x_shape = tuple(x_shape)
    kernel, stride, padding, out_hw = pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode)
    check_pool_grad_y(op, grad_y, x_shape, out_hw)
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
    check_pool_grad_y(op, grad_y, x_shape, out_hw)
    (grad_y,) = float32_inputs(device, op, grad_y=grad_y)
    grad_x = empty(device, x_shape)
    n, c, h, w = x_shape
    launch(device, FAMILY, op, (blocks(grad_x.size),), (THREADS,), (grad_y, grad_x) + ints(n * c, h, w, *out_hw),
           f"grad_y {grad_y.shape}, x {x_shape}, output_size {out_hw}")
    return grad_x
