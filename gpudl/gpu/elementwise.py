"""Launch wrappers for kernels/elementwise.cu (semantics: gpudl/cpu/elementwise.py; math: the .cu file).

Every call is one launch, plus one `cast` launch per array operand whose dtype differs from
the dtype the op computes in.  The layout each launch walks, cheapest first:

- float32 arithmetic, every array contiguous with the output's shape, n % 4 == 0 and every
  pointer 16-byte aligned: `binary_vec4`, four elements per load;
- every array contiguous with the output's shape: the flat layout [0] (no upload);
- otherwise broadcast / strided operands: `strides.layout` merges the axes and
  `strides.layout_array` holds the result on the device; both are cached per (shapes,
  strides), so a training step that repeats its shapes uploads nothing after its first step.

A Python scalar operand is passed to the kernel by value as the computing dtype's C type.
"""
import numpy as np

from ..cpu.elementwise import ALL, FLOATS, NUMBERS, SCALARS, broadcast_shape, check_out, result_dtypes
from ..emu.params import Strided
from .loader import THREADS, blocks, check_device, empty, launch, suffix
from .strides import broadcast_strides, element_strides, layout, layout_array

__all__ = ["add", "sub", "mul", "div", "pow", "maximum", "minimum",
           "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
           "neg", "exp", "log", "log1p", "sqrt", "abs", "sign", "tanh",
           "where", "clip", "fill", "full", "copy", "cast"]

FAMILY = "elementwise"
# op codes, kept in sync with kernels/elementwise.cu
ADD, SUB, MUL, DIV, POW, MAX, MIN = range(7)                 # binary_*
LT, LE, GT, GE, EQ, NE = range(6)                            # compare_*
NEG, ABS, SIGN, EXP, LOG, LOG1P, SQRT, TANH, CLIP_LO, CLIP_HI, CLIP = range(11)   # unary_*
SCALAR_A, SCALAR_B = 1, 2                                    # which operand is a by-value scalar
TYPE_CODES = {dtype: np.int32(code) for code, dtype in enumerate(ALL)}   # cast_*'s `from` (TYPE_F32 ...)
_F32 = np.dtype(np.float32)

_layouts = {}


def _flat_layout(device):
    """The layout [0]: every operand is contiguous with the output's shape."""
    return layout_array(device, FAMILY, (), [])


def _walk(device, kernel, out, inputs):
    """The layout array for out and inputs (None: a scalar, stride 0) walking out's shape; cached."""
    key = (device, out.shape) + tuple(None if x is None else (x.shape, x.strides, x.itemsize) for x in (out, *inputs))
    found = _layouts.get(key)
    if found is None:
        shape = out.shape
        strides = [(0,) * len(shape) if x is None else broadcast_strides(shape, x.shape, element_strides(x))
                   for x in (out, *inputs)]
        dims, strides = layout(shape, strides)
        flat = len(dims) == 1 and all(s == (1,) for s in strides)
        found = _layouts[key] = _flat_layout(device) if flat else layout_array(device, kernel, dims, strides)
    return found


def _contiguous(out, arrays):
    """Whether out and every array are C-contiguous with out's shape."""
    return out.flags.c_contiguous and all(x.shape == out.shape and x.flags.c_contiguous for x in arrays)


def _run(device, kernel, out, inputs, extra, what, dummy=None):
    """Launch kernel(layout, out, inputs..., n, extra...) over out's elements and return out; an
    input None is a by-value scalar, whose pointer argument is `dummy` (never read)."""
    n = out.size
    if n == 0:
        return out
    arrays = [x for x in inputs if x is not None]
    if _contiguous(out, arrays):
        args = (_flat_layout(device), out) + tuple(dummy if x is None else x for x in inputs)
    else:
        args = (_walk(device, kernel, out, inputs), Strided(out)) + tuple(
            Strided(dummy if x is None else x) for x in inputs)
    launch(device, FAMILY, kernel, (blocks(n),), (THREADS,), args + (np.int32(n),) + extra, what)
    return out


def _operand(device, op, name, v, dtype):
    """v as the kernels take it: a NumPy scalar of dtype, or a device array of dtype (cast if needed)."""
    if isinstance(v, SCALARS):
        return dtype.type(v)
    return v if v.dtype == dtype else cast(device, v, dtype)


def _check_devices(device, op, **operands):
    """RuntimeError unless every array operand lives on device (scalars pass)."""
    for name, v in operands.items():
        if not isinstance(v, SCALARS):
            check_device(device, op, name, v)


def output(device, op, out, shape, dtype, check=check_out):
    """A new result array, or `out` after `check(op, out, shape, dtype)`."""
    if out is None:
        return empty(device, shape, dtype)
    check_device(device, op, "out", out)
    check(op, out, shape, dtype)
    return out


