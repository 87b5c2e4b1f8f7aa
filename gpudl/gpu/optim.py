"""Launch wrappers for kernels/optim.cu: one launch updates a run of a parameter group's flat buffers.

The arguments are the group's flat 1-D buffers (gpudl/optim/flat.py): p, g and the state
buffers (None where the hyperparameters need none; the kernel then gets p in that slot and
never reads it), lr and step as 1-element device arrays (read by the kernel, so a new η or
the next t costs no host sync and no recompile), and the run [start, start + count).
Hyperparameters go to the kernels as double; the math is in kernels/optim.cu and
gpudl/cpu/optim.py.  Returns p, updated in place.
"""
import numpy as np

from ..cpu.optim import FLOATS, check_counter, check_flat, require
from .loader import THREADS, blocks, check_device, ints, launch, suffix

__all__ = ["optim_tick", "sgd_step", "adagrad_step", "rmsprop_step", "adadelta_step", "adam_step"]

FAMILY = "optim"


def _doubles(*values):
    """Kernel `double` arguments."""
    return tuple(np.float64(v) for v in values)


def _run(device, kernel, p, g, states, lr, step, scalars, start, count):
    """Check the buffers and launch `kernel` over p[start:start + count].

    `states` are the state buffers in kernel order ({name: array or None}); `scalars` the
    C-typed hyperparameters that follow lr (and step when the kernel reads it)."""
    check_flat(kernel, p, lr, step, start, count, g=g, **states)
    arrays = {"p": p, "g": g, "lr": lr, "step": step, **states}
    for name, a in arrays.items():
        if a is not None:
            check_device(device, kernel, name, a)
    name = suffix(kernel, p.dtype, FLOATS)
    counters = (lr,) if step is None else (lr, step)
    args = (p, g) + tuple(p if a is None else a for a in states.values()) + counters + scalars + ints(start, count)
    launch(device, FAMILY, name, (blocks(count),), (THREADS,), args,
           f"p {p.shape}, run [{start}, {start + count})")
    return p


def optim_tick(device, step):
    """t ← t + 1 in the 1-element int32 device counter (one thread); returns it."""
    check_device(device, "optim_tick", "step", step)
    check_counter("optim_tick", step)
    launch(device, FAMILY, "optim_tick", (1,), (1,), (step,), f"step {step.shape}")
    return step


def sgd_step(device, p, g, momentum_buf, lr, step, momentum, dampening, weight_decay, nesterov, start, count):
    """SGD (momentum, Nesterov) over p[start:start + count]; v_1 = g_1 when step[0] == 1."""
    require("sgd_step", momentum, "momentum_buf", momentum_buf)
    return _run(device, "sgd_step", p, g, {"momentum_buf": momentum_buf}, lr, step,
                _doubles(momentum, dampening, weight_decay) + ints(nesterov), start, count)


def adagrad_step(device, p, g, state_sum, lr, step, lr_decay, weight_decay, eps, start, count):
    """Adagrad over p[start:start + count], with η_t = η / (1 + (t − 1) lr_decay)."""
    return _run(device, "adagrad_step", p, g, {"state_sum": state_sum}, lr, step,
                _doubles(lr_decay, weight_decay, eps), start, count)


def rmsprop_step(device, p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay, momentum,
                 centered, start, count):
    """RMSprop (centered, momentum) over p[start:start + count]."""
    require("rmsprop_step", centered, "grad_avg", grad_avg)
    require("rmsprop_step", momentum > 0, "momentum_buf", momentum_buf)
    return _run(device, "rmsprop_step", p, g,
                {"square_avg": square_avg, "grad_avg": grad_avg, "momentum_buf": momentum_buf}, lr, None,
                _doubles(alpha, eps, weight_decay, momentum) + ints(centered), start, count)


def adadelta_step(device, p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, start, count):
    """Adadelta over p[start:start + count]."""
    return _run(device, "adadelta_step", p, g, {"square_avg": square_avg, "acc_delta": acc_delta}, lr, None,
                _doubles(rho, eps, weight_decay), start, count)


def adam_step(device, p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, step, beta1, beta2, eps, weight_decay,
              amsgrad, decoupled, start, count):
    """Adam / AdamW (decoupled) / AMSGrad over p[start:start + count], bias-corrected with t = step[0]."""
    require("adam_step", amsgrad, "max_exp_avg_sq", max_exp_avg_sq)
    return _run(device, "adam_step", p, g,
                {"exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "max_exp_avg_sq": max_exp_avg_sq}, lr, step,
                _doubles(beta1, beta2, eps, weight_decay) + ints(amsgrad, decoupled), start, count)
