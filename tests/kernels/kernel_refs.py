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
_erf = np.vectorize(math.erf)


def act_ref(z, act, slope, threshold=20.0):
    """f(z) written out in float64 (slope: leaky_relu's slope, elu's alpha, softplus's beta)."""
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
    if act == "gelu_tanh":
        return 0.5 * z * (1 + np.tanh(GELU_C * (z + 0.044715 * z ** 3)))
    if act == "gelu":
        return 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    if act == "elu":
        return np.where(z > 0, z, slope * (np.exp(np.minimum(z, 0)) - 1))
    if act == "silu":
        return z / (1 + np.exp(-z))
    if act == "softplus":
        u = np.minimum(slope * z, 700)
        return np.where(slope * z > threshold, z, np.log(1 + np.exp(u)) / slope)
    raise AssertionError(act)


def act_grad_ref(z, act, slope, h=1e-6, threshold=20.0):
    """f'(z) by central differences in float64 (independent of the closed forms)."""
    return (act_ref(z + h, act, slope, threshold) - act_ref(z - h, act, slope, threshold)) / (2 * h)


def bias_shape(x_shape):
    return (1, x_shape[1]) + (1,) * (len(x_shape) - 2) if len(x_shape) > 1 else (x_shape[0],)


# ---------------------------------------------------------------- convolution

def sides(p):
    """((top, bottom), (left, right)) from an int, (ph, pw) or ((top, bottom), (left, right))."""
    return tuple(tuple(a) if isinstance(a, tuple) else (a, a) for a in pair(p))


