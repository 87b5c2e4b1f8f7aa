"""Keep freed memory for reuse, so a training step on the cpu touches no freshly mapped pages.

glibc's malloc serves a large request (more than 128 KB at first, a threshold it raises only
up to a point) with a fresh mmap and unmaps it on free.  The kernel then zero-fills every
page of the next array of that size on first touch: a LeNet-5 step at batch 128 took about
3,400 page faults, a third of its time.  `keep_freed_blocks()` sets the two glibc knobs that
the environment variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set (mallopt):
blocks up to MMAP_THRESHOLD come from the heap and, once freed, stay there for the next
request; the heap is trimmed back to the system only when more than TRIM_THRESHOLD is free at
its top.  After warm-up a step then reuses the same memory (1 page fault a step measured).
It runs when gpudl is imported, on glibc systems only; GPUDL_KEEP_FREED=0 leaves malloc as it was.
"""
import ctypes
import ctypes.util
import os
import platform

MMAP_THRESHOLD = 64 << 20   # bytes: larger requests still get their own mmap
TRIM_THRESHOLD = 128 << 20  # bytes free at the heap's top before it is given back
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)


def keep_freed_blocks():
    """Set glibc's mmap and trim thresholds (see the module docstring); returns whether it did."""
    if os.environ.get("GPUDL_KEEP_FREED", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


KEPT = keep_freed_blocks()
