"""Strided views of sliding windows: the building block of NumPy convolution and pooling.

For kernel tap (i, j), the input pixels that tap sees across all outputs (oh, ow) are

    xpad[:, :, i + oh*sh, j + ow*sw]   for oh < OH, ow < OW

a single strided slab of the padded input, so a whole layer costs kh*kw slab operations
instead of N*C*OH*OW small window operations.
"""
import numpy as np


def pad_nchw(x, padding, value=0):
    """x with `padding` (ph, pw) rows/columns of `value` around H and W (x itself when none)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def tap(xpad, i, j, stride, out_hw):
    """The (N, C, OH, OW) view of tap (i, j): xpad[:, :, i + oh*sh, j + ow*sw]."""
    (sh, sw), (oh, ow) = stride, out_hw
    return xpad[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def unpad(xpad, padding, hw):
    """The contiguous (N, C, H, W) interior of a padded array."""
    (ph, pw), (h, w) = padding, hw
    if ph == 0 and pw == 0:
        return xpad
    return np.ascontiguousarray(xpad[:, :, ph:ph + h, pw:pw + w])
