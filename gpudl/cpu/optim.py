"""Multi-tensor optimizer updates in NumPy (the meaning of kernels/optim.cu), in place.

Every array is a flat 1-D buffer holding a whole parameter group (gpudl/optim/flat.py): p the
parameters θ, g their gradients, and one buffer per kind of state.  A call updates the run of
elements [start, start + count).  The learning rate η is lr[0] and the step count t is step[0]
(1-element arrays, so the kernel devices read them from device memory); `optim_tick` adds one
to t.  Notation: g_t the gradient, λ weight decay, ε eps; L2 decay first does g_t ← g_t + λ θ.

    sgd       v_1 = g_1, v_t = μ v_{t−1} + (1 − τ) g_t;   θ ← θ − η v_t   (Nesterov: θ ← θ − η (g_t + μ v_t))
    adagrad   s_t = s_{t−1} + g_t²;   θ ← θ − η / (1 + (t − 1) lr_decay) · g_t / (√s_t + ε)
    rmsprop   v_t = α v_{t−1} + (1 − α) g_t²;  centered: ḡ_t = α ḡ_{t−1} + (1 − α) g_t, ṽ_t = v_t − ḡ_t²
              d = g_t / (√ṽ_t + ε);  momentum: b_t = μ b_{t−1} + d, d = b_t;   θ ← θ − η d
    adadelta  v_t = ρ v_{t−1} + (1 − ρ) g_t²;  Δ = √(u_{t−1} + ε) / √(v_t + ε) · g_t;
              u_t = ρ u_{t−1} + (1 − ρ) Δ²;   θ ← θ − η Δ
    adam      m_t = β₁ m_{t−1} + (1 − β₁) g_t,  v_t = β₂ v_{t−1} + (1 − β₂) g_t²  (amsgrad: v_t ← max(v^max, v_t))
              θ ← θ − η / (1 − β₁ᵗ) · m_t / (√v_t / √(1 − β₂ᵗ) + ε);  decoupled: θ ← (1 − η λ) θ first, no L2

Scalar coefficients are formed in Python floats (double), the elementwise work runs in the
buffers' dtype, as in the kernels.  Buffers an option does not use may be None.  Each update is
elementwise, so a run is cut into pieces for the cpu threads (`_in_pieces`).
"""
import functools
import inspect
import math
import numbers

import numpy as np

from . import parallel

