"""Strided views of sliding windows: the building block of NumPy convolution and pooling.

For kernel tap (i, j), the input pixels that tap sees across all outputs (oh, ow) are

    xpad[:, :, i*dh + oh*sh, j*dw + ow*sw]   for oh < OH, ow < OW

(dilation (dh, dw); xpad has the top / left padding in front), a single strided slab of the
padded input, so a whole layer costs kh*kw slab operations instead of N*C*OH*OW small window
operations.
"""
import numpy as np


def pad_nchw(x, padding, value=0):
    """x in a frame of `value`: padding ((top, bottom), (left, right)) rows / columns (x itself when none)."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    np.copyto(out[:, :, top:top + h, left:left + w], x)  # not `out[...] = x`: that holds the GIL
    return out


def window_padding(x_shape, kernel, stride, padding, out_hw):
    """The frame ((ph, bottom), (pw, right)) that holds every pooling window: padding (ph, pw) on
    each side, and more at the bottom / right where ceil_mode windows reach past it."""
    return tuple((p, max(p, (o - 1) * s + k - size - p))
                 for size, k, s, p, o in zip(x_shape[2:], kernel, stride, padding, out_hw))


def tap(xpad, i, j, stride, out_hw, dilation=(1, 1)):
    """The (N, C, OH, OW) view of tap (i, j): xpad[:, :, i*dh + oh*sh, j*dw + ow*sw]."""
    (sh, sw), (oh, ow), (dh, dw) = stride, out_hw, dilation
    return xpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]


def unpad(xpad, top_left, hw):
    """The contiguous (N, C, H, W) interior of a padded array whose image starts at top_left (row, column)."""
    (top, left), (h, w) = top_left, hw
    if xpad.shape[2:] == (h, w):
        return xpad
    return np.ascontiguousarray(xpad[:, :, top:top + h, left:left + w])
