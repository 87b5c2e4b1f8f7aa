"""Linear maps, dropout and batch normalisation.

    linear      y = x W^T + b            W is (out_features, in_features)
    dropout     y = x * m / (1 - p),     m_i ~ Bernoulli(1 - p)   (inverted dropout)
    batch_norm  y = gamma (x - mu_B) / sqrt(sigma_B^2 + eps) + beta
"""
import numpy as np

from ..creation import generator
from ..tensor import Function, Tensor, no_grad


class Linear(Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save(x, w)
        y = x @ w.T
        return y if b is None else y + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved  # dL/dx = g W,  dL/dW = g^T x (contiguous, like W),  dL/db = sum_n g
        need = ctx.needs_input_grad
        gx = g @ w if need[0] else None
        gw = g.T @ x if need[1] else None
        gb = g.sum(axis=0) if need[2] else None
        return gx, gw, gb


def linear(x, w, b=None):
    """y = x W^T + b over the last axis of x."""
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
                         f"but weight {w.shape} expects {w.shape[1]}")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias shape {b.shape} does not match out_features={w.shape[0]}")
    if x.ndim != 2:  # fold every leading axis into the batch
        return linear(x.reshape(-1, x.shape[-1]), w, b).reshape(x.shape[:-1] + (w.shape[0],))
    return Linear.apply(x, w, b)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the survivors by 1/(1 - p); identity in eval."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = generator(x.device).random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * Tensor._wrap(mask, x.device)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1) of (N, C) or (N, C, H, W) input.

    Training uses the batch's mean and biased variance, and updates the running statistics
    in place: r <- (1 - momentum) r + momentum * s, with the unbiased variance (PyTorch's rule).
    Evaluation uses the running statistics.
    """
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: expected (N, C) or (N, C, H, W) input, got shape {x.shape}")
    channels = x.shape[1]
    if running_mean is not None and running_mean.shape != (channels,):
        raise ValueError(f"batch_norm: running_mean shape {running_mean.shape} does not match {channels} channels")
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // channels
        if n < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {x.shape}")
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        if running_mean is not None:
            with no_grad():
                running_mean.data *= 1 - momentum
                running_mean.data += momentum * mean.data.reshape(channels)
                running_var.data *= 1 - momentum
                running_var.data += momentum * var.data.reshape(channels) * (n / (n - 1))
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y
