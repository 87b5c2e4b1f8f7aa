"""Softmax, log-softmax and fused cross-entropy in NumPy (the meaning of kernels/softmax.cu).

Along `axis` (C classes), m = max_k x_k:

    softmax       y_c = exp(x_c - m) / sum_k exp(x_k - m)
    log_softmax   y_c = x_c - m - log sum_k exp(x_k - m)
    backward      softmax:      dx = y (g - sum_k g_k y_k)
                  log_softmax:  dx = g - exp(y) sum_k g_k

Cross-entropy of logits z (N, C) with labels y (N,), label smoothing eps and class weights
w (C,) (all 1 when weight is None); w_n = w_{y_n}, W = sum_c w_c, p = exp(logp):

    logp = log_softmax(z, axis=1)
    loss_n = -((1 - eps) w_n logp_{n, y_n} + eps / C sum_c w_c logp_nc)
    dz_nc = ((1 - eps) w_n (p_nc - [c = y_n]) + eps / C (W p_nc - w_c)) g_n
    (unweighted: loss_n = -sum_c q_nc logp_nc, dz = (p - q) g, q_nc = (1 - eps) [c = y_n] + eps / C)

nll_loss of x (N, C) (log-probabilities):  loss_n = -w_n x_{n, y_n},   dx_nc = -w_n [c = y_n] g_n

Both forward passes return `per_row` (2, N): row 0 the losses loss_n, row 1 the weights w_n,
so that PyTorch's 'mean' sum_n loss_n / sum_n w_n takes a single reduction.  A row whose label
is ignore_index has loss 0, w_n = 0 and gradient 0; a label outside [0, C) that is not
ignore_index gives NaN in its row of the loss, of w_n and of the gradient (no exception, no
host check on the kernel devices), the same on every device.  dtypes: float32 and float64.
"""
import numpy as np

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward", "nll_forward", "nll_backward"]

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


def check_labels(op, n, labels, weight, ignore_index, dtype, **others):
    """TypeError / ValueError unless labels and others are (n,), labels int64, weight None or of `dtype`
    (its shape is the caller's check) and ignore_index an int."""
    if labels.dtype != np.int64:
        raise TypeError(f"{op}: labels must be int64, got dtype {labels.dtype}")
    for name, a in dict(labels=labels, **others).items():
        if a.shape != (n,):
            raise ValueError(f"{op}: {name} shape {tuple(a.shape)} does not match the {n} rows")
    if weight is not None and weight.dtype != dtype:
        raise TypeError(f"{op}: weight must be {dtype} like the input, got dtype {weight.dtype}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")


def check_cross_entropy(op, z, labels, smoothing, weight=None, ignore_index=-100, **others):
    """ValueError / TypeError unless z is (N, C >= 1) float, labels (N,) int64, weight None or (C,),
    others (N,), all floats of z's dtype, ignore_index an int and 0 <= smoothing <= 1."""
    check_float(op, z=z, **others)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"{op}: logits must be (N, C) with C >= 1, got shape {tuple(z.shape)}")
    if weight is not None and tuple(weight.shape) != z.shape[1:]:
        raise ValueError(f"{op}: weight shape {tuple(weight.shape)} does not match the {z.shape[1]} classes")
    check_labels(op, z.shape[0], labels, weight, ignore_index, z.dtype, **others)
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


def row_weights(labels, classes, weight, ignore_index, dtype):
    """(w_n, picked, ignored): w_n = weight[y_n] (1 without weights), 0 where y_n == ignore_index, NaN for
    the other labels outside [0, C); picked marks the rows with a label in [0, C) that is not ignored."""
    ignored = labels == ignore_index
    picked = ~ignored & (labels >= 0) & (labels < classes)
    safe = np.where(picked, labels, 0)
    w = np.ones(labels.shape, dtype) if weight is None else weight[safe]
    return np.where(picked, w, np.where(ignored, dtype.type(0), dtype.type(np.nan))), picked, ignored


