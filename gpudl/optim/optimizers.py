"""The six optimizers, simplest first. Each is PyTorch's algorithm with PyTorch's names and defaults.

Notation: θ parameters, g_t = ∇J(θ_t) the gradient at step t = 1, 2, ..., η learning rate,
λ weight decay, ε a small constant keeping divisions finite. Squares, square roots and
divisions of vectors are elementwise. `update` gets raw arrays of the parameter's device
(`xp` is numpy or cupy) and changes `p` in place, so its dtype never changes.

L2 weight decay (every optimizer but AdamW) adds λθ to the gradient first:
    g_t ← g_t + λ θ_t,  i.e. the gradient of J(θ) + (λ/2)‖θ‖².
"""
import math

from .optimizer import Optimizer


def _l2(g, p, weight_decay):
    """g + λθ (a new array; the parameter's .grad is never modified)."""
    return g + weight_decay * p if weight_decay else g


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

        plain:     θ ← θ − η g_t
        momentum:  v_1 = g_1,  v_t = μ v_{t−1} + (1 − τ) g_t        (τ = dampening)
                   θ ← θ − η v_t
        nesterov:  θ ← θ − η (g_t + μ v_t)      (requires μ > 0 and τ = 0)

    Convention: PyTorch (above) keeps η outside the velocity. Many textbooks write
    v ← μ v − η g; θ ← θ + v, which is the same trajectory for a constant η but not
    when η changes (a scheduler): there old velocity keeps the old η. Nesterov in the
    textbook form evaluates the gradient at the look-ahead point θ + μ v; PyTorch's
    g + μ v is the usual rewrite in terms of the current θ.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: invalid nesterov=True with momentum={group['momentum']} and "
                             f"dampening={group['dampening']}: Nesterov needs momentum > 0 and dampening = 0")

    def update(self, p, g, state, group, xp):
        mu = group["momentum"]
        g = _l2(g, p, group["weight_decay"])
        if mu:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = xp.array(g, dtype=p.dtype)  # v_1 = g_1
            else:
                v *= mu
                v += (1 - group["dampening"]) * g
            g = g + mu * v if group["nesterov"] else v
        p -= group["lr"] * g


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step shrinks with the sum of its squared gradients.

        η_t = η / (1 + (t − 1) · lr_decay)
        s_0 = initial_accumulator_value,  s_t = s_{t−1} + g_t²
        θ ← θ − η_t g_t / (√s_t + ε)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def update(self, p, g, state, group, xp):
        if "sum" not in state:
            state["step"], state["sum"] = 0, xp.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        g = _l2(g, p, group["weight_decay"])
        state["sum"] += g * g
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p -= lr_t * g / (xp.sqrt(state["sum"]) + group["eps"])


class RMSprop(Optimizer):
    """RMSprop: Adagrad with a leaky (exponential) average of squared gradients.

        v_t = α v_{t−1} + (1 − α) g_t²                                  (v_0 = 0)
        centered:  ḡ_t = α ḡ_{t−1} + (1 − α) g_t,  ṽ_t = v_t − ḡ_t²     (else ṽ_t = v_t)
        no momentum:  θ ← θ − η g_t / (√ṽ_t + ε)
        momentum μ:   b_t = μ b_{t−1} + g_t / (√ṽ_t + ε),  θ ← θ − η b_t   (b_0 = 0)

    α is the decay rate (PyTorch's `alpha`, default 0.99; Hinton's lecture suggests 0.9).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def update(self, p, g, state, group, xp):
        alpha, mu = group["alpha"], group["momentum"]
        if "square_avg" not in state:
            state["step"], state["square_avg"] = 0, xp.zeros_like(p)
        state["step"] += 1
        g = _l2(g, p, group["weight_decay"])
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            mean = state.setdefault("grad_avg", xp.zeros_like(p))
            mean *= alpha
            mean += (1 - alpha) * g
            v = v - mean * mean
        scaled = g / (xp.sqrt(v) + group["eps"])
        if mu > 0:
            b = state.setdefault("momentum_buffer", xp.zeros_like(p))
            b *= mu
            b += scaled
            scaled = b
        p -= group["lr"] * scaled


class Adadelta(Optimizer):
    """Adadelta: RMSprop whose step carries the units of θ (a running RMS of past updates).

        v_t = ρ v_{t−1} + (1 − ρ) g_t²                                   (v_0 = 0)
        Δθ_t = √(u_{t−1} + ε) / √(v_t + ε) · g_t
        u_t = ρ u_{t−1} + (1 − ρ) Δθ_t²                                  (u_0 = 0)
        θ ← θ − η Δθ_t

    Zeiler's paper has no η (η = 1, PyTorch's default); ε sits inside both roots.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def update(self, p, g, state, group, xp):
        rho, eps = group["rho"], group["eps"]
        if "square_avg" not in state:
            state["step"], state["square_avg"], state["acc_delta"] = 0, xp.zeros_like(p), xp.zeros_like(p)
        state["step"] += 1
        g = _l2(g, p, group["weight_decay"])
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= group["lr"] * delta


class Adam(Optimizer):
    """Adam: momentum (first moment) over RMSprop (second moment), both bias-corrected.

        m_t = β₁ m_{t−1} + (1 − β₁) g_t,    v_t = β₂ v_{t−1} + (1 − β₂) g_t²   (m_0 = v_0 = 0)
        m̂_t = m_t / (1 − β₁ᵗ),               v̂_t = v_t / (1 − β₂ᵗ)
        amsgrad:  v_t^max = max(v_{t−1}^max, v_t),  v̂_t = v_t^max / (1 − β₂ᵗ)
        θ ← θ − η m̂_t / (√v̂_t + ε)

    `weight_decay` here is L2 (added to g_t), which the adaptive scaling then weakens for
    coordinates with large gradients; AdamW decouples it.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def update(self, p, g, state, group, xp):
        (beta1, beta2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if "exp_avg" not in state:
            state["step"], state["exp_avg"], state["exp_avg_sq"] = 0, xp.zeros_like(p), xp.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if self.decoupled_weight_decay:
            p *= 1 - lr * wd
        else:
            g = _l2(g, p, wd)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = xp.empty_like(p)  # the one temporary, reused for each term below
        m *= beta1
        m += xp.multiply(g, 1 - beta1, out=tmp)
        v *= beta2
        tmp = xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v += tmp
        if group["amsgrad"]:
            v = state.setdefault("max_exp_avg_sq", xp.zeros_like(p))
            xp.maximum(v, state["exp_avg_sq"], out=v)
        denom = xp.sqrt(v, out=tmp)  # √v̂_t + ε = √v_t / √(1 − β₂ᵗ) + ε
        denom *= 1 / math.sqrt(1 - beta2 ** t)
        denom += group["eps"]
        step = xp.divide(m, denom, out=tmp)
        step *= lr / (1 - beta1 ** t)
        p -= step


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter).

        θ ← θ − η λ θ            (first, and not through the gradient)
        then the Adam update above with g_t unchanged.

    The decay is proportional to η, as in PyTorch; the paper writes a separate schedule
    multiplier η_t for both terms.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
