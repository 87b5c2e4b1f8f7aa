"""Weight initialisation, in place, on the tensor's own device.

    normal_          w ~ N(mean, std^2)            (the lectures' N(0, sigma^2))
    uniform_         w ~ U(a, b)
    xavier_uniform_  w ~ U(-r, r),  r = gain sqrt(6 / (fan_in + fan_out))     (Glorot & Bengio, 2010)
    xavier_normal_   w ~ N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out))
    kaiming_uniform_ w ~ U(-r, r),  r = gain sqrt(3 / fan)                     (He et al., 2015)
    kaiming_normal_  w ~ N(0, s^2), s = gain / sqrt(fan)
fan_in = in_features (x kH x kW for convolutions); fan_out = out_features (x kH x kW).
"""
import math

from ..creation import generator


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through `nonlinearity`."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity '{nonlinearity}'")


def fans(t):
    """(fan_in, fan_out) of a weight shaped (out, in) or (out, in, kH, kW)."""
    if t.ndim < 2:
        raise ValueError(f"init: fan in/out need a tensor of at least 2 dimensions, got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t, sample):
    with t.device.activate():
        t.data[...] = sample(generator(t.device), t.shape).astype(t.dtype, copy=False)
    return t


def normal_(t, mean=0.0, std=1.0):
    return _fill(t, lambda g, s: g.standard_normal(s) * std + mean)  # CuPy's Generator has no normal()


def uniform_(t, a=0.0, b=1.0):
    return _fill(t, lambda g, s: g.random(s) * (b - a) + a)


def zeros_(t):
    t.data[...] = 0
    return t


def ones_(t):
    t.data[...] = 1
    return t


def xavier_uniform_(t, gain=1.0):
    fan_in, fan_out = fans(t)
    r = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -r, r)


def xavier_normal_(t, gain=1.0):
    fan_in, fan_out = fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fans(t)[0 if mode == "fan_in" else 1]
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    r = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -r, r)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))
