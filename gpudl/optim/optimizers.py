"""The six optimizers, simplest first. Each is PyTorch's algorithm with PyTorch's names and defaults.

Notation: θ parameters, g_t = ∇J(θ_t) the gradient at step t = 1, 2, ..., η learning rate,
λ weight decay, ε a small constant keeping divisions finite. Squares, square roots and
divisions of vectors are elementwise. Each optimizer names its state buffers (`buffers`:
name -> initial value) and launches its multi-tensor table function (`update`: one call per
run of a group's flat buffers, see gpudl/optim/optimizer.py), which changes the parameters
in place, so their dtype never changes.  The math runs in gpudl/cpu/optim.py (cpu) and
kernels/optim.cu (cuda, emu).

L2 weight decay (every optimizer but AdamW) adds λθ to the gradient first:
    g_t ← g_t + λ θ_t,  i.e. the gradient of J(θ) + (λ/2)‖θ‖².
"""
from .optimizer import Optimizer


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

    v_1 = g_1 happens at the group's first step with momentum (its device step counter,
    advanced only when μ ≠ 0, reads 1); the state dict holds the momentum buffers alone.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: invalid nesterov=True with momentum={group['momentum']} and "
                             f"dampening={group['dampening']}: Nesterov needs momentum > 0 and dampening = 0")

    counts_steps = False  # PyTorch's SGD state is the momentum buffer alone

    def buffers(self, group):
        return {"momentum_buffer": 0} if group["momentum"] else {}

    def ticks(self, group):
        return bool(group["momentum"])  # t == 1 marks v_1 = g_1

    def update(self, flat, state, group, start, count):
        flat.kernels.sgd_step(flat.P, flat.G, state.get("momentum_buffer"), flat.lr, flat.step, group["momentum"],
                              group["dampening"], group["weight_decay"], group["nesterov"], start, count)


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step shrinks with the sum of its squared gradients.

        η_t = η / (1 + (t − 1) · lr_decay)
        s_0 = initial_accumulator_value,  s_t = s_{t−1} + g_t²
        θ ← θ − η_t g_t / (√s_t + ε)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def buffers(self, group):
        return {"sum": group["initial_accumulator_value"]}

    def update(self, flat, state, group, start, count):
        flat.kernels.adagrad_step(flat.P, flat.G, state["sum"], flat.lr, flat.step, group["lr_decay"],
                                  group["weight_decay"], group["eps"], start, count)


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

    def buffers(self, group):
        names = ["square_avg"] + ["grad_avg"] * group["centered"] + ["momentum_buffer"] * (group["momentum"] > 0)
        return dict.fromkeys(names, 0)

    def update(self, flat, state, group, start, count):
        flat.kernels.rmsprop_step(flat.P, flat.G, state["square_avg"], state.get("grad_avg"),
                                  state.get("momentum_buffer"), flat.lr, group["alpha"], group["eps"],
                                  group["weight_decay"], group["momentum"], group["centered"], start, count)


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

    def buffers(self, group):
        return {"square_avg": 0, "acc_delta": 0}

    def update(self, flat, state, group, start, count):
        flat.kernels.adadelta_step(flat.P, flat.G, state["square_avg"], state["acc_delta"], flat.lr, group["rho"],
                                   group["eps"], group["weight_decay"], start, count)


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

    def buffers(self, group):
        return dict.fromkeys(["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * group["amsgrad"], 0)

    def update(self, flat, state, group, start, count):
        beta1, beta2 = group["betas"]
        flat.kernels.adam_step(flat.P, flat.G, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
                               flat.lr, flat.step, beta1, beta2, group["eps"], group["weight_decay"],
                               group["amsgrad"], self.decoupled_weight_decay, start, count)


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
