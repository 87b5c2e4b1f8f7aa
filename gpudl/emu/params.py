"""Kernel parameters: their C types, and the checks that turn Python launch arguments into
the `void**` array a kernel launch takes.

A pointer parameter `T*` takes a C-contiguous NumPy array whose dtype is T's (its data
pointer is passed); a scalar parameter takes a NumPy scalar of exactly T's dtype. A Python
int or float is refused: on a GPU it would arrive as a 64-bit value whatever T is.
"""
import ctypes
import re
from dataclasses import dataclass

import numpy as np

_QUALIFIERS = {"const", "volatile", "__restrict__", "__restrict", "restrict", "struct"}
_INTEGER_WORDS = {"unsigned", "signed", "int", "long", "short", "char"}

_DTYPES = {
    "float": np.float32, "double": np.float64, "bool": np.bool_,
    "char": np.int8, "signed char": np.int8, "unsigned char": np.uint8,
    "short": np.int16, "unsigned short": np.uint16,
    "int": np.int32, "unsigned int": np.uint32,
    "long": np.int64, "unsigned long": np.uint64,
    "long long": np.int64, "unsigned long long": np.uint64,
    "int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
    "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64, "uint64_t": np.uint64,
    "size_t": np.uint64, "ptrdiff_t": np.int64,
}
# Vector types (float4* and so on) take arrays of their element type.
_DTYPES.update({f"{name}{n}": dt for n in (1, 2, 3, 4) for name, dt in
                (("float", np.float32), ("double", np.float64), ("int", np.int32), ("uint", np.uint32))})
_TYPE_WORDS = _INTEGER_WORDS | set(_DTYPES) | {"void"}

_CTYPES = {
    np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.bool_): ctypes.c_bool,
    np.dtype(np.int8): ctypes.c_int8, np.dtype(np.uint8): ctypes.c_uint8,
    np.dtype(np.int16): ctypes.c_int16, np.dtype(np.uint16): ctypes.c_uint16,
    np.dtype(np.int32): ctypes.c_int32, np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.int64): ctypes.c_int64, np.dtype(np.uint64): ctypes.c_uint64,
}


@dataclass(frozen=True)
class Param:
    """One kernel parameter: `ctype` as shown in messages, `pointer` levels of indirection,
    `dtype` of the value (or of the pointed-to elements; None for void and unknown types)."""

    name: str
    ctype: str
    pointer: int
    const: bool
    dtype: object


def _canonical(words):
    """'int unsigned', 'unsigned' -> 'unsigned int'; 'long long int' -> 'long long'; others joined."""
    if not words or not set(words) <= _INTEGER_WORDS:
        return " ".join(words)
    unsigned = "unsigned" in words
    if "char" in words:
        return "unsigned char" if unsigned else "signed char" if "signed" in words else "char"
    core = "short" if "short" in words else " ".join(["long"] * words.count("long")) or "int"
    return f"unsigned {core}" if unsigned else core


def parse_param(text, position):
    """Param from one C parameter declaration such as 'const float* __restrict__ x'."""
    decl = re.sub(r"__align__\s*\([^)]*\)", " ", text)
    arrays = len(re.findall(r"\[[^\]]*\]", decl))
    decl = re.sub(r"\[[^\]]*\]", " ", decl)
    words = [w for w in re.findall(r"[A-Za-z_]\w*", decl) if w not in _QUALIFIERS]
    name = words.pop() if len(words) >= 2 and words[-1] not in _TYPE_WORDS else f"#{position}"
    base = _canonical(words)
    pointer = decl.count("*") + arrays
    const = bool(re.search(r"\bconst\b", decl.split("*")[0])) and pointer > 0
    dtype = _DTYPES.get(base)
    ctype = ("const " if const else "") + base + "*" * pointer
    return Param(name, ctype, pointer, const, None if dtype is None else np.dtype(dtype))


def parse_params(text):
    """Params from the text between a kernel's parentheses."""
    parts = [p.strip() for p in text.split(",")]
    if parts == [""] or parts == ["void"]:
        return ()
    return tuple(parse_param(p, i) for i, p in enumerate(parts))


def signature(kernel, params):
    return f"{kernel}({', '.join(f'{p.ctype} {p.name}' for p in params)})"


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"np.{value.dtype.name}"
    return f"a Python {type(value).__name__}"


class Strided:
    """A launch argument that passes a strided (non-contiguous) view: the kernel gets the
    address of element [0, ..., 0] and walks the view with element strides of its own."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _pointer(kernel, p, value):
    """The array's data pointer, after checking it fits parameter p."""
    where = f"kernel '{kernel}' parameter '{p.name}' ({p.ctype})"
    if p.pointer > 1:
        raise TypeError(f"{where}: the emu device cannot pass pointers to pointers")
    strided = isinstance(value, Strided)
    if strided:
        value = value.array
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{where} needs a NumPy array, got {_describe(value)}")
    if not strided and not value.flags.c_contiguous:
        raise TypeError(f"{where}: the array is not C-contiguous (use np.ascontiguousarray)")
    if p.dtype is not None and value.dtype != p.dtype:
        raise TypeError(f"{where} needs a {p.dtype} array, got {_describe(value)}")
    if not p.const and not value.flags.writeable:
        raise TypeError(f"{where}: the array is read-only but the kernel may write through it")
    return ctypes.c_void_p(value.ctypes.data)


def _scalar(kernel, p, value):
    """A ctypes copy of the NumPy scalar, after checking its dtype is exactly parameter p's."""
    where = f"kernel '{kernel}' parameter '{p.name}' ({p.ctype})"
    if p.dtype is None or p.dtype not in _CTYPES:
        raise TypeError(f"{where}: the emu device cannot pass a parameter of this type")
    if isinstance(value, np.ndarray):
        raise TypeError(f"{where} is a scalar, got {_describe(value)}")
    if not isinstance(value, np.generic) or value.dtype != p.dtype:
        raise TypeError(f"{where} needs np.{p.dtype.name}(...), got {_describe(value)}")
    return _CTYPES[p.dtype](value.item())


def pack(kernel, params, args):
    """(void** array, objects to keep alive) for a launch of `kernel` with `args`."""
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"kernel '{kernel}': args must be a tuple, got {type(args).__name__}")
    if len(args) != len(params):
        raise TypeError(f"kernel '{kernel}' takes {len(params)} arguments, got {len(args)}: "
                        f"{signature(kernel, params)}")
    holders = [(_pointer if p.pointer else _scalar)(kernel, p, a) for p, a in zip(params, args)]
    argv = (ctypes.c_void_p * max(len(holders), 1))(*(ctypes.addressof(h) for h in holders))
    return argv, holders
