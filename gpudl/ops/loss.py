"""Loss functions; `reduction` is 'mean' (default), 'sum' or 'none'.

    cross_entropy   J = -sum_c q_c log softmax(z)_c,  q = (1 - eps) onehot(y) + eps / C
    nll_loss        J = -log p_y          (input: log-probabilities)
    mse_loss        J = (yhat - y)^2
    binary_cross_entropy              J = -(y log p + (1 - y) log(1 - p)),  logs clamped at -100
    binary_cross_entropy_with_logits  J = max(z, 0) - z y + log(1 + e^{-|z|})   (stable)
"""
import numpy as np

from ..tensor import Function, Tensor

REDUCTIONS = ("mean", "sum", "none")


def _reduce(op, loss, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _check_labels(op, logits, labels):
    if not isinstance(labels, Tensor):
        raise TypeError(f"{op}: labels must be a Tensor of integer class indices")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{op}: labels must be integer class indices, got dtype {labels.dtype}")
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"{op}: expected input (N, C) and labels (N,), got {logits.shape} and {labels.shape}")
    if labels.device != logits.device:
        raise RuntimeError(f"{op}: input is on {logits.device} but labels are on {labels.device}")
    if labels.size and not labels.device.uses_kernels:  # on kernel devices the kernel marks bad rows NaN
        lo, hi = int(labels.data.min()), int(labels.data.max())
        if lo < 0 or hi >= logits.shape[1]:
            raise ValueError(f"{op}: labels must lie in [0, {logits.shape[1]}), got range [{lo}, {hi}]")


def _check_same_shape(op, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ")


class CrossEntropy(Function):
    """Per-sample cross-entropy of logits (N, C) with labels (N,): fused, stable."""

    @staticmethod
    def forward(ctx, z, labels, smoothing):
        loss, logp = ctx.kernels.cross_entropy_forward(z, labels, smoothing)
        ctx.save(logp, labels, smoothing)
        return loss

    @staticmethod
    def backward(ctx, g):
        logp, labels, smoothing = ctx.saved  # dJ/dz = softmax(z) - q
        return ctx.kernels.cross_entropy_backward(logp, labels, g, smoothing), None


def cross_entropy(logits, labels, reduction="mean", label_smoothing=0.0):
    """Softmax + negative log-likelihood in one stable step; labels are class indices.

    Labels outside [0, C) raise ValueError on cpu; on cuda / emu they are checked inside the kernel
    (no host sync), which makes that sample's loss NaN — and `fit` stops on a NaN loss."""
    _check_labels("cross_entropy", logits, labels)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    return _reduce("cross_entropy", CrossEntropy.apply(logits, labels, smoothing=float(label_smoothing)), reduction)


def nll_loss(log_probs, labels, reduction="mean"):
    """-log p_y given log-probabilities (e.g. from log_softmax)."""
    _check_labels("nll_loss", log_probs, labels)
    rows = log_probs.device.asarray(np.arange(labels.shape[0]))
    return _reduce("nll_loss", -log_probs[rows, labels], reduction)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2 — the lectures' regression loss."""
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


def _check_probabilities(op, what, t):
    """ValueError unless every value lies in [0, 1] (read on the host: a sync on kernel devices)."""
    if t.size:
        k, axes = t.device.kernels, tuple(range(t.ndim))
        lo, hi = (Tensor._wrap(extreme(t.data, axes), t.device).item() for extreme in (k.min, k.max))
        if not (0 <= lo and hi <= 1):
            raise ValueError(f"{op}: {what} must lie in [0, 1], got range [{lo}, {hi}]")


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, p, y):
        k = ctx.kernels
        ctx.save(p, y)
        with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped to -100 as in PyTorch
            log_p, log_1mp = k.maximum(k.log(p), -100), k.maximum(k.log(k.sub(1, p)), -100)
        return k.neg(k.add(k.mul(y, log_p), k.mul(k.sub(1, y), log_1mp)))

    @staticmethod
    def backward(ctx, g):
        (p, y), k = ctx.saved, ctx.kernels  # dJ/dp = (p - y) / (p (1 - p)), denominator clamped at 1e-12
        return k.div(k.mul(g, k.sub(p, y)), k.maximum(k.mul(p, k.sub(1, p)), 1e-12)), None


def binary_cross_entropy(input, target, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]."""
    _check_same_shape("binary_cross_entropy", input, target)
    _check_probabilities("binary_cross_entropy", "input probabilities", input)
    return _reduce("binary_cross_entropy", BinaryCrossEntropy.apply(input, target), reduction)


class BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, z, y):
        k = ctx.kernels
        ctx.save(z, y)
        return k.add(k.sub(k.maximum(z, 0), k.mul(z, y)), k.log1p(k.exp(k.neg(k.abs(z)))))

    @staticmethod
    def backward(ctx, g):
        (z, y), k = ctx.saved, ctx.kernels  # dJ/dz = sigmoid(z) - y,  dJ/dy = -z
        sig = k.mul(k.add(k.tanh(k.mul(z, 0.5)), 1), 0.5)
        return k.mul(g, k.sub(sig, y)), (k.mul(g, k.neg(z)) if ctx.needs_input_grad[1] else None)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Sigmoid + binary cross-entropy fused; stable for |logit| >> 1."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    return _reduce("binary_cross_entropy_with_logits", BCEWithLogits.apply(input, target), reduction)
