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

from . import parallel
from .geometry import ACTIVATIONS, act_code, check_bias, check_same_dtype

__all__ = ["bias_act_forward", "bias_act_backward"]

_GELU_C = float(np.sqrt(2.0 / np.pi))  # Python floats keep float32 arrays float32
_GELU_A = 0.044715
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _channels_first(op, x, bias):
    """x as an array with channels on axis 1 (a 0-d or 1-D x is one row) after checking dtypes and bias."""
    check_same_dtype(op, x=x, bias=bias)
    if bias is not None:
        check_bias(op, x.shape, bias.shape)
    return x.reshape(1, -1) if x.ndim < 2 else x


def _bias_slice(bias, lo, hi, ndim):
    """bias[lo:hi] broadcastable against axis 1 of an ndim array (None without a bias)."""
    return None if bias is None else bias[lo:hi].reshape((-1,) + (1,) * (ndim - 2))


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
    if name == "relu":  # against zeros of one row's shape: NumPy's maximum has no fast loop for a scalar
        return np.maximum(z, np.zeros(z.shape[1:], z.dtype), out=out)  # (602k floats: 0.09 ms, not 0.22)
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


def activate_into(z, out, name, slope=0.01, threshold=20.0):
    """out <- f(z) for activation `name` (z may be out itself); returns out."""
    y = z if name == "identity" else _value(name, z, out, slope, threshold)
    if y is not out:
        np.copyto(out, y, casting="same_kind")
    return out


def bias_act_forward(device, x, bias, act, slope=0.01, threshold=20.0):
    """y = f(x + b), a new array of x's dtype, by pieces of the channels on the cpu threads."""
    name = ACTIVATIONS[act_code("bias_act_forward", act)]
    x2 = _channels_first("bias_act_forward", x, bias)
    y = np.empty_like(x2)

    def piece(lo, hi):
        z, out = x2[:, lo:hi], y[:, lo:hi]
        if bias is not None:
            z = np.add(z, _bias_slice(bias, lo, hi, x2.ndim), out=out)
        activate_into(z, out, name, slope, threshold)

    parallel.over(x2.shape[1], x2.size, piece)
    return y.reshape(x.shape)


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
    """(dL/dx, dL/db or None) given dL/dy and the pre-bias input x, by pieces of the channels."""
    name = ACTIVATIONS[act_code("bias_act_backward", act)]
    if grad_y.shape != x.shape:
        raise ValueError(f"bias_act_backward: grad_y shape {grad_y.shape} differs from x shape {x.shape}")
    x2 = _channels_first("bias_act_backward", x, bias)
    g2 = grad_y.reshape(x2.shape)
    grad_x = np.empty_like(x2)
    grad_b = None if bias is None else np.empty_like(bias)
    axes = (0,) + tuple(range(2, x2.ndim))

    def piece(lo, hi):
        z, g, out = x2[:, lo:hi], g2[:, lo:hi], grad_x[:, lo:hi]
        if bias is not None:
            z = z + _bias_slice(bias, lo, hi, x2.ndim)
        if name == "identity":
            np.copyto(out, g, casting="same_kind")
        elif name == "relu":  # dL/dy [z > 0]: one pass, no f'(z) array
            np.multiply(g, z > 0, out=out, dtype=x.dtype, casting="same_kind")
        else:
            np.multiply(_derivative(name, z, slope, threshold), g, out=out, dtype=x.dtype, casting="same_kind")
        if grad_b is not None:
            np.sum(out, axis=axes, out=grad_b[lo:hi])

    parallel.over(x2.shape[1], x2.size, piece)
    return grad_x.reshape(x.shape), grad_b