def _picked(x, labels, picked):
    """x[n, y_n] for every row (x[n, 0] where the label is not picked)."""
    return x[np.arange(x.shape[0]), np.where(picked, labels, 0)]


def cross_entropy_forward(device, z, labels, smoothing, weight=None, ignore_index=-100):
    """(per_row (2, N) = [loss_n; w_n], logp (N, C)): loss_n = -((1 - eps) w_n logp_{y_n} + eps / C sum_c w_c logp_c)."""
    check_cross_entropy("cross_entropy_forward", z, labels, smoothing, weight, ignore_index)
    classes = z.shape[1]
    eps = z.dtype.type(smoothing)
    logp = _log_softmax(z, 1)
    w, picked, _ = row_weights(labels, classes, weight, ignore_index, z.dtype)
    loss = -(1 - eps) * np.where(picked, w, 0) * _picked(logp, labels, picked)
    if eps != 0:  # skipped at eps = 0, so a -inf logit does not turn 0 * -inf into NaN
        loss -= eps / z.dtype.type(classes) * (logp.sum(axis=1) if weight is None else logp @ weight)
    return np.stack([np.where(picked, loss, w), w]), logp


def cross_entropy_backward(device, logp, labels, g, smoothing, weight=None, ignore_index=-100):
    """dz = ((1 - eps) w_n (p - onehot(y_n)) + eps / C (W p - w)) g[:, None]; 0 in ignored rows."""
    check_cross_entropy("cross_entropy_backward", logp, labels, smoothing, weight, ignore_index, g=g)
    n, classes = logp.shape
    eps = logp.dtype.type(smoothing)
    w, picked, ignored = row_weights(labels, classes, weight, ignore_index, logp.dtype)
    p = np.exp(logp)
    onehot = np.zeros_like(p)
    onehot[np.flatnonzero(picked), labels[picked]] = 1
    dz = (1 - eps) * w[:, None] * (p - onehot)
    if eps != 0:
        wc = np.ones(classes, logp.dtype) if weight is None else weight
        dz += eps / logp.dtype.type(classes) * (wc.sum() * p - wc)
    dz *= g[:, None]
    dz[ignored] = 0
    return dz


def check_nll_backward(op, labels, g, classes, weight, ignore_index):
    """g (N,) float, labels (N,) int64, classes an int >= 1, weight None or (classes,) of g's dtype."""
    check_float(op, g=g)
    if g.ndim != 1:
        raise ValueError(f"{op}: g must be (N,), got shape {tuple(g.shape)}")
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"{op}: classes must be an int >= 1, got {classes!r}")
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ValueError(f"{op}: weight shape {tuple(weight.shape)} does not match the {classes} classes")
    check_labels(op, g.shape[0], labels, weight, ignore_index, g.dtype)


def nll_forward(device, x, labels, weight=None, ignore_index=-100):
    """per_row (2, N) = [loss_n; w_n]: loss_n = -w_n x[n, y_n]."""
    check_cross_entropy("nll_forward", x, labels, 0.0, weight, ignore_index)
    w, picked, _ = row_weights(labels, x.shape[1], weight, ignore_index, x.dtype)
    return np.stack([np.where(picked, -w * _picked(x, labels, picked), w), w])


def nll_backward(device, labels, g, classes, weight=None, ignore_index=-100):
    """dx (N, classes) = -w_n g_n at [n, y_n], 0 elsewhere and in ignored rows, NaN in rows of bad labels."""
    check_nll_backward("nll_backward", labels, g, classes, weight, ignore_index)
    w, picked, ignored = row_weights(labels, classes, weight, ignore_index, g.dtype)
    dx = np.zeros((labels.shape[0], classes), g.dtype)
    dx[np.flatnonzero(picked), labels[picked]] = -(w * g)[picked]
    dx[~picked & ~ignored] = np.nan
    return dx
