"""Fused bias + activation in NumPy (the meaning of kernels/activation.cu and activation.cuh).

    z = x + b (b broadcast along axis 1: features of (N, F), channels of NCHW),   y = f(z)
    dL/dx = dL/dy * f'(z),   dL/db = sum of dL/dx over every axis but 1

with s(z) = 1 / (1 + e^-z) (computed as (1 + tanh(z/2)) / 2: no overflow), Phi the standard
normal CDF, a = `slope` and t = `threshold`:

    identity   f = z                          f' = 1
    relu       f = max(z, 0)                  f' = [z > 0]
    leaky_relu f = z if z > 0 else a z        f' = 1 if z > 0 else a
    sigmoid    f = s(z)                       f' = f (1 - f)
    tanh       f = tanh z                     f' = 1 - f^2
    gelu_tanh  f = z/2 (1 + tanh u),  u = sqrt(2/pi) (z + 0.044715 z^3)
               f' = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
    gelu       f = z Phi(z) = z/2 (1 + erf(z / sqrt 2))     f' = Phi(z) + z e^{-z^2/2} / sqrt(2 pi)
    elu        f = z if z > 0 else a (e^z - 1)              f' = 1 if z > 0 else a e^z
    silu       f = z s(z)                                   f' = s(z) (1 + z (1 - s(z)))
    softplus   f = log(1 + e^{a z}) / a,  or z where a z > t f' = s(a z),  or 1 where a z > t

erf is Python's math.erf applied per element (NumPy has none): exact, but about 60 times slower
than np.tanh, so the cpu `gelu` costs ~0.1 us per element.
"""
import math

import numpy as np

from .geometry import ACTIVATIONS, act_code, check_bias, check_same_dtype

__all__ = ["bias_act_forward", "bias_act_backward"]

_GELU_C = float(np.sqrt(2.0 / np.pi))  # Python floats keep float32 arrays float32
_GELU_A = 0.044715
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_erf = np.vectorize(math.erf, otypes=[np.float64])


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


def _sigmoid(z, out=None):
    """s(z) = (1 + tanh(z/2)) / 2, into `out` when given."""
    y = np.multiply(z, 0.5, out=out)
    np.tanh(y, out=y)
    y += 1
    y *= 0.5
    return y


def _gelu_tanh(z):
    return np.tanh(_GELU_C * (z + _GELU_A * z ** 3))


def _normal_cdf(z):
    """Phi(z) = (1 + erf(z / sqrt 2)) / 2 in z's dtype."""
    return (0.5 * (1 + _erf(z * _SQRT1_2))).astype(z.dtype, copy=False)


def _softplus(z, beta, threshold):
    """log(1 + e^{beta z}) / beta as max(u, 0) + log1p(e^-|u|) (u = beta z: no overflow), z above the threshold."""
    u = z * beta
    return np.where(u > threshold, z, (np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))) / beta)


def _value(name, z, out, slope, threshold):
    """f(z) for activation `name` other than identity (written into `out` where the formula allows)."""
    if name == "relu":
        return np.maximum(z, 0, out=out)
    if name == "leaky_relu":
        scaled = z * z.dtype.type(slope)
        if 0 <= slope <= 1:  # then max(z, a z) picks z for z > 0 and a z otherwise
            return np.maximum(z, scaled, out=scaled)
        return np.where(z > 0, z, scaled)
    if name == "sigmoid":
        return _sigmoid(z, out)
    if name == "tanh":
        return np.tanh(z, out=out)
    if name == "gelu_tanh":
        return z * 0.5 * (1 + _gelu_tanh(z))
    if name == "gelu":
        return z * _normal_cdf(z)
    if name == "elu":
        return np.where(z > 0, z, slope * np.expm1(np.minimum(z, 0)))
    if name == "silu":
        return z * _sigmoid(z)
    return _softplus(z, slope, threshold)


def bias_act_forward(device, x, bias, act, slope=0.01, threshold=20.0):
    """y = f(x + b); returns a new array of x's dtype."""
    name = ACTIVATIONS[act_code("bias_act_forward", act)]
    z, fresh = _pre_activation("bias_act_forward", x, bias)
    if name == "identity":
        y = z if fresh else x.copy()
    else:
        y = _value(name, z, z if fresh else None, slope, threshold)  # write into z only when it is ours
    return y.astype(x.dtype, copy=False)


def _derivative(name, z, slope, threshold):
    """f'(z) as a new array, for activation `name` other than identity."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        d = (z > 0).astype(z.dtype)  # [z > 0] (1 - a) + a, without a masked select
        d *= 1 - slope
        d += slope
        return d
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return 1 - t * t
    if name == "gelu_tanh":
        t = _gelu_tanh(z)
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * z * z)
    if name == "gelu":
        return _normal_cdf(z) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    if name == "elu":
        return np.where(z > 0, 1, slope * np.exp(np.minimum(z, 0))).astype(z.dtype, copy=False)
    if name == "silu":
        s = _sigmoid(z)
        return s * (1 + z * (1 - s))
    u = z * slope
    return np.where(u > threshold, 1, _sigmoid(u)).astype(z.dtype, copy=False)


def bias_act_backward(device, grad_y, x, bias, act, slope=0.01, threshold=20.0):
    """(dL/dx, dL/db or None) given dL/dy and the pre-bias input x."""
    name = ACTIVATIONS[act_code("bias_act_backward", act)]
    if grad_y.shape != x.shape:
        raise ValueError(f"bias_act_backward: grad_y shape {grad_y.shape} differs from x shape {x.shape}")
    z, _ = _pre_activation("bias_act_backward", x, bias)
    if name == "identity":
        grad_x = grad_y.astype(x.dtype, copy=True)
    else:  # f'(z) is a new array: multiply dL/dy into it
        grad_x = _derivative(name, z, slope, threshold).astype(x.dtype, copy=False)
        np.multiply(grad_x, grad_y, out=grad_x, dtype=x.dtype)
    if bias is None:
        return grad_x, None
    axes = (0,) + tuple(range(2, x.ndim)) if x.ndim > 1 else ()
    return grad_x, grad_x.sum(axis=axes)
