"""2-D convolution in NumPy by im2col + one BLAS matrix product (the meaning of kernels/conv2d.cu).

x (N, C, H, W), w (F, C, kh, kw), y (N, F, OH, OW), stride (sh, sw), dilation (dh, dw), padding
((top, bottom), (left, right)) (gpudl/cpu/geometry.py: OH, OW and what 'same' means):

    y[n, f, oh, ow] = b[f] + sum_{c,i,j} w[f, c, i, j] xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]

where xpad is x with its padding (input pixel (oh*sh - top + i*dh, ow*sw - left + j*dw)).
With col[(c, i, j), (n, oh, ow)] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw]  (C*kh*kw x N*OH*OW):

    forward          Y = W col                  (F x N*OH*OW, then to NCHW)
    backward-data    dcol = W^T dY,   dx = col2im(dcol)   (the transpose of im2col: a sum)
    backward-weight  dW^T = col dY^T            (dY^T: P x F, see _dy_matrix)

im2col is kh*kw slab copies (one strided view per kernel tap) into a reused buffer, or
kw + kh longer ones for tall kernels (see _im2col); col2im is the same loop with +=, on
"wide" rows when the stride is 1 (see _col2im_wide).  The forward's col is kept for the weight
gradient of the same input (see _columns): the backward skips one im2col per layer, at the cost
of one col buffer per layer geometry (LeNet-5 at batch 128: 10 MB + 8 MB; the reference CNN: 4 MB
+ 29 MB).
Each pass runs in pieces on the cpu threads (gpudl/cpu/parallel.py), by images of the batch; the
forward's and backward-data's pieces are independent (one thread or many agree but for the last
bits BLAS may round differently for fewer columns), backward-weight's are partial products summed.
Copies are np.copyto rather than `a[...] = b`: NumPy holds the GIL in the latter, which would
serialise the threads.
The `algo` argument exists for signature parity with gpudl.gpu and is ignored: NumPy
always uses im2col.
"""
import functools
import threading
import weakref

import numpy as np

from . import parallel
from .geometry import check_conv_bias, check_nchw, check_same_dtype, conv_geometry
from .scratch import scratch
from .windows import pad_nchw, tap

__all__ = ["conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight"]


def _im2col(x, kernel, stride, padding, dilation, out_hw, col):
    """Fill col (C, kh, kw, N, OH, OW) with x's columns,
    col[c, i, j, n, oh, ow] = xpad[n, c, oh*sh + i*dh, ow*sw + j*dw].

    One strided copy per tap moves OH*OW values in rows of OW, and NumPy's per-row cost
    dominates rows that short.  With stride 1 in height and tall kernels (kh > 3: the 5x5
    LeNet layers ran 1.3-1.6x faster, 3x3 layers no faster) it pays to go in two passes:

        xw[c, j, n, r, ow] = xpad[n, c, r, ow*sw + j*dw]              kw copies (all rows r)
        col[c, i, j, n, oh, ow] = xw[c, j, n, oh + i*dh, ow]          kh copies

    where the second pass moves whole runs of OH*OW values (rows oh + i*dh are adjacent in xw).
    """
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    xpad = pad_nchw(x, padding)
    if sh == 1 and kh > 3:
        xw = scratch("xw", (c, kw, n, xpad.shape[2], ow), x.dtype)
        for j in range(kw):
            np.copyto(xw[:, j], xpad[:, :, :, j * dw:j * dw + sw * (ow - 1) + 1:sw].transpose(1, 0, 2, 3))
        for i in range(kh):
            np.copyto(col[:, i], xw[:, :, :, i * dh:i * dh + oh])
    else:
        for i in range(kh):
            for j in range(kw):
                np.copyto(col[:, i, j], tap(xpad, i, j, stride, out_hw, dilation).transpose(1, 0, 2, 3))


NHWC_FILTERS = 32  # filters from which the weight gradient reads dY in NHWC order (see _dy_matrix)
SPLIT_INTENSITY = 10  # multiply-adds per element read for the weight gradient to be cut (see conv2d_backward_weight)

_kept = threading.local()  # .cols: geometry -> (weakref to x, x's col): the last forward's columns


