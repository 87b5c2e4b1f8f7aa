"""2-D max, average and adaptive average pooling in NumPy (the meaning of kernels/pool.cu).

Window of output (oh, ow): rows oh*sh - ph + i, columns ow*sw - pw + j, for i < kh, j < kw
(OH, OW from gpudl/cpu/geometry.py; with ceil_mode the last windows may reach past the padding).

    max:  y = max over the window (padding is -inf);  argmax = ih * W + iw of the winner in
          its H*W plane, int32 (the last NaN wins, else the first maximum in row-major order)
          dL/dx[p] = sum of dL/dy over the windows whose argmax is p
    avg:  y = (sum over the window, padding = 0) / d,  d = the window's size clipped to the
          padded input (kh*kw unless a ceil_mode window reaches past it) when count_include_pad
          (PyTorch's default), else the number of in-bounds pixels
          dL/dx[p] = sum over windows containing p of dL/dy / d

Every pass is a loop over the kh*kw taps, each one strided slab of the padded input.

    adaptive avg:  output o of an axis of length H split into OH windows averages the rows
          floor(o H / OH) .. ceil((o + 1) H / OH) - 1.  The average is separable: y = A_h x A_w^T
          per plane with A[o, i] = 1 / (window size) on o's window, and dL/dx = A_h^T (dL/dy) A_w.
"""
import numpy as np

from . import parallel
from .geometry import adaptive_size, check_pool_grad_y, pool_geometry
from .windows import pad_nchw, tap, unpad, window_padding

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
           "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward"]


