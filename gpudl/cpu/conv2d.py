"""2-D convolution in NumPy by im2col + one BLAS matrix product (the meaning of kernels/conv2d.cu).

x (N, C, H, W), w (F, C, kh, kw), y (N, F, OH, OW):

    y[n, f, oh, ow] = b[f] + sum_{c,i,j} w[f, c, i, j] xpad[n, c, oh*sh + i, ow*sw + j]

With col[(c, i, j), (n, oh, ow)] = xpad[n, c, oh*sh + i, ow*sw + j]  (C*kh*kw x N*OH*OW):

    forward          Y = W col                  (F x N*OH*OW, then to NCHW)
    backward-data    dcol = W^T dY,   dx = col2im(dcol)   (the transpose of im2col: a sum)
    backward-weight  dW = dY col^T

im2col is kh*kw slab copies (one strided view per kernel tap) into a preallocated array;
col2im is the same loop with +=.  The `algo` argument exists for signature parity with
gpudl.gpu and is ignored: NumPy always uses im2col.
"""
import numpy as np

from .geometry import check_nchw, check_same_dtype, conv_geometry
from .windows import pad_nchw, tap, unpad


def _im2col(x, kernel, stride, padding, out_hw):
    """col (C*kh*kw, N*OH*OW) of x."""
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    xpad = pad_nchw(x, padding)
    col = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            col[:, i, j] = tap(xpad, i, j, stride, out_hw).transpose(1, 0, 2, 3)
    return col.reshape(c * kh * kw, n * oh * ow)


def _rows_of(grad_y):
    """dY as the (F, N*OH*OW) matrix: one row per filter."""
    n, f = grad_y.shape[:2]
    return np.ascontiguousarray(grad_y.transpose(1, 0, 2, 3)).reshape(f, -1)


def _check_grad_y(op, grad_y, x_shape, w_shape, out_hw):
    check_nchw(op, "grad_y", grad_y.shape)
    expected = (x_shape[0], w_shape[0]) + out_hw
    if grad_y.shape != expected:
        raise ValueError(f"{op}: grad_y {grad_y.shape} must be {expected} for x {tuple(x_shape)}, w {tuple(w_shape)}")


def conv2d_forward(device, x, w, b, stride, padding, algo=None):
    """y (N, F, OH, OW) = conv(x, w) + b."""
    op = "conv2d_forward"
    stride, padding, out_hw = conv_geometry(op, x.shape, w.shape, stride, padding)
    check_same_dtype(op, x=x, w=w, b=b)
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{op}: bias {b.shape} must be ({w.shape[0]},) for w {w.shape}")
    n, f = x.shape[0], w.shape[0]
    col = _im2col(x, w.shape[2:], stride, padding, out_hw)
    y_rows = np.matmul(w.reshape(f, -1), col).reshape((f, n) + out_hw)
    y = np.empty((n, f) + out_hw, dtype=x.dtype)
    if b is None:
        np.copyto(y, y_rows.transpose(1, 0, 2, 3))
    else:
        np.add(y_rows.transpose(1, 0, 2, 3), b[:, None, None], out=y)
    return y


def conv2d_backward_data(device, grad_y, w, x_shape, stride, padding, algo=None):
    """dL/dx (x_shape) = col2im(W^T dY)."""
    op = "conv2d_backward_data"
    stride, padding, out_hw = conv_geometry(op, x_shape, w.shape, stride, padding)
    check_same_dtype(op, grad_y=grad_y, w=w)
    _check_grad_y(op, grad_y, x_shape, w.shape, out_hw)
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    dcol = np.matmul(w.reshape(f, -1).T, _rows_of(grad_y)).reshape((c, kh, kw, n) + out_hw)
    grad_pad = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]), dtype=grad_y.dtype)
    for i in range(kh):
        for j in range(kw):
            tap(grad_pad, i, j, stride, out_hw)[...] += dcol[:, i, j].transpose(1, 0, 2, 3)
    return unpad(grad_pad, padding, (h, wd))


def conv2d_backward_weight(device, grad_y, x, w_shape, stride, padding, algo=None):
    """dL/dW (w_shape) = dY col^T."""
    op = "conv2d_backward_weight"
    stride, padding, out_hw = conv_geometry(op, x.shape, w_shape, stride, padding)
    check_same_dtype(op, grad_y=grad_y, x=x)
    _check_grad_y(op, grad_y, x.shape, w_shape, out_hw)
    col = _im2col(x, tuple(w_shape[2:]), stride, padding, out_hw)
    return np.matmul(_rows_of(grad_y), col.T).reshape(w_shape)