def _shape(v):
    return "scalar" if isinstance(v, np.generic) else v.shape


def _address(device, a):
    return a.data.ptr if device.type == "cuda" else a.ctypes.data


def _vec4(device, out, arrays):
    """Whether binary_vec4 may run: n % 4 == 0, contiguous and 16-byte aligned float32 operands."""
    return (out.size % 4 == 0 and _contiguous(out, arrays)
            and all(_address(device, x) % 16 == 0 for x in (out, *arrays)))


def _binary(device, op, code, kernel, allowed, a, b, out):
    """out = a (op) b with kernel 'binary' (arithmetic) or 'compare' (bool result)."""
    _check_devices(device, op, a=a, b=b)
    work, dtype = result_dtypes(op, (a, b), allowed)
    a, b = _operand(device, op, "a", a, work), _operand(device, op, "b", b, work)
    scalar_a, scalar_b = isinstance(a, np.generic), isinstance(b, np.generic)
    arrays = [v for v, scalar in ((a, scalar_a), (b, scalar_b)) if not scalar]
    if not arrays:
        raise TypeError(f"{op}: needs at least one array operand, got two scalars")
    out = output(device, op, out, broadcast_shape(op, [v.shape for v in arrays]), dtype)
    scalars = np.int32(SCALAR_A * scalar_a | SCALAR_B * scalar_b)
    scalar = a if scalar_a else b if scalar_b else work.type(0)
    what = f"a {_shape(a)}, b {_shape(b)}, out {out.shape}"
    if kernel == "binary" and work == _F32 and _vec4(device, out, arrays):
        n4 = out.size // 4
        launch(device, FAMILY, "binary_vec4", (blocks(n4),), (THREADS,),
               (out, arrays[0] if scalar_a else a, arrays[0] if scalar_b else b, np.int32(n4), np.int32(code),
                scalar, scalars), what)
        return out
    return _run(device, suffix(kernel, work, allowed), out, [None if scalar_a else a, None if scalar_b else b],
                (np.int32(code), scalar, scalars), what, dummy=arrays[0])


def _unary(device, op, code, allowed, x, out, lo=0, hi=0):
    """out = f(x), same dtype; lo, hi are clip's bounds."""
    check_device(device, op, "x", x)
    dtype = result_dtypes(op, (x,), allowed)[0]
    out = output(device, op, out, x.shape, dtype)
    return _run(device, suffix("unary", dtype, NUMBERS), out, [x], (np.int32(code), dtype.type(lo), dtype.type(hi)),
                f"x {x.shape}, out {out.shape}")


def add(device, a, b, out=None):
    """out = a + b (integers wrap)."""
    return _binary(device, "add", ADD, "binary", NUMBERS, a, b, out)


def sub(device, a, b, out=None):
    """out = a - b (integers wrap)."""
    return _binary(device, "sub", SUB, "binary", NUMBERS, a, b, out)


def mul(device, a, b, out=None):
    """out = a * b (integers wrap)."""
    return _binary(device, "mul", MUL, "binary", NUMBERS, a, b, out)


def div(device, a, b, out=None):
    """out = a / b (true division: integers give float64)."""
    return _binary(device, "div", DIV, "binary", FLOATS, a, b, out)


def pow(device, a, b, out=None):
    """out = a ** b (floats)."""
    return _binary(device, "pow", POW, "binary", FLOATS, a, b, out)


def maximum(device, a, b, out=None):
    """out = max(a, b), NaN if either is NaN."""
    return _binary(device, "maximum", MAX, "binary", NUMBERS, a, b, out)


def minimum(device, a, b, out=None):
    """out = min(a, b), NaN if either is NaN."""
    return _binary(device, "minimum", MIN, "binary", NUMBERS, a, b, out)


def less(device, a, b, out=None):
    """out = a < b (bool)."""
    return _binary(device, "less", LT, "compare", NUMBERS, a, b, out)


def less_equal(device, a, b, out=None):
    """out = a <= b (bool)."""
    return _binary(device, "less_equal", LE, "compare", NUMBERS, a, b, out)


def greater(device, a, b, out=None):
    """out = a > b (bool)."""
    return _binary(device, "greater", GT, "compare", NUMBERS, a, b, out)


def greater_equal(device, a, b, out=None):
    """out = a >= b (bool)."""
    return _binary(device, "greater_equal", GE, "compare", NUMBERS, a, b, out)


def equal(device, a, b, out=None):
    """out = a == b (bool)."""
    return _binary(device, "equal", EQ, "compare", ALL, a, b, out)


