"""Regularisation helpers.

    clip_grad_norm_   g <- g * min(1, max_norm / ||g||), ||g|| over all parameters together
    l1_penalty        lambda * sum |w|      (add to J(W); drives weights to exactly 0)
    l2_penalty        lambda * sum w^2      (add to J(W); weight_decay in the optimizers is the
                                             same idea applied directly in the update)
"""
import math

from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so their global norm is at most max_norm; return the norm."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    def part(g):  # max |g| or sum |g|^p of one gradient, as a host float (a sync on kernel devices)
        k, axes = g.device.kernels, tuple(range(g.ndim))
        a = k.abs(g.data)
        value = k.max(a, axes) if norm_type == math.inf else k.sum(k.pow(a, norm_type), axes)
        return float(Tensor._wrap(value, g.device).item())

    parts = [part(g) for g in grads]
    total = max(parts) if norm_type == math.inf else sum(parts) ** (1.0 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g.device.kernels.mul(g.data, scale, out=g.data)
    return total


def l1_penalty(parameters, lam):
    """lambda * sum |w| over the given parameters (a differentiable scalar)."""
    return lam * sum(p.abs().sum() for p in parameters)


def l2_penalty(parameters, lam):
    """lambda * sum w^2 over the given parameters (a differentiable scalar)."""
    return lam * sum((p * p).sum() for p in parameters)
