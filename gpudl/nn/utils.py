"""Regularisation and gradient helpers.

    clip_grad_norm_   g <- g * min(1, max_norm / ||g||), ||g|| over all parameters together
    clip_grad_value_  g <- clip(g, -clip_value, clip_value), elementwise
    zero_grad         forget the gradients (set_to_none=True), or zero them in place
    l1_penalty        lambda * sum |w|      (add to J(W); drives weights to exactly 0)
    l2_penalty        lambda * sum w^2      (add to J(W); weight_decay in the optimizers is the
                                             same idea applied directly in the update)
"""
import math

from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so their global norm is at most max_norm; return the norm."""
    grads = [p.grad for p in _parameters(parameters) if p.grad is not None]
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


def _parameters(parameters):
    """A list of the tensors given as one Tensor or an iterable of them (as PyTorch's utilities take)."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient elementwise into [-clip_value, clip_value], in place (one clip kernel each)."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _parameters(parameters):
        if p.grad is not None:
            with p.grad.device.activate():
                p.grad.device.kernels.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def zero_grad(parameters, set_to_none=True):
    """Forget each gradient (`.grad = None`, PyTorch's default), or with set_to_none=False zero it in
    place (one fill kernel each), keeping its memory: the rule of Module and Optimizer.zero_grad."""
    for p in _parameters(parameters):
        if set_to_none:
            p.grad = None
        elif p.grad is not None:
            with p.grad.device.activate():
                p.grad.device.kernels.fill(p.grad.data, 0)


def l1_penalty(parameters, lam):
    """lambda * sum |w| over the given parameters (a differentiable scalar)."""
    return lam * sum(p.abs().sum() for p in parameters)


def l2_penalty(parameters, lam):
    """lambda * sum w^2 over the given parameters (a differentiable scalar)."""
    return lam * sum((p * p).sum() for p in parameters)
