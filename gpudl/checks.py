"""The argument checkers every constructor and op uses: one rule for each kind of argument, one
message style (the op, the argument, the offending value).

    TypeError   the value has the wrong type (a float where an int is meant, a string for a number)
    ValueError  the type is right but the value is not allowed (a negative size, lr <= 0)
    AxisError   an axis / dim out of range: NumPy's, both a ValueError and an IndexError (PyTorch's type)
"""
import math
import numbers

import numpy as np


def integer(op, name, value, low=None):
    """`value` as an int (Python or NumPy integer, not bool), at least `low` when given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{op}: {name} must be >= {low}, got {value}")
    return value


AxisError = np.exceptions.AxisError


def axis(op, d, ndim, shape=None, name="dim"):
    """Axis `d` as 0..n-1 (negative counts from the end; n = ndim, at least 1 so a 0-d tensor takes 0 / -1)."""
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {d!r} ({type(d).__name__})")
    n = max(ndim, 1)
    if not -n <= d < n:
        where = f"a tensor of shape {tuple(shape)}" if shape is not None else f"{ndim} dimensions"
        raise AxisError(f"{op}: {name} {d} is out of range for {where} (expected a {name} in [{-n}, {n - 1}])")
    return int(d) % n


def shape(op, dims):
    """A shape tuple from ints or one tuple / list of them: each an int >= 0."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    try:
        return tuple(integer(op, "each dimension", d, 0) for d in dims)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{e} in shape {tuple(dims)}") from None


def number(op, name, value, low=None, high=None, low_open=False, high_open=False):
    """`value` as a float (int or float, not bool, not NaN) within [low, high] (open ends as asked)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if math.isnan(value) or too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{op}: {name} must lie in {span}, got {value}")
    return value


def probability(op, name, value):
    """`value` as a float in [0, 1] (a dropout rate, a flip probability, a smoothing weight)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r} ({type(value).__name__})")
    if not 0 <= value <= 1:  # NaN fails too
        raise ValueError(f"{op}: {name} must be in [0, 1], got {value}")
    return float(value)


def pair(op, name, value, low=None):
    """(a, b) from an int or a pair of ints, each >= low when given."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        return tuple(integer(op, name, v, low) for v in value)
    v = integer(op, name, value, low)
    return v, v
