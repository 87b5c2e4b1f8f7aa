"""Guard bytes around emu device arrays: a kernel's out-of-bounds write is caught after its launch
and reported with the kernel and the argument, instead of corrupting the heap silently.

`empty(shape, dtype)` allocates GUARD bytes of PATTERN before and after the array's data (its
start 64-byte aligned) and remembers where they are; `check(kernel, params, args)` runs after
each emu launch and raises EmuError naming the first pointer argument whose guards changed.
Only writes that land within GUARD bytes of an array are seen (farther ones, and reads, are
AddressSanitizer's job: GPUDL_EMU_ASAN=1). Arrays not made here (a NumPy array of your own
passed straight to a kernel) have no guards.
"""
import weakref

import numpy as np

from .errors import EmuError
from .params import Strided

GUARD = 64          # bytes on each side
PATTERN = 0xA5      # what the guards hold
_ALIGN = 64
_guards = {}        # id(owning buffer) -> (weakref to it, offset of the data, nbytes)


def empty(shape, dtype):
    """An uninitialised C-contiguous array with guard bytes on both sides."""
    dtype = np.dtype(dtype)
    shape = tuple(shape) if np.ndim(shape) else (int(shape),)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + 2 * GUARD + _ALIGN, np.uint8)
    start = GUARD + (-(raw.ctypes.data + GUARD)) % _ALIGN
    raw[:start] = PATTERN
    raw[start + nbytes:] = PATTERN
    _guards[id(raw)] = (weakref.ref(raw), start, nbytes)
    weakref.finalize(raw, _guards.pop, id(raw), None)
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _guarded(array):
    """(buffer, data offset, nbytes) when `array` is a view of a guarded allocation, else None."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    entry = _guards.get(id(root))
    if entry is None or entry[0]() is not root:
        return None
    return root, entry[1], entry[2]


def allocation_start(array):
    """The address where the allocation holding `array` starts: a guarded array's data (after its
    guard bytes), else the data of the array it is a view of."""
    found = _guarded(array)
    if found is not None:
        raw, start, _ = found
        return raw.ctypes.data + start
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array.ctypes.data


def check(kernel, params, args):
    """EmuError naming the kernel and argument when a launch wrote into an array's guard bytes."""
    for p, a in zip(params, args):
        if not p.pointer:
            continue
        found = _guarded(a.array if isinstance(a, Strided) else a)
        if found is None:
            continue
        raw, start, nbytes = found
        before = np.flatnonzero(raw[start - GUARD:start] != PATTERN)
        after = np.flatnonzero(raw[start + nbytes:start + nbytes + GUARD] != PATTERN)
        if before.size or after.size:
            where = (f"{GUARD - before[0]} bytes before its start" if before.size
                     else f"{after[-1] + 1} bytes past its end")
            raw[start - GUARD:start] = PATTERN  # re-arm, so the next launch is judged on its own
            raw[start + nbytes:start + nbytes + GUARD] = PATTERN
            raise EmuError(f"kernel '{kernel}' wrote out of bounds of argument '{p.name}' ({p.ctype}, {nbytes} "
                           f"bytes): up to {where}")
