"""Elementwise ops in NumPy: the ufuncs themselves are the reference semantics of kernels/elementwise.cu.

Operands `a`, `b` are arrays or Python scalars (at least one an array); NumPy broadcasting;
the result dtype is NumPy 2's `result_type` of the operands (a Python scalar is "weak":
float32 array + 2.5 -> float32), except that `div` of integers gives float64 and the
comparisons give bool.  dtypes: float32, float64, int32, int64 (bool too for where, equal,
not_equal, copy, cast, fill); pow / exp / log / log1p / sqrt / tanh take floats only.
`out=` must have the broadcast shape and the result dtype; it may alias an input.

The helpers `result_dtypes`, `broadcast_shape` and `check_out` are shared with the kernel
wrappers (gpudl/gpu/elementwise.py), so both devices accept and refuse the same calls.
"""
import numpy as np

__all__ = ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
           "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
           "neg", "exp", "log", "log1p", "sqrt", "abs", "sign", "tanh",
           "where", "clip", "fill", "full", "copy", "cast"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
NUMBERS = FLOATS + (np.dtype(np.int32), np.dtype(np.int64))
ALL = NUMBERS + (np.dtype(np.bool_),)
COMPARISONS = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")
SCALARS = (int, float, np.generic)   # Python bool is an int

_dtypes = {}


def _weak(kind):
    """What np.result_type sees for an operand's key: a dtype, or a Python scalar (weak)."""
    return kind if isinstance(kind, np.dtype) else kind(0)


def result_dtypes(op, operands, allowed):
    """(dtype the op computes in, dtype of its result) for these operands; TypeError naming op
    when the computing dtype is not in `allowed`."""
    key = (op,) + tuple(type(v) if isinstance(v, (int, float)) else v.dtype for v in operands)
    found = _dtypes.get(key)
    if found is None:
        work = np.result_type(*(_weak(k) for k in key[1:]))
        if op == "div" and work.kind in "biu":
            work = np.dtype(np.float64)   # true division of integers
        found = _dtypes[key] = (work, np.dtype(np.bool_) if op in COMPARISONS else work)
    if found[0] not in allowed:
        names = ", ".join(str(d) for d in allowed)
        raise TypeError(f"{op}: takes {names} operands, got dtype {found[0]}")
    return found


def broadcast_shape(op, shapes):
    """NumPy's broadcast of `shapes`; ValueError naming op and the shapes when they do not fit."""
    first = shapes[0]
    if all(s == first for s in shapes):
        return first
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: shapes {', '.join(map(str, shapes))} do not broadcast together") from None


def check_out(op, out, shape, dtype):
    """ValueError / TypeError unless `out` has the result's shape and dtype."""
    if out.shape != shape:
        raise ValueError(f"{op}: out has shape {out.shape}, the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{op}: out has dtype {out.dtype}, the result has dtype {dtype}")


def _arrays(operands):
    return [v for v in operands if not isinstance(v, SCALARS)]


def _ufunc(ufunc, op, allowed, out, *operands):
    """ufunc(*operands) after the kernels' dtype and out checks; 0-d results stay arrays."""
    dtype = result_dtypes(op, operands, allowed)[1]
    if out is None:
        try:
            return ufunc(*operands, out=...)
        except ValueError:
            broadcast_shape(op, [a.shape for a in _arrays(operands)])   # names op and the shapes
            raise
    check_out(op, out, broadcast_shape(op, [a.shape for a in _arrays(operands)]), dtype)
    return ufunc(*operands, out=out)


def add(device, a, b, out=None):
    """a + b."""
    return _ufunc(np.add, "add", NUMBERS, out, a, b)


def sub(device, a, b, out=None):
    """a - b."""
    return _ufunc(np.subtract, "sub", NUMBERS, out, a, b)


def mul(device, a, b, out=None):
    """a * b."""
    return _ufunc(np.multiply, "mul", NUMBERS, out, a, b)


def div(device, a, b, out=None):
    """a / b (true division: integers give float64)."""
    return _ufunc(np.true_divide, "div", FLOATS, out, a, b)