def _columns(x, kernel, stride, padding, dilation, out_hw, reuse, piece=None):
    """col (C*kh*kw, N*OH*OW) of x in a buffer per layer geometry, filled by batch pieces in parallel.

    With `reuse` (the weight gradient) the columns already there are returned when the last forward
    of this geometry was on this very array x (autograd does not change a saved input between
    forward and backward; a forward always recomputes).  `piece(lo, hi, part)`, when given, runs
    right after images lo..hi-1 are in `part` (their columns, a 2-D view of col), in the same thread.
    """
    key = (x.shape, x.dtype.str, tuple(kernel), stride, padding, dilation)
    cols = _kept.__dict__.setdefault("cols", {})
    ref, col = cols.get(key, (None, None))
    if reuse and ref is not None and ref() is x:
        return col
    n, c = x.shape[:2]
    col = scratch(f"col{key}", (c,) + tuple(kernel) + (n,) + out_hw, x.dtype)
    rows, per_image = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]

    def fill(lo, hi):
        _im2col(x[lo:hi], kernel, stride, padding, dilation, out_hw, col[:, :, :, lo:hi])
        if piece is not None:
            piece(lo, hi, col.reshape(rows, n * per_image)[:, lo * per_image:hi * per_image])

    parallel.over(n, 2 * col.size, fill)
    col = col.reshape(rows, n * per_image)
    cols[key] = (weakref.ref(x), col)
    return col


def _rows_of(grad_y):
    """dY as the (F, N*OH*OW) matrix, one row per filter, in the scratch buffer 'rows'."""
    n, f = grad_y.shape[:2]
    rows = scratch("rows", (f, n) + grad_y.shape[2:], grad_y.dtype)
    np.copyto(rows, grad_y.transpose(1, 0, 2, 3))
    return rows.reshape(f, -1)


def _dy_matrix(grad_y):
    """dY as the (P x F) matrix, P = N*OH*OW: grad_y in NHWC order for NHWC_FILTERS filters or more, else
    the transpose of _rows_of(grad_y), which is cheaper to make for few filters (LeNet-5's 6: 0.06 ms
    against 0.47 ms, for the same product time; with 32, 3.0 ms against 3.5 ms all told for NHWC)."""
    n, f = grad_y.shape[:2]
    if f < NHWC_FILTERS:
        return _rows_of(grad_y).T
    dy = scratch("dy", (n,) + grad_y.shape[2:] + (f,), grad_y.dtype)
    np.copyto(dy, grad_y.transpose(0, 2, 3, 1))
    return dy.reshape(-1, f)


def _check_grad_y(op, grad_y, x_shape, w_shape, out_hw):
    check_nchw(op, "grad_y", grad_y.shape)
    expected = (x_shape[0], w_shape[0]) + out_hw
    if grad_y.shape != expected:
        raise ValueError(f"{op}: grad_y {grad_y.shape} must be {expected} for x {tuple(x_shape)}, w {tuple(w_shape)}")


def conv2d_forward(device, x, w, b, stride, padding, dilation=1, algo=None):
    """y (N, F, OH, OW) = conv(x, w) + b, by batch pieces: each piece's columns, product and bias in one thread."""
    op = "conv2d_forward"
    stride, padding, dilation, out_hw = conv_geometry(op, x.shape, w.shape, stride, padding, dilation)
    check_same_dtype(op, x=x, w=w, b=b)
    check_conv_bias(op, w.shape, None if b is None else b.shape)
    n, f = x.shape[0], w.shape[0]
    weights = w.reshape(f, -1)
    y = np.empty((n, f) + out_hw, dtype=x.dtype)

    def product(lo, hi, part):
        rows = np.matmul(weights, part, out=scratch("out", (f, part.shape[1]), x.dtype))
        rows = rows.reshape((f, hi - lo) + out_hw).transpose(1, 0, 2, 3)
        if b is None:
            np.copyto(y[lo:hi], rows)
        else:
            np.add(rows, b[:, None, None], out=y[lo:hi])

    _columns(x, w.shape[2:], stride, padding, dilation, out_hw, reuse=False, piece=product)
    return y


def _col2im_taps(grad_y, w, stride, padding, dilation, dx):
    """dx = col2im(W^T dY) for any stride: dcol scattered back, one += per tap on a strided view."""
    n, c, h, wd = dx.shape
    f, _, kh, kw = w.shape
    ((top, bottom), (left, right)), out_hw = padding, grad_y.shape[2:]
    rows = _rows_of(grad_y)
    dcol = np.matmul(w.reshape(f, -1).T, rows, out=scratch("dcol", (c * kh * kw, rows.shape[1]), w.dtype))
    dcol = dcol.reshape((c, kh, kw, n) + out_hw)
    grad_pad = scratch("pad", (n, c, h + top + bottom, wd + left + right), grad_y.dtype)
    np.copyto(grad_pad, 0)
    for i in range(kh):
        for j in range(kw):
            tap(grad_pad, i, j, stride, out_hw, dilation)[...] += dcol[:, i, j].transpose(1, 0, 2, 3)
    np.copyto(dx, grad_pad[:, :, top:top + h, left:left + wd])