def conv_out(x_shape, k, s, p, d=1):
    p, d = sides(p), pair(d)
    return tuple((x_shape[2 + a] + sum(p[a]) - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(2))


def pad(x, p):
    return np.pad(x, ((0, 0), (0, 0)) + sides(p))


def _taps(xp, r, c, s, k, d):
    """The (N, C, kh, kw) view of output (r, c)'s dilated window in the padded array xp."""
    return xp[:, :, r * s[0]:r * s[0] + d[0] * (k[0] - 1) + 1:d[0], c * s[1]:c * s[1] + d[1] * (k[1] - 1) + 1:d[1]]


def conv_forward_ref(x, w, b, s, p, d=1):
    s, d = pair(s), pair(d)
    k = w.shape[2:]
    oh, ow = conv_out(x.shape, k, s, p, d)
    xp = pad(x.astype(np.float64), p)
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for r in range(oh):
        for c in range(ow):
            y[:, :, r, c] = np.einsum("nckl,fckl->nf", _taps(xp, r, c, s, k, d), w)
    return y if b is None else y + np.asarray(b, np.float64)[None, :, None, None]


def conv_backward_data_ref(gy, w, x_shape, s, p, d=1):
    s, d = pair(s), pair(d)
    k = w.shape[2:]
    n, c, h, wd = x_shape
    (top, bottom), (left, right) = sides(p)
    gxp = np.zeros((n, c, h + top + bottom, wd + left + right))
    for r in range(gy.shape[2]):
        for q in range(gy.shape[3]):
            _taps(gxp, r, q, s, k, d)[...] += np.einsum("nf,fckl->nckl", gy[:, :, r, q], w)
    return gxp[:, :, top:top + h, left:left + wd]


def conv_backward_weight_ref(gy, x, w_shape, s, p, d=1):
    s, d = pair(s), pair(d)
    k = w_shape[2:]
    xp = pad(x.astype(np.float64), p)
    gw = np.zeros(w_shape)
    for r in range(gy.shape[2]):
        for q in range(gy.shape[3]):
            gw += np.einsum("nf,nckl->fckl", gy[:, :, r, q], _taps(xp, r, q, s, k, d))
    return gw


# ---------------------------------------------------------------- pooling

def _pool_count(size, k, s, p, ceil_mode):
    """Windows along an axis, counted one by one: a floor-mode window lies inside the padded input;
    a ceil-mode one starts before the last full window's start + s, and inside the input or left padding."""
    n = 0
    while (n * s < size + 2 * p - k + s and n * s - p < size) if ceil_mode else (n * s + k <= size + 2 * p):
        n += 1
    return n


def pool_out(x_shape, k, s, p, ceil_mode=False):
    k, s, p = pair(k), pair(s), pair(p)
    return tuple(_pool_count(x_shape[2 + a], k[a], s[a], p[a], ceil_mode) for a in range(2))


def _windows(x_shape, k, s, p, ceil_mode=False):
    """Yield (oh, ow, [(ih, iw) in bounds], number of window pixels inside the padded input)."""
    oh, ow = pool_out(x_shape, k, s, p, ceil_mode)
    k, s, p = pair(k), pair(s), pair(p)
    h, w = x_shape[2:]
    for r in range(oh):
        for c in range(ow):
            pixels = [(r * s[0] - p[0] + i, c * s[1] - p[1] + j) for i in range(k[0]) for j in range(k[1])]
            padded = sum(-p[0] <= a < h + p[0] and -p[1] <= b < w + p[1] for a, b in pixels)
            yield r, c, [(a, b) for a, b in pixels if 0 <= a < h and 0 <= b < w], padded


def max_pool_ref(x, k, s, p, ceil_mode=False):
    n, ch = x.shape[:2]
    oh, ow = pool_out(x.shape, k, s, p, ceil_mode)
    y, arg = np.zeros((n, ch, oh, ow)), np.zeros((n, ch, oh, ow), np.int64)
    for r, c, pixels, _ in _windows(x.shape, k, s, p, ceil_mode):
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


def _divisor(pixels, padded, count_include_pad):
    return padded if count_include_pad else len(pixels)


def avg_pool_ref(x, k, s, p, count_include_pad, ceil_mode=False):
    oh, ow = pool_out(x.shape, k, s, p, ceil_mode)
    y = np.zeros(x.shape[:2] + (oh, ow))
    for r, c, pixels, padded in _windows(x.shape, k, s, p, ceil_mode):
        rows, cols = zip(*pixels)
        y[:, :, r, c] = x[:, :, list(rows), list(cols)].astype(np.float64).sum(axis=-1) / _divisor(
            pixels, padded, count_include_pad)
    return y


def avg_pool_backward_ref(gy, x_shape, k, s, p, count_include_pad, ceil_mode=False):
    gx = np.zeros(x_shape)
    for r, c, pixels, padded in _windows(x_shape, k, s, p, ceil_mode):
        for i, j in pixels:
            gx[:, :, i, j] += gy[:, :, r, c] / _divisor(pixels, padded, count_include_pad)
    return gx


def _adaptive_windows(size, out):
    """[(start, end)] of each output: floor(o size / out) .. ceil((o + 1) size / out), exclusive end."""
    return [(math.floor(o * size / out), math.ceil((o + 1) * size / out)) for o in range(out)]


def adaptive_avg_pool_ref(x, out):
    rows, cols = _adaptive_windows(x.shape[2], out[0]), _adaptive_windows(x.shape[3], out[1])
    y = np.zeros(x.shape[:2] + tuple(out))
    for r, (h0, h1) in enumerate(rows):
        for c, (w0, w1) in enumerate(cols):
            y[:, :, r, c] = x[:, :, h0:h1, w0:w1].astype(np.float64).mean(axis=(2, 3))
    return y


def adaptive_avg_pool_backward_ref(gy, x_shape):
    gx = np.zeros(x_shape)
    rows, cols = _adaptive_windows(x_shape[2], gy.shape[2]), _adaptive_windows(x_shape[3], gy.shape[3])
    for r, (h0, h1) in enumerate(rows):
        for c, (w0, w1) in enumerate(cols):
            gx[:, :, h0:h1, w0:w1] += gy[:, :, r, c][:, :, None, None] / ((h1 - h0) * (w1 - w0))
    return gx
