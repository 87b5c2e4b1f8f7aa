"""Launch wrappers for kernels/conv2d.cu: convolution by two algorithms (math in that file).

    'im2col'  the im2col kernel lays the receptive fields out as col (C*kh*kw, N*OH*OW), one
              matrix product (the gemm family: `device.kernels.matmul`) does the arithmetic,
              col2im (a gather, no atomics) folds gradients back onto the image.
    'tiled'   implicit-GEMM kernels with 64x64 shared-memory tiles that gather col on the fly
              (no col buffer); backward-weight is split over N*OH*OW into partial tiles that
              are summed on the host in a fixed order.

Choice: `algo=` argument, else the GPUDL_CONV_ALGO environment variable, else DEFAULT_ALGO.
The default is 'tiled': one launch per pass (im2col takes three to five, with a col buffer),
and the small layers of the course's networks are launch-bound.  Measured on an H100
(forward / backward-data / backward-weight) with cuBLAS behind im2col, that product beat our
one hand-written tile on every layer with 64-256 channels
(e.g. 64x64x56x56 with 3x3 filters, batch 64: 1.25 / 0.93 / 1.34 ms against 1.52 / 2.06 /
2.06 ms), and the tiled backward-data is very slow when C is small and the stride is 2
(3-channel 224x224 input, 7x7 filters: 66 ms against 0.8 ms), because its 64-row tiles
hold 3 useful rows and most gathered taps are zeros.  'tiled' wins small layers (LeNet
conv1 forward 0.05 against 0.11 ms) and needs no col buffer (C*kh*kw*N*OH*OW floats),
so pick it when memory is tight.  Both are deterministic: no floating-point atomics.
"""
import os

import numpy as np

from ..cpu.geometry import check_conv_bias, check_nchw, conv_geometry, top_left
from .loader import THREADS, blocks, empty, float32_inputs, ints, launch

__all__ = ["conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight"]

FAMILY = "conv2d"
ALGOS = ("im2col", "tiled")
DEFAULT_ALGO = "tiled"
TILE = 64          # BM = BN of the tiled kernels
TILE_BLOCK = (16, 16)
TILE_K = 16        # BK: split-K chunks are multiples of it
TARGET_BLOCKS = 512  # backward-weight splits the reduction until about this many blocks run


def resolve_algo(algo=None):
    """'im2col' or 'tiled' from the argument, then GPUDL_CONV_ALGO, then DEFAULT_ALGO."""
    name = algo or os.environ.get("GPUDL_CONV_ALGO", "").strip() or DEFAULT_ALGO
    if name not in ALGOS:
        raise ValueError(f"conv2d: unknown algorithm {name!r} (algo= or GPUDL_CONV_ALGO); expected one of {ALGOS}")
    return name


def _conv_args(x_shape, w_shape, stride, padding, dilation, out_hw):
    """The kernels' int arguments N, C, H, W, F, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW: (ph, pw) is
    the top / left padding, the bottom / right one is implied by OH, OW."""
    return ints(*x_shape, w_shape[0], *w_shape[2:], *stride, *top_left(padding), *dilation, *out_hw)