def _col2im_wide(grad_y, w, padding, dilation, dx):
    """dx for stride 1 with long contiguous runs: dY is widened from OW to Wp = W + left + right columns.

    With stride 1, output (oh, ow) of tap (i, j) lands on padded pixel (oh + i dh, ow + j dw), and
    OW = Wp - dw (kw - 1).  Give every output row Wp columns, the last dw (kw - 1) of them holding
    dY = 0; then, in one (n, c) plane flattened row by row, tap (i, j) covers the single run
    [i dh Wp + j dw, i dh Wp + j dw + OH Wp), so each tap is one long += instead of OH rows of OW
    values (NumPy's per-row overhead dominates such short rows).  The widened columns of
    dcol = W^T dY are exact zeros (W is finite), so what they add to the padded image, and to one
    spare row below it, is zero.
    """
    n, c, h, wd = dx.shape
    f, _, kh, kw = w.shape
    ((top, bottom), (left, right)), (dh, dw) = padding, dilation
    wp = wd + left + right
    oh, ow = grad_y.shape[2:]
    rows = scratch("rows", (f, n, oh, wp), grad_y.dtype)
    np.copyto(rows[..., :ow], grad_y.transpose(1, 0, 2, 3))
    np.copyto(rows[..., ow:], 0)
    dcol = scratch("dcol", (c * kh * kw, n * oh * wp), w.dtype)
    dcol = np.matmul(w.reshape(f, -1).T, rows.reshape(f, -1), out=dcol).reshape(c, kh, kw, n, oh * wp)
    grad_pad = scratch("pad", (n, c, h + top + bottom + 1, wp), grad_y.dtype)  # + the spare row
    np.copyto(grad_pad, 0)
    planes = grad_pad.reshape(n, c, -1)
    run = oh * wp
    for i in range(kh):
        for j in range(kw):
            start = i * dh * wp + j * dw
            planes[:, :, start:start + run] += dcol[:, i, j].transpose(1, 0, 2)
    np.copyto(dx, grad_pad[:, :, top:top + h, left:left + wd])


def conv2d_backward_data(device, grad_y, w, x_shape, stride, padding, dilation=1, algo=None):
    """dL/dx (x_shape) = col2im(W^T dY), by batch pieces (each image's dx depends on its dY alone)."""
    op = "conv2d_backward_data"
    stride, padding, dilation, out_hw = conv_geometry(op, x_shape, w.shape, stride, padding, dilation)
    check_same_dtype(op, grad_y=grad_y, w=w)
    _check_grad_y(op, grad_y, x_shape, w.shape, out_hw)
    dx = np.empty(tuple(x_shape), dtype=grad_y.dtype)
    wide = stride == (1, 1) and np.isfinite(w).all()

    def piece(lo, hi):
        if wide:
            _col2im_wide(grad_y[lo:hi], w, padding, dilation, dx[lo:hi])
        else:
            _col2im_taps(grad_y[lo:hi], w, stride, padding, dilation, dx[lo:hi])

    parallel.over(x_shape[0], 3 * w[0].size * grad_y[:, 0].size, piece)
    return dx


def conv2d_backward_weight(device, grad_y, x, w_shape, stride, padding, dilation=1, algo=None):
    """dL/dW (w_shape) = (col dY)^T with dY as the (P x F) matrix, P = N*OH*OW (see _dy_matrix).

    In this orientation, (C kh kw x P) times (P x F), with dY in NHWC order (read along its rows)
    OpenBLAS ran the reference CNN's first layer (9 x 100352 times 100352 x 32) in 1.3 ms, against
    2.8 ms with dY as (F x P) transposed.  Pieces are groups of images, each a partial product over
    its images, added up at the end: the one place a cpu op sums across pieces, so dW agrees with
    one thread's to rounding.  They pay only for products of SPLIT_INTENSITY multiply-adds or more
    per element read (C kh kw F / (C kh kw + F)): LeNet-5's second layer (150, 16) ran 1.8x faster in
    two pieces, the first layers (25, 6) and (9, 32), which stream memory, ran slower.
    """
    op = "conv2d_backward_weight"
    stride, padding, dilation, out_hw = conv_geometry(op, x.shape, w_shape, stride, padding, dilation)
    check_same_dtype(op, grad_y=grad_y, x=x)
    _check_grad_y(op, grad_y, x.shape, w_shape, out_hw)
    col = _columns(x, tuple(w_shape[2:]), stride, padding, dilation, out_hw, reuse=True)
    n, f = grad_y.shape[:2]
    dy, per_image, rows = _dy_matrix(grad_y), out_hw[0] * out_hw[1], col.shape[0]
    least = 1 if rows * f >= SPLIT_INTENSITY * (rows + f) else n
    partial = parallel.over(n, col.size, lambda lo, hi: np.matmul(col[:, lo * per_image:hi * per_image],
                                                                 dy[lo * per_image:hi * per_image]), least=least)
    return np.ascontiguousarray(functools.reduce(np.add, partial).T).reshape(w_shape)