def _window_max(xpad, kernel, stride, out_hw, track_nan, best):
    """Fill `best` with the max over the taps of each window; return the winning tap t = i*kw + j.

    A later tap wins only when strictly greater (or NaN, when track_nan), so ties keep the
    first tap.  Taps ascend, so "winner = t where better" is max(winner, better * t): no
    masked selects, which NumPy runs slowly on random masks.  The winners are bytes when
    the window has at most 256 taps: a quarter of the memory traffic of int32.
    """
    kh, kw = kernel
    np.copyto(best, tap(xpad, 0, 0, stride, out_hw))
    winner = np.zeros(best.shape, dtype=np.uint8 if kh * kw <= 256 else np.int32)
    better = np.empty(best.shape, dtype=bool)
    scaled = better.view(np.uint8) if winner.dtype == np.uint8 else np.empty(best.shape, dtype=winner.dtype)
    for t in range(1, kh * kw):
        v = tap(xpad, t // kw, t % kw, stride, out_hw)
        np.greater(v, best, out=better)
        if track_nan:
            better |= np.isnan(v)
        np.multiply(better, winner.dtype.type(t), out=scaled)  # better * t, in place when bytes
        np.maximum(winner, scaled, out=winner)
        np.maximum(best, v, out=best)  # propagates NaN
    return winner


def _max_pool(x, kernel, stride, padding, out_hw, y, argmax):
    """Fill y and argmax with the max pooling of x (the images of one piece)."""
    kw, w = kernel[1], x.shape[3]
    xpad = pad_nchw(x, window_padding(x.shape, kernel, stride, padding, out_hw), -np.inf)
    winner = _window_max(xpad, kernel, stride, out_hw, False, y)
    if np.isnan(y).any():  # rare: redo with the NaN rule of the kernel (last NaN wins)
        winner = _window_max(xpad, kernel, stride, out_hw, True, y)
    top = np.arange(out_hw[0]) * stride[0] - padding[0]
    left = np.arange(out_hw[1]) * stride[1] - padding[1]
    # tap t = i kw + j sits at (top + i, left + j): flat (top W + left) + i W + j, i W + j = t + i (W - kw)
    np.multiply(winner // winner.dtype.type(kw), np.int32(w - kw), dtype=np.int32, out=argmax)
    argmax += winner
    argmax += (top[:, None] * w + left).astype(np.int32)
    if padding != (0, 0):
        # An all -inf window may have "chosen" padding; the kernel picks its first in-bounds pixel.
        first = (np.maximum(top, 0)[:, None] * w + np.maximum(left, 0)).astype(np.int32)
        np.copyto(argmax, np.broadcast_to(first, argmax.shape), where=np.isneginf(y))


def max_pool2d_forward(device, x, kernel_size, stride, padding, ceil_mode=False):
    """(y, argmax) with y (N, C, OH, OW) of x's dtype and argmax int32 of the same shape, by pieces of
    the batch on the cpu threads."""
    kernel, stride, padding, out_hw = pool_geometry("max_pool2d_forward", x.shape, kernel_size, stride, padding,
                                                    ceil_mode)
    y = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int32)
    parallel.over(x.shape[0], 4 * x.size,
                  lambda lo, hi: _max_pool(x[lo:hi], kernel, stride, padding, out_hw, y[lo:hi], argmax[lo:hi]))
    return y, argmax


def max_pool2d_backward(device, grad_y, argmax, x_shape, kernel_size, stride, padding, ceil_mode=False):
    """dL/dx (x_shape) routed through argmax (int, flat index into each H*W plane), by pieces of the batch."""
    (kh, kw), (sh, sw), _, out_hw = pool_geometry("max_pool2d_backward", x_shape, kernel_size, stride, padding,
                                                  ceil_mode)
    n, c, h, w = x_shape
    if grad_y.shape != (n, c) + out_hw or argmax.shape != grad_y.shape:
        raise ValueError(f"max_pool2d_backward: grad_y {grad_y.shape} and argmax {argmax.shape} must be "
                         f"{(n, c) + out_hw} for x of shape {tuple(x_shape)}")
    grad_x = np.empty(tuple(x_shape), dtype=grad_y.dtype)

    def piece(lo, hi):
        planes = (hi - lo) * c
        flat = (argmax[lo:hi].reshape(planes, -1) + (np.arange(planes, dtype=np.intp) * (h * w))[:, None]).ravel()
        out = grad_x[lo:hi].reshape(-1)
        if sh >= kh and sw >= kw:
            # Disjoint windows: every pixel is chosen at most once, so a plain scatter is exact.
            np.copyto(out, 0)
            np.put(out, flat, grad_y[lo:hi])
        else:
            np.copyto(out, np.bincount(flat, weights=grad_y[lo:hi].ravel(), minlength=out.size), casting="same_kind")

    parallel.over(n, 2 * grad_x.size, piece)
    return grad_x


def _divisor(x_shape, kernel, stride, padding, out_hw, count_include_pad, dtype):
    """d for each window, broadcastable to (N, C, OH, OW): per axis, the window clipped to the padded
    input (include) or to the input (exclude), as PyTorch counts."""
    counts = []
    for size, k, s, p, o in zip(x_shape[2:], kernel, stride, padding, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        counts.append(end - start if count_include_pad else np.minimum(end, size) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1]).astype(dtype)


def avg_pool2d_forward(device, x, kernel_size, stride, padding, count_include_pad=True, ceil_mode=False):
    """y (N, C, OH, OW): window sums divided by d (see the module docstring)."""
    (kh, kw), stride, padding, out_hw = pool_geometry("avg_pool2d_forward", x.shape, kernel_size, stride, padding,
                                                      ceil_mode)
    xpad = pad_nchw(x, window_padding(x.shape, (kh, kw), stride, padding, out_hw))
    y = tap(xpad, 0, 0, stride, out_hw).copy()
    for t in range(1, kh * kw):
        y += tap(xpad, t // kw, t % kw, stride, out_hw)
    y /= _divisor(x.shape, (kh, kw), stride, padding, out_hw, count_include_pad, x.dtype)
    return y


def avg_pool2d_backward(device, grad_y, x_shape, kernel_size, stride, padding, count_include_pad=True,
                        ceil_mode=False):
    """dL/dx (x_shape): each window spreads dL/dy / d over its pixels."""
    op = "avg_pool2d_backward"
    (kh, kw), stride, padding, out_hw = pool_geometry(op, x_shape, kernel_size, stride, padding, ceil_mode)
    check_pool_grad_y(op, grad_y, x_shape, out_hw)
    g = grad_y / _divisor(x_shape, (kh, kw), stride, padding, out_hw, count_include_pad, grad_y.dtype)
    (top, bottom), (left, right) = window_padding(x_shape, (kh, kw), stride, padding, out_hw)
    n, c, h, w = x_shape
    grad_pad = np.zeros((n, c, h + top + bottom, w + left + right), dtype=grad_y.dtype)
    for t in range(kh * kw):
        tap(grad_pad, t // kw, t % kw, stride, out_hw)[...] += g
    return unpad(grad_pad, padding, (h, w))


def _adaptive_matrix(size, out, dtype):
    """A (out, size): row o is 1 / (window size) on o's window floor(o size / out) .. ceil((o + 1) size / out) - 1."""
    o = np.arange(out)
    start, end = o * size // out, -(-(o + 1) * size // out)
    i = np.arange(size)
    inside = (start[:, None] <= i) & (i < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d_forward(device, x, output_size):
    """y (N, C, OH, OW): each output the mean of its adaptive window."""
    oh, ow = adaptive_size("adaptive_avg_pool2d_forward", x.shape, output_size)
    a_h, a_w = _adaptive_matrix(x.shape[2], oh, x.dtype), _adaptive_matrix(x.shape[3], ow, x.dtype)
    return np.matmul(np.matmul(a_h, x), a_w.T)


def adaptive_avg_pool2d_backward(device, grad_y, x_shape, output_size):
    """dL/dx (x_shape) = A_h^T (dL/dy) A_w per plane."""
    op = "adaptive_avg_pool2d_backward"
    out_hw = adaptive_size(op, x_shape, output_size)
    check_pool_grad_y(op, grad_y, x_shape, out_hw)
    a_h = _adaptive_matrix(x_shape[2], out_hw[0], grad_y.dtype)
    a_w = _adaptive_matrix(x_shape[3], out_hw[1], grad_y.dtype)
    return np.ascontiguousarray(np.matmul(np.matmul(a_h.T, grad_y), a_w))
