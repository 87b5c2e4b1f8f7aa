"""Loss functions (PyTorch's names, arguments and defaults); `reduction` is 'mean' (default), 'sum' or 'none'.

    cross_entropy   l_n = -((1 - eps) w_{y_n} log softmax(z_n)_{y_n} + eps / C sum_c w_c log softmax(z_n)_c)
    nll_loss        l_n = -w_{y_n} x_{n, y_n}           (input: log-probabilities)
                    w: the class weights (all 1 by default); a sample whose label is ignore_index adds
                    nothing, and 'mean' is PyTorch's weighted mean  sum_n l_n / sum_n w_{y_n}  over the
                    samples not ignored
    mse_loss        l = (x - y)^2
    l1_loss         l = |x - y|
    huber_loss      l = (x - y)^2 / 2 if |x - y| < delta else delta (|x - y| - delta / 2)
    smooth_l1_loss  l = (x - y)^2 / (2 beta) if |x - y| < beta else |x - y| - beta / 2   (huber / beta)
    binary_cross_entropy              l = -w (y log p + (1 - y) log(1 - p)),  logs clamped at -100
    binary_cross_entropy_with_logits  l = -w (p_w y log s(z) + (1 - y) log(1 - s(z)))
                                        = w ((1 - y) z + (1 + (p_w - 1) y) softplus(-z))    (stable)
    for the element-wise losses 'mean' is the plain mean over all elements (also with a weight).
"""
import numpy as np

from .. import checks
from ..tensor import Function, Tensor
from .arithmetic import cast_back

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op, reduction):
    """ValueError naming op unless reduction is 'mean', 'sum' or 'none'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def check_ignore_index(op, ignore_index):
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")


def check_positive(op, name, value, allow_zero=False):
    """ValueError unless value > 0 (>= 0 with allow_zero)."""
    if not (value >= 0 if allow_zero else value > 0):
        raise ValueError(f"{op}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def _check_labels(op, logits, labels, ignore_index):
    check_ignore_index(op, ignore_index)
    if not isinstance(labels, Tensor):
        raise TypeError(f"{op}: labels must be a Tensor of integer class indices")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{op}: labels must be integer class indices, got dtype {labels.dtype}")
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"{op}: expected input (N, C) and labels (N,), got {logits.shape} and {labels.shape}")
    if labels.device != logits.device:
        raise RuntimeError(f"{op}: input is on {logits.device} but labels are on {labels.device}")
    if labels.size and not labels.device.uses_kernels:  # on kernel devices the kernel marks bad rows NaN
        values = labels.data[labels.data != ignore_index]
        if values.size and (values.min() < 0 or values.max() >= logits.shape[1]):
            raise ValueError(f"{op}: labels must lie in [0, {logits.shape[1]}) or equal ignore_index={ignore_index}, "
                             f"got range [{values.min()}, {values.max()}]")


def _weight_data(op, name, weight, input, shape=None):
    """The raw array of an optional weight Tensor on input's device and dtype: of `shape` when given, else
    broadcastable to input's shape (ValueError / TypeError / RuntimeError otherwise)."""
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(weight).__name__}")
    if shape is not None and weight.shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {weight.shape}")
    if shape is None and _broadcast(weight.shape, input.shape) != input.shape:
        raise ValueError(f"{op}: {name} of shape {weight.shape} does not broadcast to input shape {input.shape}")
    if weight.device != input.device:
        raise RuntimeError(f"{op}: input is on {input.device} but {name} is on {weight.device}")
    if weight.dtype != input.dtype:
        raise TypeError(f"{op}: {name} must have the input's dtype {input.dtype}, got {weight.dtype}")
    return weight.data