def pow(device, a, b, out=None):
    """a ** b (floats)."""
    return _ufunc(np.power, "pow", FLOATS, out, a, b)


def maximum(device, a, b, out=None):
    """max(a, b), NaN if either is NaN."""
    return _ufunc(np.maximum, "maximum", NUMBERS, out, a, b)


def minimum(device, a, b, out=None):
    """min(a, b), NaN if either is NaN."""
    return _ufunc(np.minimum, "minimum", NUMBERS, out, a, b)


def less(device, a, b, out=None):
    """a < b (bool)."""
    return _ufunc(np.less, "less", NUMBERS, out, a, b)


def less_equal(device, a, b, out=None):
    """a <= b (bool)."""
    return _ufunc(np.less_equal, "less_equal", NUMBERS, out, a, b)


def greater(device, a, b, out=None):
    """a > b (bool)."""
    return _ufunc(np.greater, "greater", NUMBERS, out, a, b)


def greater_equal(device, a, b, out=None):
    """a >= b (bool)."""
    return _ufunc(np.greater_equal, "greater_equal", NUMBERS, out, a, b)


def equal(device, a, b, out=None):
    """a == b (bool)."""
    return _ufunc(np.equal, "equal", ALL, out, a, b)


def not_equal(device, a, b, out=None):
    """a != b (bool)."""
    return _ufunc(np.not_equal, "not_equal", ALL, out, a, b)


def neg(device, x, out=None):
    """-x."""
    return _ufunc(np.negative, "neg", NUMBERS, out, x)


def exp(device, x, out=None):
    """e^x."""
    return _ufunc(np.exp, "exp", FLOATS, out, x)


def log(device, x, out=None):
    """ln x."""
    return _ufunc(np.log, "log", FLOATS, out, x)


def log1p(device, x, out=None):
    """ln(1 + x), accurate for small x."""
    return _ufunc(np.log1p, "log1p", FLOATS, out, x)


def sqrt(device, x, out=None):
    """sqrt(x)."""
    return _ufunc(np.sqrt, "sqrt", FLOATS, out, x)


def abs(device, x, out=None):
    """|x|."""
    return _ufunc(np.absolute, "abs", NUMBERS, out, x)


def sign(device, x, out=None):
    """-1, 0 or +1 (NaN for NaN)."""
    return _ufunc(np.sign, "sign", NUMBERS, out, x)


def tanh(device, x, out=None):
    """tanh x."""
    return _ufunc(np.tanh, "tanh", FLOATS, out, x)


def where(device, cond, a, b, out=None):
    """cond ? a : b elementwise (cond a bool array; all three broadcast)."""
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a bool array, got dtype {cond.dtype}")
    dtype = result_dtypes("where", (a, b), ALL)[1]
    shape = broadcast_shape("where", [v.shape for v in _arrays((cond, a, b))])
    if out is None:
        return np.where(cond, a, b)
    check_out("where", out, shape, dtype)
    out[...] = np.where(cond, a, b)
    return out


def clip(device, x, lo, hi, out=None):
    """min(max(x, lo), hi); a bound that is None is not applied."""
    dtype = result_dtypes("clip", [x] + [v for v in (lo, hi) if v is not None], NUMBERS)[1]
    if out is not None:
        check_out("clip", out, x.shape, dtype)
    return np.clip(x, lo, hi, out=... if out is None else out)


def fill(device, out, value):
    """out[...] = value, in place; returns out."""
    out[...] = value
    return out


def full(device, shape, value, dtype):
    """A new array of `shape` filled with value."""
    return np.full(shape, value, dtype=dtype)


def copy(device, x, out=None):
    """A C-contiguous copy of x (any strided view), or x written into `out` (which may be a view)."""
    if out is None:
        return np.array(x, order="C")
    check_out("copy", out, x.shape, x.dtype)
    np.copyto(out, x)
    return out


def cast(device, x, dtype):
    """A new C-contiguous array: x converted to dtype."""
    return x.astype(dtype, order="C")