def _tiles(n):
    return -(-n // TILE)


def _im2col(device, x, w_shape, stride, padding, dilation, out_hw, shapes):
    """col (C*kh*kw, N*OH*OW) of x."""
    n, c = x.shape[:2]
    col = empty(device, (c * w_shape[2] * w_shape[3], n * out_hw[0] * out_hw[1]))
    launch(device, FAMILY, "im2col", (blocks(col.size),), (THREADS,),
           (x, col) + _conv_args(x.shape, w_shape, stride, padding, dilation, out_hw), shapes)
    return col


def _rows_of(device, grad_y):
    """dY as the contiguous (F, N*OH*OW) matrix (one copy kernel)."""
    return device.kernels.copy(grad_y.transpose(1, 0, 2, 3)).reshape(grad_y.shape[1], -1)


def _check_grad_y(op, grad_y, x_shape, w_shape, out_hw):
    check_nchw(op, "grad_y", grad_y.shape)
    expected = (x_shape[0], w_shape[0]) + out_hw
    if tuple(grad_y.shape) != expected:
        raise ValueError(f"{op}: grad_y {tuple(grad_y.shape)} must be {expected} for x {tuple(x_shape)}, "
                         f"w {tuple(w_shape)}")


def _describe(stride, padding, dilation, algo):
    return f"stride {stride}, padding {padding}, dilation {dilation}, algo {algo}"


def conv2d_forward(device, x, w, b, stride, padding, dilation=1, algo=None):
    """y (N, F, OH, OW) = conv(x, w) + b."""
    op = "conv2d_forward"
    algo = resolve_algo(algo)
    stride, padding, dilation, out_hw = conv_geometry(op, x.shape, w.shape, stride, padding, dilation)
    check_conv_bias(op, w.shape, None if b is None else b.shape)
    x, w, b = float32_inputs(device, op, x=x, w=w, b=b)
    n, f = x.shape[0], w.shape[0]
    shapes = f"x {x.shape}, w {w.shape}, " + _describe(stride, padding, dilation, algo)
    y = empty(device, (n, f) + out_hw)
    if algo == "tiled":
        launch(device, FAMILY, "conv2d_forward_tiled", (_tiles(n * out_hw[0] * out_hw[1]), _tiles(f)), TILE_BLOCK,
               (x, w, w if b is None else b, y) + _conv_args(x.shape, w.shape, stride, padding, dilation, out_hw)
               + ints(b is not None), shapes)
        return y
    col = _im2col(device, x, w.shape, stride, padding, dilation, out_hw, shapes)
    y_rows = device.kernels.matmul(col.T, w.reshape(f, -1).T, bias=b)  # (N*OH*OW, F): y^T with the bias added
    return device.kernels.copy(y_rows.reshape((n,) + out_hw + (f,)).transpose(0, 3, 1, 2), out=y)


def conv2d_backward_data(device, grad_y, w, x_shape, stride, padding, dilation=1, algo=None):
    """dL/dx (x_shape) from dL/dy and w."""
    op = "conv2d_backward_data"
    algo = resolve_algo(algo)
    x_shape = tuple(x_shape)
    stride, padding, dilation, out_hw = conv_geometry(op, x_shape, w.shape, stride, padding, dilation)
    _check_grad_y(op, grad_y, x_shape, w.shape, out_hw)
    grad_y, w = float32_inputs(device, op, grad_y=grad_y, w=w)
    shapes = f"grad_y {grad_y.shape}, w {w.shape}, x {x_shape}, " + _describe(stride, padding, dilation, algo)
    args = _conv_args(x_shape, w.shape, stride, padding, dilation, out_hw)
    grad_x = empty(device, x_shape)
    n, c, h, wd = x_shape
    if algo == "tiled":
        launch(device, FAMILY, "conv2d_backward_data_tiled", (_tiles(n * h * wd), _tiles(c)), TILE_BLOCK,
               (grad_y, w, grad_x) + args, shapes)
        return grad_x
    dcol = device.kernels.matmul(w.reshape(w.shape[0], -1).T, _rows_of(device, grad_y))
    launch(device, FAMILY, "col2im", (blocks(grad_x.size),), (THREADS,), (dcol, grad_x) + args, shapes)
    return grad_x


def _splits(p, tiles):
    """(splits, chunk) for split-K over p reduction steps when the output has `tiles` tiles."""
    wanted = max(1, min(-(-TARGET_BLOCKS // tiles), -(-p // (8 * TILE_K))))
    chunk = max(-(-p // wanted), 1)
    chunk = -(-chunk // TILE_K) * TILE_K
    return -(-p // chunk), chunk


def conv2d_backward_weight(device, grad_y, x, w_shape, stride, padding, dilation=1, algo=None):
    """dL/dW (w_shape) from dL/dy and x."""
    op = "conv2d_backward_weight"
    algo = resolve_algo(algo)
    w_shape = tuple(w_shape)
    stride, padding, dilation, out_hw = conv_geometry(op, x.shape, w_shape, stride, padding, dilation)
    _check_grad_y(op, grad_y, x.shape, w_shape, out_hw)
    grad_y, x = float32_inputs(device, op, grad_y=grad_y, x=x)
    shapes = f"grad_y {grad_y.shape}, x {x.shape}, w {w_shape}, " + _describe(stride, padding, dilation, algo)
    f, k = w_shape[0], int(np.prod(w_shape[1:]))
    if algo == "tiled":
        p = x.shape[0] * out_hw[0] * out_hw[1]
        tiles = _tiles(k) * _tiles(f)
        splits, chunk = _splits(p, tiles)
        partial = empty(device, (splits, f, k))
        launch(device, FAMILY, "conv2d_backward_weight_tiled", (_tiles(k), _tiles(f), splits), TILE_BLOCK,
               (grad_y, x, partial) + _conv_args(x.shape, w_shape, stride, padding, dilation, out_hw) + ints(chunk),
               shapes)
        return device.kernels.sum(partial, (0,)).reshape(w_shape)  # the split-K parts, in a fixed order
    col = _im2col(device, x, w_shape, stride, padding, dilation, out_hw, shapes)
    return device.kernels.matmul(_rows_of(device, grad_y), col.T).reshape(w_shape)
