"""Fused bias + activation in NumPy (the meaning of kernels/activation.cu).

    z = x + b (b broadcast along axis 1: features of (N, F), channels of NCHW),   y = f(z)
    dL/dx = dL/dy * f'(z),   dL/db = sum of dL/dx over every axis but 1

    identity  f = z                          f' = 1
    relu      f = max(z, 0)                  f' = [z > 0]
    leaky     f = z if z > 0 else a z        f' = 1 if z > 0 else a
    sigmoid   f = 1 / (1 + e^-z)             f' = f (1 - f)        (computed as (1 + tanh(z/2)) / 2: no overflow)
    tanh      f = tanh z                     f' = 1 - f^2
    gelu      f = z/2 (1 + tanh u),  u = sqrt(2/pi) (z + 0.044715 z^3)
              f' = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
"""
import numpy as np

from .geometry import act_code, check_bias, check_same_dtype

__all__ = ["bias_act_forward", "bias_act_backward"]

_GELU_C = float(np.sqrt(2.0 / np.pi))  # Python floats keep float32 arrays float32
_GELU_A = 0.044715


def _pre_activation(op, x, bias):
    """(z, fresh): z = x + b (bias along axis 1) as a new array, or x itself when there is no bias.

    `fresh` says whether z may be overwritten: the activations then work in place, so each
    costs one pass over memory (NumPy ops are memory-bound here) and no extra allocation.
    """
    check_same_dtype(op, x=x, bias=bias)
    if bias is None:
        return x, False
    check_bias(op, x.shape, bias.shape)
    return x + bias.reshape(bias.shape + (1,) * (x.ndim - 2)), True


def _gelu_tanh(z):
    return np.tanh(_GELU_C * (z + _GELU_A * z ** 3))


def bias_act_forward(device, x, bias, act, slope=0.01):
    """y = f(x + b); returns a new array of x's dtype."""
    code = act_code("bias_act_forward", act)
    z, fresh = _pre_activation("bias_act_forward", x, bias)
    out = z if fresh else None  # write into z only when it is ours
    if code == 0:
        y = z if fresh else x.copy()
    elif code == 1:
        y = np.maximum(z, 0, out=out)
    elif code == 2:
        scaled = z * z.dtype.type(slope)
        if 0 <= slope <= 1:  # then max(z, a z) picks z for z > 0 and a z otherwise
            y = np.maximum(z, scaled, out=scaled)
        else:
            y = np.where(z > 0, z, scaled)
    elif code == 3:
        y = np.multiply(z, 0.5, out=out)
        np.tanh(y, out=y)
        y += 1
        y *= 0.5
    elif code == 4:
        y = np.tanh(z, out=out)
    else:
        y = z * 0.5 * (1 + _gelu_tanh(z))
    return y.astype(x.dtype, copy=False)


def _derivative(code, z, slope):
    """f'(z) as a new array, for activation `code` >= 1."""
    if code == 1:
        return (z > 0).astype(z.dtype)
    if code == 2:
        d = (z > 0).astype(z.dtype)  # [z > 0] (1 - a) + a, without a masked select
        d *= 1 - slope
        d += slope
        return d
    if code == 3:
        s = (np.tanh(z * 0.5) + 1) * 0.5
        return s * (1 - s)
    if code == 4:
        t = np.tanh(z)
        return 1 - t * t
    t = _gelu_tanh(z)
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * z * z)


def bias_act_backward(device, grad_y, x, bias, act, slope=0.01):
    """(dL/dx, dL/db or None) given dL/dy and the pre-bias input x."""
    code = act_code("bias_act_backward", act)
    if grad_y.shape != x.shape:
        raise ValueError(f"bias_act_backward: grad_y shape {grad_y.shape} differs from x shape {x.shape}")
    z, _ = _pre_activation("bias_act_backward", x, bias)
    if code == 0:
        grad_x = grad_y.astype(x.dtype, copy=True)
    else:  # f'(z) is a new array of z's dtype: multiply dL/dy into it
        grad_x = _derivative(code, z, slope)
        np.multiply(grad_x, grad_y, out=grad_x, dtype=x.dtype)
    if bias is None:
        return grad_x, None
    axes = (0,) + tuple(range(2, x.ndim)) if x.ndim > 1 else ()
    return grad_x, grad_x.sum(axis=axes)
