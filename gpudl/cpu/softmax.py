"""Softmax, log-softmax and fused cross-entropy in NumPy (the meaning of kernels/softmax.cu).

Along `axis` (C classes), m = max_k x_k:

    softmax       y_c = exp(x_c - m) / sum_k exp(x_k - m)
    log_softmax   y_c = x_c - m - log sum_k exp(x_k - m)
    backward      softmax:      dx = y (g - sum_k g_k y_k)
                  log_softmax:  dx = g - exp(y) sum_k g_k

Cross-entropy of logits z (N, C) with labels y (N,) and label smoothing eps:

    logp = log_softmax(z, axis=1),   q_nc = (1 - eps) [c = y_n] + eps / C
    loss_n = -sum_c q_nc logp_nc,    dz = (exp(logp) - q) g[:, None]

A label outside [0, C) gives NaN in its row of the loss and of dz (no exception, no host
check on the kernel devices), the same on every device.  dtypes: float32 and float64.
"""
import numpy as np

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_float(op, **arrays):
    """TypeError naming op unless every array is float32 or float64, all of one dtype."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    for name, dtype in dtypes.items():
        if dtype not in FLOATS:
            raise TypeError(f"{op}: takes float32 or float64 arrays, got {name} of dtype {dtype}")
    if len(set(dtypes.values())) > 1:
        raise TypeError(f"{op}: arrays must share one dtype, got {dtypes}")


def check_axis(op, shape, axis):
    """axis as a non-negative int (negative counts from the end); ValueError when out of range."""
    if not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < len(shape):
        raise ValueError(f"{op}: axis {axis!r} is out of range for shape {tuple(shape)}")
    return int(axis) % len(shape)


def check_same_shape(op, y, g):
    if y.shape != g.shape:
        raise ValueError(f"{op}: g shape {tuple(g.shape)} differs from y shape {tuple(y.shape)}")


def check_cross_entropy(op, z, labels, smoothing, **others):
    """ValueError / TypeError unless z is (N, C >= 1) float, labels (N,) int64, others (N,) of z's dtype
    and 0 <= smoothing <= 1."""
    check_float(op, z=z, **others)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"{op}: logits must be (N, C) with C >= 1, got shape {tuple(z.shape)}")
    if labels.dtype != np.int64:
        raise TypeError(f"{op}: labels must be int64, got dtype {labels.dtype}")
    for name, a in dict(labels=labels, **others).items():
        if a.shape != z.shape[:1]:
            raise ValueError(f"{op}: {name} shape {tuple(a.shape)} does not match logits {tuple(z.shape)}")
    if not 0 <= smoothing <= 1:
        raise ValueError(f"{op}: smoothing must be in [0, 1], got {smoothing}")


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(device, x, axis):
    """exp(x - max) / sum exp(x - max) along axis."""
    check_float("softmax", x=x)
    axis = check_axis("softmax", x.shape, axis)
    if x.size == 0:
        return np.empty_like(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(device, x, axis):
    """x - max - log sum exp(x - max) along axis."""
    check_float("log_softmax", x=x)
    axis = check_axis("log_softmax", x.shape, axis)
    return np.empty_like(x) if x.size == 0 else _log_softmax(x, axis)


def softmax_backward(device, y, g, axis):
    """dx = y (g - sum(g y)) for y = softmax(x)."""
    check_float("softmax_backward", y=y, g=g)
    check_same_shape("softmax_backward", y, g)
    axis = check_axis("softmax_backward", y.shape, axis)
    return y * (g - (g * y).sum(axis=axis, keepdims=True))


def log_softmax_backward(device, y, g, axis):
    """dx = g - exp(y) sum(g) for y = log_softmax(x)."""
    check_float("log_softmax_backward", y=y, g=g)
    check_same_shape("log_softmax_backward", y, g)
    axis = check_axis("log_softmax_backward", y.shape, axis)
    return g - np.exp(y) * g.sum(axis=axis, keepdims=True)


def _valid(labels, classes):
    return (labels >= 0) & (labels < classes)


def cross_entropy_forward(device, z, labels, smoothing):
    """(loss (N,), logp (N, C)): loss_n = -sum_c q_nc logp_nc."""
    check_cross_entropy("cross_entropy_forward", z, labels, smoothing)
    n, classes = z.shape
    eps = z.dtype.type(smoothing)
    logp = _log_softmax(z, 1)
    valid = _valid(labels, classes)
    loss = -(1 - eps) * logp[np.arange(n), np.where(valid, labels, 0)]
    if eps != 0:  # skipped at eps = 0, so a -inf logit does not turn 0 * -inf into NaN
        loss -= eps / z.dtype.type(classes) * logp.sum(axis=1)
    return np.where(valid, loss, z.dtype.type(np.nan)), logp


def cross_entropy_backward(device, logp, labels, g, smoothing):
    """dz = (exp(logp) - q) g[:, None]."""
    check_cross_entropy("cross_entropy_backward", logp, labels, smoothing, g=g)
    n, classes = logp.shape
    eps = logp.dtype.type(smoothing)
    valid = _valid(labels, classes)
    q = np.full(logp.shape, eps / logp.dtype.type(classes), dtype=logp.dtype)
    q[np.flatnonzero(valid), labels[valid]] += 1 - eps
    dz = (np.exp(logp) - q) * g[:, None]
    dz[~valid] = np.nan
    return dz