__all__ = ["optim_tick", "sgd_step", "adagrad_step", "rmsprop_step", "adadelta_step", "adam_step"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _in_pieces(update):
    """`update` (..., start, count) run on pieces of [start, start + count) on the cpu threads."""
    signature = inspect.signature(update)

    @functools.wraps(update)
    def split(*args, **kwargs):
        named = signature.bind(*args, **kwargs).arguments
        start, count = named["start"], named["count"]
        if not isinstance(count, numbers.Integral) or not isinstance(start, numbers.Integral):
            return update(**named)  # its check_flat names the bad argument
        parallel.over(int(count), 8 * int(count), lambda lo, hi: update(**{**named, "start": start + lo,
                                                                          "count": hi - lo}), products=True)
        return named["p"]
    return split


def check_flat(kernel, p, lr, step, start, count, **buffers):
    """TypeError / ValueError naming `kernel` unless p, the buffers (None passes), lr and step fit.

    p and every buffer: 1-D, C-contiguous, of one float dtype and one length; lr: 1 element of
    that dtype; step: 1 int32 element or None; 0 <= start <= start + count <= len(p)."""
    if buffers.get("g", p) is None:
        raise ValueError(f"{kernel}: g (the gradients) is None")
    if p.dtype not in FLOATS:
        raise TypeError(f"{kernel}: kernels take float32, float64 arrays, got dtype {p.dtype}")
    for name, a in {**buffers, "lr": lr}.items():
        if a is not None and a.dtype != p.dtype:
            raise TypeError(f"{kernel}: {name} has dtype {a.dtype}, p has dtype {p.dtype}")
    if step is not None:
        check_counter(kernel, step)
    for name, a in {"p": p, **buffers}.items():
        if a is not None and (a.ndim != 1 or a.shape != p.shape or not a.flags.c_contiguous):
            raise ValueError(f"{kernel}: {name} of shape {a.shape} must be a contiguous flat buffer "
                             f"of p's shape {p.shape}")
    if lr.shape != (1,):
        raise ValueError(f"{kernel}: lr must have shape (1,), got {lr.shape}")
    if not 0 <= start <= start + count <= p.size:
        raise ValueError(f"{kernel}: run [{start}, {start + count}) is outside p of shape {p.shape}")


def check_counter(kernel, step):
    """TypeError naming `kernel` unless step is a 1-element int32 counter."""
    if step.dtype != np.int32 or step.shape != (1,):
        raise TypeError(f"{kernel}: step must be a (1,) int32 counter, got {step.dtype} {step.shape}")


def require(kernel, flag, name, buffer):
    """ValueError when an enabled option (`flag`) lacks its state buffer."""
    if flag and buffer is None:
        raise ValueError(f"{kernel}: {name} is needed with these hyperparameters, got None")


def optim_tick(device, step):
    """t ← t + 1 in the 1-element int32 counter; returns it."""
    check_counter("optim_tick", step)
    step += 1
    return step


def _l2(p, g, weight_decay, out):
    """g + λθ into `out` when λ ≠ 0, else g itself."""
    if not weight_decay:
        return g
    np.multiply(p, weight_decay, out=out)
    out += g
    return out


def _blend(avg, keep, value, scale, out):
    """avg ← keep · avg + scale · value, in place; `out` (which may be `value`) is scratch."""
    avg *= keep
    avg += np.multiply(value, scale, out=out)


@_in_pieces
def sgd_step(device, p, g, momentum_buf, lr, step, momentum, dampening, weight_decay, nesterov, start, count):
    """SGD (momentum, Nesterov) over p[start:start + count], in place; returns p."""
    check_flat("sgd_step", p, lr, step, start, count, g=g, momentum_buf=momentum_buf)
    require("sgd_step", momentum, "momentum_buf", momentum_buf)
    run = slice(start, start + count)
    theta = p[run]
    d = _l2(theta, g[run], weight_decay, np.empty_like(theta))
    tmp = np.empty_like(theta)
    if momentum:
        v = momentum_buf[run]
        if int(step[0]) == 1:  # v_1 = g_1
            v[...] = d
        else:
            _blend(v, momentum, d, 1 - dampening, tmp)
        d = np.add(d, np.multiply(v, momentum, out=tmp), out=tmp) if nesterov else v
    theta -= np.multiply(d, float(lr[0]), out=tmp)
    return p


@_in_pieces
def adagrad_step(device, p, g, state_sum, lr, step, lr_decay, weight_decay, eps, start, count):
    """Adagrad over p[start:start + count], in place; returns p."""
    check_flat("adagrad_step", p, lr, step, start, count, g=g, state_sum=state_sum)
    run = slice(start, start + count)
    theta, s = p[run], state_sum[run]
    eta_t = float(lr[0]) / (1 + (int(step[0]) - 1) * lr_decay)
    d = _l2(theta, g[run], weight_decay, np.empty_like(theta))
    tmp = np.multiply(d, d, out=np.empty_like(theta))
    s += tmp
    denom = np.sqrt(s, out=tmp)
    denom += eps
    upd = np.multiply(d, eta_t, out=np.empty_like(theta))
    upd /= denom
    theta -= upd
    return p


@_in_pieces
def rmsprop_step(device, p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, start, count):
    """RMSprop (centered, momentum) over p[start:start + count], in place; returns p."""
    check_flat("rmsprop_step", p, lr, None, start, count, g=g, square_avg=square_avg, grad_avg=grad_avg,
               momentum_buf=momentum_buf)
    require("rmsprop_step", centered, "grad_avg", grad_avg)
    require("rmsprop_step", momentum > 0, "momentum_buf", momentum_buf)
    run = slice(start, start + count)
    theta, v = p[run], square_avg[run]
    d = _l2(theta, g[run], weight_decay, np.empty_like(theta))
    tmp = np.multiply(d, d, out=np.empty_like(theta))
    _blend(v, alpha, tmp, 1 - alpha, tmp)
    if centered:
        mean = grad_avg[run]
        _blend(mean, alpha, d, 1 - alpha, tmp)
        v = np.subtract(v, np.multiply(mean, mean, out=tmp), out=tmp)
    denom = np.sqrt(v, out=tmp)
    denom += eps
    scaled = np.divide(d, denom, out=denom)
    if momentum > 0:
        b = momentum_buf[run]
        b *= momentum
        b += scaled
        scaled = b
    theta -= np.multiply(scaled, float(lr[0]), out=tmp)
    return p


@_in_pieces
def adadelta_step(device, p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, start, count):
    """Adadelta over p[start:start + count], in place; returns p."""
    check_flat("adadelta_step", p, lr, None, start, count, g=g, square_avg=square_avg, acc_delta=acc_delta)
    run = slice(start, start + count)
    theta, v, u = p[run], square_avg[run], acc_delta[run]
    d = _l2(theta, g[run], weight_decay, np.empty_like(theta))
    tmp = np.multiply(d, d, out=np.empty_like(theta))
    _blend(v, rho, tmp, 1 - rho, tmp)
    delta = np.add(u, eps, out=np.empty_like(theta))
    np.sqrt(delta, out=delta)
    denom = np.add(v, eps, out=tmp)
    delta /= np.sqrt(denom, out=denom)
    delta *= d
    _blend(u, rho, np.multiply(delta, delta, out=tmp), 1 - rho, tmp)
    theta -= np.multiply(delta, float(lr[0]), out=tmp)
    return p


@_in_pieces
def adam_step(device, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, step, beta1, beta2, eps, weight_decay,
              amsgrad, decoupled, start, count):
    """Adam / AdamW (decoupled) / AMSGrad over p[start:start + count], in place; returns p."""
    check_flat("adam_step", p, lr, step, start, count, g=g, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
               max_exp_avg_sq=max_exp_avg_sq)
    require("adam_step", amsgrad, "max_exp_avg_sq", max_exp_avg_sq)
    run = slice(start, start + count)
    theta, m, v = p[run], exp_avg[run], exp_avg_sq[run]
    eta, t = float(lr[0]), int(step[0])
    if decoupled:
        if weight_decay:
            theta *= 1 - eta * weight_decay
        d = g[run]
    else:
        d = _l2(theta, g[run], weight_decay, np.empty_like(theta))
    tmp = np.empty_like(theta)
    _blend(m, beta1, d, 1 - beta1, tmp)
    _blend(v, beta2, np.multiply(d, d, out=tmp), 1 - beta2, tmp)
    if amsgrad:
        v = np.maximum(max_exp_avg_sq[run], v, out=max_exp_avg_sq[run])
    denom = np.sqrt(v, out=tmp)
    denom *= 1 / math.sqrt(1 - beta2 ** t)
    denom += eps
    upd = np.divide(m, denom, out=denom)
    upd *= eta / (1 - beta1 ** t)
    theta -= upd
    return p
