"""Activations (fused with an optional bias add), softmax and log-softmax.

    y = f(x + b)     f in identity, relu, leaky_relu, sigmoid, tanh, gelu (exact, erf), gelu_tanh
                     (tanh approximation), elu, silu, softplus — the table of kernels/activation.cuh

On cuda / emu one kernel does the bias add and the activation (kernels/activation.cu); the GEMM
epilogue (F.linear) uses the same table.
"""
import numbers

from ..cpu.geometry import ACTIVATIONS
from ..tensor import Function
from .reduction import normalize_axis

GELU_APPROXIMATIONS = {"none": "gelu", "tanh": "gelu_tanh"}


def _kernel_shape(x, bias):
    """The kernels take at least (N, F): a bias-free 0-d / 1-d input is viewed as one row."""
    return x.shape if x.ndim >= 2 or bias is not None else (1, x.size)


class BiasAct(Function):
    @staticmethod
    def forward(ctx, x, bias, act, slope, threshold):
        ctx.save(x, bias, act, slope, threshold)
        shape = _kernel_shape(x, bias)
        return ctx.kernels.bias_act_forward(x.reshape(shape), bias, act, slope, threshold).reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, bias, act, slope, threshold = ctx.saved
        shape = _kernel_shape(x, bias)
        gx, gb = ctx.kernels.bias_act_backward(g.reshape(shape), x.reshape(shape), bias, act, slope, threshold)
        return gx.reshape(x.shape), gb


def _number(op, name, value):
    """value as a float; TypeError naming op unless it is a real number (a Python or NumPy scalar)."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def bias_act(x, bias=None, act="identity", slope=0.01, threshold=20.0):
    """f(x + b) with b along axis 1 (features of (N, F), channels of (N, C, H, W)).

    slope: leaky_relu's negative_slope, elu's alpha, softplus's beta (not 0); threshold: softplus's."""
    if act not in ACTIVATIONS:
        raise ValueError(f"bias_act: unknown activation '{act}'; expected one of {ACTIVATIONS}")
    slope, threshold = _number("bias_act", "slope", slope), _number("bias_act", "threshold", threshold)
    if act == "softplus" and slope == 0:
        raise ValueError("softplus: beta must not be 0 (f = log(1 + e^{beta x}) / beta)")
    if bias is not None:
        if x.ndim < 2 or bias.shape != (x.shape[1],):
            raise ValueError(f"bias_act: bias of shape {bias.shape} does not match axis 1 of input {x.shape}")
        if bias.device != x.device:
            raise RuntimeError(f"bias_act: input is on {x.device} but bias is on {bias.device}")
    return BiasAct.apply(x, bias, act=act, slope=slope, threshold=threshold)


def relu(x):
    """max(x, 0)."""
    return bias_act(x, None, "relu")


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    return bias_act(x, None, "leaky_relu", negative_slope)


def sigmoid(x):
    """1 / (1 + e^-x)."""
    return bias_act(x, None, "sigmoid")


def tanh(x):
    """(e^x - e^-x) / (e^x + e^-x)."""
    return bias_act(x, None, "tanh")


def gelu(x, approximate="none"):
    """x Phi(x) = x/2 (1 + erf(x / sqrt 2)) (PyTorch's default, approximate='none'), or with
    approximate='tanh': x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return bias_act(x, None, GELU_APPROXIMATIONS[approximate])


def elu(x, alpha=1.0):
    """x if x > 0 else alpha (e^x - 1)."""
    return bias_act(x, None, "elu", alpha)


def silu(x):
    """x sigmoid(x) (also called swish)."""
    return bias_act(x, None, "silu")


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^{beta x}) / beta, and x itself where beta x > threshold (PyTorch's rule, for speed and
    to avoid overflow); the gradient is sigmoid(beta x), 1 above the threshold."""
    return bias_act(x, None, "softplus", beta, threshold)


class Step(Function):
    @staticmethod
    def forward(ctx, x, threshold):
        return ctx.kernels.cast(ctx.kernels.greater_equal(x, threshold), x.dtype)

    @staticmethod
    def backward(ctx, g):
        return ctx.kernels.full(g.shape, 0, g.dtype)  # a step is flat everywhere (undefined at the threshold)


def step(x, threshold=0.0):
    """The perceptron's threshold unit: 1 if x >= threshold else 0 (so step(0) = 1 at the default
    threshold 0), in x's dtype.

    Its gradient is zero everywhere (backward returns zeros; at the threshold the derivative does not
    exist), so a network of step units cannot learn by backprop — the perceptron rule, not gradient
    descent, trains it."""
    return Step.apply(x, threshold=_number("step", "threshold", threshold))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = ctx.kernels.log_softmax(x, axis)  # max-shifted: stable for large logits
        ctx.save(out, axis)
        return out

    @staticmethod
    def backward(ctx, g):
        out, axis = ctx.saved  # dL/dx = g - softmax(x) * sum(g)
        return ctx.kernels.log_softmax_backward(out, g, axis)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = ctx.kernels.softmax(x, axis)
        ctx.save(out, axis)
        return out

    @staticmethod
    def backward(ctx, g):
        s, axis = ctx.saved  # dL/dx = s * (g - sum(g * s))
        return ctx.kernels.softmax_backward(s, g, axis)


def softmax(x, axis=-1):
    """e^{x_i} / sum_j e^{x_j} along `axis` (max-shifted, so large logits do not overflow)."""
    return Softmax.apply(x, axis=normalize_axis(axis, x.ndim, "softmax")[0])


def log_softmax(x, axis=-1):
    """x_i - log sum_j e^{x_j} along `axis`, computed stably."""
    return LogSoftmax.apply(x, axis=normalize_axis(axis, x.ndim, "log_softmax")[0])

