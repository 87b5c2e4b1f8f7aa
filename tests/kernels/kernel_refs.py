"""Naive float64 references for the kernel families: direct loops over outputs and windows.

Deliberately written differently from gpudl.cpu (per-output loops and einsum instead of
per-tap slabs and BLAS) so that the tests compare two independent derivations.
"""
import contextlib
import math

import numpy as np


# ---------------------------------------------------------------- running an implementation

def impl(dev):
    """The function table for a Device: gpudl.cpu or gpudl.gpu."""
    if dev.type == "cpu":
        import gpudl.cpu as table
    else:
        import gpudl.gpu as table
    return table


def thread_orders(dev):
    """Context managers to run each kernel call under: both thread orders on emu."""
    if dev.type != "emu":
        return [contextlib.nullcontext]
    from gpudl import emu
    return [lambda: emu.thread_order("forward"), lambda: emu.thread_order("reverse")]


def dtypes(dev):
    """cpu is checked in float32 and float64 (gradcheck); kernels are float32 only."""
    return (np.float32, np.float64) if dev.type == "cpu" else (np.float32,)


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def put(dev, a, dtype=None):
    """a on dev (cast to dtype when given)."""
    a = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
    return dev.asarray(a)


def host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------- activation

GELU_C = math.sqrt(2 / math.pi)


def act_ref(z, act, slope):
    if act == "identity":
        return z.copy()
    if act == "relu":
        return np.where(z > 0, z, 0.0)
    if act == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if act == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if act == "tanh":
        return np.tanh(z)
    if act == "gelu":
        return 0.5 * z * (1 + np.tanh(GELU_C * (z + 0.044715 * z ** 3)))
    raise AssertionError(act)


def act_grad_ref(z, act, slope, h=1e-6):
    """f'(z) by central differences in float64 (independent of the closed forms)."""
    return (act_ref(z + h, act, slope) - act_ref(z - h, act, slope)) / (2 * h)


def bias_shape(x_shape):
    return (1, x_shape[1]) + (1,) * (len(x_shape) - 2) if len(x_shape) > 1 else (x_shape[0],)


# ---------------------------------------------------------------- convolution

def conv_out(x_shape, k, s, p):
    return tuple((x_shape[2 + a] + 2 * p[a] - k[a]) // s[a] + 1 for a in range(2))


def pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))


def conv_forward_ref(x, w, b, s, p):
    s, p = pair(s), pair(p)
    kh, kw = w.shape[2:]
    oh, ow = conv_out(x.shape, (kh, kw), s, p)
    xp = pad(x.astype(np.float64), p)
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for r in range(oh):
        for c in range(ow):
            window = xp[:, :, r * s[0]:r * s[0] + kh, c * s[1]:c * s[1] + kw]
            y[:, :, r, c] = np.einsum("nckl,fckl->nf", window, w)
    return y if b is None else y + np.asarray(b, np.float64)[None, :, None, None]


def conv_backward_data_ref(gy, w, x_shape, s, p):
    s, p = pair(s), pair(p)
    kh, kw = w.shape[2:]
    n, c, h, wd = x_shape
    gxp = np.zeros((n, c, h + 2 * p[0], wd + 2 * p[1]))
    for r in range(gy.shape[2]):
        for q in range(gy.shape[3]):
            gxp[:, :, r * s[0]:r * s[0] + kh, q * s[1]:q * s[1] + kw] += np.einsum("nf,fckl->nckl", gy[:, :, r, q], w)
    return gxp[:, :, p[0]:p[0] + h, p[1]:p[1] + wd]


def conv_backward_weight_ref(gy, x, w_shape, s, p):
    s, p = pair(s), pair(p)
    kh, kw = w_shape[2:]
    xp = pad(x.astype(np.float64), p)
    gw = np.zeros(w_shape)
    for r in range(gy.shape[2]):
        for q in range(gy.shape[3]):
            window = xp[:, :, r * s[0]:r * s[0] + kh, q * s[1]:q * s[1] + kw]
            gw += np.einsum("nf,nckl->fckl", gy[:, :, r, q], window)
    return gw


# ---------------------------------------------------------------- pooling

def _windows(x_shape, k, s, p):
    """Yield (oh, ow, [(ih, iw) in bounds]) for every output position."""
    k, s, p = pair(k), pair(s), pair(p)
    oh, ow = conv_out(x_shape, k, s, p)
    h, w = x_shape[2:]
    for r in range(oh):
        for c in range(ow):
            pixels = [(r * s[0] - p[0] + i, c * s[1] - p[1] + j) for i in range(k[0]) for j in range(k[1])]
            yield r, c, [(a, b) for a, b in pixels if 0 <= a < h and 0 <= b < w]


def pool_out(x_shape, k, s, p):
    return conv_out(x_shape, pair(k), pair(s), pair(p))


def max_pool_ref(x, k, s, p):
    n, ch = x.shape[:2]
    oh, ow = pool_out(x.shape, k, s, p)
    y, arg = np.zeros((n, ch, oh, ow)), np.zeros((n, ch, oh, ow), np.int64)
    for r, c, pixels in _windows(x.shape, k, s, p):
        for a in range(n):
            for b in range(ch):
                values = [x[a, b, i, j] for i, j in pixels]
                best = int(np.argmax(values))
                y[a, b, r, c] = values[best]
                arg[a, b, r, c] = pixels[best][0] * x.shape[3] + pixels[best][1]
    return y, arg


def max_pool_backward_ref(gy, arg, x_shape):
    gx = np.zeros(x_shape)
    n, ch, oh, ow = gy.shape
    for a in range(n):
        for b in range(ch):
            plane = gx[a, b].reshape(-1)
            for r in range(oh):
                for c in range(ow):
                    plane[arg[a, b, r, c]] += gy[a, b, r, c]
    return gx


def _divisor(pixels, k, count_include_pad):
    k = pair(k)
    return k[0] * k[1] if count_include_pad else len(pixels)


def avg_pool_ref(x, k, s, p, count_include_pad):
    oh, ow = pool_out(x.shape, k, s, p)
    y = np.zeros(x.shape[:2] + (oh, ow))
    for r, c, pixels in _windows(x.shape, k, s, p):
        rows, cols = zip(*pixels)
        y[:, :, r, c] = x[:, :, list(rows), list(cols)].astype(np.float64).sum(axis=-1) / _divisor(
            pixels, k, count_include_pad)
    return y


def avg_pool_backward_ref(gy, x_shape, k, s, p, count_include_pad):
    gx = np.zeros(x_shape)
    for r, c, pixels in _windows(x_shape, k, s, p):
        for i, j in pixels:
            gx[:, :, i, j] += gy[:, :, r, c] / _divisor(pixels, k, count_include_pad)
    return gx