def _broadcast(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


def _reduce_rows(k, per_row, reduction):
    """(loss, denominator) from per_row (2, N) = [l_n; w_n]: 'none' l, 'sum' sum_n l_n, 'mean'
    sum_n l_n / sum_n w_n (one reduction for both sums); denominator = sum_n w_n for 'mean'."""
    if reduction == "none":
        return per_row[0], None
    if reduction == "sum":
        return k.sum(per_row[0], (0,)), None
    sums = k.sum(per_row, (1,))
    total, denominator = sums[0, ...], sums[1, ...]  # 0-d views (sums[0] would be a NumPy scalar)
    with np.errstate(invalid="ignore", divide="ignore"):  # every sample ignored: 0 / 0 = NaN, as in PyTorch
        return k.div(total, denominator), denominator


def _row_gradient(ctx, g, rows, reduction, denominator):
    """dL/dl_n for the rows: g ('none'), g broadcast ('sum'), g / sum_n w_n broadcast ('mean')."""
    if reduction == "none":
        return g
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = ctx.kernels.div(g, denominator)
    return ctx.xp.broadcast_to(g, (rows,))


class CrossEntropy(Function):
    """Cross-entropy of logits (N, C) with labels (N,), reduced: fused, stable, labels checked in the kernel."""

    @staticmethod
    def forward(ctx, z, labels, smoothing, weight, ignore_index, reduction):
        per_row, logp = ctx.kernels.cross_entropy_forward(z, labels, smoothing, weight, ignore_index)
        loss, denominator = _reduce_rows(ctx.kernels, per_row, reduction)
        ctx.save(logp, labels, smoothing, weight, ignore_index, reduction, denominator)
        return loss

    @staticmethod
    def backward(ctx, g):
        logp, labels, smoothing, weight, ignore_index, reduction, denominator = ctx.saved
        rows = _row_gradient(ctx, g, logp.shape[0], reduction, denominator)
        return ctx.kernels.cross_entropy_backward(logp, labels, rows, smoothing, weight, ignore_index), None


def cross_entropy(logits, labels, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax + negative log-likelihood in one stable step; labels are class indices (N,).

    weight: class weights (C,); ignore_index: a label whose samples add nothing (loss and gradient 0)
    and leave the mean's denominator; 'mean' = sum_n l_n / sum_n w_{y_n} (PyTorch's rule, also with
    label smoothing).  Labels outside [0, C) other than ignore_index raise ValueError on cpu; on cuda /
    emu they are checked inside the kernel (no host sync), which makes that sample's loss NaN — and
    `fit` stops on a NaN loss.  Class-probability targets are not supported."""
    op = "cross_entropy"
    check_reduction(op, reduction)
    _check_labels(op, logits, labels, ignore_index)
    checks.probability(op, "label_smoothing", label_smoothing)
    w = _weight_data(op, "weight", weight, logits, (logits.shape[1],))
    return CrossEntropy.apply(logits, labels, smoothing=float(label_smoothing), weight=w,
                              ignore_index=int(ignore_index), reduction=reduction)


class NLL(Function):
    """-w_{y_n} x[n, y_n] of log-probabilities x (N, C) with labels (N,), reduced."""

    @staticmethod
    def forward(ctx, x, labels, weight, ignore_index, reduction):
        per_row = ctx.kernels.nll_forward(x, labels, weight, ignore_index)
        loss, denominator = _reduce_rows(ctx.kernels, per_row, reduction)
        ctx.save(x.shape, labels, weight, ignore_index, reduction, denominator)
        return loss

    @staticmethod
    def backward(ctx, g):
        shape, labels, weight, ignore_index, reduction, denominator = ctx.saved
        rows = _row_gradient(ctx, g, shape[0], reduction, denominator)
        return ctx.kernels.nll_backward(labels, rows, shape[1], weight, ignore_index), None


def nll_loss(log_probs, labels, weight=None, ignore_index=-100, reduction="mean"):
    """-w_{y_n} log p_{y_n} given log-probabilities (N, C) (e.g. from log_softmax) and labels (N,);
    weight, ignore_index and the weighted 'mean' as in cross_entropy."""
    op = "nll_loss"
    check_reduction(op, reduction)
    _check_labels(op, log_probs, labels, ignore_index)
    w = _weight_data(op, "weight", weight, log_probs, (log_probs.shape[1],))
    return NLL.apply(log_probs, labels, weight=w, ignore_index=int(ignore_index), reduction=reduction)


def _check_same_shape(op, a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ")


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2 — the lectures' regression loss."""
    check_reduction("mse_loss", reduction)
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """|input - target|; its gradient sign(input - target) is 0 where they are equal (as in PyTorch)."""
    check_reduction("l1_loss", reduction)
    _check_same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


class Huber(Function):
    """Huber loss of d = x - y, elementwise: c (d - c / 2) with c = clip(d, -delta, delta), which is
    d^2 / 2 for |d| <= delta and delta (|d| - delta / 2) beyond; dl/dd = c."""

    @staticmethod
    def forward(ctx, x, y, delta):
        k = ctx.kernels
        d = k.sub(x, y)
        c = k.clip(d, -delta, delta)
        ctx.save(c)
        return k.mul(c, k.sub(d, k.mul(c, 0.5)))

    @staticmethod
    def backward(ctx, g):
        gx = ctx.kernels.mul(g, ctx.saved[0])
        return gx, (ctx.kernels.neg(gx) if ctx.needs_input_grad[1] else None)


def _huber(op, input, target, delta):
    _check_same_shape(op, input, target)
    if input.dtype != target.dtype:
        raise TypeError(f"{op}: input and target must share a dtype, got {input.dtype} and {target.dtype}")
    return Huber.apply(input, target, delta=float(delta))


def huber_loss(input, target, reduction="mean", delta=1.0):
    """(x - y)^2 / 2 where |x - y| < delta, delta (|x - y| - delta / 2) elsewhere: quadratic near 0,
    linear (robust to outliers) beyond delta > 0."""
    check_reduction("huber_loss", reduction)
    check_positive("huber_loss", "delta", delta)
    return _reduce(_huber("huber_loss", input, target, delta), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """(x - y)^2 / (2 beta) where |x - y| < beta, |x - y| - beta / 2 elsewhere (huber_loss with delta = beta,
    divided by beta); beta = 0 is l1_loss (PyTorch's rule), beta < 0 a ValueError."""
    check_reduction("smooth_l1_loss", reduction)
    check_positive("smooth_l1_loss", "beta", beta, allow_zero=True)
    if beta == 0:
        return l1_loss(input, target, reduction)
    return _reduce(_huber("smooth_l1_loss", input, target, beta) / float(beta), reduction)


def _check_probabilities(op, what, t):
    """ValueError unless every value lies in [0, 1] (read on the host: a sync on kernel devices)."""
    if t.size:
        k, axes = t.device.kernels, tuple(range(t.ndim))
        lo, hi = (Tensor._wrap(extreme(t.data, axes), t.device).item() for extreme in (k.min, k.max))
        if not (0 <= lo and hi <= 1):
            raise ValueError(f"{op}: {what} must lie in [0, 1], got range [{lo}, {hi}]")


def _weighted(k, value, weight):
    return value if weight is None else k.mul(value, weight)


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, p, y, weight):
        k = ctx.kernels
        ctx.save(p, y, weight)
        with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped to -100 as in PyTorch
            log_p, log_1mp = k.maximum(k.log(p), -100), k.maximum(k.log(k.sub(1, p)), -100)
        return _weighted(k, k.neg(k.add(k.mul(y, log_p), k.mul(k.sub(1, y), log_1mp))), weight)

    @staticmethod
    def backward(ctx, g):
        (p, y, weight), k = ctx.saved, ctx.kernels  # dl/dp = w (p - y) / (p (1 - p)), denominator clamped at 1e-12
        grad = k.div(k.mul(g, k.sub(p, y)), k.maximum(k.mul(p, k.sub(1, p)), 1e-12))
        return cast_back(k, _weighted(k, grad, weight), p.dtype), None


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]; weight broadcasts to the input."""
    op = "binary_cross_entropy"
    check_reduction(op, reduction)
    _check_same_shape(op, input, target)
    w = _weight_data(op, "weight", weight, input)
    _check_probabilities(op, "input probabilities", input)
    _check_probabilities(op, "targets", target)
    return _reduce(BinaryCrossEntropy.apply(input, target, weight=w), reduction)


class BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, z, y, weight, pos_weight):
        k = ctx.kernels
        sp = k.add(k.maximum(k.neg(z), 0), k.log1p(k.exp(k.neg(k.abs(z)))))  # softplus(-z) = -log s(z), stable
        log_weight = None if pos_weight is None else k.add(k.mul(k.sub(pos_weight, 1), y), 1)  # 1 + (p_w - 1) y
        ctx.save(z, y, weight, pos_weight, sp, log_weight)
        return _weighted(k, k.add(k.mul(k.sub(1, y), z), _weighted(k, sp, log_weight)), weight)

    @staticmethod
    def backward(ctx, g):
        (z, y, weight, pos_weight, sp, log_weight), k = ctx.saved, ctx.kernels
        g = _weighted(k, g, weight)
        sig = k.mul(k.add(k.tanh(k.mul(z, 0.5)), 1), 0.5)
        if log_weight is None:  # dl/dz = s(z) - y,  dl/dy = -z
            gz, gy = k.sub(sig, y), (k.neg(z) if ctx.needs_input_grad[1] else None)
        else:  # dl/dz = (1 - y) - (1 + (p_w - 1) y)(1 - s(z)),  dl/dy = -z + (p_w - 1) softplus(-z)
            gz = k.sub(k.sub(1, y), k.mul(log_weight, k.sub(1, sig)))
            gy = k.add(k.neg(z), k.mul(k.sub(pos_weight, 1), sp)) if ctx.needs_input_grad[1] else None
        return cast_back(k, k.mul(g, gz), z.dtype), (None if gy is None else cast_back(k, k.mul(g, gy), y.dtype))


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy fused; stable for |logit| >> 1.

    weight broadcasts to the input; pos_weight p_w (e.g. (C,) along the last axis) weighs the positive
    term: p_w > 1 raises recall, < 1 precision."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    _check_same_shape(op, input, target)
    w = _weight_data(op, "weight", weight, input)
    pw = _weight_data(op, "pos_weight", pos_weight, input)
    return _reduce(BCEWithLogits.apply(input, target, weight=w, pos_weight=pw), reduction)