def not_equal(device, a, b, out=None):
    """out = a != b (bool)."""
    return _binary(device, "not_equal", NE, "compare", ALL, a, b, out)


def neg(device, x, out=None):
    """out = -x."""
    return _unary(device, "neg", NEG, NUMBERS, x, out)


def exp(device, x, out=None):
    """out = e^x (floats)."""
    return _unary(device, "exp", EXP, FLOATS, x, out)


def log(device, x, out=None):
    """out = ln x (floats)."""
    return _unary(device, "log", LOG, FLOATS, x, out)


def log1p(device, x, out=None):
    """out = ln(1 + x) (floats)."""
    return _unary(device, "log1p", LOG1P, FLOATS, x, out)


def sqrt(device, x, out=None):
    """out = sqrt(x) (floats)."""
    return _unary(device, "sqrt", SQRT, FLOATS, x, out)


def abs(device, x, out=None):
    """out = |x|."""
    return _unary(device, "abs", ABS, NUMBERS, x, out)


def sign(device, x, out=None):
    """out = -1, 0 or +1 (NaN for NaN)."""
    return _unary(device, "sign", SIGN, NUMBERS, x, out)


def tanh(device, x, out=None):
    """out = tanh x (floats)."""
    return _unary(device, "tanh", TANH, FLOATS, x, out)


def where(device, cond, a, b, out=None):
    """out = cond ? a : b (cond a bool array; a, b arrays or scalars; all three broadcast)."""
    _check_devices(device, "where", cond=cond, a=a, b=b)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: cond must be a bool array, got dtype {cond.dtype}")
    dtype = result_dtypes("where", (a, b), ALL)[0]
    a, b = _operand(device, "where", "a", a, dtype), _operand(device, "where", "b", b, dtype)
    scalar_a, scalar_b = isinstance(a, np.generic), isinstance(b, np.generic)
    shape = broadcast_shape("where", [v.shape for v in (cond, a, b) if not isinstance(v, np.generic)])
    out = output(device, "where", out, shape, dtype)
    zero = dtype.type(0)
    return _run(device, suffix("where", dtype, ALL), out, [cond, None if scalar_a else a, None if scalar_b else b],
                (a if scalar_a else zero, b if scalar_b else zero, np.int32(SCALAR_A * scalar_a | SCALAR_B * scalar_b)),
                f"cond {cond.shape}, a {_shape(a)}, b {_shape(b)}, out {out.shape}", dummy=out)


def clip(device, x, lo, hi, out=None):
    """out = min(max(x, lo), hi); a bound that is None is not applied (both None: a copy)."""
    check_device(device, "clip", "x", x)
    bounds = [v for v in (lo, hi) if v is not None]
    dtype = result_dtypes("clip", [x] + bounds, NUMBERS)[0]
    x = _operand(device, "clip", "x", x, dtype)
    if not bounds:
        return copy(device, x, out)
    code = CLIP if len(bounds) == 2 else CLIP_HI if lo is None else CLIP_LO
    return _unary(device, "clip", code, NUMBERS, x, out, 0 if lo is None else lo, 0 if hi is None else hi)


def fill(device, out, value):
    """out[...] = value in place (out contiguous or a strided view); returns out."""
    check_device(device, "fill", "out", out)
    kernel = suffix("fill", out.dtype, ALL)
    return _run(device, kernel, out, [], (out.dtype.type(value),), f"out {out.shape}")


def full(device, shape, value, dtype):
    """A new array of `shape` and dtype (None: value's own) filled with value."""
    dtype = np.result_type(value) if dtype is None else np.dtype(dtype)
    suffix("fill", dtype, ALL)
    return fill(device, empty(device, shape, dtype), value)


def _convert(device, op, x, out):
    """out = x converted to out's dtype (x and out any strided views): one cast_<out dtype> launch."""
    code = TYPE_CODES.get(x.dtype)
    if code is None:
        raise TypeError(f"{op}: takes {', '.join(map(str, ALL))} arrays, got dtype {x.dtype}")
    return _run(device, suffix("cast", out.dtype, ALL), out, [x], (code,), f"x {x.shape} {x.dtype}, out {out.shape}")


def copy(device, x, out=None):
    """A C-contiguous copy of x (any strided or broadcast view), or x written into `out` (a view too)."""
    check_device(device, "copy", "x", x)
    return _convert(device, "copy", x, output(device, "copy", out, x.shape, x.dtype))


def cast(device, x, dtype):
    """A new C-contiguous array: x (any strided view) converted to dtype."""
    check_device(device, "cast", "x", x)
    dtype = np.dtype(dtype)
    suffix("cast", dtype, ALL)
    return _convert(device, "cast", x, empty(device, x.shape, dtype))
