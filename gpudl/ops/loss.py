"""Loss functions; `reduction` is 'mean' (default), 'sum' or 'none'.

    cross_entropy   J = -sum_c q_c log softmax(z)_c,  q = (1 - eps) onehot(y) + eps / C
    nll_loss        J = -log p_y          (input: log-probabilities)
    mse_loss        J = (yhat - y)^2
    binary_cross_entropy              J = -(y log p + (1 - y) log(1 - p)),  logs clamped at -100
    binary_cross_entropy_with_logits  J = max(z, 0) - z y + log(1 + e^{-|z|})   (stable)
"""
import numpy as np

from ..backend import to_numpy
from ..tensor import Function, Tensor
from .activation import log_softmax

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
    if labels.size:
        xp = labels.device.xp  # one device-to-host copy for both bounds
        lo, hi = to_numpy(xp.stack((labels.data.min(), labels.data.max()))).tolist()
        if lo < 0 or hi >= logits.shape[1]:
            raise ValueError(f"{op}: labels must lie in [0, {logits.shape[1]}), got range [{lo}, {hi}]")


def _check_same_shape(op, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ")


class CrossEntropy(Function):
    """Per-sample cross-entropy of logits (N, C) with labels (N,): fused, stable."""

    @staticmethod
    def forward(ctx, z, labels, smoothing):
        xp = ctx.xp
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        q = xp.full(z.shape, smoothing / z.shape[1], dtype=z.dtype)
        q[xp.arange(z.shape[0]), labels] += 1 - smoothing
        ctx.save(logp, q)
        return -(q * logp).sum(axis=1)

    @staticmethod
    def backward(ctx, g):
        logp, q = ctx.saved  # dJ/dz = softmax(z) - q
        return (ctx.xp.exp(logp) - q) * g[:, None], None


def cross_entropy(logits, labels, reduction="mean", label_smoothing=0.0):
    """Softmax + negative log-likelihood in one stable step; labels are class indices."""
    _check_labels("cross_entropy", logits, labels)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    return _reduce("cross_entropy", CrossEntropy.apply(logits, labels, smoothing=float(label_smoothing)), reduction)


def nll_loss(log_probs, labels, reduction="mean"):
    """-log p_y given log-probabilities (e.g. from log_softmax)."""
    _check_labels("nll_loss", log_probs, labels)
    rows = Tensor._wrap(log_probs.device.xp.arange(labels.shape[0]), log_probs.device)
    return _reduce("nll_loss", -log_probs[rows, labels], reduction)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2 — the lectures' regression loss."""
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce("mse_loss", diff * diff, reduction)


class BinaryCrossEntropy(Function):
    @staticmethod
    def forward(ctx, p, y):
        xp = ctx.xp
        if ((p < 0) | (p > 1)).any():
            raise ValueError("binary_cross_entropy: input probabilities must lie in [0, 1]")
        ctx.save(p, y)
        with np.errstate(divide="ignore"):  # log 0 = -inf, then clamped to -100 as in PyTorch
            log_p, log_1mp = xp.maximum(xp.log(p), -100), xp.maximum(xp.log(1 - p), -100)
        return -(y * log_p + (1 - y) * log_1mp)

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved  # dJ/dp = (p - y) / (p (1 - p)), denominator clamped at 1e-12
        return g * (p - y) / ctx.xp.maximum(p * (1 - p), 1e-12), None


def binary_cross_entropy(input, target, reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1]."""
    _check_same_shape("binary_cross_entropy", input, target)
    return _reduce("binary_cross_entropy", BinaryCrossEntropy.apply(input, target), reduction)


class BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, z, y):
        xp = ctx.xp
        ctx.save(z, y)
        return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved  # dJ/dz = sigmoid(z) - y
        sig = (ctx.xp.tanh(z * 0.5) + 1) * 0.5
        return g * (sig - y), (g * -z if ctx.needs_input_grad[1] else None)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Sigmoid + binary cross-entropy fused; stable for |logit| >> 1."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    return _reduce("binary_cross_entropy_with_logits", BCEWithLogits.apply(input, target), reduction)
